"""summary (chapter 10c): the numbers chapters 05-08 add to metrics.json (the gap decomposed, the caveat groups, the fair
out-of-domain comparison, the sets), recomputed independently from the arrays of predictions.npz with numpy loops and
scikit-learn; no training."""
import json
import numpy as np, pytest
from scipy.special import softmax, expit
from sklearn.metrics import accuracy_score, roc_auc_score
from classification_vs_labeling.metrics import paired_bootstrap
from classification_vs_labeling.thresholds import tune_split
from classification_vs_labeling.summary import metrics_from_arrays
from classification_vs_labeling.seedview import CAVEAT_TARGETS
from classification_vs_labeling.tables import results_table

S, N, K, NEAR, FAR = 3, 400, 6, 150, 250

def fake_npz(seed=0, n_ood=NEAR + FAR):
    "predictions.npz's arrays for S seeds: logits that rank the right class first most of the time, unseen items with a weaker signal."
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, N)
    def logits(n, signal, who):
        c = y if who == 'in' else rng.integers(0, K, n)
        return (rng.uniform(*signal, (S, n, 1))*np.eye(K)[c] + rng.normal(size=(S, n, K))).astype(np.float32)
    d = dict(classes=np.array([f'c{k}' for k in range(K)]), seeds=np.arange(S), valid_targets=y,
             tune_mask=tune_split(N, 0.5, seed=0, strat=y), ce_logits=logits(N, (0.5, 6), 'in'),
             bce_logits=logits(N, (0.5, 6), 'in') - 2.5, ood_ce_logits=logits(n_ood, (0, 3), 'out'),
             ood_bce_logits=logits(n_ood, (0, 3), 'out') - 2.5,
             held_out=np.array(['c9']), ood_kind=np.array(['near']*NEAR + ['far']*(n_ood - NEAR))[:n_ood])
    return d

@pytest.fixture(scope='module')
def run():
    d = fake_npz()
    return d, metrics_from_arrays(d, n_boot=300)

def by_hand(d, s):
    "One seed's held-out arrays: targets, classifier and labeler probabilities, the tuned threshold's sets."
    held, y = ~d['tune_mask'], d['valid_targets']
    ce, bce = softmax(d['ce_logits'][s].astype(float), 1), expit(d['bce_logits'][s].astype(float))
    return held, y, ce, bce

def test_gap_pieces_recomputed(run):
    d, m = run
    ms = m['metrics']
    per = {k: [] for k in ('total', 'ranking', 'decoding', 'none', 'several', 'wrong', 'rescued')}
    ce_ok, ex_ok = [], []
    for s in range(S):
        held, y, ce, bce = by_hand(d, s)
        t = ms['bce.threshold']['per_seed'][s]
        sets = bce[held] > t
        c, a = accuracy_score(y[held], ce[held].argmax(1)), accuracy_score(y[held], bce[held].argmax(1))
        e = accuracy_score(np.eye(K, dtype=int)[y[held]], sets.astype(int))   # subset accuracy
        amax, size = bce[held].argmax(1) == y[held], sets.sum(1)
        exact = (sets == np.eye(K, dtype=bool)[y[held]]).all(1)
        ce_ok.append(ce[held].argmax(1) == y[held]); ex_ok.append(exact)
        for k, v in [('total', c - e), ('ranking', c - a), ('decoding', a - e), ('none', (amax & (size == 0)).mean()),
                     ('several', (amax & (size >= 2)).mean()), ('wrong', (amax & (size == 1) & ~exact).mean()),
                     ('rescued', -(~amax & exact).mean())]: per[k].append(v)
    for k, vals in per.items():
        g = ms[f'diff.gap_{k}']
        assert g['per_seed'] == pytest.approx(vals, abs=1e-12), k
        assert g['mean'] == pytest.approx(np.mean(vals), abs=1e-12) and g['sd'] == pytest.approx(np.std(vals, ddof=1), abs=1e-12)
        assert g['ci95'][0] <= g['mean'] + 1e-12 and g['mean'] <= g['ci95'][1] + 1e-12, k
    g = ms['diff.gap_total']
    assert g['mean'] == pytest.approx(sum(ms[f'diff.gap_{k}']['mean'] for k in ('ranking', 'none', 'several', 'wrong', 'rescued')), abs=1e-12)
    b = paired_bootstrap(np.mean(ce_ok, 0), np.mean(ex_ok, 0), n_boot=300, seed=0)   # chapter 05: items resampled, seeds averaged
    assert g['mean'] == pytest.approx(b['diff'], abs=1e-12) and tuple(g['ci95']) == b.ci
    assert ms['diff.gap_wrong']['mean'] == ms['diff.gap_rescued']['mean'] == 0 and ms['diff.gap_none']['mean'] > 0   # one global threshold

