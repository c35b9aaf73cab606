"Tests for classification_vs_labeling.calibration: cross-checks with torchmetrics, scikit-learn, PyTorch, and properties."
import numpy as np, pandas as pd, pytest, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from hypothesis import given, settings, strategies as st, HealthCheck
from hypothesis.extra.numpy import arrays
from scipy.special import softmax, expit
from sklearn.calibration import calibration_curve
from torchmetrics.functional.classification import multiclass_calibration_error
from fastcore import test as fc       # fastcore's test_eq/test_close/test_fail, as in the chapter (a bare import would be collected as tests)
from classification_vs_labeling.calibration import *
from classification_vs_labeling.calibration import OUTCOMES
from helpers import from_chapter

def rand_probs(rng, n, k, conc=1.): return rng.dirichlet(np.full(k, conc), n)

def ece_loop(probs, targs, n_bins, multilabel=False):
    "A plain-loop reference: top label, bins (i/n, (i+1)/n] with 0 in the first, weighted |acc - conf|."
    probs = np.asarray(probs, float); n = len(probs); total = 0.
    t = np.asarray(targs)
    for b in range(n_bins):
        lo, hi = b/n_bins, (b+1)/n_bins
        idx = [i for i in range(n) if (lo < probs[i].max() <= hi) or (b == 0 and probs[i].max() == 0)]
        if not idx: continue
        right = [t[i, probs[i].argmax()] if multilabel else t[i] == probs[i].argmax() for i in idx]
        total += len(idx)/n*abs(np.mean(right) - np.mean([probs[i].max() for i in idx]))
    return total

# ---------- cross-checks against references

@pytest.mark.parametrize('seed,k,conc', [(0, 10, 1.), (1, 3, 0.3), (2, 37, 0.1), (3, 2, 5.)])
def test_ece_equals_torchmetrics(seed, k, conc):
    rng = np.random.default_rng(seed)
    probs = rand_probs(rng, 500, k, conc); targs = rng.integers(0, k, 500)
    tm = multiclass_calibration_error(torch.tensor(probs), torch.tensor(targs), num_classes=k, n_bins=15, norm='l1').item()
    assert ece(probs, targs) == pytest.approx(tm, abs=1e-5)
    assert ece(torch.tensor(probs), torch.tensor(targs)) == pytest.approx(tm, abs=1e-5)   # tensors in, same answer

def test_ece_on_sigmoid_probs_equals_loop_reference():
    rng = np.random.default_rng(0)
    probs = expit(rng.normal(-1, 2, (300, 6))); targs = rng.integers(0, 6, 300)
    assert ece(probs, targs, n_bins=10) == pytest.approx(ece_loop(probs, targs, 10), abs=1e-12)
    y = rng.random((300, 6)) < 0.3   # multi-hot targets, some rows empty, some with several labels
    assert ece(probs, y, n_bins=7, multilabel=True) == pytest.approx(ece_loop(probs, y, 7, True), abs=1e-12)

def test_ece_by_hand():
    # top probs .9 (right) and .6 (wrong) in bin (.5, 1]; .3 (right) in bin (0, .5]
    probs = [[.9, .1], [.4, .6], [.3, .3]]
    assert ece(probs, [0, 0, 0], n_bins=2) == pytest.approx(2/3*abs(.5 - .75) + 1/3*abs(1 - .3))

def test_reliability_matches_sklearn_calibration_curve():
    rng = np.random.default_rng(5)
    probs = rand_probs(rng, 800, 5, 0.5); targs = rng.integers(0, 5, 800)
    r = reliability(probs, targs, n_bins=12)
    conf, pred = top_label(probs)
    prob_true, prob_pred = calibration_curve(pred == targs, conf, n_bins=12, strategy='uniform')
    ne = r[r['count'] > 0]
    np.testing.assert_allclose(ne.accuracy, prob_true, atol=1e-12)
    np.testing.assert_allclose(ne.mean_conf, prob_pred, atol=1e-12)
    assert r['count'].sum() == 800 and len(r) == 12
    np.testing.assert_allclose(r.lo, np.arange(12)/12); np.testing.assert_allclose(r.hi, np.arange(1, 13)/12)

def test_bin_edges_are_right_closed():
    r = reliability([[.5, .5], [0., 0.], [1., 0.]], [0, 0, 0], n_bins=2)
    assert r['count'].tolist() == [2, 1]   # 0.5 and 0 in (0, .5], 1 in (.5, 1]

def test_top_label():
    conf, pred = top_label([[.1, .7, .2], [.5, .2, .3]])
    np.testing.assert_allclose(conf, [.7, .5]); assert pred.tolist() == [1, 0]

# ---------- temperature scaling

def calibrated_softmax_data(rng, n=5000, k=8):
    z = rng.normal(0, 2, (n, k))
    t = (softmax(z, 1).cumsum(1) < rng.random((n, 1))).sum(1).clip(max=k-1)   # targets drawn from softmax(z)
    return z, t

@pytest.mark.parametrize('T0', [0.5, 2.5])
def test_fit_temperature_recovers_known_temperature(T0):
    z, t = calibrated_softmax_data(np.random.default_rng(0))
    assert fit_temperature(T0*z, t) == pytest.approx(T0, rel=0.1)
    assert fit_temperature(T0*z, np.eye(8)[t]) == pytest.approx(fit_temperature(T0*z, t))   # one-hot targets too

