"""Chapter 08 (conformal prediction sets): the claims its prose makes, checked on its stored quick-mode outputs, and the
toy checks that left the lesson, run on the package.

The chapter is committed with one quick-mode run's outputs and tests/test_notebooks.py fails when they are not what
the code prints now, so reading them here checks the prose against the run without training or running it again.
"""
import re
import numpy as np
from fastcore import test as fc   # test_eq, test_fail, test_close: fastcore's small checks (a module, so pytest does not collect them)
from helpers import NUM, floats, stored_output, table_rows
from classification_vs_labeling.conformal import *

STEM = '08_conformal'
METHODS_SHOWN = ['classifier, LAC', 'classifier, APS', 'classifier, RAPS', 'labeler, tuned threshold', 'labeler, conformal cut']




rows = table_rows


# ---------- the toy (package calls: these were the lesson's visible checks)

CLASSES = np.array(['cat', 'dog', 'fox'])
CAL_PROBS = np.array([[.95, .03, .02], [.05, .90, .05], [.10, .05, .85], [.80, .15, .05], [.20, .70, .10],
                      [.30, .10, .60], [.45, .50, .05], [.60, .10, .30], [.12, .80, .08]])
CAL_TARGS = np.array([0, 1, 2, 0, 1, 2, 0, 2, 0])
NEW_PROBS = np.array([[.80, .15, .05], [.50, .45, .05], [.40, .35, .25]])
CAL_SCORES = 1 - CAL_PROBS[np.arange(9), CAL_TARGS]
def names(sets): return ['{' + ', '.join(CLASSES[r]) + '}' for r in sets]


def test_toy_conformal_rank_and_cut():
    fc.test_eq(conformal_rank(9, 0.3), 7)       # ceil(10 * 0.7)
    fc.test_eq(conformal_rank(9, 0.05), 10)     # ceil(9.5) = 10 > 9: no calibration score will do
    fc.test_eq(conformal_rank(149, 0.18), 123)  # 150 * 0.82 = 123, although floats compute 123.00000000000001
    q = conformal_quantile(CAL_SCORES, alpha=0.3)
    fc.test_eq(q, np.sort(CAL_SCORES)[6])
    fc.test_eq(conformal_quantile(CAL_SCORES, alpha=0.05), float('inf'))
    fc.test_eq(np.quantile(CAL_SCORES, 7/9, method='lower'), q)   # numpy's quantile at level k/n, method 'lower'
    fc.test_fail(lambda: check_alpha(0), contains='strictly between 0 and 1')
    fc.test_fail(lambda: check_alpha(True), contains='alpha')


def test_toy_lac_and_aps_sets():
    q = conformal_quantile(CAL_SCORES, alpha=0.3)
    fc.test_eq(true_scores(lac_scores(CAL_PROBS), CAL_TARGS), CAL_SCORES)
    fc.test_eq(names(threshold_sets(lac_scores(NEW_PROBS), q)), ['{cat}', '{cat, dog}', '{}'])
    fc.test_fail(lambda: true_scores(lac_scores(CAL_PROBS), CAL_TARGS[:5]), contains='9 targets')
    q_aps = conformal_quantile(true_scores(aps_scores(CAL_PROBS), CAL_TARGS), 0.3)
    aps = aps_sets(NEW_PROBS, q_aps)
    fc.test_eq(names(aps), ['{cat, dog}', '{cat, dog}', '{cat, dog, fox}'])
    fc.test_eq(aps_sets(NEW_PROBS, 0.).sum(1), [1, 1, 1])   # even a cut of 0 keeps the top class
    fc.test_fail(lambda: aps_sets(NEW_PROBS, q_aps, lam=-1), contains='lam')
    fc.test_eq(fit_conformal(CAL_PROBS, CAL_TARGS, method='lac', alpha=0.3)['q'], q)
    fc.test_eq(conformal_sets(NEW_PROBS, fit_conformal(CAL_PROBS, CAL_TARGS, method='aps', alpha=0.3)), aps)
    fc.test_fail(lambda: fit_conformal(CAL_PROBS, CAL_TARGS, method='thr'), contains="'lac', 'aps', 'raps'")
    fc.test_fail(lambda: fit_conformal(CAL_PROBS, CAL_TARGS, alpha=1.5), contains='alpha')
    fc.test_fail(lambda: set_stats(np.ones((3, 3), int), [0, 1, 2]), contains='bool')


def test_the_toy_prints_what_the_prose_reads():
    assert 'k = 7, q = 0.55' in stored_output(STEM, 'q = conformal_quantile(cal_scores')   # seven of the ten gaps
    assert "p >= 0.45: ['{cat}', '{cat, dog}', '{}']" in stored_output(STEM, 'lac = threshold_sets(')   # answer, caveat, none
    assert "['{cat, dog}', '{cat, dog}', '{cat, dog, fox}']" in stored_output(STEM, 'aps = aps_sets(new_probs')   # the third gets all three


# ---------- the trained pair (the claims of "Real data" and after)

def summary() -> dict:
    text = stored_output(STEM, 'summary = conformal_summary(')
    out = {}
    for l in text.splitlines():
        m = re.match(rf'^(\S+)\s+\S.*?((?:\s+{NUM}){{4}})\s*$', l)
        if m and m[1] in NAMES: out[m[1]] = dict(zip(['coverage', 'mean_set_size', 'empty_rate', 'cut'], floats(m[2])))
    assert sorted(out) == sorted(NAMES), text
    return out


def held_count() -> int:
    text = stored_output(STEM, 'preds = saved_run()')
    return int(re.search(r'(\d+) held out', text)[1])


