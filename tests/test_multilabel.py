"Tests for classification_vs_labeling.multilabel: composed images, the label sets, PASCAL's csv, and the DataLoaders both models share."
import numpy as np, pandas as pd, pytest, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from PIL import Image
from classification_vs_labeling.multilabel import *
from classification_vs_labeling.multilabel import _rgb

def pool(seed=0, per_class=3):
    "A small pool of fake 28px digits: per class, squares of a class-specific brightness (never 0)."
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), per_class)
    x = np.zeros((len(y), 28, 28), np.uint8)
    for i, k in enumerate(y): x[i, 6:22, 6:22] = 20 + 20*k + rng.integers(0, 10)
    return x, y

# ---- composed images
def test_compose_deterministic_and_sized():
    x, y = pool()
    a, b = compose_digits(x, y, 50, seed=3), compose_digits(x, y, 50, seed=3)
    for u, v in zip(a, b): np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], compose_digits(x, y, 50, seed=4)[0])
    imgs, targs, src = a
    assert imgs.shape == (50, 56, 56) and imgs.dtype == np.uint8 and targs.shape == (50, 10) and src.shape == (50, 3)
    assert compose_digits(x, y, 5, size=64, max_digits=4)[0].shape == (5, 64, 64)

def test_compose_labels_are_the_digits_drawn():
    x, y = pool()
    imgs, targs, src = compose_digits(x, y, 300, seed=0)
    n_drawn = (src >= 0).sum(1)
    assert set(np.unique(n_drawn)) == {0, 1, 2, 3}
    np.testing.assert_array_equal(targs.sum(1), n_drawn)          # distinct classes: one label per digit drawn
    for i in range(len(imgs)):
        drawn = src[i][src[i] >= 0]
        assert sorted(y[drawn]) == sorted(np.flatnonzero(targs[i]))
        # every drawn digit's brightness is on the canvas, and nothing else is (digits never overlap in this pool)
        assert set(np.unique(imgs[i])) - {0} == set(np.unique(x[drawn])) - {0}
    assert imgs[n_drawn == 0].max() == 0 and (imgs[n_drawn > 0].reshape((n_drawn > 0).sum(), -1).max(1) > 0).all()

def test_compose_bad_input():
    x, y = pool()
    with pytest.raises(ValueError, match='max_digits'): compose_digits(x, y, 3, max_digits=5)
    with pytest.raises(ValueError, match='size'): compose_digits(x, y, 3, size=40)
    with pytest.raises(ValueError, match='every digit class'): compose_digits(x[y < 9], y[y < 9], 3)
    with pytest.raises(ValueError, match='shapes'): compose_digits(x, y[:-1], 3)

@pytest.fixture(scope='module')
def digits(): return multi_digits(n_train=300, n_valid=100, seed=0)

def test_multi_digits(digits):
    assert digits.items.shape == (400, 56, 56) and len(digits.labels) == 400 and digits.classes == [str(k) for k in range(10)]
    np.testing.assert_array_equal(digits.valid_idx, np.arange(300, 400))
    np.testing.assert_array_equal(digits.counts, (digits.sources >= 0).sum(1))
    assert digits.targs.shape == (400, 10) and (digits.targs.sum(1) == digits.counts).all()
    tr, va = digits.sources[digits.train_idx], digits.sources[digits.valid_idx]
    assert len(np.intersect1d(tr[tr >= 0], va[va >= 0])) == 0     # disjoint source digits
    _, y = mnist_arrays()
    for ls, s in zip(digits.labels, digits.sources): assert ls == sorted(str(k) for k in y[s[s >= 0]])
    again = multi_digits(n_train=300, n_valid=100, seed=0)
    np.testing.assert_array_equal(again.items, digits.items); assert again.labels == digits.labels
    assert 'images with 0 labels' in digits.summary()