def test_fit_temperature_minimises_torch_cross_entropy():
    z, t = calibrated_softmax_data(np.random.default_rng(1), n=400, k=5)
    z = 3*z + np.random.default_rng(2).normal(0, 1, z.shape)   # over-confident and noisy: the best T is inside (0.01, 100)
    T = fit_temperature(z, t)
    assert 0.02 < T < 50
    nll = lambda T: torch.nn.functional.cross_entropy(torch.tensor(z)/T, torch.tensor(t)).item()
    grid = np.exp(np.linspace(np.log(T) - 0.5, np.log(T) + 0.5, 101))
    assert nll(T) <= min(nll(g) for g in grid) + 1e-9

def test_fit_bce_temperature_recovers_known_temperature():
    rng = np.random.default_rng(2)
    z = rng.normal(-1, 2, (4000, 4)); y = rng.random(z.shape) < expit(z)   # labels drawn from sigmoid(z)
    assert fit_bce_temperature(2.5*z, y) == pytest.approx(2.5, rel=0.1)
    T0 = np.array([0.5, 1., 2., 3.])
    np.testing.assert_allclose(fit_bce_temperature(T0*z, y, per_class=True), T0, rtol=0.1)

def test_fit_bce_temperature_minimises_torch_bce():
    z, t = calibrated_softmax_data(np.random.default_rng(3), n=300, k=4)
    z = 3*z - 2
    T = fit_bce_temperature(z, t)
    assert 0.02 < T < 50
    bce = lambda T: torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(z)/T, torch.tensor(np.eye(4)[t])).item()
    assert bce(T) <= min(bce(T*f) for f in np.linspace(0.7, 1.3, 61)) + 1e-9

def test_apply_temperature():
    z = np.random.default_rng(4).normal(0, 3, (20, 6))
    np.testing.assert_allclose(apply_temperature(z, 1.), torch.softmax(torch.tensor(z), 1).numpy(), atol=1e-12)
    np.testing.assert_allclose(apply_temperature(z, 2.), torch.softmax(torch.tensor(z)/2, 1).numpy(), atol=1e-12)
    np.testing.assert_allclose(apply_bce_temperature(z, 1.), torch.sigmoid(torch.tensor(z)).numpy(), atol=1e-12)
    T = np.arange(1, 7.)
    np.testing.assert_allclose(apply_bce_temperature(z, T), torch.sigmoid(torch.tensor(z/T)).numpy(), atol=1e-12)
    assert (apply_temperature(z, 7.).argmax(1) == z.argmax(1)).all()
    assert ((apply_bce_temperature(z, T) > .5) == (z > 0)).all()   # no bias: labels at 0.5 never change

# ---------- risk-coverage

def test_risk_coverage_basics():
    rng = np.random.default_rng(6)
    probs = rand_probs(rng, 200, 4); targs = rng.integers(0, 4, 200)
    rc = risk_coverage(probs, targs)
    assert len(rc) == 200
    assert rc.accuracy.iloc[-1] == pytest.approx((probs.argmax(1) == targs).mean())
    assert (np.diff(rc.conf) <= 0).all()
    np.testing.assert_allclose(rc.coverage, np.arange(1, 201)/200)
    np.testing.assert_allclose(rc.risk, 1 - rc.accuracy)
    assert accuracy_at_coverage(probs, targs, 1.) == pytest.approx(rc.accuracy.iloc[-1])
    # brute force: keep the ceil(c*N) most confident
    o = np.argsort(-probs.max(1))
    for c in (0.1, 0.33, 0.5, 0.97):
        k = int(np.ceil(c*200)); ok = (probs.argmax(1) == targs)[o[:k]]
        assert accuracy_at_coverage(probs, targs, c) == pytest.approx(ok.mean())

def test_coverage_at_accuracy_brute_force():
    rng = np.random.default_rng(7)
    probs = rand_probs(rng, 100, 3); targs = rng.integers(0, 3, 100)
    ok = (probs.argmax(1) == targs)[np.argsort(-probs.max(1))]
    for a in (0.5, 0.7, 0.9, 1.0):
        best = max([k for k in range(1, 101) if ok[:k].mean() >= a], default=0)
        assert coverage_at_accuracy(probs, targs, a) == pytest.approx(best/100)

def test_perfectly_ranked_model_reaches_full_accuracy_before_its_errors():
    probs = np.array([[.9, .1], [.8, .2], [.7, .3], [.6, .4]]); targs = [0, 0, 1, 1]
    assert coverage_at_accuracy(probs, targs, 1.) == 0.5
    assert accuracy_at_coverage(probs, targs, 0.75) == pytest.approx(2/3)

# ---------- error table

