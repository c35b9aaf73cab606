"""Chapter 06's claims about its trained pair, read from its stored quick-mode outputs (tests/test_notebooks.py fails
when they are not what the chapter prints now, so reading them is sound). Its toy example and the simulated models of
its internals notebook are checked in tests/test_calibration.py, which reads them from the notebooks."""
import re
from helpers import stored_output, stored_outputs, floats, table_row

STEM = '06_calibration'
numbers, row = floats, table_row   # the numbers of a print; those of the row of a printed DataFrame that starts with a name

def test_the_run_is_quick_modes_eight_digit_classes():
    out = stored_output(STEM, 'preds = saved_run()')
    m = re.search(r'(\d+) validation images, (\d+) classes \(([^)]*)\); (\d+) held out; labeler threshold', out)
    assert m, out
    assert (int(m[1]), int(m[2]), int(m[4])) == (800, 8, 400)           # "With 400 held-out images" (Limits)
    assert len(m[3].split(', ')) == 8 and not {'8', '9'} & set(m[3].split(', '))

def test_the_classifier_is_wrong_one_way_the_labeler_three():
    counts = stored_output(STEM, 'counts = outcome_counts(tab)')
    assert row(counts, 'none')[:2] == [0, 0] and row(counts, 'several')[:2] == [0, 0], counts
    n = sum(row(counts, o)[0] for o in ('correct', 'none', 'several', 'wrong'))
    assert n == 400 and sum(row(counts, o)[2] for o in ('correct', 'none', 'several', 'wrong')) == n

def test_wrong_answers_come_with_a_lower_confidence():
    out = stored_output(STEM, 'wrong = tab[~tab.ce_correct]')
    wrong, right = numbers(re.search(r'median confidence (\S+) \(right answers: (\S+)\)', out)[0])
    assert wrong < right, out

def test_temperature_scaling_changes_no_answer():
    cal = stored_output(STEM, "cal = pd.DataFrame")
    assert row(cal, 'top-label accuracy before') == row(cal, 'top-label accuracy after'), cal   # "the top-label accuracy is the same"
    for name, t in zip(('classifier', 'labeler'), row(cal, 'T (tuning)')):
        printed = re.search(rf'{name}: T = (\S+), so it was (\w+)-confident', cal)
        assert abs(float(printed[1]) - t) <= 0.005 and printed[2] == ('under' if t < 1 else 'over')

def test_declining_the_least_confident_tenth_lowers_the_error_rate():
    out = stored_output(STEM, "accuracy_at_coverage(p[held], targs[held], 0.9)")
    for name in ('classifier', 'labeler'):
        a1, a9 = numbers(re.search(rf'{name}: accuracy (\S+) answering every image, (\S+) declining', out)[0])
        assert a9 > a1, out

def test_the_caveat_groups_and_temperature():
    cav = stored_output(STEM, 'cav = pd.concat')
    out = stored_output(STEM, 'answer, with_caveat, dont_know = CAVEAT_GROUPS')
    same = float(re.search(r'put (\S+)% of the classifier', out)[1])
    assert same > 90, out                                               # temperature "hardly changes which images fall in each group"
    for name in ('classifier', 'labeler'):
        answer = row(cav, f'{name}'.ljust(11) + 'answer')
        assert answer[3] > 0.97 and answer[2] > 0.5, cav                 # held out: the plain answers stay right, and most images get one

def test_its_pictures_are_stored():
    for first in ('plot_reliability(toy_probs', 'pair = PairInterpretation', 'fig, axs = plt.subplots(1, 2, figsize=(10, 3.6)',
                  'T = fit_temperature', 'plot_risk_coverage('):
        assert any(src.startswith(first) and 'image/png' in k for src, _, k in stored_outputs(STEM)), first

def test_three_seeds_of_ece():
    "Limits: in each committed seed temperature scaling lowered the classifier's ECE, and the labeler's ECE was the larger before."
    t = stored_output(STEM, "quick3[k]['label']")
    before, after, labeler = row(t, 'Classifier ECE  '), row(t, 'Classifier ECE after'), row(t, 'Labeler ECE')
    assert all(a < b for a, b in zip(after[:3], before[:3])) and all(l > b for l, b in zip(labeler[:3], before[:3])), t