def test_multilabelset_bad_input():
    with pytest.raises(ValueError, match='one list of labels per item'): MultiLabelSet('x', ['a.png'], [], ['a'], [])
    with pytest.raises(ValueError, match='not in classes'): MultiLabelSet('x', ['a.png'], [['b']], ['a'], [])
    with pytest.raises(ValueError, match='valid_idx'): MultiLabelSet('x', ['a.png'], [['a']], ['a'], [3])

def test_pascal_2007_from_folder(tmp_path):
    (tmp_path/'train').mkdir()
    for i in range(4): Image.new('RGB', (40, 30), (i*50, 0, 0)).save(tmp_path/'train'/f'{i:06d}.jpg')
    pd.DataFrame({'fname': [f'{i:06d}.jpg' for i in range(4)], 'labels': ['dog', 'person horse', 'car', 'car person'],
                  'is_valid': [False, True, False, True]}).to_csv(tmp_path/'train.csv', index=False)
    s = pascal_2007(tmp_path)
    assert s.classes == ['car', 'dog', 'horse', 'person'] and s.labels[1] == ['horse', 'person']
    np.testing.assert_array_equal(s.valid_idx, [1, 3]); np.testing.assert_array_equal(s.counts, [1, 2, 1, 2])
    assert s.items[2] == tmp_path/'train'/'000002.jpg'
    dls = multi_dls(s, size=32, bs=2)
    xb, yb = dls.valid.one_batch()
    assert xb.shape == (2, 3, 32, 32)
    np.testing.assert_array_equal(yb.cpu().numpy(), s.targs[[1, 3]].astype(float))
    with pytest.raises(FileNotFoundError, match='train.csv'): pascal_2007(tmp_path/'train')

def test_multi_dls_batches(digits):
    dls = multi_dls(digits, bs=16)
    xb, yb = dls.valid.one_batch()
    assert xb.shape == (16, 3, 56, 56) and list(dls.vocab) == digits.classes
    np.testing.assert_array_equal(yb.cpu().numpy().astype(bool), digits.targs[digits.valid_idx[:16]])
    np.testing.assert_allclose(xb[:, 0].cpu().numpy(), digits.items[digits.valid_idx[:16]]/255, atol=1e-6)
    assert (yb.sum(1) == 0).any()                                  # empty label sets come through as rows of zeros

def test_rgb():
    assert _rgb(np.zeros((4, 4), np.uint8)).shape == (4, 4, 3)

# ---- chapter 09's checks, on the chapter's own data (the default multi_digits) and loaders
@pytest.fixture(scope='module')
def chapter_digits(): return multi_digits()

def test_chapter_digits(chapter_digits):
    d = chapter_digits
    assert d.items.shape == (4000, 56, 56)
    np.testing.assert_array_equal(d.targs.sum(1), (d.sources >= 0).sum(1))      # one label per digit drawn
    assert d.items[d.counts == 0].max() == 0                                     # no digit, no ink
    tr, va = d.sources[d.train_idx], d.sources[d.valid_idx]
    assert len(np.intersect1d(tr[tr >= 0], va[va >= 0])) == 0                   # training and validation images share no source digit

def test_chapter_dls(chapter_digits):
    d = chapter_digits
    dls = multi_dls(d, bs=64)
    xb, yb = dls.valid.one_batch()
    assert xb.shape == (64, 3, 56, 56) and list(dls.vocab) == d.classes
    np.testing.assert_array_equal(yb.sum(1).cpu().numpy(), d.counts[d.valid_idx[:64]])   # batch targets follow the item labels
    np.testing.assert_array_equal(yb.cpu().numpy().astype(bool), d.targs[d.valid_idx[:64]])
    np.testing.assert_allclose(xb[0, 0].cpu().numpy(), d.items[d.valid_idx[0]]/255, atol=1e-6)   # pixels as composed
    xb28, yb28 = multi_dls(d, size=28).valid.one_batch()                                        # the PIL path, resized
    assert xb28.shape == (64, 3, 28, 28)
    assert torch.equal(yb28, yb)

