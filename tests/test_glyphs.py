"""Chapter 03d: the glyph set's classes (no look-alikes, every font draws them), written once and the same from the
same seed, split per class, and learnable: a plain pixel classifier (scikit-learn) tells the classes apart."""
from collections import Counter
import numpy as np
import pytest
from PIL import Image
from matplotlib.ft2font import FT2Font
from classification_vs_labeling.glyphs import GLYPH_CLASSES, glyph_fonts, draw_glyph, glyphs, glyph_set


def test_the_class_set_leaves_out_look_alikes():
    assert len(GLYPH_CLASSES) == len(set(GLYPH_CLASSES)) == 49
    assert GLYPH_CLASSES[:10] == tuple('0123456789') and list(GLYPH_CLASSES) == sorted(GLYPH_CLASSES)   # digits first; ASCII order = class order
    assert not set('OIl') & set(GLYPH_CLASSES)                                   # 0, 1 stay
    assert not set('cosuvwxzkp') & set(GLYPH_CLASSES)                            # lower case that is its capital made small

def test_every_font_draws_every_class():
    fonts = glyph_fonts()
    assert len(fonts) >= 15
    for f in fonts:
        cmap = FT2Font(str(f)).get_charmap()
        assert not [c for c in GLYPH_CLASSES if ord(c) not in cmap], f.name

def test_draw_glyph_is_seeded_and_draws_something():
    a, b = (draw_glyph('g', 28, np.random.default_rng(5)) for _ in range(2))
    assert a.size == (28, 28) and a.mode == 'L' and a.tobytes() == b.tobytes()
    for i in range(20):
        x = np.asarray(draw_glyph(GLYPH_CLASSES[i], 28, np.random.default_rng(i)), float)
        assert x.max() > 100 and (x > 100).mean() < 0.5                          # a bright glyph on a dark background

def test_written_once_the_same_bytes_from_the_same_seed(tmp_path):
    a = glyphs(tmp_path/'a', n=2, size=16, seed=3)
    files = sorted(a.glob('*/*.png'))
    assert len(files) == 2*49 and len({f.parent.name for f in files}) == 49
    assert {f.parent.name for f in files} >= {'digit_0', 'upper_A', 'lower_a'}   # A and a apart on any file system
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert glyphs(tmp_path/'a', n=2, size=16, seed=3) == a and [f.stat().st_mtime_ns for f in files] == mtimes   # not drawn again
    b = glyphs(tmp_path/'b', n=2, size=16, seed=3)
    assert all(f.read_bytes() == (b/f.relative_to(a)).read_bytes() for f in files)
    c = glyphs(tmp_path/'c', n=2, size=16, seed=4)
    assert any(f.read_bytes() != (c/f.relative_to(a)).read_bytes() for f in files)
    with Image.open(files[0]) as im: assert im.size == (16, 16)

def test_a_k_class_set_is_the_first_k_classes_split_per_class():
    small, big = glyph_set(3, ood='none'), glyph_set(20, ood='none')
    assert small.classes == ['0', '1', '2'] and big.classes == sorted(GLYPH_CLASSES[:20]) and big.name == 'glyphs20'
    assert set(map(str, small.items)) <= set(map(str, big.items))                # the sets nest
    assert Counter(big.labels[i] for i in big.valid_idx) == {c: 100 for c in GLYPH_CLASSES[:20]}
    assert np.array_equal(glyph_set(3, ood='none').valid_idx, small.valid_idx)
    assert not np.array_equal(glyph_set(3, ood='none', seed=1).valid_idx, small.valid_idx)
    assert len(glyph_set(3).ood_items) == 500                                    # the photo probes by default

@pytest.mark.parametrize('kw,msg', [(dict(k=1), r'k: expected a value in \[2, 49\], got 1'), (dict(k=50), 'k: expected'),
                                    (dict(k=2.5), 'k: expected a whole number'), (dict(valid_pct=1.), 'valid_pct: expected'),
                                    (dict(ood='letters+photos'), 'ood: the letter probes are glyph classes here'),
                                    (dict(n=0), 'n: expected')])
def test_refused_at_the_door(kw, msg):
    with pytest.raises(ValueError, match=msg) as e: glyph_set(**kw)
    assert '\n' not in str(e.value)

def test_the_classes_can_be_told_apart():
    "Histograms of oriented gradients (scikit-image) and a logistic regression (scikit-learn), a far weaker model than the CNN, are far above chance on 20 classes."
    from skimage.feature import hog
    from sklearn.linear_model import LogisticRegression
    iset = glyph_set(20, ood='none')
    X = np.stack([hog(np.asarray(Image.open(f)), pixels_per_cell=(7, 7), cells_per_block=(2, 2)) for f in iset.items])
    y, v = np.array(iset.labels), np.isin(np.arange(len(X)), iset.valid_idx)
    acc = LogisticRegression(max_iter=500).fit(X[~v], y[~v]).score(X[v], y[v])
    assert acc > 0.35, acc                                                       # chance is 0.05 (measured: 0.52)

def test_a_data_set_of_the_registry_whose_runs_keep_the_first_k_classes():
    from classification_vs_labeling.datasets import data_set, load_set
    from classification_vs_labeling.spec import RunSpec
    from classification_vs_labeling.runs import load_data
    row = data_set('glyphs')
    assert (row.mode, row.arch, row.pretrained, row.ood, row.held_out) == ('quick', 'small', False, 'photos', ())
    full = load_set('glyphs', 'none')
    assert full.classes == sorted(GLYPH_CLASSES) and full.name == 'glyphs'
    k8 = load_data(RunSpec('glyphs', classes=8, ood='none'))
    assert k8.classes == list('01234567') and len(k8.items) == 8*500
    assert Counter(k8.labels[i] for i in k8.valid_idx) == {c: 100 for c in '01234567'}   # split anew, per class
    assert {str(f) for f in k8.items} == {str(f) for f, l in zip(glyph_set(8, ood='none').items, glyph_set(8, ood='none').labels)}
    with pytest.raises(ValueError, match='classes: expected at most the 49 classes of glyphs, got 50'): load_set('glyphs', 'none', classes=50)
    with pytest.raises(ValueError, match=r'classes: expected a value in \[2'): RunSpec('glyphs', classes=1)

def test_a_class_depends_on_the_seed_and_the_class_only(tmp_path):
    "Each class has its own generator (so the classes are drawn in parallel): the same class, the same images, whatever n."
    a, b = glyphs(tmp_path/'a', n=2, size=16, seed=0), glyphs(tmp_path/'b', n=3, size=16, seed=0)
    assert all((a/'upper_Q'/f'{i:04d}.png').read_bytes() == (b/'upper_Q'/f'{i:04d}.png').read_bytes() for i in range(2))
    assert (a/'upper_Q'/'0000.png').read_bytes() != (a/'upper_R'/'0000.png').read_bytes()