def test_error_table_by_hand():
    ce = [[.6, .3, .1], [.2, .5, .3], [.1, .1, .8], [.4, .35, .25]]
    bce = [[.7, .2, .1], [.1, .2, .3], [.6, .9, .1], [.2, .8, .4]]
    tab = error_table(ce, bce, [0, 0, 1, 0], ['cat', 'dog', 'fox'], items=['a', 'b', 'c', 'd'])
    assert tab.outcome.tolist() == ['correct', 'none', 'several', 'wrong']
    assert tab.ce_outcome.tolist() == ['correct', 'wrong', 'wrong', 'correct']
    assert tab.ce_pred.tolist() == ['cat', 'dog', 'fox', 'cat'] and tab.target.tolist() == ['cat', 'cat', 'dog', 'cat']
    assert tab.bce_labels.tolist() == ['cat', '', 'cat, dog', 'dog'] and tab.n_labels.tolist() == [1, 0, 2, 1]
    assert tab.item.tolist() == ['a', 'b', 'c', 'd']
    np.testing.assert_allclose(tab.ce_conf, [.6, .5, .8, .4]); np.testing.assert_allclose(tab.bce_max, [.7, .3, .9, .8])
    assert tab.bce_probs_top[2] == 'dog:0.90, cat:0.60, fox:0.10'
    c = outcome_counts(tab)
    assert c.index.tolist() == OUTCOMES
    assert c.ce_n.tolist() == [2, 0, 0, 2] and c.bce_n.tolist() == [1, 1, 1, 1]
    np.testing.assert_allclose(c.bce_frac, .25)

def test_threshold_is_strict_and_per_class():
    tab = error_table([[.5, .5]], [[.5, .2]], [0], 'ab', thresh=0.5)
    assert tab.outcome[0] == 'none'   # p > thresh, strictly
    assert error_table([[.5, .5]], [[.5, .2]], [0], 'ab', thresh=[.4, .5]).outcome[0] == 'correct'

@st.composite
def preds(draw, max_n=30, max_k=6):
    n, k = draw(st.integers(1, max_n)), draw(st.integers(2, max_k))
    pr = st.floats(0, 1, allow_nan=False)
    ce = draw(arrays(np.float64, (n, k), elements=pr)); bce = draw(arrays(np.float64, (n, k), elements=pr))
    t = draw(arrays(np.int64, n, elements=st.integers(0, k-1)))
    return ce, bce, t

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(preds(), st.floats(0, 1), st.randoms(use_true_random=False))
def test_outcomes_follow_definition_and_counts_sum_to_n(p, thresh, r):
    ce, bce, t = p; n, k = ce.shape
    tab = error_table(ce, bce, t, range(k), thresh=thresh)
    for i in range(n):
        labels = [j for j in range(k) if bce[i, j] > thresh]
        want = 'none' if not labels else 'several' if len(labels) > 1 else 'correct' if labels == [t[i]] else 'wrong'
        assert tab.outcome[i] == want
        assert tab.ce_correct[i] == (ce[i].argmax() == t[i])
    c = outcome_counts(tab)
    assert c.ce_n.sum() == n and c.bce_n.sum() == n
    np.testing.assert_allclose(c[['ce_frac', 'bce_frac']].sum(), 1.)
    perm = list(range(n)); r.shuffle(perm)
    c2 = outcome_counts(error_table(ce[perm], bce[perm], t[perm], range(k), thresh=thresh))
    pd.testing.assert_frame_equal(c, c2)

@settings(max_examples=60, deadline=None)
@given(preds(max_n=40), st.integers(1, 20), st.randoms(use_true_random=False))
def test_ece_in_unit_interval_permutation_invariant_and_equal_to_loop(p, n_bins, r):
    probs, _, t = p
    e = ece(probs, t, n_bins=n_bins)
    assert 0 <= e <= 1
    assert e == pytest.approx(ece_loop(probs, t, n_bins), abs=1e-9)
    perm = list(range(len(t))); r.shuffle(perm)
    assert ece(probs[perm], t[perm], n_bins=n_bins) == pytest.approx(e, abs=1e-12)

# ---------- plots return Axes

def test_plots_return_axes():
    rng = np.random.default_rng(8)
    probs, targs = rand_probs(rng, 50, 3), rng.integers(0, 3, 50)
    ax = plot_reliability(probs, targs, label='a'); plot_reliability(probs**2, targs, ax=ax, label='b')
    assert isinstance(ax, plt.Axes) and sum('ECE' in t.get_text() for t in ax.get_legend().get_texts()) == 2
    ax2 = plot_risk_coverage({'m1': (probs, targs), 'm2': (probs[:, ::-1], targs)}, title='seed 0')
    assert len(ax2.get_lines()) == 2 and ax2.get_title() == 'seed 0'
    ax3 = plot_confidence(error_table(probs, probs, targs, 'abc'), 'bce')
    assert isinstance(ax3, plt.Axes) and ax3.get_title() == 'labeler'
    plt.close('all')

def _below(leg, ax) -> bool:
    "The legend lies wholly under the Axes (and so on none of their data)."
    ax.figure.canvas.draw()
    return leg.get_window_extent().y1 < ax.get_window_extent().y0

