"""Chapter 03f's fast path: `TensorDL` against fastai's own `DataLoader`, the two decoders against the plain pipeline's
item (PIL through fastai's `Resize`), the files handed back to PIL, the image store reused, and a run on the fast path
against the plain one."""
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from fastcore import test as fc       # fastcore's test_eq/test_close/test_fail, as in the chapter (a bare import would be collected as tests)
from fastai.data.load import DataLoader
from fastai.torch_core import set_seed
from fastai.vision.all import IntToFloatTensor, Resize, ResizeMethod
from classification_vs_labeling.datasets import load_set
from classification_vs_labeling.spec import RunSpec
from classification_vs_labeling.train import train_pair
from classification_vs_labeling.fastpath import TensorDL, cache_images, stored_images, cached_dls, _load, _gpu_decodable
from helpers import digits_tree

X, Y = torch.randint(0, 255, (10, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)), torch.arange(10)


def ys(dl): return torch.cat([yb for _, yb in dl]).tolist()


def test_tensor_dl_batches():
    dl = TensorDL((X, Y), bs=4, shuffle=True, after_batch=[IntToFloatTensor()])
    fc.test_eq(len(dl), 3)
    fc.test_eq(sorted(ys(dl)), list(range(10)))                                  # every item once per epoch
    xb, yb = next(iter(TensorDL((X, Y), bs=4, after_batch=[IntToFloatTensor()])))
    fc.test_close(xb, X[:4].float()/255); fc.test_eq(yb, Y[:4])
    fc.test_eq(len(TensorDL((X, Y), bs=4, drop_last=True)), 2)


def test_tensor_dl_rows_survive_new():
    "A loader over some rows of the store keeps them in `new`, which fastai calls for `get_preds`."
    part = TensorDL((X, Y), rows=[7, 2, 5], bs=2, after_batch=[IntToFloatTensor()])
    fc.test_eq(len(part), 2); fc.test_eq(ys(part), [7, 2, 5])
    fc.test_eq(ys(part.new(shuffle=False, drop_last=False)), [7, 2, 5])
    fc.test_eq(sorted(ys(part.new(shuffle=True))), [2, 5, 7])


@pytest.mark.parametrize('shuffle,drop_last', [(False, False), (True, False), (True, True)])
def test_tensor_dl_batches_as_fastai_dataloader(shuffle, drop_last):
    "The same batches, in the same order, as fastai's own `DataLoader` over the items one by one, from the same seed."
    set_seed(3); ours = [(xb.clone(), yb.clone()) for xb, yb in TensorDL((X, Y), bs=3, shuffle=shuffle, drop_last=drop_last)]
    set_seed(3); theirs = list(DataLoader(list(zip(X, Y)), bs=3, shuffle=shuffle, drop_last=drop_last))
    fc.test_eq(len(ours), len(theirs))
    for (xa, ya), (xb, yb) in zip(ours, theirs): fc.test_eq(xa, xb); fc.test_eq(ya, yb)


def test_tensor_dl_signature_shows_fastai_options():
    "`@delegates`: help() shows the DataLoader options that `**kwargs` passes on."
    import inspect
    assert {'bs', 'shuffle', 'drop_last', 'device'} <= set(inspect.signature(TensorDL.__init__).parameters)


@pytest.fixture(scope='module')
def jpegs(tmp_path_factory):
    "JPEGs of every shape (landscape, portrait, square, odd, grayscale), and files the tensor path hands to PIL: CMYK, a PNG named .jpg."
    tmp, rng, fns = tmp_path_factory.mktemp('jpegs'), np.random.default_rng(0), []
    for i, (w, h) in enumerate([(500, 375), (375, 500), (300, 300), (123, 77), (640, 480)]):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp/f'rgb{i}.jpg', quality=90); fns.append(tmp/f'rgb{i}.jpg')
    Image.fromarray(rng.integers(0, 255, (200, 260), dtype=np.uint8)).save(tmp/'gray.jpg'); fns.append(tmp/'gray.jpg')
    Image.fromarray(rng.integers(0, 255, (200, 150, 4), dtype=np.uint8), 'CMYK').save(tmp/'cmyk.jpg'); fns.append(tmp/'cmyk.jpg')
    Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(tmp/'png.jpg', format='PNG'); fns.append(tmp/'png.jpg')
    return fns