def brute_cut(conf, ok, target):
    good = [c for c in sorted(set(conf)) if ok[conf >= c].mean() >= target - 1e-12]
    return min(good) if good else np.inf

def test_caveat_groups_recomputed(run):
    d, m = run
    ms = m['metrics']
    for md in ('ce', 'bce'):
        got = {k: [] for k in ('answer_from', 'caveat_from', 'answer_share', 'answer_accuracy', 'caveat_share', 'caveat_accuracy',
                               'dont_know_share', 'dont_know_accuracy')}
        for s in range(S):
            held, y, ce, bce = by_hand(d, s)
            p = ce if md == 'ce' else bce
            conf, ok = p.max(1), p.argmax(1) == y
            hi, lo = (brute_cut(conf[~held], ok[~held], a) for a in CAVEAT_TARGETS)
            ch, okh = conf[held], ok[held]
            groups = {'answer': ch >= hi, 'caveat': (ch < hi) & (ch >= lo), 'dont_know': ch < lo}
            got['answer_from'].append(hi); got['caveat_from'].append(lo)
            for k, sel in groups.items():
                got[k + '_share'].append(sel.mean()); got[k + '_accuracy'].append(okh[sel].mean() if sel.any() else None)
        for k, vals in got.items():
            want = [None if v is None or not np.isfinite(v) else v for v in vals]
            assert ms[f'{md}.caveat_{k}']['per_seed'] == pytest.approx(want, abs=1e-12), (md, k)
        assert ms[f'{md}.caveat_answer_accuracy']['mean'] >= ms[f'{md}.caveat_caveat_accuracy']['mean']

OOD_KEYS = {'ce_auroc': 'ce.auroc', 'bce_auroc': 'bce.auroc', 'auroc_diff': 'diff.auroc', 'ce_refusal': 'ce.refusal',
            'bce_refusal': 'bce.none_rate', 'refusal_diff': 'diff.refusal'}