def test_reliability_counts_each_bin_and_marks_the_small_ones():
    "The panel below holds each bin's item count; bins under `min_count` are hollow and dashed, the others filled and hatched to their confidence."
    rng = np.random.default_rng(1)
    probs, targs = rand_probs(rng, 300, 4, conc=0.3), rng.integers(0, 4, 300)
    r = reliability(probs, targs, n_bins=10)
    assert ((r['count'] > 0) & (r['count'] < 10)).any() and (r['count'] >= 10).any()   # the data have both kinds of bin
    ax = plot_reliability(probs, targs, n_bins=10, title='seed 0 (one seed)')
    cax = next(a for a in ax.child_axes if a.get_label() == 'counts')
    (st,) = cax.patches
    np.testing.assert_array_equal(np.nan_to_num(st.get_data().values), r['count'])   # the counts, bin by bin
    np.testing.assert_allclose(st.get_data().edges, np.linspace(0, 1, 11))
    assert cax.get_yscale() == 'log' and cax.get_xlabel().startswith('confidence') and ax.get_title() == 'seed 0 (one seed)'
    acc_bars, gap_bars = ax.containers
    for p in acc_bars.patches:
        n = r['count'][np.isclose(r.lo + 0.05, p.get_x() + p.get_width()/2)].item()
        assert (p.get_fill() and p.get_facecolor()[3] > 0) == (n >= 10) and (p.get_linestyle() == '--') == (n < 10)
    assert len(acc_bars) == (r['count'] > 0).sum() and len(gap_bars) == (r['count'] >= 10).sum()
    assert 'fewer than 10 items (dashed)' in [t.get_text() for t in ax.get_legend().get_texts()]
    assert _below(ax.get_legend(), cax)                                        # under the count panel, off the diagram
    ax2 = plot_reliability(probs, targs, n_bins=10, min_count=1)              # min_count=1: no bin is small
    assert not any(p.get_linestyle() == '--' for p in ax2.containers[0].patches)
    assert 'fewer than' not in ' '.join(t.get_text() for t in ax2.get_legend().get_texts())
    with pytest.raises(ValueError, match='min_count'): plot_reliability(probs, targs, min_count=0)
    plt.close('all')

def test_reliability_overlay_shares_one_count_panel():
    rng = np.random.default_rng(2)
    probs, targs = rand_probs(rng, 200, 3), rng.integers(0, 3, 200)
    ax = plot_reliability(probs, targs, n_bins=8); plot_reliability(probs**3/(probs**3).sum(1, keepdims=True), targs, n_bins=8, ax=ax)
    (cax,) = [a for a in ax.child_axes if a.get_label() == 'counts']
    assert len(cax.patches) == 2 and [p.get_edgecolor() for p in cax.patches] != [cax.patches[0].get_edgecolor()]*2
    plt.close('all')

def test_risk_coverage_and_confidence_legends_are_off_the_data():
    rng = np.random.default_rng(3)
    probs, targs = rand_probs(rng, 120, 3), rng.integers(0, 3, 120)
    ax = plot_risk_coverage({'a': (probs, targs)})
    assert _below(ax.get_legend(), ax)
    top = [c for c in ax.child_axes if c.get_xlabel() == 'items answered']          # the count on top: 120 items
    assert len(top) == 1 and top[0].get_xlim()[1] == pytest.approx(120)
    assert not [c for c in plot_risk_coverage({'a': (probs, targs), 'b': (probs[:60], targs[:60])}).child_axes]   # different items: no one count
    ax = plot_confidence(error_table(probs, probs, targs, 'abc'), 'ce', title='x')
    assert _below(ax.get_legend(), ax) and ax.get_title() == 'x'
    plt.close('all')

# ---------- bad input

P = np.full((4, 3), 1/3); T = np.array([0, 1, 2, 0])

@pytest.mark.parametrize('call,msg', [
    (lambda: ece(P, T, n_bins=0), 'n_bins'),
    (lambda: ece(P, T, n_bins=1.5), 'n_bins'),
    (lambda: ece(P, T, n_bins=10**400), 'n_bins'),
    (lambda: ece(P, T, n_bins=True), 'n_bins'),
    (lambda: ece(P + 1, T), '[0, 1]'),
    (lambda: ece(-P, T), '[0, 1]'),
    (lambda: ece(np.where(P > 0, np.nan, P), T), 'NaN'),
    (lambda: ece(np.zeros((0, 3)), []), 'empty'),
    (lambda: ece(P, T[:3]), '4 targets'),
    (lambda: ece(P, [0, 1, 2, 3]), '[0, 3)'),
    (lambda: ece(P, np.ones((4, 3))), 'exactly one'),
    (lambda: ece(P[0], T[:1]), '2-d'),
    (lambda: reliability(P, T, n_bins=-2), 'n_bins'),
    (lambda: reliability(P, T, n_bins=None), 'n_bins'),
    (lambda: error_table(P, P, T, 'ab'), '2 classes'),
    (lambda: error_table(P, P[:2], T, 'abc'), 'items like ce_probs'),
    (lambda: error_table(P, P, T, 'abc', thresh=-0.1), '[0, 1]'),
    (lambda: error_table(P, P, T, 'abc', thresh=[.5, .5]), '3 per-class'),
    (lambda: error_table(P, P, T, 'abc', items=['x']), '4 names'),
    (lambda: outcome_counts(pd.DataFrame({'x': [1]})), 'missing'),
    (lambda: outcome_counts(pd.DataFrame({'ce_outcome': [], 'outcome': []})), 'empty'),
    (lambda: outcome_counts(pd.DataFrame({'ce_outcome': ['correct'], 'outcome': ['maybe']})), 'maybe'),
    (lambda: fit_temperature(np.log(P), T[:2]), '4 targets'),
    (lambda: fit_temperature([[np.inf, 0.]], [0]), 'NaN or infinite'),
    (lambda: apply_temperature(P, 0), 'positive'),
    (lambda: apply_temperature(P, [1., 2., 3.]), 'scalar'),
    (lambda: apply_bce_temperature(P, [1., 2.]), '3 per-class'),
    (lambda: apply_bce_temperature(P, [1., -2., 1.]), 'positive'),
    (lambda: fit_bce_temperature(P, [[0, 2, 0]] * 4), 'multi-hot'),
    (lambda: accuracy_at_coverage(P, T, 0.), '(0, 1]'),
    (lambda: accuracy_at_coverage(P, T, 1.5), '(0, 1]'),
    (lambda: coverage_at_accuracy(P, T, -1), '(0, 1]'),
    (lambda: plot_confidence(error_table(P, P, T, 'abc'), 'xx'), "'ce' or 'bce'"),
])
def test_bad_input_raises_clear_value_error(call, msg):
    with pytest.raises(ValueError, match=None) as e: call()
    assert msg in str(e.value), str(e.value)

