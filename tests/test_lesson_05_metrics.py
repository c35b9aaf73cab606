"""Chapter 05's claims about its trained pair, read from its stored quick-mode outputs (tests/test_notebooks.py fails
when they are not what the chapter prints now, so reading them is sound). Its toy examples and simulations are checked
in tests/test_metrics.py, which reads them from the chapter (`helpers.from_chapter`)."""
import re
from helpers import stored_output, stored_outputs, floats, table_row

STEM = '05_metrics'
numbers, row = floats, table_row   # the numbers of a print; those of the row of a printed DataFrame that starts with a name

def test_the_run_is_quick_modes_eight_digit_classes():
    "'4,000 offline MNIST digits of eight classes (8 and 9 are held out)': a fifth to validate on, split in two halves."
    out = stored_output(STEM, 'preds = saved_run()')
    m = re.search(r'(\d+) validation images, (\d+) classes \(([^)]*)\): (\d+) to tune on, (\d+) held out', out)
    assert m, out
    n, k, classes, n_tune, n_held = int(m[1]), int(m[2]), m[3].split(', '), int(m[4]), int(m[5])
    assert (n, k, n_tune, n_held) == (800, 8, 400, 400)                 # "400 held-out images" (Limits)
    assert len(classes) == 8 and not {'8', '9'} & set(classes)

def test_per_label_accuracy_is_the_highest_of_the_labelers_three():
    acc = stored_output(STEM, "acc = pd.DataFrame")
    per_label, exact, argmax = row(acc, 'per-label accuracy')[0], row(acc, 'exact match')[0], row(acc, 'argmax accuracy')[0]
    assert per_label > max(exact, argmax), acc
    assert exact < argmax                                               # the price of the threshold
    clas = [row(acc, r)[1] for r in ('exact match', 'argmax accuracy')]
    assert clas[0] == clas[1]                                           # one-label answers: exact match is argmax accuracy

def test_the_price_of_the_threshold_is_mostly_images_with_no_label():
    out = stored_output(STEM, "lab05['none_rate']")
    none, several = numbers(re.search(r'at 0\.5: (.*?) get several', out)[1])[-2:]
    assert none > several, out

def test_per_label_accuracy_moves_less_than_exact_match_over_thresholds():
    out = stored_output(STEM, 'best_held, mid')
    pl = numbers(re.search(r'per-label accuracy (\S+) to (\S+),', out)[0])
    em = numbers(re.search(r'exact match (\S+) to (\S+)\n', out)[0])
    assert pl[1] - pl[0] < em[1] - em[0], out
    assert '(below 0.5)' in out                                         # "the threshold that maximises exact match usually lies below 0.5"

def test_a_tuned_threshold_gives_a_label_to_images_that_had_none():
    thr = stored_output(STEM, 'th_k = per_class_thresholds')
    at_half, tuned = row(thr, '0.5 (untuned)'), next(row(thr, l.split('  ')[0]) for l in thr.splitlines() if l.startswith('global'))
    assert tuned[-2] < at_half[-2], thr                                 # held-out, no label: fewer at the tuned threshold

def test_the_gap_splits_into_ranking_and_decoding():
    out = stored_output(STEM, "g = real_gap['value']")
    g = numbers(out.splitlines()[0])
    total, ranking, decoding, pieces = g[0], g[1], g[2], g[3:]
    assert abs(total - ranking - decoding) <= 0.0015 and abs(decoding - (sum(pieces[:3]) - pieces[3])) <= 0.002, out
    assert len(pieces) == 4 and pieces[2] == pieces[3] == 0             # one threshold: no wrong single label, no rescue

def test_its_pictures_are_stored():
    kinds = {src.split('\n')[0][:40]: k for src, _, k in stored_outputs(STEM)}
    for first in ('clas_acc = argmax_accuracy', 'real_gap = gap_decomposition', 'pair = PairInterpretation'):
        assert any(s.startswith(first) and 'image/png' in k for s, k in kinds.items()), first

def test_seed_0_stands_where_three_seeds_stand():
    "Limits: the committed three seeds' gap and decoding stay above 0 and their ranking interval holds 0, as in seed 0."
    t = stored_output(STEM, "k.removeprefix('diff.gap_')")
    total, ranking, decoding = row(t, 'total'), row(t, 'ranking'), row(t, 'decoding')
    assert min(total[:3]) > 0 and total[4] > 0 and min(decoding[:3]) > 0 and decoding[4] > 0, t
    assert ranking[4] <= 0 <= ranking[5], t
    one = numbers(stored_output(STEM, "g = real_gap['value']").splitlines()[0])
    assert abs(one[0] - total[0]) <= 0.0015 and abs(one[1] - ranking[0]) <= 0.0015     # seed 0 here is seed 0 there