def test_at_alpha_01_lac_and_the_labelers_cut_land_near_90_percent_with_about_one_class():
    s = summary()
    for k in ('ce.lac', 'bce.conformal', 'bce.thresh'): assert abs(s[k]['coverage'] - 0.9) < 0.05, (k, s[k])
    for k in ('ce.lac', 'bce.conformal'):
        assert 0.8 < s[k]['mean_set_size'] < 1.2 and 0 < s[k]['empty_rate'] <= 0.105, (k, s[k])   # "about a tenth ... or fewer (LAC's 0.105 the most)"
    assert s['ce.lac']['empty_rate'] == max(s[k]['empty_rate'] for k in ('ce.lac', 'bce.conformal')) == 0.105


def test_aps_and_raps_are_never_empty_and_cover_more_with_larger_sets():
    s = summary()
    assert s['ce.aps']['empty_rate'] == s['ce.raps']['empty_rate'] == 0
    assert s['ce.aps']['mean_set_size'] > s['ce.raps']['mean_set_size'] > s['ce.lac']['mean_set_size']
    assert s['ce.aps']['coverage'] > 0.95 and s['ce.raps']['coverage'] > 0.95


def test_asked_for_more_coverage_the_labelers_sets_grow_faster():
    text = stored_output(STEM, "for a in (0.02, 0.01)")
    lines = re.findall(rf'alpha = ({NUM}): mean set size, classifier LAC ({NUM}), labeler conformal cut ({NUM})', text)
    assert [a for a, _, _ in lines] == ['0.02', '0.01'], text
    for a, lac, bce in lines: assert float(bce) > float(lac), (a, lac, bce)


def test_lac_says_none_below_its_accuracy_and_one_of_these_above_it():
    acc = float(re.search(rf'accuracy on the held-out half ({NUM})', stored_output(STEM, 'preds = saved_run()'))[1])
    assert acc > 0.9   # "the classifier is right on more than 90% of the held-out images"
    text = stored_output(STEM, "for a in (0.1, 0.05, 0.02)")
    n = {float(a): (int(e), int(one), int(more)) for a, e, one, more in
         re.findall(rf'alpha = ({NUM})\s*:\s+(\d+) empty,\s+(\d+) single classes,\s+(\d+) of two or more', text)}
    assert sorted(n) == [0.02, 0.05, 0.1], text
    assert n[0.1][0] > 0 and n[0.1][2] <= 0.02*held_count()   # alpha 0.1: none of these, or one class
    assert n[0.02][0] == 0 and n[0.02][2] > 0                  # alpha 0.02: no empty set, some of two or more


def test_the_promise_is_kept_on_average_over_200_splits():
    text = stored_output(STEM, 'cov = coverage_over_splits(')
    m = re.search(rf'n = (\d+) tuning items per split: k = (\d+), expected LAC coverage k/\(n\+1\) = ({NUM})', text)
    n, k, expected = int(m[1]), int(m[2]), float(m[3])
    assert expected == round(k/(n + 1), 4) and expected > 0.9
    verdict = {m: l.split()[-1] for l in text.splitlines() for m in METHODS_SHOWN if l.startswith(m)}
    assert verdict == {'classifier, LAC': 'yes', 'classifier, APS': 'yes', 'classifier, RAPS': 'yes',
                       'labeler, tuned threshold': 'promise', 'labeler, conformal cut': 'yes'}, verdict   # 'no promise'
    lac = floats(next(l for l in text.splitlines() if l.startswith('classifier, LAC'))[len('classifier, LAC'):])
    mean, se, lowest = lac[:3]
    assert abs(mean - expected) < 3*se and lowest < 0.9   # k/(n+1); single splits wander below 0.9


def test_misses_gather_in_the_empty_sets_and_classes_fall_both_sides_of_90_percent():
    text = stored_output(STEM, "by_size = coverage_by_size(")
    m = re.search(rf'classifier LAC: (\d+) empty sets \(right on ({NUM})%\), (\d+) singletons \(right on ({NUM})%\), (\d+) sets of 2 or more', text)
    empty, empty_right, one, one_right, more = int(m[1]), float(m[2]), int(m[3]), float(m[4]), int(m[5])
    assert empty + one + more == held_count()
    assert empty_right == 0 and one_right > 90
    for name in ('classifier LAC', 'labeler conformal'):
        lo, hi = map(float, re.search(rf'{name} ({NUM}) to ({NUM})', text).groups())
        assert lo < 0.9 < hi, (name, lo, hi)   # some digits below the promise, some above


def test_randomising_aps_lowers_its_cut_from_near_1_and_shrinks_its_sets():
    text = stored_output(STEM, 'u = np.random.default_rng(0)')
    got = {name: floats(rest) for name, rest in re.findall(r'APS,\s+(not randomised|randomised): (.*)', text)}
    (q0, cov0, size0), (q1, cov1, size1) = got['not randomised'], got['randomised']
    assert q0 > 0.99 and q1 < q0 and size1 < size0


def test_three_seeds_agree_with_seed_0():
    text = stored_output(STEM, "committed_results('quick'")
    seeds = {}
    for l in text.splitlines():
        for m in METHODS_SHOWN:
            if l.startswith(m): seeds[m] = floats(l[len(m):])   # coverage, mean set size, then the coverage of each seed
    assert sorted(seeds) == sorted(METHODS_SHOWN), text
    for m in ('classifier, LAC', 'labeler, conformal cut'): assert abs(seeds[m][0] - 0.9) < 0.05
    assert seeds['classifier, APS'][0] > 0.95 and seeds['classifier, APS'][1] > seeds['classifier, RAPS'][1] > seeds['classifier, LAC'][1]
    s = summary()
    for k, m in NAMES.items(): assert len(seeds[m]) == 5 and abs(seeds[m][2] - s[k]['coverage']) < 0.002, (m, seeds[m], s[k])   # its seed 0 is this run