# ---------- answer, answer with a caveat, don't know

def brute_cut(conf, ok, target):
    "The lowest confidence c such that the items with confidence >= c are right at least `target` of the time (a loop)."
    good = [c for c in sorted(set(conf)) if ok[conf >= c].mean() >= target - 1e-12]
    return min(good) if good else np.inf

@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 60), st.sampled_from([2, 3, 10]), st.floats(0.5, 1.0), st.floats(0.5, 1.0))
def test_caveat_cuts_reach_their_targets_on_the_tuning_items(seed, n, k, a, b):
    rng = np.random.default_rng(seed)
    p = np.round(rand_probs(rng, n, k, 0.5), 2)          # rounded: ties of confidence on purpose
    p = p/p.sum(1, keepdims=True)
    y = np.where(rng.random(n) < 0.7, p.argmax(1), rng.integers(0, k, n))
    hi, lo = max(a, b), min(a, b)
    cuts = fit_caveat(p, y, (hi, lo))
    conf, ok = p.max(1), p.argmax(1) == y
    assert list(cuts) == [brute_cut(conf, ok, hi), brute_cut(conf, ok, lo)]
    for c, t in zip(cuts, (hi, lo)):
        if np.isfinite(c): assert ok[conf >= c].mean() >= t - 1e-12   # the answered items reach the target
    g = caveat(p, cuts)
    s = caveat_summary(p, y, cuts)
    assert s['n'].sum() == n and s['share'].sum() == pytest.approx(1)
    for name in CAVEAT_GROUPS:
        m = g == name
        assert s.loc[name, 'n'] == m.sum()
        assert (np.isnan(s.loc[name, 'accuracy']) and not m.any()) or s.loc[name, 'accuracy'] == pytest.approx(ok[m].mean())
    answered = g != CAVEAT_GROUPS[2]
    if np.isfinite(cuts[1]): assert ok[answered].mean() >= lo - 1e-12

def test_caveat_on_held_out_items_and_both_models():
    "Fitted on one half, the answered half of new items is close to the target (a large sample), for softmax and sigmoid alike."
    rng = np.random.default_rng(0)
    n, k = 20000, 10
    c = rng.integers(0, k, n)
    z = rng.uniform(1, 6, (n, 1))*np.eye(k)[c] + rng.normal(size=(n, k))
    y = (softmax(z, 1).cumsum(1) < rng.random((n, 1))).sum(1).clip(max=k-1)   # calibrated by construction
    tune = np.arange(n) < n//2
    for p in (softmax(z, 1), expit(z - 2)):
        cuts = fit_caveat(p[tune], y[tune], (0.95, 0.85))
        s = caveat_summary(p[~tune], y[~tune], cuts)
        answered = s.loc['answer', 'accuracy'], (s.loc[['answer', 'answer with caveat'], 'n']*s.loc[['answer', 'answer with caveat'], 'accuracy']).sum()/s.loc[['answer', 'answer with caveat'], 'n'].sum()
        assert answered[0] == pytest.approx(0.95, abs=0.02) and answered[1] == pytest.approx(0.85, abs=0.02)
        assert s.loc['answer with caveat', 'accuracy'] < 0.85 < 0.95 and s.loc["don't know", 'accuracy'] < 0.85

@pytest.mark.parametrize('call, msg', [
    (lambda: fit_caveat([[.6, .4]], [0], (0.9, 0.95)), 'first at least the second'),
    (lambda: fit_caveat([[.6, .4]], [0], (1.2, 0.9)), r'\(0, 1\]'),
    (lambda: fit_caveat([[.6, .4]], [0], 0.9), 'two accuracies'),
    (lambda: fit_caveat([[.6, .4]], [[1, 1]]), 'exactly one true class'),
    (lambda: caveat([[.6, .4]], [0.5]), 'two cuts'),
    (lambda: caveat([[.6, .4]], [np.nan, 0.5]), 'two cuts'),
    (lambda: caveat([[1.6, .4]], [0.9, 0.5]), r'\[0, 1\]'),
])
def test_caveat_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg): call()

# ---------- chapter 06's checks, moved from its hidden cells: on its own toy examples and simulated pair (read from the chapter)