def test_show_multi(digits):
    fig = show_multi(digits, 6, ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 6 and all(t.startswith('{') and t.endswith('}') for t in titles)
    fig = show_multi(digits, idx=[0, 1])
    assert [ax.get_title().replace('\n', ' ') for ax in fig.axes if ax.get_title()] == ['{' + ', '.join(digits.labels[i]) + '}' for i in (0, 1)]
    plt.close('all')

def test_options_are_keyword_only():
    x, y = pool()
    with pytest.raises(TypeError): compose_digits(x, y, 3, 3)
    with pytest.raises(TypeError): multi_digits(30, 10, 56)

# ---- the stratified subset (chapter 10 trains on one of the clip-art tags)
def test_multi_subset_sizes_strata_and_determinism(digits):
    s = multi_subset(digits, 120, 40, seed=0)
    assert (len(s.train_idx), len(s.valid_idx), s.name, s.classes) == (120, 40, digits.name, digits.classes)
    shares = lambda m, idx: np.bincount(m.counts[idx], minlength=4)/len(idx)
    for mine, theirs, n in ((s.train_idx, digits.train_idx, 120), (s.valid_idx, digits.valid_idx, 40)):
        assert np.abs(shares(s, mine) - shares(digits, theirs)).max() <= 1/n + 1e-9     # each stratum within one item of its share
    # every kept item is an original item with its own labels and sources, training items stay training items
    coded = MultiLabelSet('coded', np.arange(400*4).reshape(400, 2, 2), digits.labels, digits.classes, digits.valid_idx, digits.sources)
    c = multi_subset(coded, 120, 40, seed=0)                                         # the same draw: it only depends on the counts
    np.testing.assert_array_equal(c.valid_idx, s.valid_idx)
    orig = c.items[:, 0, 0]//4                                                       # each item's index in the original set
    assert (np.diff(orig) > 0).all()                                                 # in the original order, no repeats
    np.testing.assert_array_equal(s.items, digits.items[orig]); np.testing.assert_array_equal(s.sources, digits.sources[orig])
    assert s.labels == [digits.labels[i] for i in orig]
    np.testing.assert_array_equal(np.isin(orig, digits.valid_idx), np.isin(np.arange(160), s.valid_idx))
    again, other = multi_subset(digits, 120, 40, seed=0), multi_subset(digits, 120, 40, seed=1)
    np.testing.assert_array_equal(again.items, s.items); np.testing.assert_array_equal(again.valid_idx, s.valid_idx)
    assert not np.array_equal(other.sources, s.sources)
    full = multi_subset(digits, 300, 100)                                            # all of it: the same set
    np.testing.assert_array_equal(full.items, digits.items); np.testing.assert_array_equal(full.valid_idx, digits.valid_idx)

def test_multi_subset_of_files_and_bad_input(tmp_path):
    files = [tmp_path/f'{i}.png' for i in range(20)]
    labels = [[['a'], [], ['a', 'b']][i % 3] for i in range(20)]
    m = MultiLabelSet('clipart_tags', files, labels, ['a', 'b'], valid_idx=np.arange(14, 20), skipped=[('x.png', 'broken')])
    s = multi_subset(m, 7, 3, seed=2)
    assert s.name == 'clipart_tags' and s.skipped == m.skipped and all(f in files for f in s.items)
    assert [m.labels[files.index(f)] for f in s.items] == s.labels
    assert all(files.index(s.items[i]) >= 14 for i in s.valid_idx)
    for kw, msg in ((dict(n_train=0, n_valid=3), 'n_train'), (dict(n_train=7, n_valid=7), 'n_valid'), (dict(n_train=15, n_valid=3), 'n_train'),
                    (dict(n_train=2, n_valid=3), 'stratified by number of labels')):   # 2 items cannot hold 3 strata
        with pytest.raises(ValueError, match=msg): multi_subset(m, **kw)
