"""Chapter 04's claims, read from its stored quick-mode outputs (`helpers.stored_output`): tests/test_notebooks.py fails
when those are not what the chapter prints now, so reading them checks the chapter without training it again."""
import re
from helpers import ROOT, stored_output

def _num(s): return float(s.replace(',', ''))

def scores() -> dict:
    "The four accuracies the real-data cell prints, by name."
    text = stored_output('04_train', 'scores = pd.Series(')
    return {k.strip(): float(v) for k, v in re.findall(r'^((?:classifier|labeler)[^:\n]*):\s+([\d.]+)$', text, re.M)}

def test_the_run_predicts_every_validation_and_out_of_domain_image():
    "What the later chapters take from the run: one row per validation image and per out-of-domain image, every class."
    summary = stored_output('04_train', 'preds = saved_run(')
    n, k, valid, ood = re.search(r'([\d,]+) images, (\d+) classes, ([\d,]+) valid, ([\d,]+) out-of-domain', summary).groups()
    got = re.search(r'predictions: ([\d,]+) validation images, ([\d,]+) out-of-domain, (\d+) classes', stored_output('04_train', 'scores = pd.Series('))
    assert got, 'the real-data cell should print how many predictions the run holds'
    assert [_num(x) for x in got.groups()] == [_num(valid), _num(ood), _num(k)]
    assert 'seed 0' in summary

def test_the_four_accuracies_say_what_the_prose_says():
    s = scores()
    assert set(s) == {'classifier accuracy', 'labeler per-label accuracy (at 0.5)', 'labeler exact match (at 0.5)', 'labeler argmax accuracy'}, s
    k = 8                                                                       # quick mode: the digits 0 to 7
    assert s['classifier accuracy'] > 1.5/k, "the classifier should beat chance even after one short epoch"
    assert abs(s['labeler argmax accuracy'] - s['classifier accuracy']) <= 0.01, "argmax 'about as accurate' as the classifier"
    assert s['labeler exact match (at 0.5)'] < s['labeler argmax accuracy'] - 0.01, "exact match lower: images lost at the threshold"
    assert s['labeler per-label accuracy (at 0.5)'] == max(s.values()), "per-label accuracy 'sits high'"

def test_the_toy_loss_is_the_sum_of_the_two():
    text = stored_output('04_train', 'PairedModel(nn.Linear(4, 3))')
    shape, equal, total, ce, bce = re.search(r'outputs \((\d+, \d+)\), halves equal: (\w+); paired loss ([\d.]+) = cross-entropy ([\d.]+) \+ BCE ([\d.]+)', text).groups()
    assert shape == '2, 6' and equal == 'True'                                  # two copies of one model: the same outputs at the start
    assert abs(float(total) - float(ce) - float(bce)) <= 2e-4

def test_pairing_changes_no_weight_and_the_losses_do():
    "Paired and plain learners end at the same weights (to float32 rounding); the two losses at different ones."
    text = stored_output('04_train', 'largest weight difference')
    ce, bce, between = map(float, re.search(r'classifier: ([\d.e+-]+); labeler: ([\d.e+-]+); between the two losses: ([\d.e+-]+)', text).groups())
    assert ce < 1e-4 and bce < 1e-4 and between > 1e-3

def test_the_three_seed_numbers_the_lesson_quotes():
    "Chapter 04 quotes results/quick/report.md: classifier 0.954, labeler argmax 0.955, exact match 0.936 (three seeds)."
    report = (ROOT/'results'/'quick'/'report.md').read_text()
    row = lambda name: re.search(rf'^\| {re.escape(name)} \| ([\d.]+) \|', report, re.M).group(1)
    assert 'Seeds: 0, 1, 2.' in report
    assert (row('Classifier accuracy (argmax)'), row('Labeler argmax accuracy'), row('Labeler exact match (tuned threshold)')) == ('0.954', '0.955', '0.936')

def test_the_gap_shrinks_at_longer_budgets_in_the_sweep():
    "The limits point to chapter 12's sweep 'where the gap shrinks': results/sweep_quick/gaps.csv, shared learning rate."
    import csv
    rows = [r for r in csv.DictReader(open(ROOT/'results'/'sweep_quick'/'gaps.csv')) if r['setting'] == 'shared']
    gaps = [float(r['diff.gap_total']) for r in sorted(rows, key=lambda r: int(r['epochs']))]
    assert len(gaps) >= 3 and gaps == sorted(gaps, reverse=True) and gaps[-1] < gaps[0]