@pytest.fixture(scope='module')
def sim():
    "The chapter's simulated pair and its random tuning half (read from the chapter), both models' temperatures fitted on it."
    *_, ce_logits, bce_logits, targs, _, tune = from_chapter('06_calibration_internals', 'simulate', 'classes', 'ce_logits', 'bce_logits', 'targs', 'rng', 'tune')
    T, T_bce = fit_temperature(ce_logits[tune], targs[tune]), fit_bce_temperature(bce_logits[tune], targs[tune])
    return dict(ce_logits=ce_logits, bce_logits=bce_logits, targs=targs, ce_probs=softmax(ce_logits, axis=1), bce_probs=expit(bce_logits),
                tune=tune, T=T, T_bce=T_bce, cal_probs=apply_temperature(ce_logits, T), bce_cal=apply_bce_temperature(bce_logits, T_bce))

TOY_PROBS, TOY_TARGS = from_chapter('06_calibration', 'toy_probs', 'toy_targs')   # the ECE example: right, wrong, right, right, wrong, right by confidence .95 .85 .75 .65 .55 .45

def test_chapter_error_table_and_counts(sim):
    ce, bce, targs = sim['ce_probs'], sim['bce_probs'], sim['targs']
    classes = [f'c{i}' for i in range(10)]
    tab = error_table(ce, bce, targs, classes)
    counts = outcome_counts(tab)
    fc.test_eq(counts.ce_n.sum(), len(tab)); fc.test_eq(counts.bce_n.sum(), len(tab))
    fc.test_eq(counts.ce_n[['none', 'several']].sum(), 0)                   # the classifier's errors: all of one kind
    assert (counts.bce_n[['none', 'several', 'wrong']] > 0).all()          # the labeler's: spread over three
    fc.test_eq(counts.ce_n['correct'], (ce.argmax(1) == targs).sum())
    nl = (bce > 0.5).sum(1)
    fc.test_eq(counts.bce_n['none'], (nl == 0).sum()); fc.test_eq(counts.bce_n['several'], (nl >= 2).sum())
    fc.test_eq(counts.bce_n['correct'], ((nl == 1) & (bce.argmax(1) == targs)).sum())
    fc.test_eq(pd.crosstab(tab.ce_outcome, tab.outcome).to_numpy().sum(), len(tab))
    toy = error_table([[.7,.2,.1]]*4, [[.9,.1,.2],[.3,.2,.4],[.6,.7,.1],[.1,.8,.3]], [0,0,0,0], ['a','b','c'], items=['w','x','y','z'])
    fc.test_eq(list(toy.outcome), ['correct','none','several','wrong'])     # one item of each labeler outcome, worked by hand
    fc.test_eq(list(toy.bce_labels), ['a', '', 'a, b', 'b'])
    fc.test_eq(toy.bce_probs_top[0], 'a:0.90, c:0.20, b:0.10')
    fc.test_eq(list(error_table([[.7,.2,.1]], [[.55,.1,.1]], [0], 'abc', thresh=[.6,.5,.5]).outcome), ['none'])
    fc.test_fail(lambda: error_table(ce, bce, targs, classes[:9]), contains='9 classes')
    fc.test_fail(lambda: error_table(ce, bce[:5], targs, classes), contains='items like ce_probs')
    fc.test_fail(lambda: error_table(ce, bce, targs, classes, thresh=1.5), contains='[0, 1]')
    fc.test_fail(lambda: error_table(ce, bce+1, targs, classes), contains='[0, 1]')
    fc.test_fail(lambda: error_table(ce, bce, targs[:5], classes), contains='2000 targets')
    fc.test_fail(lambda: error_table(ce, bce, np.ones((2000, 10)), classes), contains='exactly one true class')
    fc.test_fail(lambda: error_table(ce, bce, targs, classes, items=['a']), contains='2000 names')
    fc.test_fail(lambda: outcome_counts(tab.drop(columns='outcome')), contains='missing')

def test_chapter_ece_and_reliability(sim):
    ce, bce, targs = sim['ce_probs'], sim['bce_probs'], sim['targs']
    fc.test_close(ece(bce, targs), ece(bce, np.eye(10)[targs], multilabel=True), eps=1e-12)
    fc.test_close(ece([[.9,.8],[.3,.2]], [[0,1],[0,0]], n_bins=1, multilabel=True), abs(0 - (.9+.3)/2), eps=1e-12)  # top labels: 0 (false), 0 (false)
    fc.test_eq(reliability(TOY_PROBS, TOY_TARGS, n_bins=5)['count'].tolist(), [0, 0, 2, 2, 2])
    fc.test_eq(reliability([[0., 0.]], [0], n_bins=4)['count'].tolist(), [1, 0, 0, 0])  # a confidence of 0 goes to the first bin
    fc.test_eq(reliability([[.5, .5]], [0], n_bins=4)['count'].tolist(), [0, 1, 0, 0])  # (0.25, 0.5]
    fc.test_fail(lambda: ece(ce, targs, n_bins=0), contains='n_bins')
    fc.test_fail(lambda: ece(ce, targs, n_bins=2.5), contains='n_bins')
    fc.test_fail(lambda: ece(ce, targs, n_bins='ten'), contains='n_bins')
    fc.test_fail(lambda: ece(ce*2, targs), contains='[0, 1]')
    fc.test_fail(lambda: ece(ce[:, :9], targs), contains='[0, 9)')
    fc.test_fail(lambda: ece([[.5, float('nan')]], [0]), contains='NaN')
    fc.test_fail(lambda: ece(np.zeros((0, 3)), []), contains='empty')
    fc.test_fail(lambda: ece([[.9,.8]], [[1,1]]), contains='exactly one')
    top = reliability(ce, targs, n_bins=10).iloc[-1]                        # before calibration, the top bin ...
    assert 1 - top.accuracy > 10*(1 - top.mean_conf)                        # ... is wrong far more often than its confidence says

