"""analysis (chapter 10b): every reported number is declared once. Its key is spelled in one place in the package, it
follows the naming rule, and a metric declared here reaches metrics.json, report.md's tables and the sweep's seeds
table with no other change. No training."""
import re
from pathlib import Path
import numpy as np, pytest
from classification_vs_labeling import analysis as A, sweep as S
from classification_vs_labeling.analysis import METRICS, PARTS, metric
from classification_vs_labeling.seedview import SeedView
from classification_vs_labeling.metrics import set_sizes
from classification_vs_labeling.thresholds import tune_split, tuned_threshold
from classification_vs_labeling.core import sigmoid_probs
from classification_vs_labeling.summary import metrics_from_arrays
from classification_vs_labeling.tables import results_table, write_report, _PIVOTS
from classification_vs_labeling.train import Predictions

PKG = Path(A.__file__).parent
K, N, S_ = 5, 240, 2

def arrays(n_ood=60, seed=0):
    "predictions.npz's arrays for two seeds: the right class ahead most of the time, unseen images of two kinds."
    rng = np.random.default_rng(seed)
    y, unseen = rng.integers(0, K, N), rng.integers(0, K, n_ood)
    lg = lambda c, sig: (sig*np.eye(K)[c] + rng.normal(size=(S_, len(c), K))).astype(np.float32)
    return dict(seeds=np.arange(S_), valid_targets=y, tune_mask=tune_split(N, 0.5, seed=0, strat=y), held_out=np.array(['z']),
                ce_logits=lg(y, 3), bce_logits=lg(y, 3) - 2, ood_ce_logits=lg(unseen, 1), ood_bce_logits=lg(unseen, 1) - 2,
                ood_kind=np.array(['near']*(n_ood//3) + ['far']*(n_ood - n_ood//3)))

def test_a_metric_key_is_spelled_in_one_declaration():
    "No module but analysis spells a key; there, at most once (keys made in a loop are spelled nowhere)."
    src = {p.name: p.read_text() for p in PKG.glob('*.py') if p.name != '_modidx.py'}
    for k in METRICS:
        hits = {n: len(re.findall(r"""['"]""" + re.escape(k) + r"""['"]""", t)) for n, t in src.items()}
        hits = {n: c for n, c in hits.items() if c}
        assert set(hits) <= {'analysis.py'} and sum(hits.values()) <= 1, (k, hits)
    assert [n for n, t in src.items() if "'ce.ece_after_temperature'" in t] == ['analysis.py']   # once spelled in three modules

def test_keys_follow_the_naming_rule_and_say_their_items():
    for k, m in METRICS.items():
        parts = k.split('.')
        assert parts[0] in ('ce', 'bce', 'diff') and re.fullmatch('[a-z][a-z0-9_]*', parts[1]) and len(parts) <= 3, k
        assert m.part in PARTS and (len(parts) == 3) == (m.part in ('ood', 'tune')), k
        assert m.model == {'ce': 'classifier', 'bce': 'labeler', 'diff': 'difference between the two'}[parts[0]]
    assert len({m.label for m in METRICS.values()}) == len(METRICS)   # one label per number, too

def test_every_place_a_metric_names_is_a_table_and_a_column_of_the_report():
    for m in METRICS.values():
        for p in m.show:
            assert p[0] in {'results', 'paired', 'gap'} | set(_PIVOTS), (m.key, p)
            if p[0] in _PIVOTS: assert len(p) == 3 and p[2] in _PIVOTS[p[0]][0], (m.key, p)

@pytest.mark.parametrize('key,kw,words', [('labeler.accuracy', {}, 'model.metric'), ('ce.Accuracy', {}, 'model.metric'),
                                          ('bce.none_rate.near', {}, 'does not name the items'), ('ce.loss', dict(part='tune'), 'does not name'),
                                          ('ce.accuracy', dict(part='held'), 'declared already'), ('ce.x', dict(part='train'), 'part: expected')])
def test_a_declaration_refuses_a_bad_key_part_or_a_second_name(key, kw, words):
    with pytest.raises(ValueError, match=re.escape(words)): metric(key, 'a label', **kw)(lambda v: 0.)
    assert METRICS['ce.accuracy'].label == 'Classifier accuracy (argmax)'

def test_seed_view_fits_on_the_tuning_items_and_refuses_a_bad_mask():
    d = arrays()
    v = SeedView(d['ce_logits'][0], d['bce_logits'][0], d['valid_targets'], d['tune_mask'])
    assert v.thresh == tuned_threshold(sigmoid_probs(d['bce_logits'][0]), d['valid_targets'], d['tune_mask'])
    assert not v.has_ood and v.unseen == {} and A.ce_refusal(v) is None and A.METRICS['ce.auroc.ood'](v) is None
    for bad in (d['tune_mask'][:-1], d['tune_mask'].astype(int), np.ones(N, bool)):
        with pytest.raises(ValueError, match='tune_mask'): SeedView(d['ce_logits'][0], d['bce_logits'][0], d['valid_targets'], bad)

@pytest.fixture
def new_metric():
    "A metric declared for one test: the labeler's mean set size at its threshold, in the headline table."
    m = metric('bce.mean_set_size', 'Labeler: mean number of labels (tuned threshold)', fmt='.2f', show=['results'])(
        lambda v: float(set_sizes(v.bce, v.thresh).mean()))
    yield m
    del METRICS[m.key]

def tiny_sweep(d):
    "A saved sweep as `load_sweep` reads it: one budget, one learning rate, two seeds, their final logits also the last epoch's."
    y, classes = d['valid_targets'], [f'c{j}' for j in range(K)]
    runs = {s: (Predictions(classes, y, d['ce_logits'][s], d['bce_logits'][s], seed=s, items=[f'i{i}' for i in range(N)]),
                {'ce_logits': d['ce_logits'][s][None], 'bce_logits': d['bce_logits'][s][None]}) for s in range(S_)}
    return dict(cells=[dict(epochs=1, setting='shared', lr_ce=0.01, lr_bce=0.01)], seeds=list(range(S_)), runs={(0, 1, 0.01): runs},
                tune_mask=d['tune_mask'], tune_masks={0: d['tune_mask']})   # runs and masks by arm (one arm: 0)

def test_a_new_metric_is_one_declaration(new_metric, tmp_path):
    "Declared once: in metrics.json with its mean, sd and per-seed values, in report.md's headline table, in the sweep's seeds table."
    d = arrays()
    want = [float((sigmoid_probs(d['bce_logits'][s])[~d['tune_mask']] > t).sum(1).mean())
            for s, t in enumerate(tuned_threshold(sigmoid_probs(d['bce_logits'][s]), d['valid_targets'], d['tune_mask']) for s in range(S_))]
    m = metrics_from_arrays(d, n_boot=50)
    e = m['metrics'][new_metric.key]
    assert e['per_seed'] == pytest.approx(want) and e['mean'] == pytest.approx(np.mean(want)) and e['sd'] == pytest.approx(np.std(want, ddof=1))
    row = f"| Labeler: mean number of labels (tuned threshold) | {np.mean(want):.2f} | {want[0]:.2f}, {want[1]:.2f} |"
    assert row in results_table(m).splitlines()
    settings = dict(data='x', ood='none', n_items=N, classes=list('abcde'), n_valid=N, n_ood=0, arch='small', pretrained=False,
                    epochs=1, size=28, bs=16, lr=0.01, seeds=[0, 1], device='cpu', mode='quick')
    assert row in write_report(tmp_path, m, settings, plots={}).read_text().splitlines()
    seeds = S.seed_table(tiny_sweep(d))
    assert seeds[new_metric.key].tolist() == pytest.approx(want)
    assert list(seeds.columns[5:]) == [k for k in METRICS if k in seeds]   # the sweep's columns: the declarations, in order

def test_declared_numbers_are_those_metrics_json_holds():
    "With unseen images of both kinds every metric applies; without any, exactly the out-of-domain ones are left out."
    d = arrays()
    assert list(metrics_from_arrays(d, n_boot=20)['metrics']) == list(METRICS)
    m = metrics_from_arrays({k: (v[:, :0] if k.startswith('ood_') and k != 'ood_kind' else v) for k, v in d.items() if k != 'ood_kind'}, n_boot=20)
    left = [k for k in METRICS if k not in m['metrics']]
    assert left == [k for k, x in METRICS.items() if x.part == 'ood' or k in ('ce.refusal', 'ce.refusal_cut')]
    assert m['items'] == {'tune': int(d['tune_mask'].sum()), 'held': int((~d['tune_mask']).sum())}
