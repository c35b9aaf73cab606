"""Where one epoch of the fast path (b) spends its time on a GPU: torch.profiler over `cvl bench`'s own (b) training at
its defaults (synthetic PETS, resnet34, 224px, batch size 64), the image store built first and left out. Writes the
top operators by CUDA time, and by CPU time, to OUT/profile.txt."""
import sys, tempfile
from pathlib import Path
import torch
from torch.profiler import profile, ProfilerActivity
from classification_vs_labeling.data import pets
from classification_vs_labeling.pets_standin import synthetic_pets
from classification_vs_labeling.fastpath import cached_dls, speed_up
from classification_vs_labeling.train import paired_learner

out = Path(sys.argv[1] if len(sys.argv) > 1 else '.')
iset = pets(synthetic_pets(tempfile.mkdtemp(), n=7390))
dls = cached_dls(iset, 224, bs=64, seed=0, device='cuda', augment=True)
learn = speed_up(paired_learner(dls, 'resnet34', pretrained=False, seed=0), 'cuda')
with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 1e-3)          # warm-up: cuDNN autotuning, allocator
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 1e-3)
    torch.cuda.synchronize()
text = (prof.key_averages().table(sort_by='cuda_time_total', row_limit=25) + '\n\n' +
        prof.key_averages().table(sort_by='cpu_time_total', row_limit=25))
(out/'profile.txt').write_text(text)
print(text[:6000])