def test_chapter_temperature(sim):
    "The classifier's temperature against PyTorch's softmax and cross-entropy; it repairs most of the mismatch, the labeler's one less."
    z, targs, tune = sim['ce_logits'], sim['targs'], sim['tune']
    fc.test_close(apply_temperature(z[:5], 1.), torch.softmax(torch.tensor(z[:5]), 1).numpy(), eps=1e-12)
    fc.test_eq((apply_temperature(z, 3.).argmax(1) == z.argmax(1)).all(), True)
    zt = torch.tensor(z[:500]); T = fit_temperature(zt, targs[:500])
    nll = lambda T: torch.nn.functional.cross_entropy(zt/T, torch.tensor(targs[:500])).item()
    assert nll(T) <= min(nll(T*0.97), nll(T*1.03))                          # a minimum, checked with PyTorch's own loss
    fc.test_fail(lambda: apply_temperature(z, 0.), contains='positive')
    fc.test_fail(lambda: apply_temperature(z, [1., 2.]), contains='scalar')
    fc.test_fail(lambda: fit_temperature(z, targs[:10]), contains='2000 targets')
    held = ~tune
    before, after = ece(sim['ce_probs'][held], targs[held]), ece(sim['cal_probs'][held], targs[held])
    bce_before, bce_after = ece(sim['bce_probs'][held], targs[held]), ece(sim['bce_cal'][held], targs[held])
    assert after < before/2 and 0 < bce_before - bce_after                  # most of the classifier's mismatch repaired; some of the labeler's
    assert (bce_before - bce_after)/bce_before < (before - after)/before    # the labeler's less
    for c in (0.5, 0.8):                                                    # the accuracy at a given coverage barely moves
        assert abs(accuracy_at_coverage(sim['ce_probs'][held], targs[held], c) - accuracy_at_coverage(sim['cal_probs'][held], targs[held], c)) < 0.01

def test_chapter_bce_temperature(sim):
    z, targs, tune, T_bce = sim['bce_logits'], sim['targs'], sim['tune'], sim['T_bce']
    fc.test_close(apply_bce_temperature(z[:5], 1.), torch.sigmoid(torch.tensor(z[:5])).numpy(), eps=1e-12)
    y = torch.tensor(np.eye(10)[targs[tune]])
    bce_t = lambda T: torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(z[tune])/T, y).item()
    assert bce_t(T_bce) <= min(bce_t(T_bce*0.97), bce_t(T_bce*1.03))
    fc.test_eq(fit_bce_temperature(z[tune], targs[tune], per_class=True).shape, (10,))
    fc.test_eq(sim['bce_cal'] > 0.5, sim['bce_probs'] > 0.5)               # the labels at 0.5 do not change
    fc.test_fail(lambda: apply_bce_temperature(z, np.ones(3)), contains='10 per-class')
    fc.test_fail(lambda: apply_bce_temperature(z, -1.), contains='positive')

def test_chapter_reliability_overlay(sim):
    ax = plot_reliability(sim['ce_probs'], sim['targs'], label='x'); plot_reliability(sim['cal_probs'], sim['targs'], ax=ax, label='y')
    fc.test_eq([t.get_text().split(' (')[0] for t in ax.get_legend().get_texts() if not t.get_text().startswith('fewer')], ['calibrated', 'x', 'gap to confidence', 'y'])
    fc.test_eq(len(ax.containers), 4); plt.close(ax.figure)

def test_chapter_risk_coverage(sim):
    p, t = sim['cal_probs'][~sim['tune']], sim['targs'][~sim['tune']]
    rc = risk_coverage(p, t)
    fc.test_eq(len(rc), (~sim['tune']).sum())
    fc.test_close(rc.accuracy.iloc[-1], (p.argmax(1) == t).mean(), eps=1e-12)
    assert (np.diff(rc.conf.values) <= 0).all()
    fc.test_eq(accuracy_at_coverage(TOY_PROBS, TOY_TARGS, 1/3), 0.5)       # the two most confident: .95 right, .85 wrong
    fc.test_eq(accuracy_at_coverage(TOY_PROBS, TOY_TARGS, 0.5), 2/3)       # then .75 right
    fc.test_eq(coverage_at_accuracy(TOY_PROBS, TOY_TARGS, 0.7), 4/6)       # right, wrong, right, right: 3 of 4; then 3 of 5
    fc.test_eq(coverage_at_accuracy(TOY_PROBS, TOY_TARGS, 1.0), 1/6)
    fc.test_eq(coverage_at_accuracy(TOY_PROBS, [1, 2, 1, 2, 1, 2], 0.9), 0.)   # the most confident item is now wrong
    fc.test_fail(lambda: accuracy_at_coverage(TOY_PROBS, TOY_TARGS, 0), contains='(0, 1]')
    fc.test_fail(lambda: coverage_at_accuracy(TOY_PROBS, TOY_TARGS, 1.2), contains='(0, 1]')

