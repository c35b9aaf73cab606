"""Chapter 03's prose, checked against the outputs the chapter (and its internals notebook) stored:
tests/test_notebooks.py fails when those are not what the code prints now. The chapter keeps four visible checks
(what `ImageSet` and `valid_split` refuse, the stratified split of the digits, the validation items' order); the
checks of the loaders it no longer shows run in 03_data_internals and in tests/test_data.py."""
import re
from helpers import stored_output, stored_outputs

STEM = '03_data'

def test_the_toy_and_its_split():
    t = stored_output(STEM, "toy = ImageSet('toy'")
    assert 'ImageSet(toy: 4 images, 2 classes, 1 valid' in t and 'array([0, 1, 2])' in t
    v = [int(x) for x in re.findall(r'\d+', stored_output(STEM, "valid_split(['cat']*6"))]
    assert len(v) == 5 and sum(i < 6 for i in v) == 3                  # half the items, stratified: 3 of 6 cats, 2 of 4 dogs

def test_the_offline_set_and_its_picture():
    assert 'mnist: 5,000 images, 10 classes, 1,000 valid, 1,000 out-of-domain, 0 skipped' in stored_output(STEM, 'mset = mnist_set()')
    counts = stored_output('03_data_internals', 'mnist = mnist_sample()')
    assert re.findall(r"'(\d)': (\d+)", counts) == [(str(d), '500') for d in range(10)]   # "500 of each"
    assert 'image/png' in next(k for s, _, k in stored_outputs(STEM) if s.startswith('show_set(mset)'))

def test_holding_8_and_9_out():
    held = stored_output(STEM, "held = hold_out(mset, ['8', '9'])")
    assert 'mnist: 4,000 images, 8 classes, 800 valid, 2,000 out-of-domain, 0 skipped' in held   # 1,000 held digits join 1,000 probes

def test_two_matched_views():
    t = stored_output(STEM, 'xb_ce, yb_ce = dls_ce.train.one_batch()')
    assert 'same items, same order: True True' in t
    cls = [int(x) for x in re.search(r'classifier targets: \[([\d, ]+)\]', t).group(1).split(',')]
    hot = [[int(x) for x in r.split(',')] for r in re.findall(r'\[([01, ]+)\]', t.split('labeler targets:')[1])]
    assert [r.index(1) for r in hot] == cls and all(sum(r) == 1 for r in hot)   # one-hot rows of the class indices
    assert 'same images: True\none-hot of the class index: True' in stored_output(STEM, 'print("same images:"')
    assert 'augmented, reseeded, same images: True' in stored_output(STEM, 'aug_ce, aug_bce = matched_dls(')
    shows = next(k for s, _, k in stored_outputs(STEM) if s.startswith('dls_ce, dls_bce = matched_dls('))
    assert shows.count('image/png') == 2                                        # the same batch, as each model sees it

def test_broken_files_never_reach_the_loaders():
    t = stored_output('03_data_internals', 'ill = book_illustrations(tmp/')
    assert re.search(r'2 skipped', t) and 'notes.jpg' in t and 'truncated.jpg' in t
