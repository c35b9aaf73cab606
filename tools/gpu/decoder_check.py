"""Chapter 03f's check, run on a GPU: the image store decoded by nvJPEG (torchvision's decode_jpeg on CUDA) against the
plain PIL path, pixel by pixel, for a crop and a squish resize. Prints the mean and 99th-percentile difference in
grey levels and fails when the mean reaches 4 (nvJPEG may upsample colour differently from libjpeg)."""
import sys, tempfile, time
import torch
from fastai.vision.all import Resize, ResizeMethod
from classification_vs_labeling.data import pets
from classification_vs_labeling.pets_standin import synthetic_pets
from classification_vs_labeling.fastpath import cache_images

if not torch.cuda.is_available(): sys.exit("no CUDA device: this check runs on a GPU")
fns = pets(synthetic_pets(tempfile.mkdtemp(), n=740)).items
worst = 0.
for r in [Resize(460), Resize(224, method=ResizeMethod.Squish)]:
    t0 = time.perf_counter(); cpu = cache_images(fns, r, decoder='pil'); t_pil = time.perf_counter() - t0
    torch.cuda.synchronize(); t0 = time.perf_counter(); gpu = cache_images(fns, r, device='cuda', decoder='torch'); torch.cuda.synchronize()
    t_gpu = time.perf_counter() - t0
    d = (cpu.int() - gpu.cpu().int()).abs().float()
    worst = max(worst, d.mean().item())
    print(f"{torch.cuda.get_device_name()}: {len(fns)} JPEGs, {r.method} {tuple(r.size)}: nvJPEG vs PIL mean difference "
          f"{d.mean().item():.2f} grey levels, 99th percentile {d.quantile(0.99).item():.0f}, max {d.max().item():.0f}; "
          f"store built in {t_gpu:.2f} s on the GPU, {t_pil:.2f} s with PIL")
assert worst < 4, f"the GPU decoder differs from PIL by {worst:.2f} grey levels on average"