def test_chapter_caveat_toy():
    cuts = fit_caveat(TOY_PROBS, TOY_TARGS, (1.0, 0.7))
    fc.test_eq(cuts, [0.95, 0.65])
    fc.test_eq(list(caveat(TOY_PROBS, cuts)), ['answer', 'answer with caveat', "don't know", "don't know", 'answer with caveat', 'answer with caveat'])
    s = caveat_summary(TOY_PROBS, TOY_TARGS, cuts)
    fc.test_eq(s['n'].tolist(), [1, 3, 2]); fc.test_close(s['accuracy'].tolist(), [1, 2/3, 1/2], eps=1e-12)
    fc.test_eq(fit_caveat(TOY_PROBS, [1, 2, 1, 2, 1, 2], (1.0, 0.9))[0], np.inf)      # the most confident item is wrong: no cut reaches 100%
    fc.test_eq(fit_caveat([[.6, .4], [.6, .4], [.9, .1]], [0, 1, 0], (1.0, 0.6)), [0.9, 0.6])   # a tie stays together: 2 of 3 right
    fc.test_eq(caveat_summary([[.6, .4]], [0], [np.inf, 0.7])['n'].tolist(), [0, 0, 1])
    assert np.isnan(caveat_summary([[.6, .4]], [0], [np.inf, 0.7]).loc['answer', 'accuracy'])
    fc.test_fail(lambda: fit_caveat(TOY_PROBS, TOY_TARGS, (0.9, 0.95)), contains='first at least the second')
    fc.test_fail(lambda: fit_caveat(TOY_PROBS, TOY_TARGS, (0.99,)), contains='two accuracies')
    fc.test_fail(lambda: caveat(TOY_PROBS, [0.5, 0.9]), contains='first at least the second')

def test_chapter_caveat_on_the_simulated_pair(sim):
    "Fitted on the tuning half, each target is met there, and the next lower confidence would miss it; every held-out item lands in a group."
    targs, tune = sim['targs'], sim['tune']
    for p in (sim['cal_probs'], sim['bce_cal']):
        cuts = fit_caveat(p[tune], targs[tune])
        conf, ok = p[tune].max(1), p[tune].argmax(1) == targs[tune]
        for c, a in zip(cuts, (0.99, 0.97)):
            assert ok[conf >= c].mean() >= a
            lower = conf[conf < c]
            if len(lower): assert ok[conf >= lower.max()].mean() < a
        fc.test_eq(caveat_summary(p[~tune], targs[~tune], cuts)['n'].sum(), (~tune).sum())

# ---------- misuse: probabilities as logits, and temperatures at the end of the search range (issue 23)

import warnings

def _warnings_of(f):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        out = f()
    return out, [str(x.message) for x in w]

def _sim_logits(n=600, k=8, seed=0, scale=2.5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    return y, scale*(rng.uniform(1, 4, (n, 1))*np.eye(k)[y] + rng.normal(size=(n, k)))

def test_temperatures_fitted_on_logits_do_not_warn():
    y, z = _sim_logits()
    for f in (lambda: fit_temperature(z, y), lambda: fit_bce_temperature(z - 4, y), lambda: fit_bce_temperature(z - 4, y, per_class=True),
              lambda: apply_temperature(z, 2.), lambda: apply_bce_temperature(z, 2.)):
        assert _warnings_of(f)[1] == []

def test_fit_temperature_on_probabilities_warns_and_names_the_mix_up():
    y, z = _sim_logits()
    T, msgs = _warnings_of(lambda: fit_temperature(softmax(z, axis=1), y))
    assert len(msgs) == 1 and msgs[0].startswith('logits: expected logits, got what look like softmax probabilities')
    assert T < 1                                              # the silent wrong answer the issue saw (0.37 there)
    _, msgs = _warnings_of(lambda: fit_bce_temperature(expit(z - 4), y))
    assert msgs and msgs[0].startswith('logits: expected logits, got what look like sigmoid probabilities')

def test_a_temperature_at_the_end_of_its_search_range_warns():
    y, z = _sim_logits()
    # every tuning item right, by a small margin: sharper is always better, and T runs to 0.01
    sep = 0.05*np.eye(8)[y]
    T, msgs = _warnings_of(lambda: fit_temperature(sep, y))
    assert T == pytest.approx(0.01, rel=1e-3) and len(msgs) == 1
    assert 'fit_temperature: the fitted temperature 0.01' in msgs[0] and 'end of the search range [0.01, 100]' in msgs[0]
    # logits that say nothing about the labels: the flattest sigmoid is best, T runs to 100
    rng = np.random.default_rng(1)
    noise = 3*rng.normal(size=(600, 8))                        # centred on 0: any T < inf is worse than a coin
    T, msgs = _warnings_of(lambda: fit_bce_temperature(noise, rng.integers(0, 8, 600)))
    assert T == pytest.approx(100, rel=1e-3) and any('fit_bce_temperature: the fitted temperature 100' in m for m in msgs)
    # per class: the classes at the bound are named
    zz = np.c_[z[:, :7] - 4, noise[:, :1]]
    Ts, msgs = _warnings_of(lambda: fit_bce_temperature(zz, y, per_class=True))
    assert Ts[7] == pytest.approx(100, rel=1e-3) and (Ts[:7] < 99).all()
    assert len(msgs) == 1 and 'temperatures of classes [7] (100)' in msgs[0]