@pytest.mark.parametrize('r', [Resize(64), Resize(96, method=ResizeMethod.Squish), Resize((40, 70))], ids=['crop', 'squish', 'rect'])
def test_both_decoders_give_the_plain_pipelines_item(jpegs, r):
    a, b = cache_images(jpegs, r, decoder='pil'), cache_images(jpegs, r, decoder='torch')
    fc.test_eq(a.shape, (len(jpegs), 3, r.size[1], r.size[0])); fc.test_eq(b.shape, a.shape)
    assert (a.int() - b.int()).abs().max() <= 1, r                      # within rounding of PIL, every image, every pixel
    fc.test_eq(a[-2:], b[-2:])                                          # CMYK and PNG went through PIL: identical
    for i, fn in enumerate(jpegs): fc.test_eq(a[i], torch.from_numpy(_load(fn, r)).permute(2, 0, 1))   # = the plain pipeline's item


def test_what_the_tensor_decoder_hands_to_pil(jpegs, tmp_path):
    cmyk, png = jpegs[-2], jpegs[-1]
    assert not _gpu_decodable(cmyk, Resize(64)) and not _gpu_decodable(png, Resize(64))
    assert not _gpu_decodable(jpegs[0], Resize(64, method=ResizeMethod.Pad))
    fc.test_fail(lambda: cache_images(jpegs, Resize(64), decoder='nvjpeg'), contains="decoder")
    raw = jpegs[0].read_bytes(); (tmp_path/'cut.jpg').write_bytes(raw[:len(raw)//2])   # a truncated JPEG with an intact header:
    assert _gpu_decodable(tmp_path/'cut.jpg', Resize(64))                             # torchvision fails on it, hands it to PIL,
    fc.test_fail(lambda: cache_images([tmp_path/'cut.jpg'], Resize(64), decoder='torch'), contains='runcated')   # which raises as usual


def test_cache_images_options_are_keyword_only(jpegs):
    with pytest.raises(TypeError): cache_images(jpegs[:1], Resize(8), 2)


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    return load_set(digits_tree(tmp_path_factory.mktemp('digits'), classes=(0, 1, 7), n=30), 'none')


def test_image_store_is_reused(digits):
    r = Resize(28, method=ResizeMethod.Squish)
    assert stored_images(digits.items, r, 'cpu') is stored_images(digits.items, r, 'cpu')   # a second seed decodes nothing
    fc.test_eq(stored_images(digits.items, r, 'cpu').shape, (len(digits.items), 3, 28, 28))


def test_cached_dls_split_and_vocab(digits):
    dls = cached_dls(digits, 28, bs=8, device='cpu')
    fc.test_eq(list(dls.vocab), sorted(set(digits.labels)))
    fc.test_eq(dls.train.rows.tolist(), list(digits.train_idx)); fc.test_eq(dls.valid.rows.tolist(), list(digits.valid_idx))
    fc.test_eq(len(dls.train), len(digits.train_idx)//8)                            # full training batches only
    with pytest.raises(TypeError): cached_dls(digits, 28, 8)                       # options by keyword


def test_fast_run_is_the_plain_run_on_the_cpu(digits):
    "Quick-mode settings on the CPU (no augmentation, full precision): the same classes, items and logits on both paths."
    spec = RunSpec('mnist', arch='small', pretrained=False, size=28, augment=False, epochs=1)
    slow, fast = train_pair(digits, spec, progress=False), train_pair(digits, spec.replace(fast=True), progress=False)
    fc.test_eq(fast.classes, slow.classes); fc.test_eq(fast.targs, slow.targs); fc.test_eq(fast.items, slow.items)
    fc.test_eq(fast.ood_ce_logits.shape, slow.ood_ce_logits.shape)
    np.testing.assert_allclose(fast.ce_logits, slow.ce_logits, atol=1e-5); np.testing.assert_allclose(fast.bce_logits, slow.bce_logits, atol=1e-5)