def test_matched_refusal_and_auroc_recomputed(run):
    d, m = run
    ms, kinds = m['metrics'], d['ood_kind']
    assert m['items'] == {'tune': N//2, 'held': N - N//2, 'near': NEAR, 'far': FAR, 'ood': NEAR + FAR} and m['held_out'] == ['c9']
    for s in range(S):
        held, y, ce, bce = by_hand(d, s)
        t = ms['bce.threshold']['per_seed'][s]
        ce_in, bce_in = ce[held].max(1), bce[held].max(1)
        ce_out, bce_out = softmax(d['ood_ce_logits'][s].astype(float), 1).max(1), expit(d['ood_bce_logits'][s].astype(float)).max(1)
        rate = ((bce[held] > t).sum(1) == 0).mean()                   # the labeler's "no label" on held-out in-domain items
        k = int(np.floor(rate*len(ce_in) + 0.5)); srt = np.sort(ce_in)
        cut = (srt[k-1] + srt[k])/2
        assert ms['bce.none_rate']['per_seed'][s] == pytest.approx(rate) and ms['ce.refusal']['per_seed'][s] == pytest.approx(rate)   # matched
        assert ms['ce.refusal_cut']['per_seed'][s] == pytest.approx(cut)
        for kind in ('near', 'far', 'ood'):
            sel = kinds == kind if kind != 'ood' else np.ones(len(kinds), bool)
            lab = np.r_[np.ones(len(ce_in)), np.zeros(sel.sum())]
            a, b = roc_auc_score(lab, np.r_[ce_in, ce_out[sel]]), roc_auc_score(lab, np.r_[bce_in, bce_out[sel]])
            cr, br = (ce_out[sel] < cut).mean(), ((expit(d['ood_bce_logits'][s].astype(float))[sel] > t).sum(1) == 0).mean()
            for key, want in [('ce_auroc', a), ('bce_auroc', b), ('auroc_diff', a - b), ('ce_refusal', cr), ('bce_refusal', br),
                              ('refusal_diff', br - cr)]:
                assert ms[f'{OOD_KEYS[key]}.{kind}']['per_seed'][s] == pytest.approx(want, abs=1e-12), (key, kind)
    for kind in ('near', 'far', 'ood'):
        for key in ('ce_refusal', 'bce_refusal', 'refusal_diff', 'auroc_diff'):
            e = ms[f'{OOD_KEYS[key]}.{kind}']
            assert e['ci95'][0] <= e['mean'] + 1e-12 and e['mean'] <= e['ci95'][1] + 1e-12, (key, kind)

def test_metrics_json_is_strict_json_and_the_report_shows_the_new_tables(run):
    _, m = run
    json.dumps(m, allow_nan=False)                                     # empty groups and unreached cuts are null, not NaN
    md = results_table(m)
    for words in ('The gap, decomposed', 'Ranking: classifier accuracy', "don't know", 'same in-domain refusal rate', '| near |', '| far |'):
        assert words in md, words
    g = m['metrics']['diff.gap_ranking']
    assert f"{g['mean']:+.3f} | [{g['ci95'][0]:+.3f}" in md

def test_empty_caveat_group_and_old_files():
    "A seed whose 'don't know' group is empty gets null there; a predictions.npz without ood_kind gives the 'all' rows only."
    d = fake_npz(1)
    d['ce_logits'] = d['ce_logits']*0 + 10*np.eye(K, dtype=np.float32)[d['valid_targets']]   # always right, always sure
    old = {k: v for k, v in d.items() if k not in ('ood_kind', 'held_out')}
    m = metrics_from_arrays(old, n_boot=50)
    ms = m['metrics']
    assert ms['ce.caveat_dont_know_accuracy']['per_seed'] == [None]*S and ms['ce.caveat_dont_know_accuracy']['mean'] is None
    assert ms['ce.caveat_dont_know_accuracy']['sd'] is None and ms['ce.caveat_answer_accuracy']['mean'] == 1.0
    assert 'ood' in m['items'] and 'near' not in m['items'] and 'held_out' not in m and 'ce.auroc.near' not in ms
    json.dumps(m, allow_nan=False)
    assert '| all |' in results_table(m) and '| near |' not in results_table(m)

def test_conformal_sets_recomputed(run):
    "metrics.json's sets, by hand: LAC and the labeler's conformal cut from the finite-sample quantile, the labeler's own sets at its threshold."
    d, m = run
    ms, a = m['metrics'], m['alpha']
    assert a == 0.1
    tune = d['tune_mask']
    for s in range(S):
        held, y, ce, bce = by_hand(d, s)
        n = tune.sum(); k = int(np.ceil((n + 1)*(1 - a)))
        def conf_sets(p):                                             # a cut on 1 - p(true class), the k-th smallest tuning score
            q = np.sort(1 - p[tune, y[tune]])[k - 1]
            return p[held] >= 1 - q
        t = ms['bce.threshold']['per_seed'][s]
        for key, sets in (('ce.lac', conf_sets(ce)), ('bce.conformal', conf_sets(bce)), ('bce.thresh', bce[held] > t)):
            assert ms[f'{key}_coverage']['per_seed'][s] == pytest.approx(sets[np.arange(held.sum()), y[held]].mean()), key
            assert ms[f'{key}_mean_set_size']['per_seed'][s] == pytest.approx(sets.sum(1).mean()), key
            empty = ms['bce.none_rate' if key == 'bce.thresh' else f'{key}_empty_rate']   # the labeler's empty sets: its items with no label
            assert empty['per_seed'][s] == pytest.approx((sets.sum(1) == 0).mean()), key
    for key in ('ce.aps', 'ce.raps'): assert ms[f'{key}_empty_rate']['mean'] == 0   # MAPIE's convention: never an empty set (chapter 08)
    assert '**Sets of classes**' in results_table(m) and 'labeler, conformal cut' in results_table(m)
    other = metrics_from_arrays(d, n_boot=50, alpha=0.3)
    assert other['alpha'] == 0.3 and other['metrics']['ce.lac_mean_set_size']['mean'] <= ms['ce.lac_mean_set_size']['mean']
