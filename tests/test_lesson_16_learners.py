"""Chapter 16's claims, read from its stored quick-mode outputs (`helpers.stored_output`): tests/test_notebooks.py fails
when those are not what the chapter prints now. ExactMatch against scikit-learn is tests/test_learners.py's."""
import re
from helpers import ROOT, stored_output

def _outcomes(text) -> dict: return {k: int(v) for k, v in re.findall(r'^(correct|none|several|wrong)\s+(\d+)$', text, re.M)}

def test_the_toy_exact_match_and_accuracy_multi():
    acc, exact = map(float, re.search(r'accuracy_multi ([\d.]+), exact match ([\d.]+)', stored_output('16_learners', 'out = torch.tensor(')).groups())
    assert (acc, exact) == (round(7/9, 3), round(1/3, 3))

def metrics():
    "The labeler's two metrics (names and values) and the classifier's accuracy, as the chapter prints them after training."
    text = stored_output('16_learners', 'names = [m.name for m in learn_bce.metrics]')
    n1, a, n2, e, ce = re.search(r'labeler: (\w+) ([\d.]+), (\w+) ([\d.]+); classifier: accuracy ([\d.]+)', text).groups()
    return dict(names=[n1, n2], acc_multi=float(a), exact=float(e), ce=float(ce))

def test_the_labeler_trains_with_both_metrics_and_exact_match_is_lower():
    m = metrics()
    assert m['names'] == ['accuracy_multi', 'exact_match']
    assert m['acc_multi'] >= m['exact'] and m['acc_multi'] - m['exact'] > 0.03   # 'differ by several points'

def test_the_outcomes_add_up_to_the_metric_and_empty_sets_lead():
    out = _outcomes(stored_output('16_learners', 'interp = LabelerInterpretation.from_learner(learn_bce)'))
    n = sum(out.values())
    assert abs(out['correct']/n - metrics()['exact']) <= 0.0015                  # the table and the metric agree (printed to 3 places)
    assert out['none'] > out['wrong'] + out['several'] and out['several'] < out['none']   # 'most of them are empty sets, few several'

def test_the_pair_table_holds_the_same_labeler_and_fastais_accuracy():
    table = stored_output('16_learners', 'pair = PairInterpretation.from_learners(learn_ce, learn_bce)')
    head = re.search(r'^labeler\s+(.*)$', table, re.M).group(1).split()
    total = dict(zip(head, map(int, re.search(r'^all\s+(.*)$', table, re.M).group(1).split())))
    out = _outcomes(stored_output('16_learners', 'interp = LabelerInterpretation.from_learner(learn_bce)'))
    assert {k: total[k] for k in out} == out and total['all'] == sum(out.values())
    ours, fastai = re.search(r"the table's ([\d.]+), fastai's validate ([\d.]+)", stored_output('16_learners', 'learn_ce.validate()')).groups()
    assert ours == fastai

def test_the_report_counts_and_recomputes():
    text = stored_output('16_learners', "print(f\"items: {m['items']}")
    items = dict((k, int(v)) for k, v in re.findall(r"'(\w+)': (\d+)", re.search(r'items: \{(.*?)\}', text).group(1)))
    summary = stored_output('16_learners', 'iset = load_set(default_data()')
    valid, ood = (int(x.replace(',', '')) for x in re.search(r'([\d,]+) valid, ([\d,]+) out-of-domain', summary).groups())
    assert items == {'tune': items['tune'], 'held': valid - items['tune'], 'near': ood, 'ood': ood} and abs(items['tune'] - valid/2) <= 8
    assert "settings recorded as unknown: ['n_items', 'device', 'machine']" in text
    report, recomputed = re.search(r'report ([\d.]+), recomputed ([\d.]+)', text).groups()
    assert report == recomputed

def test_the_three_seed_gap_the_limits_quote():
    report = (ROOT/'results'/'quick'/'report.md').read_text()
    assert '| Classifier accuracy - labeler exact match | +0.018 | 95% CI [+0.007, +0.031] |' in report
