"""Chapter 01's prose, checked against the outputs the chapter stored (tests/test_notebooks.py fails when those are not
what its code prints now) and, for the toy, against the package: each number the prose relies on, without running
the chapter again. The chapter itself keeps two visible checks, softmax and sigmoid against PyTorch's."""
import json, re
import torch
from functools import partial
from helpers import ROOT, stored_output, stored_outputs, stored_prose, table_row, from_chapter
from classification_vs_labeling.activations import softmax, sigmoid

STEM = '01_activations'

def numbers(s) -> list[float]: return [float(x) for x in re.findall(r'[-+]?\d+\.\d+(?:e[-+]?\d+)?|[-+]?\d+(?:e[-+]?\d+)?', s)]

row = partial(table_row, numbers=numbers, strip=True)   # a table's line, its indent dropped

prose = partial(stored_prose, STEM)

def test_the_toy_softmax_shares_out_one_and_the_sigmoids_sum_to_more():
    acts = from_chapter(STEM, 'acts')
    torch.testing.assert_close(softmax(acts).sum(), torch.tensor(1.))
    assert sigmoid(acts).sum() > 1 and (sigmoid(acts) > 0.5).sum() == 2             # two yes answers: pen and book
    assert 'image/png' in next(k for s, _, k in stored_outputs(STEM) if s.startswith('plot_activations(acts'))

def test_real_data_figure_and_table():
    src, text, kinds = next(o for o in stored_outputs(STEM) if 'plot_two_readings(' in o[0])
    assert 'image/png' in kinds and 'seed 0' in src
    t = stored_output(STEM, 'def readings(')
    held, near, far = (row(t, n) for n in ('held-out digits 0-7', 'digits 8 and 9 (no class)', 'letters and photos (no class)'))
    assert [held[0], near[0], far[0]] == [800, 1000, 1000]                            # "the 800 digits of its own classes"
    # columns: images, mean largest softmax, share largest softmax > 0.5, no label, one label, several
    for r in (held, near, far): assert abs(r[3] + r[4] + r[5] - 1) < 2e-3             # each image: none, one or several labels
    assert round(held[4], 2) == 0.94 and held[3] < 0.1                                 # "exactly one label to most (0.94 ...) and no label to a few"
    assert (round(near[3], 2), round(far[3], 2)) == (0.59, 0.77) and min(near[3], far[3]) > 0.5   # "no label to more than half"
    assert (near[2], far[2]) == (0.695, 0.553)                                         # "largest softmax above 0.5 for 0.695 and 0.553"
    for q in ['0.94 of them', '0.59 of the digits 8\nand 9, 0.77 of the letters and photos', 'for 0.695 and 0.553 of them']: assert q in prose(), q

def test_where_three_seeds_stand():
    m = json.loads((ROOT/'results'/'quick'/'metrics.json').read_text())['metrics']
    t = stored_output(STEM, "committed_results('quick'")
    assert row(t, 'tuned thresholds, seed by seed:') == [round(v, 2) for v in m['bce.threshold']['per_seed']]
    assert max(m['bce.threshold']['per_seed']) < 0.5                                   # "at those lower thresholds"
    far = row(t, 'labeler, no label on letters and photos :')
    assert far[:2] == [round(m['bce.none_rate.far']['mean'], 3), round(m['bce.none_rate.far']['sd'], 3)]
    assert (min(far[3:]), max(far[3:])) == (0.254, 0.669)                              # "moves a lot from seed to seed (0.25 to 0.67)"
    assert m['bce.none_rate.far']['sd'] > 10*m['bce.none_rate']['sd']
    assert '(0.25 to 0.67)' in prose()

def test_exp_makes_the_largest_win_and_only_softmax_shares():
    a, b = row(stored_output(STEM, "print(f\"pen/book"), 'pen/book: softmax ratio')
    assert a == b
    t = stored_output(STEM, 'acts2 = acts.clone()')
    change = {c: row(t, c) for c in ['pen', 'book', 'mug', 'phone', 'lamp']}
    assert all(v[0] != 0 for v in change.values()) and abs(sum(v[0] for v in change.values())) < 2e-3   # every softmax moves, the moves sum to 0
    assert [c for c, v in change.items() if v[1] != 0] == ['mug']                      # only the mug's sigmoid moves
    acts = from_chapter(STEM, 'acts'); acts2 = acts.clone(); acts2[2] += 2
    torch.testing.assert_close((softmax(acts2) - softmax(acts)).sum(), torch.tensor(0.), atol=1e-6, rtol=0)

def test_softmax_sees_only_differences():
    t = stored_output(STEM, 'for fn in (softmax, sigmoid) for c in (-5., 0., 5.)')
    for c in ['pen', 'book', 'mug', 'phone', 'lamp']:
        v = row(t, c)
        assert v[0] == v[1] == v[2] and v[3] < v[4] < v[5]                              # softmax unchanged; sigmoid follows the level
    assert 'tensor([nan, 0., 0.])   softmax(x): tensor([1., 0., 0.])' in stored_output(STEM, 'big = torch.tensor([1000.')

def test_two_classes_and_predicting():
    assert row(stored_output(STEM, 'ab = torch.randn'), 'largest |softmax(a, b)[0] - sigmoid(a - b)| over 1000 random pairs:')[0] < 1e-12
    t = stored_output(STEM, "photos = ['desk")
    assert re.search(r'desk: pen on a book\s+pen\s+[\d.]+\s+\[pen, book\]', t)
    cat = re.search(r'a cat\s+\w+\s+([\d.]+)\s+\[\]', t)
    assert cat and float(cat.group(1)) > 1/5                                           # the cat still gets a class, well above 1/5
    assert re.search(r'a book\s+book\s+[\d.]+\s+\[book\]', t)
