"Tests for classification_vs_labeling.metrics and classification_vs_labeling.thresholds (chapter 05 and its 05a): hand-worked cases, cross-checks against scikit-learn, fastai and torchmetrics, properties, bad input."
import numpy as np, pandas as pd, pytest, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from fastai.metrics import accuracy_multi
from torchmetrics.functional.classification import multilabel_exact_match, multilabel_accuracy
from fastcore import test as fc   # fastcore's test_eq/test_close/test_fail, as in the chapter (a bare import would be collected as tests)
from classification_vs_labeling.metrics import *
from classification_vs_labeling.thresholds import *
from classification_vs_labeling.thresholds import _counts
from helpers import from_chapter

GRID = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]   # probabilities and thresholds that tie on purpose

@st.composite
def preds(draw, max_n=12, max_k=5):
    "Probabilities (N, K) with deliberate ties, and multi-hot targets (empty rows allowed)."
    n, k = draw(st.integers(1, max_n)), draw(st.integers(1, max_k))
    p = draw(arrays(np.float64, (n, k), elements=st.one_of(st.sampled_from(GRID), st.floats(0, 1))))
    return p, draw(arrays(np.bool_, (n, k)))

threshs = st.one_of(st.sampled_from(GRID), st.floats(0, 1))

def rand(n=200, k=6, seed=0, frac=0.3):
    rng = np.random.default_rng(seed)
    return np.round(rng.random((n, k)), 2), rng.random((n, k)) < frac

# ---- hand-worked cases
def test_seed_example():
    "One item of class 0 among 4; labeler probs [.7, .8, .3, .2] at 0.5: 3 of 4 decisions right, set {0, 1} wrong."
    p, t = [[0.7, 0.8, 0.3, 0.2]], [[1, 0, 0, 0]]
    assert per_label_accuracy(p, t) == 0.75
    assert exact_match(p, t) == 0.0 and exact_match(p, [0]) == 0.0
    assert argmax_accuracy(p, [0]) == 0.0 and argmax_accuracy([[0.3, 0.1, 0.1, 0.5]], [0]) == 0.0
    assert exact_match(p, t, thresh=[0.5, 0.9, 0.5, 0.5]) == 1.0
    assert prf(p, t) == dict(precision=0.5, recall=1.0, f1=pytest.approx(2/3))

def test_silent_labeler():
    y = np.arange(370) % 37
    assert per_label_accuracy(np.zeros((370, 37)), y) == pytest.approx(36/37)
    assert exact_match(np.zeros((370, 37)), y) == 0 and none_rate(np.zeros((370, 37))) == 1

def test_sets_and_rates():
    p = np.array([[0.7, 0.8, 0.3], [0.1, 0.2, 0.4], [0.1, 0.9, 0.5]])
    assert set_sizes(p).tolist() == [2, 0, 1]                  # 0.5 is not above 0.5
    assert none_rate(p) == pytest.approx(1/3) and several_rate(p) == pytest.approx(1/3)
    assert predicted_sets(p, fallback=True)[1].tolist() == [False, False, True]
    assert set_sizes(p, [0.75, 0.75, 0.0]).tolist() == [2, 1, 2]
    assert exact_match(p, [0, 2, 1], fallback=True) == pytest.approx(2/3)   # item 1's fallback is class 2
    s = accuracy_summary(p, [0, 2, 1])
    assert s['exact_match'] == pytest.approx(1/3) and s['exact_match_fallback'] == pytest.approx(2/3)

# ---- cross-checks
@pytest.mark.parametrize('thresh', [0.25, 0.5, 0.75])
def test_against_sklearn_fastai_torchmetrics(thresh):
    p, t = rand()
    pt, tt = torch.tensor(p, dtype=torch.float32), torch.tensor(t).long()
    assert exact_match(p, t, thresh) == accuracy_score(t, p > thresh)   # subset accuracy on indicator arrays
    assert per_label_accuracy(p, t, thresh) == pytest.approx(accuracy_multi(pt, tt, thresh=thresh, sigmoid=False).item())
    assert exact_match(p, t, thresh) == pytest.approx(multilabel_exact_match(pt, tt, num_labels=6, threshold=thresh).item())
    assert per_label_accuracy(p, t, thresh) == pytest.approx(
        multilabel_accuracy(pt, tt, num_labels=6, threshold=thresh, average='micro').item())
    for avg in ('samples', 'macro', 'micro'):
        ref = precision_recall_fscore_support(t, p > thresh, average=avg, zero_division=0)[:3]
        assert tuple(prf(p, t, thresh, avg).values()) == pytest.approx(ref)

def test_argmax_against_sklearn():
    p, _ = rand(seed=1); y = np.random.default_rng(1).integers(0, 6, len(p))
    assert argmax_accuracy(p, y) == accuracy_score(y, p.argmax(1))
    assert argmax_accuracy(torch.tensor(p), torch.tensor(y)) == argmax_accuracy(p, np.eye(6)[y])

def check_sweep_rows(p, t, ts=None):
    sw = threshold_sweep(p, t, ts)
    tm = t if t.ndim == 2 else np.eye(p.shape[1], dtype=bool)[t]
    for r in sw.itertuples():
        assert r.per_label_accuracy == per_label_accuracy(p, t, r.thresh)
        assert r.exact_match == exact_match(p, t, r.thresh)
        assert r.exact_match_fallback == exact_match(p, t, r.thresh, fallback=True)
        assert r.none_rate == none_rate(p, r.thresh) and r.several_rate == several_rate(p, r.thresh)
        assert r.mean_set_size == pytest.approx(set_sizes(p, r.thresh).mean(), abs=1e-12)
        assert r.f1_samples == pytest.approx(f1_score(tm, p > r.thresh, average='samples', zero_division=0), abs=1e-12)
        assert r.argmax_accuracy == argmax_accuracy(p, t)
    return sw

def test_sweep_rows_equal_single_threshold_functions():
    p, t = rand(n=150, seed=2)
    sw = check_sweep_rows(p, t)
    assert len(sw) == 99 and sw.thresh.iloc[0] == 0.01 and sw.thresh.iloc[-1] == 0.99
    ts = np.array([0.9, 0.1, 0.5, 0.5, 0.0, 1.0, 0.27])     # unsorted, repeated, ends, ties with the rounded probs
    assert (check_sweep_rows(p, t, ts).thresh == ts).all()
    y = np.random.default_rng(3).integers(0, 6, 150)        # single-label targets as class indices
    check_sweep_rows(p, y, ts)

def test_counts_match_broadcast():
    p, t = rand(n=100, seed=4); ts = np.linspace(0, 1, 21)
    big = p[:, None, :] > ts[None, :, None]                 # (N, T, K), the plain way
    size, tp = _counts(p, t, ts)
    assert (size == big.sum(2).T).all() and (tp == (big & t[:, None, :]).sum(2).T).all()
    pos, tpk = _counts(p, t, ts, axis=0)
    assert (pos == big.sum(0)).all() and (tpk == (big & t[:, None, :]).sum(0)).all()

# ---- threshold choice
def test_best_threshold_and_tie_rule():
    p, t = rand(n=300, seed=5)
    sw = threshold_sweep(p, t)
    for m in ('exact_match', 'per_label_accuracy', 'f1_samples', 'exact_match_fallback'):
        assert sw.set_index('thresh').loc[best_threshold(p, t, metric=m), m] == sw[m].max()
    assert best_threshold(np.zeros((4, 3)), [0, 1, 2, 0], metric='per_label_accuracy') == 0.5   # flat -> 0.5
    assert best_threshold([[0.1, 0.9], [0.9, 0.2]], [1, 0], threshs=[0.1, 0.25, 0.75, 0.95]) == 0.25  # equidistant -> lower
    assert best_threshold([[0.1, 0.9], [0.9, 0.2]], [1, 0], threshs=[0.1, 0.3, 0.75, 0.95]) == 0.3    # closest to 0.5
    with pytest.raises(ValueError, match='exact_match'): best_threshold(p, t, metric='none_rate')

@pytest.mark.parametrize('metric', ['f1', 'accuracy'])
def test_per_class_thresholds_are_best_per_class(metric):
    p, t = rand(n=120, k=5, seed=6); ts = np.linspace(0, 1, 11)
    th = per_class_thresholds(p, t, ts, metric=metric)
    score = (lambda y, q: f1_score(y, q, zero_division=0)) if metric == 'f1' else accuracy_score
    for c in range(5):
        best = max(score(t[:, c], p[:, c] > x) for x in ts)
        assert score(t[:, c], p[:, c] > th[c]) == pytest.approx(best, abs=1e-12)
        ties = [x for x in ts if score(t[:, c], p[:, c] > x) >= best - 1e-12]
        assert abs(th[c] - 0.5) == pytest.approx(min(abs(x - 0.5) for x in ties))

def test_per_class_f1_vs_accuracy():
    "Accuracy per class rewards saying no: on a weak labeler its thresholds leave far more items without a label."
    y, _, lab = simulate_preds(n=1000, k=20, seed=0, signal=2.0, class_shift=1.0)
    f, a = per_class_thresholds(lab, y), per_class_thresholds(lab, y, metric='accuracy')
    assert none_rate(lab, a) > none_rate(lab, f) + 0.2
    assert per_class_thresholds([[0.2, 0.7], [0.8, 0.1]], [0, 0], threshs=[0.1, 0.3, 0.6, 0.9]).tolist() == [0.1, 0.6]

def test_tune_split():
    y = np.random.default_rng(0).integers(0, 7, 501)
    m = tune_split(501, 0.5, seed=3, strat=y)
    assert (m == tune_split(501, 0.5, seed=3, strat=y)).all() and (m != tune_split(501, 0.5, seed=4, strat=y)).any()
    assert m.sum() in (250, 251)
    assert (np.abs(np.bincount(y[m], minlength=7) - np.bincount(y[~m], minlength=7)) <= 1).all()
    assert tune_split(10, 0.3).sum() == 3 and tune_split(1000, 0.2, seed=1).sum() == 200
    single = tune_split(5, 0.5, strat=[0, 1, 1, 2, 2])     # a class with one item is allowed
    assert 2 <= single.sum() <= 3

# ---- paired bootstrap and seeds
def test_paired_bootstrap():
    rng = np.random.default_rng(0)
    a = rng.random(2000) < 0.8; b = np.where(rng.random(2000) < 0.7, a, ~a)
    r = paired_bootstrap(a, b, n_boot=2000, seed=1)
    assert r['diff'] == pytest.approx(a.mean() - b.mean()) and r['n'] == 2000
    assert r.ci[0] <= r.diff <= r.ci[1] and (r['low'], r['high']) == r.ci and r.level == 0.95   # the old names still read
    se = np.std(a.astype(int) - b.astype(int), ddof=0)/np.sqrt(2000)   # the standard error of a paired mean
    assert (r.ci[1] - r.ci[0])/(2*1.96) == pytest.approx(se, rel=0.1)
    assert r == paired_bootstrap(a, b, n_boot=2000, seed=1)
    assert paired_bootstrap([1]*50 + [0]*50, [0]*100)['p_value'] < 0.01
    assert paired_bootstrap(a, a)['p_value'] == 1

def test_seed_summary():
    v = [0.81, 0.85, 0.79, 0.9]
    assert seed_summary(v) == dict(mean=pytest.approx(np.mean(v)), std=pytest.approx(np.std(v, ddof=1)), min=0.79, max=0.9, n=4)
    assert np.isnan(seed_summary(np.array([0.5]))['std'])

def test_simulate_preds():
    y, c, l = simulate_preds(n=50, k=7, seed=2)
    assert y.shape == (50,) and c.shape == l.shape == (50, 7)
    assert np.allclose(c.sum(1), 1) and (l >= 0).all() and (l <= 1).all()
    assert all((u == v).all() for u, v in zip((y, c, l), simulate_preds(n=50, k=7, seed=2)))

def _px(ax, x, y):
    "Display coordinates of the data point (x, y) of `ax`."
    return ax.transData.transform((x, y))

def test_plot():
    p, t = rand(seed=7)
    sw = threshold_sweep(p, t)
    ax = plot_threshold_sweep(sw, best=0.4)
    assert len(ax.lines) == 4 and ax.get_xlabel() == 'threshold' and ax.get_title()   # three accuracies + the marked threshold; a title by default
    labels = {l.get_label() for l in ax.lines}
    assert {'per-label accuracy', 'chosen threshold 0.40', f'labeler argmax accuracy {sw.argmax_accuracy[0]:.3f}'} <= labels
    assert f'exact match (peak {sw.exact_match.max():.3f})' in labels
    with pytest.raises(ValueError, match='threshold_sweep'): plot_threshold_sweep(pd.DataFrame({'x': [1]}))
    with pytest.raises(ValueError, match='classifier_acc'): plot_threshold_sweep(sw, classifier_acc=1.5)
    plt.close('all')

@pytest.mark.parametrize('seed', [0, 7])
def test_plot_legend_is_clear_of_the_data(seed):
    "The legend lies wholly under the axes, so it cannot cover the exact-match peak, nor any other point drawn."
    p, t = rand(seed=seed)
    sw = threshold_sweep(p, t)
    ax = plot_threshold_sweep(sw, best=0.4, classifier_acc=float(sw.argmax_accuracy[0]), title='seed 0 (one seed)')
    fig = ax.figure; fig.canvas.draw()
    leg, box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert leg.y1 < box.y0 and box.x0 <= leg.x0 + 1 and leg.x1 <= box.x1 + 1   # below the axes, within their width
    peak = sw.loc[sw.exact_match.idxmax()]
    assert not leg.contains(*_px(ax, peak.thresh, peak.exact_match))
    for a in fig.axes:                                           # every drawn point of both y axes is outside the legend
        for l in a.lines:
            xy = a.transData.transform(np.c_[np.broadcast_to(l.get_xdata(), np.shape(l.get_ydata())), l.get_ydata()].astype(float))
            assert not ((xy[:, 0] > leg.x0) & (xy[:, 0] < leg.x1) & (xy[:, 1] > leg.y0) & (xy[:, 1] < leg.y1)).any(), l.get_label()
    plt.close(fig)

def test_plot_classifier_line_stays_visible_under_the_argmax_line():
    "The classifier's accuracy and the labeler's argmax accuracy, equal here, are both visible: a wide pale band under a thin dashed line, each named with its value."
    p, t = rand(seed=3)
    sw = threshold_sweep(p, t)
    acc = float(sw.argmax_accuracy[0])
    ax = plot_threshold_sweep(sw, classifier_acc=acc)
    clf = next(l for l in ax.lines if l.get_label().startswith('classifier accuracy'))
    amax = next(l for l in ax.lines if l.get_label().startswith('labeler argmax accuracy'))
    assert clf.get_label() == f'classifier accuracy {acc:.3f} (no threshold)' and set(clf.get_ydata()) == {acc}
    assert clf.get_zorder() < amax.get_zorder() and clf.get_linewidth() >= 3*amax.get_linewidth()
    assert amax.get_linestyle() == '--' and clf.get_linestyle() == '-' and clf.get_alpha() < 1
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {clf.get_label(), amax.get_label()}
    plt.close('all')

# ---- properties
@settings(max_examples=80, deadline=None)
@given(preds(), threshs, st.randoms(use_true_random=False))
def test_permuting_items_changes_nothing(pt, thresh, r):
    p, t = pt
    perm = np.array(r.sample(range(len(p)), len(p)))
    for f in (per_label_accuracy, exact_match, lambda p, t, x: prf(p, t, x, 'macro'), lambda p, t, x: prf(p, t, x)):
        assert f(p, t, thresh) == pytest.approx(f(p[perm], t[perm], thresh))
    assert argmax_accuracy(p, t) == pytest.approx(argmax_accuracy(p[perm], t[perm]))
    assert (none_rate(p, thresh), several_rate(p, thresh)) == pytest.approx((none_rate(p[perm], thresh), several_rate(p[perm], thresh)))
    pd.testing.assert_frame_equal(threshold_sweep(p, t, GRID), threshold_sweep(p[perm], t[perm], GRID), rtol=1e-12)
    assert best_threshold(p, t) == best_threshold(p[perm], t[perm])
    assert (per_class_thresholds(p, t) == per_class_thresholds(p[perm], t[perm])).all()

@settings(max_examples=80, deadline=None)
@given(preds(), threshs, threshs)
def test_higher_threshold_fewer_labels(pt, t1, t2):
    p, t = pt
    lo, hi = min(t1, t2), max(t1, t2)
    assert (set_sizes(p, hi) <= set_sizes(p, lo)).all()
    assert none_rate(p, hi) >= none_rate(p, lo)
    for x in (lo, hi):
        assert 0 <= per_label_accuracy(p, t, x) <= 1 and 0 <= exact_match(p, t, x) <= 1
    sw = threshold_sweep(p, t, GRID)
    assert (np.diff(sw.mean_set_size) <= 0).all() and (np.diff(sw.none_rate) >= 0).all()

@settings(max_examples=80, deadline=None)
@given(preds(max_n=8), threshs)
def test_sweep_row_equals_functions_property(pt, thresh):
    p, t = pt
    r = threshold_sweep(p, t, [thresh]).iloc[0]
    assert r.per_label_accuracy == per_label_accuracy(p, t, thresh) and r.exact_match == exact_match(p, t, thresh)
    assert r.exact_match_fallback == exact_match(p, t, thresh, fallback=True)
    assert r.f1_samples == pytest.approx(prf(p, t, thresh)['f1'], abs=1e-12)
    if p.shape[1] > 1:   # scikit-learn reads a single column as binary, not multilabel
        assert r.f1_samples == pytest.approx(f1_score(t, p > thresh, average='samples', zero_division=0), abs=1e-12)

@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60), st.integers(0, 10**6))
def test_bootstrap_properties(pairs, seed):
    a, b = np.array(pairs).T
    r = paired_bootstrap(a, b, n_boot=300, seed=seed)
    assert r.ci[0] <= r.diff <= r.ci[1] and 0 < r.p_value <= 1
    same = paired_bootstrap(a, a, n_boot=50, seed=seed)
    assert (same.diff, *same.ci) == (0, 0, 0)

# ---- bad input
P = np.full((3, 4), 0.5)
@pytest.mark.parametrize('call, msg', [
    (lambda: exact_match(P, [[1, 0, 0, 0]]), r'expected shape \(3, 4\)'),
    (lambda: exact_match(P, [0, 1]), 'expected 3 targets'),
    (lambda: exact_match(P, [0, 1, 4]), r'class indices in \[0, 4\)'),
    (lambda: per_label_accuracy(P, np.zeros((3, 5))), r'expected shape \(3, 4\)'),
    (lambda: per_label_accuracy(P + 0.6, [0, 1, 2]), r'probabilities in \[0, 1\]'),
    (lambda: argmax_accuracy(np.where(np.eye(3, 4), np.nan, P), [0, 1, 2]), 'NaN'),
    (lambda: exact_match(np.zeros((0, 4)), []), 'empty'),
    (lambda: none_rate(P, 1.5), r'thresholds in \[0, 1\]'),
    (lambda: exact_match(P, [0, 1, 2], [0.5, 0.5]), '4 per-class'),
    (lambda: threshold_sweep(P, [0, 1, 2], [0.2, -0.1]), r'thresholds in \[0, 1\]'),
    (lambda: threshold_sweep(P, [0, 1, 2], []), 'thresholds'),
    (lambda: prf(P, [0, 1, 2], average='binary'), 'samples'),
    (lambda: per_class_thresholds(P, [0, 1, 2], metric='auc'), 'f1'),
    (lambda: paired_bootstrap([1, 0, 1], [1, 0]), 'lengths 3 and 2'),
    (lambda: paired_bootstrap([1, 0, 2], [1, 0, 1]), '0/1'),
    (lambda: paired_bootstrap([1.5, 1], [1, 0]), '0/1'),
    (lambda: paired_bootstrap([-0.5, 1], [1, 0]), '0/1'),
    (lambda: paired_bootstrap([], []), 'non-empty'),
    (lambda: paired_bootstrap([1, 0], [1, 0], n_boot=0), 'n_boot'),
    (lambda: paired_bootstrap([1, 0], [1, 0], level=1.5), 'level'),
    (lambda: tune_split(1), 'n_items'),
    (lambda: tune_split(10, 0), 'tune_frac'),
    (lambda: tune_split(10, strat=[0, 1]), r'\(10,\)'),
    (lambda: seed_summary([]), 'non-empty'),
    (lambda: seed_summary([[0.1, 0.2]]), 'expected non-empty 1-D numbers'),
])
def test_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg): call()

def test_prf_zero_division_matches_sklearn():
    "zero_division=1 scores a right empty answer as right, as scikit-learn does; 0 keeps the strict default."
    from sklearn.metrics import precision_recall_fscore_support
    t = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 1], [0, 0, 0]], bool)
    p = np.array([[.1, .2, .1], [.9, .1, .1], [.2, .8, .1], [.6, .1, .1]])
    for zd in (0, 1):
        want = precision_recall_fscore_support(t, p > 0.5, average='samples', zero_division=zd)
        got = prf(p, t, 0.5, 'samples', zero_division=zd)
        assert (got['precision'], got['recall'], got['f1']) == pytest.approx(want[:3])
    assert prf(p, t, 0.5, zero_division=1)['f1'] > prf(p, t, 0.5, zero_division=0)['f1']
    with pytest.raises(ValueError, match='zero_division'): prf(p, t, 0.5, zero_division=0.5)

# ---- the gap, decomposed
@st.composite
def pairs(draw, max_n=12, max_k=5):
    "Classifier and labeler probabilities on the same items, one class per item, and a scalar or per-class threshold."
    bce, _ = draw(preds(max_n, max_k))
    t = draw(arrays(np.int64, (len(bce),), elements=st.integers(0, bce.shape[1] - 1)))
    ce = draw(arrays(np.float64, bce.shape, elements=st.one_of(st.sampled_from(GRID), st.floats(0, 1))))
    th = draw(st.one_of(threshs, arrays(np.float64, (bce.shape[1],), elements=threshs)))
    return ce, bce, t, th

@settings(max_examples=150, deadline=None)
@given(pairs())
def test_gap_pieces_add_up_exactly(x):
    "Item by item: c - e = (c - a) + none + several + wrong - rescued, in whole numbers; so the means add up too."
    ce, bce, t, th = x
    g = gap_items(ce, bce, t, th).to_numpy().astype(int)
    c, a, e, none, several, wrong, rescued = g.T
    assert ((c - e) == (c - a) + none + several + wrong - rescued).all()
    assert (none + several + wrong <= a).all() and (rescued <= e).all() and (none + several + wrong + rescued <= 1).all()
    tab = gap_table(pd.DataFrame(g, columns=['classifier', 'argmax', 'exact', 'none', 'several', 'wrong', 'rescued']), n_boot=20)
    assert tab.loc[list(GAP_PIECES), 'value'].sum() == pytest.approx(tab.loc['total', 'value'], abs=1e-12)
    assert tab.loc['ranking', 'value'] + tab.loc['decoding', 'value'] == pytest.approx(tab.loc['total', 'value'], abs=1e-12)

@settings(max_examples=150, deadline=None)
@given(pairs(), threshs)
def test_one_threshold_never_wrong_nor_rescued(x, th):
    "With one threshold for all classes a right argmax is never decoded into one wrong label, nor a wrong one rescued."
    ce, bce, t, _ = x
    g = gap_items(ce, bce, t, th)
    assert (g.wrong == 0).all() and (g.rescued == 0).all()

def test_gap_against_direct_counts_and_bootstrap():
    y, clas, lab = simulate_preds(n=600, k=9, seed=3, class_shift=1.0)
    th = np.random.default_rng(5).uniform(0.05, 0.6, 9)                  # per-class thresholds, far apart
    tab = gap_decomposition(clas, lab, y, th, n_boot=500, seed=4)
    a, e, c = lab.argmax(1) == y, accuracy_score(np.eye(9)[y], lab > th), clas.argmax(1) == y   # scikit-learn's subset accuracy
    sets = lab > th; size = sets.sum(1); exact = (sets == np.eye(9, dtype=bool)[y]).all(1)
    assert tab.loc['exact', 'value'] == pytest.approx(e) and tab.loc['classifier', 'value'] == pytest.approx(c.mean())
    assert tab.loc['ranking', 'value'] == pytest.approx(c.mean() - a.mean())
    assert tab.loc['none', 'value'] == pytest.approx((a & (size == 0)).mean())
    assert tab.loc['wrong', 'value'] == pytest.approx((a & (size == 1) & ~exact).mean()) and tab.loc['wrong', 'value'] > 0
    assert tab.loc['rescued', 'value'] == pytest.approx(-(~a & exact).mean()) and tab.loc['rescued', 'value'] < 0
    r = paired_bootstrap(c, a, n_boot=500, seed=4)                       # every row: paired_bootstrap on its two columns
    assert tuple(tab.loc['ranking', ['value', 'ci_low', 'ci_high']]) == pytest.approx((r.diff, *r.ci))
    assert (tab.ci_low <= tab.value + 1e-12).all() and (tab.value <= tab.ci_high + 1e-12).all()

def test_gap_over_seeds_is_the_mean_of_items():
    "The report averages per-item columns over seeds: the pieces are then the means of each seed's pieces."
    frames = [gap_items(*simulate_preds(n=300, k=5, seed=s)[1:], simulate_preds(n=300, k=5, seed=s)[0], 0.3) for s in range(3)]
    mean = gap_table(sum(frames)/3, n_boot=50)
    for piece in ('total', 'ranking', 'none', 'several'):
        per = [gap_table(f, n_boot=1).loc[piece, 'value'] for f in frames]
        assert mean.loc[piece, 'value'] == pytest.approx(np.mean(per), abs=1e-12)

def _bar_spans(ax) -> np.ndarray:
    "(bottom, top) of every bar of `ax`, left to right."
    return np.array([sorted((p.get_y(), p.get_y() + p.get_height())) for p in sorted(ax.patches, key=lambda p: p.get_x())])

def test_plot_gap():
    y, clas, lab = simulate_preds(n=300, k=5, seed=1)
    tab = gap_decomposition(clas, lab, y, 0.3, n_boot=50)
    ax = plot_gap(tab, title='one seed')
    v = tab['value']
    assert len(ax.patches) == 6 and ax.get_title() == 'one seed'        # five steps and the whole gap
    levels = -np.r_[0, np.cumsum(v[list(GAP_PIECES)])]                 # after each step, relative to the classifier
    spans = _bar_spans(ax)
    np.testing.assert_allclose(spans[:5], np.sort(np.c_[levels[:-1], levels[1:]], 1), atol=1e-12)
    np.testing.assert_allclose(spans[5], sorted((0, -v['total'])), atol=1e-12)   # the last bar: from 0 to the whole gap, uncut
    lo, hi = ax.get_ylim()
    assert lo < min(0, -tab.loc['total', 'ci_high']) and hi > 0                     # 0 and the gap's interval are inside
    assert any(list(l.get_ydata()) == [0, 0] for l in ax.lines)                  # the line at 0: the classifier's accuracy
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0].endswith(f"{v['classifier']:.3f}") and ticks[-1].endswith(f"{v['exact']:.3f}\n(gap {-v['total'] + 0.:+.3f})")
    assert ticks[1] == f"ranking\n\n{-v['ranking'] + 0.:+.3f}"
    with pytest.raises(ValueError, match='gap_table'): plot_gap(tab.drop(index='none'))
    with pytest.raises(ValueError, match="missing"): gap_table(pd.DataFrame({'classifier': [1.]}))
    with pytest.raises(ValueError, match='5 items'): gap_items(clas[:5], lab[:4], y[:5])
    with pytest.raises(ValueError, match='exactly one true class'): gap_items(clas[:2], lab[:2], [[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
    plt.close('all')

def test_gap_panels_share_their_y_limits():
    "Two tables compared side by side: `gap_ylim` gives both panels one y axis that holds every step and interval of both."
    tabs = [gap_decomposition(*simulate_preds(n=300, k=5, seed=s)[1:], simulate_preds(n=300, k=5, seed=s)[0], th, n_boot=50)
            for s, th in [(1, 0.3), (2, 0.7)]]
    lim = gap_ylim(*tabs)
    fig, axs = plt.subplots(1, 2)
    for ax, t in zip(axs, tabs): plot_gap(t, ax=ax, ylim=lim)
    fc.test_eq(axs[0].get_ylim(), axs[1].get_ylim())
    for ax, t in zip(axs, tabs):
        own = gap_ylim(t)
        assert lim[0] <= own[0] and own[1] <= lim[1]                            # the shared limits hold each table's own
        ys = np.concatenate([_bar_spans(ax).ravel(), *[np.asarray(c.lines[2][0].get_segments())[:, :, 1].ravel() for c in ax.containers if hasattr(c, 'has_yerr')]])
        assert lim[0] < ys.min() and ys.max() < lim[1]
    assert plot_gap(tabs[0]).get_ylim() == pytest.approx(gap_ylim(tabs[0]))     # alone: its own limits
    with pytest.raises(ValueError, match='at least one'): gap_ylim()
    with pytest.raises(ValueError, match='gap_table'): gap_ylim(tabs[0].drop(index='total'))
    plt.close('all')


# ---- chapter 05's checks, moved from its hidden cells, on its own toy examples (read from the chapter) and its simulated labeler

THREE = from_chapter('05_metrics_internals', 'three')
LAB1, CLAS1, TARG1 = from_chapter('05_metrics', 'lab_probs', 'clas_probs', 'targ')

@pytest.fixture(scope='module')
def sim():
    "The chapter's simulated pair (2,000 items, 37 classes) and its tuning part, as the chapter makes them."
    y, clas, lab = simulate_preds(n=2000, k=37, seed=0, class_shift=1.0)
    return y, clas, lab, tune_split(len(y), seed=0, strat=y)

def test_chapter_set_sizes():
    fc.test_eq(set_sizes(THREE), [2, 0, 1])
    fc.test_eq(set_sizes(THREE, 0.0), [4, 4, 4])
    fc.test_eq(set_sizes(THREE, 1.0), [0, 0, 0])
    fc.test_eq(set_sizes([[0.5, 0.6]], 0.5), [1])                 # strictly greater: 0.5 is not above 0.5
    fc.test_eq(predicted_sets(THREE[1:2], fallback=True), [[False, False, True, False]])
    fc.test_eq(none_rate(THREE), 1/3); fc.test_eq(several_rate(THREE), 1/3)
    fc.test_fail(lambda: predicted_sets(THREE, [0.5, 0.5]), contains='4 per-class')
    fc.test_fail(lambda: predicted_sets(THREE, 1.2), contains='[0, 1]')

def test_chapter_three_accuracies():
    fc.test_eq(per_label_accuracy(LAB1, TARG1), 0.75)
    fc.test_eq(exact_match(LAB1, TARG1), 0.0)
    fc.test_eq(argmax_accuracy(LAB1, [0]), 0.0)
    fc.test_eq(argmax_accuracy(CLAS1, TARG1), 0.0)
    fc.test_eq(exact_match(LAB1, TARG1, thresh=0.75), 0.0)   # at 0.75 only class 1 (0.8) is left: still wrong
    fc.test_eq(exact_match(LAB1, TARG1, thresh=[0.5, 0.9, 0.5, 0.5]), 1.0)
    rng = np.random.default_rng(1)                           # the same numbers as fastai's accuracy_multi and scikit-learn's accuracy_score
    p, t = rng.random((50, 6)), rng.random((50, 6)) < 0.3
    for th in (0.25, 0.5, 0.75):
        fc.test_close(per_label_accuracy(p, t, th), accuracy_multi(torch.tensor(p), torch.tensor(t), thresh=th, sigmoid=False).item())
        fc.test_eq(exact_match(p, t, th), accuracy_score(t, p > th))
    y = rng.integers(0, 6, 50)
    fc.test_eq(argmax_accuracy(p, y), accuracy_score(y, p.argmax(1)))
    fc.test_fail(lambda: exact_match(p, t[:, :5]), contains='shape')
    fc.test_fail(lambda: exact_match(p, y[:49]), contains='50 targets')

def test_chapter_silent_labeler():
    "The chapter's silent labeler on 37 classes against its one-hot classifier right 80% (and 45%) of the time."
    rng, n, k, y, silent, guess = from_chapter('05_metrics', 'rng', 'n', 'k', 'y', 'silent', 'guess')
    fc.test_close(per_label_accuracy(silent, y), 36/37)
    assert per_label_accuracy(guess, y) - per_label_accuracy(silent, y) < 0.02 < 0.7 < exact_match(guess, y)   # barely apart; exact match: far apart
    half = np.eye(k)[np.where(rng.random(n) < 0.45, y, (y + 1) % k)]        # right 45% of the time
    assert per_label_accuracy(half, y) < per_label_accuracy(silent, y)      # below the silent labeler
    fc.test_eq(exact_match(silent, y), 0.0)
    fc.test_eq(argmax_accuracy(guess, y), exact_match(guess, y))            # one-hot answers: the set is the argmax

def test_chapter_prf():
    fc.test_eq(prf(LAB1, [0]), dict(precision=0.5, recall=1.0, f1=2/3))
    fc.test_fail(lambda: prf(THREE, [0, 2, 1], average='weighted'), contains='samples')
    p1, t1 = np.array([[0.9], [0.2], [0.7], [0.4]]), np.array([[1], [1], [0], [0]])   # one class: a plain binary problem
    for avg in ('samples', 'macro', 'micro'):
        fc.test_close(prf(p1, t1, average=avg)['f1'], f1_score(t1[:, 0], p1[:, 0] > 0.5) if avg != 'samples' else 0.25)

def test_chapter_simulated_pair_at_half(sim):
    "At 0.5 the simulated labeler: high per-label accuracy, many items with several labels and some with none; the classifier never several."
    y, clas, lab, _ = sim
    s = accuracy_summary(lab, y)
    assert s['per_label_accuracy'] > s['argmax_accuracy'] > s['exact_match']
    assert s['several_rate'] > s['none_rate'] > 0.1
    fc.test_eq(several_rate(clas), 0.0)        # probabilities that sum to 1 never put two classes above 0.5

def test_chapter_sweep_rows_and_counts(sim):
    "Every row of the sweep is what the single-threshold functions give; the counts are the plain (T, N, K) comparison's."
    y, _, lab, _ = sim
    def check_rows(sw, p, t):
        for r in sw.itertuples():
            fc.test_eq(r.per_label_accuracy, per_label_accuracy(p, t, r.thresh))
            fc.test_eq(r.exact_match, exact_match(p, t, r.thresh))
            fc.test_eq(r.exact_match_fallback, exact_match(p, t, r.thresh, fallback=True))
            fc.test_eq(r.none_rate, none_rate(p, r.thresh)); fc.test_eq(r.several_rate, several_rate(p, r.thresh))
            fc.test_close(r.mean_set_size, set_sizes(p, r.thresh).mean(), eps=1e-12)
            fc.test_close(r.f1_samples, prf(p, t, r.thresh)['f1'], eps=1e-12)
        fc.test_eq(sw.argmax_accuracy.unique(), [argmax_accuracy(p, t)])
    check_rows(threshold_sweep(lab[:300], y[:300]), lab[:300], y[:300])
    ts = np.array([0.9, 0.1, 0.5, 0.5, 0.3, 0.0, 1.0])          # unsorted, repeated, and the two ends
    check_rows(threshold_sweep(np.round(lab[:200], 1), y[:200], ts), np.round(lab[:200], 1), y[:200])
    fc.test_eq(threshold_sweep(lab[:5], y[:5], ts).thresh, ts)
    big = lab[:300, None, :] > THRESHS[None, :, None]             # the (N, T, K) way
    fc.test_eq(_counts(lab[:300], np.eye(37, dtype=bool)[y[:300]], THRESHS)[0], big.sum(2).T)
    fc.test_eq(_counts(lab[:300], np.eye(37, dtype=bool)[y[:300]], THRESHS, axis=0)[0], big.sum(0))

def test_chapter_best_threshold(sim):
    y, _, lab, _ = sim
    fc.test_eq(exact_match(lab, y, best_threshold(lab, y)), threshold_sweep(lab, y).exact_match.max())
    # ties: a metric flat over the grid gives 0.5; two equally good thresholds equally far from 0.5 give the lower
    fc.test_eq(best_threshold(np.zeros((10, 37)), np.arange(10), metric='per_label_accuracy'), 0.5)
    fc.test_eq(best_threshold([[0.1, 0.9], [0.9, 0.2]], [1, 0], threshs=[0.1, 0.25, 0.75, 0.95]), 0.25)
    fc.test_fail(lambda: best_threshold(lab, y, metric='none_rate'), contains='exact_match')

def test_chapter_per_class_thresholds(sim):
    "Each class's threshold is the grid's best for that class's binary F1 (scikit-learn's); F1 against accuracy as the chapter shows it."
    y, _, lab, _ = sim
    grid = np.linspace(0, 1, 21)
    th = per_class_thresholds(lab[:400], y[:400], threshs=grid)
    fc.test_eq(th.shape, (37,))
    t = np.eye(37, dtype=bool)[y[:400]]
    for c in range(37):
        best = max(f1_score(t[:, c], lab[:400, c] > x, zero_division=0) for x in grid)
        fc.test_close(f1_score(t[:, c], lab[:400, c] > th[c], zero_division=0), best, eps=1e-12)
    assert exact_match(lab, y, per_class_thresholds(lab, y)) > exact_match(lab, y, best_threshold(lab, y))   # better than one threshold here
    for sig in (4.0, 2.0):                                       # our labeler and a harder one
        y_, _, lab_ = simulate_preds(n=2000, k=37, seed=0, signal=sig, class_shift=1.0)
        f_, a_ = per_class_thresholds(lab_, y_), per_class_thresholds(lab_, y_, metric='accuracy')
        assert a_.mean() > f_.mean() and none_rate(lab_, a_) > none_rate(lab_, f_)   # accuracy: higher thresholds, more items with no label
        assert prf(lab_, y_, a_, 'macro')['recall'] < prf(lab_, y_, f_, 'macro')['recall']   # and fewer true labels found
        if sig == 2.0: assert none_rate(lab_, a_) > 0.5               # the harder one: most items with no label
    fc.test_eq(per_class_thresholds([[0.2, 0.7], [0.8, 0.1]], [0, 0], threshs=[0.1, 0.3, 0.6, 0.9]), [0.1, 0.6])  # class 1 never true: F1 0 everywhere, 0.6 closest to 0.5
    fc.test_fail(lambda: per_class_thresholds(lab, y, metric='recall'), contains='f1')

def test_chapter_tune_split(sim):
    y, _, _, tune = sim
    fc.test_eq(tune, tune_split(len(y), seed=0, strat=y))
    fc.test_ne(tune, tune_split(len(y), seed=1, strat=y))
    fc.test_eq(np.abs(np.bincount(y[tune], minlength=37) - np.bincount(y[~tune], minlength=37)) <= 1, [True]*37)
    for n, f in [(10, 0.3), (7, 0.5), (1000, 0.25)]:
        fc.test_eq({tune_split(n, f, seed=s).sum() for s in range(20)} <= {np.floor(n*f), np.ceil(n*f)}, True)
    m = tune_split(9, 0.5, strat=[0, 1, 1, 2, 2, 2, 2, 3, 3])        # a class with a single item is fine
    fc.test_eq(np.bincount([0, 1, 1, 2, 2, 2, 2, 3, 3], weights=m), [m[0], 1, 2, 1])
    fc.test_fail(lambda: tune_split(2, 0.1, seed=0), contains='empty')
    fc.test_fail(lambda: tune_split(10, 1.0), contains='(0, 1)')
    fc.test_fail(lambda: tune_split(10, strat=[0, 1]), contains='(10,)')

def test_chapter_optimism():
    "50 small simulated validation sets (300 items, 37 classes) per case, as in the chapter: tuning flatters, per-class thresholds more."
    optimism = from_chapter('05_metrics', 'optimism')                  # the chapter's: exact match on the tuning and held-out items
    res = {}
    for classes, shift in [('classes differ', 1.0), ('classes alike', 0.0)]:
        g = pd.DataFrame([optimism(s, shift) for s in range(50)])
        g.columns = pd.MultiIndex.from_tuples(g.columns)
        for name, r in g.mean().unstack().iterrows(): res[(classes, name)] = r
    res = pd.DataFrame(res).T
    res['optimism'] = res['tuning'] - res['held-out']
    assert (res['optimism'] > 0).all()
    for c in ('classes differ', 'classes alike'):
        assert res.loc[(c, 'per class'), 'optimism'] > res.loc[(c, 'global'), 'optimism']
        assert res.loc[(c, 'per class'), 'tuning'] > res.loc[(c, 'global'), 'tuning']
    assert res.loc[('classes differ', 'per class'), 'held-out'] > res.loc[('classes differ', 'global'), 'held-out']
    assert res.loc[('classes alike', 'per class'), 'held-out'] < res.loc[('classes alike', 'global'), 'held-out']

def test_chapter_fallback(sim):
    "Tuned with the fallback, the threshold moves up, the fallback answers most items, and held-out exact match rises."
    y, _, lab, tune = sim
    held = ~tune
    th, th_fb = best_threshold(lab[tune], y[tune]), best_threshold(lab[tune], y[tune], metric='exact_match_fallback')
    assert th_fb > th and none_rate(lab[held], th_fb) > 0.5
    assert exact_match(lab[held], y[held], th_fb, fallback=True) > exact_match(lab[held], y[held], th)
    fc.test_eq(set_sizes(predicted_sets(lab, th_fb, fallback=True).astype(float), 0.5).min(), 1)

def test_chapter_paired_bootstrap(sim):
    y, clas, lab, tune = sim
    held = ~tune
    res = paired_bootstrap(argmax_correct(clas[held], y[held]), exact_correct(lab[held], y[held], best_threshold(lab[tune], y[tune])))
    unpaired = 1.96*np.sqrt((res.mean_a*(1-res.mean_a) + res.mean_b*(1-res.mean_b))/res.n)
    assert 0.9*unpaired < (res.ci[1] - res.ci[0])/2 < unpaired   # the two fail together a little: only slightly narrower
    fc.test_eq(paired_bootstrap([1, 0, 1], [1, 0, 1])['diff'], 0)
    fc.test_eq(paired_bootstrap([1, 0, 1], [1, 0, 1])['p_value'], 1)
    r = paired_bootstrap([1]*30 + [0]*10, [0]*40)
    fc.test_eq(r.diff, 0.75); assert r.ci[0] <= r.diff <= r.ci[1] and r.p_value < 0.01
    fc.test_eq(r, paired_bootstrap([1]*30 + [0]*10, [0]*40))          # reproducible from the seed
    fc.test_fail(lambda: paired_bootstrap([1, 0], [1, 0, 1]), contains='lengths 2 and 3')
    fc.test_fail(lambda: paired_bootstrap([1, 2], [1, 0]), contains='0/1')
    fc.test_eq(paired_bootstrap([0.5, 1], [0, 0.5])['diff'], 0.5)     # fractions of seeds right are per-item correctness too
    fc.test_fail(lambda: paired_bootstrap([1, 0], [1, 0], level=95), contains='level: expected a value in (0, 1)')

def test_chapter_seed_summary():
    v = [0.8, 0.9, 0.85]
    fc.test_eq(seed_summary(v), dict(mean=np.mean(v), std=np.std(v, ddof=1), min=0.8, max=0.9, n=3))
    assert np.isnan(seed_summary([0.7])['std'])
    fc.test_fail(lambda: seed_summary([]), contains='non-empty')
    fc.test_fail(lambda: seed_summary([0.5, float('nan')]), contains='finite')

TOY_CE, TOY_BCE, TOY_Y = from_chapter('05_metrics', 'toy_ce', 'toy_bce', 'toy_y')

def test_chapter_toy_gap():
    "The chapter's five items of class 0: a gap of 0.4, all of it decoding; per-class thresholds make wrong and rescued items."
    fc.test_eq(gap_decomposition(TOY_CE, TOY_BCE, TOY_Y, n_boot=200).loc[
        ['classifier', 'argmax', 'exact', 'total', 'ranking', 'none', 'several', 'wrong', 'rescued'], 'value'].tolist(),
        [0.8, 0.8, 0.4, 0.4, 0.0, 0.2, 0.2, 0.0, 0.0])
    i = gap_items(TOY_CE, TOY_BCE, TOY_Y, thresh=[0.5, 0.65, 0.5, 0.5])   # per class: class 1 needs 0.65 ...
    fc.test_eq(i.loc[2, ['several', 'exact']].tolist(), [0., 1.])          # ... so item 2's set is {0}: exact
    fc.test_eq(i.loc[3, 'rescued'], 0.); fc.test_eq(i.loc[3, 'exact'], 0.)  # item 3: {1} at 0.7 > 0.65, still wrong
    w = gap_items([[.6, .4]], [[.6, .4]], [0], thresh=[0.7, 0.3])          # argmax right, the only label above its threshold is class 1
    fc.test_eq(w.iloc[0].tolist(), [1., 1., 0., 0., 0., 1., 0.])
    r = gap_items([[.6, .4]], [[.6, .4]], [1], thresh=[0.7, 0.3])          # argmax wrong, set {1} exactly right
    fc.test_eq(r.iloc[0][['argmax', 'exact', 'rescued']].tolist(), [0., 1., 1.])
    fc.test_fail(lambda: gap_items(TOY_CE, TOY_BCE[:4], TOY_Y), contains='5 items like ce_probs')
    two = np.eye(4)[TOY_Y]; two[0, 1] = 1                                 # item 0 with two true classes
    fc.test_fail(lambda: gap_items(TOY_CE, TOY_BCE, two), contains='exactly one true class')
    fc.test_fail(lambda: gap_items(TOY_CE, TOY_BCE[:, :3], TOY_Y), contains='4 classes')
    fc.test_fail(lambda: gap_table(i.drop(columns='none')), contains="missing ['none']")

def test_chapter_simulated_gap(sim):
    "The simulated labeler's gap on the held-out items: one global threshold against per-class ones, as the chapter's prose reads it."
    y, clas, lab, tune = sim
    held = ~tune
    g = {'global': gap_decomposition(clas[held], lab[held], y[held], best_threshold(lab[tune], y[tune])),
         'per class': gap_decomposition(clas[held], lab[held], y[held], per_class_thresholds(lab[tune], y[tune]))}
    for t in g.values():
        fc.test_close(t.loc[list(GAP_PIECES), 'value'].sum(), t.loc['total', 'value'], eps=1e-12)
        fc.test_close(t.loc['ranking', 'value'] + t.loc['decoding', 'value'], t.loc['total', 'value'], eps=1e-12)
        assert (t.ci_low <= t.value + 1e-12).all() and (t.value <= t.ci_high + 1e-12).all()
    fc.test_eq(g['global'].loc[['wrong', 'rescued'], ['value', 'ci_low', 'ci_high']].to_numpy(), np.zeros((2, 3)))
    fc.test_eq(g['global'].loc['ranking', 'value'], g['per class'].loc['ranking', 'value'])   # thresholds never touch the argmax
    assert g['global'].loc['decoding', 'value'] > g['global'].loc['ranking', 'value'] > 0      # one threshold: more decoding than ranking
    assert g['per class'].loc['decoding', 'value'] < g['global'].loc['decoding', 'value']
    for piece in ('none', 'several'): assert g['per class'].loc[piece, 'value'] < g['global'].loc[piece, 'value']
    assert g['per class'].loc['rescued', 'value'] < 0
    fig, axs = plt.subplots(1, 2)
    for ax, (name, t) in zip(axs, g.items()): plot_gap(t, ax=ax, title=name)
    fc.test_eq([len(a.patches) for a in axs], [6, 6]); plt.close(fig)   # five steps and the whole gap

@settings(max_examples=80, deadline=None)
@given(pairs(), threshs)
def test_trained_pair_identities(x, th):
    "What the chapter checked on its trained pair holds for any single-label pair at one threshold (hence tested here on any)."
    ce, bce, t, _ = x
    k = ce.shape[1]
    acc = argmax_accuracy(ce, t)
    sets = np.eye(k)[ce.argmax(1)]                                       # the classifier's answers as one-hot sets
    fc.test_eq(exact_match(sets, t), acc)                                # one label: exact match is argmax accuracy
    fc.test_close(per_label_accuracy(sets, t), 1 - 2*(1 - acc)/k, eps=1e-12)   # a wrong answer: 2 wrong decisions
    assert exact_match(bce, t, th) <= argmax_accuracy(bce, t)           # an exact match's one label is above thresh, so it is the argmax
    gap = paired_bootstrap(argmax_correct(ce, t), exact_correct(bce, t, th), n_boot=50)
    fc.test_close(gap['mean_a'], acc, eps=1e-12)
    assert gap.ci[0] <= gap.diff <= gap.ci[1]
    g = gap_decomposition(ce, bce, t, th, n_boot=50)
    fc.test_close(g.loc[list(GAP_PIECES), 'value'].sum(), gap['diff'], eps=1e-12)   # the same gap as the paired bootstrap
    fc.test_eq(g.loc[['wrong', 'rescued'], 'value'].tolist(), [0., 0.])           # one global threshold
    fc.test_close(g.loc['argmax', 'value'], argmax_accuracy(bce, t), eps=1e-12)

# ---- the tuned threshold and the tuning mask: one rule, one check (every chapter uses them)
@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 6), st.integers(20, 80))
def test_tuned_threshold_is_the_best_subset_accuracy_on_the_tuning_items_alone(seed, k, n):
    "Brute force with scikit-learn's subset accuracy over the grid, ties to the threshold closest to 0.5, then the lower."
    y, _, lab = simulate_preds(n=n, k=k, seed=seed, class_shift=1.0)
    tune = tune_split(n, 0.5, seed=seed, strat=y)
    acc = np.array([accuracy_score(np.eye(k, dtype=int)[y[tune]], (lab[tune] > t).astype(int)) for t in THRESHS])
    best = THRESHS[np.abs(acc - acc.max()) < 1e-12]
    want = min(best, key=lambda t: (abs(t - 0.5), t))
    assert tuned_threshold(lab, y, tune) == pytest.approx(want)
    other = lab.copy(); other[~tune] = np.random.default_rng(seed).random(((~tune).sum(), k))   # held-out items play no part
    assert tuned_threshold(other, y, tune) == tuned_threshold(lab, y, tune)

@pytest.mark.parametrize('mask,words', [(np.r_[True, False, True].astype(int), 'bools'), ([True, False], r'\(3,\) bools'),
                                        (np.ones(3, bool), 'both parts'), (np.zeros(3, bool), 'both parts'),
                                        (np.ones((3, 1), bool), 'shape'), (['yes', 'no', 'yes'], 'bools')])
def test_check_tune_mask_refuses_what_is_not_a_mask_of_both_parts(mask, words):
    with pytest.raises(ValueError, match='tune_mask: expected.*' + words) as e: check_tune_mask(mask, 3)
    assert '\n' not in str(e.value)
    fc.test_eq(check_tune_mask([True, False, True], 3), np.array([True, False, True]))
# ---------- cross-check with scipy's paired bootstrap; thresholds on their grid (issue 23)

from scipy.stats import bootstrap

@pytest.mark.parametrize('seed,n,pa,pb', [(0, 400, 0.9, 0.85), (1, 150, 0.7, 0.72), (2, 1000, 0.95, 0.9)])
def test_paired_bootstrap_matches_scipys_paired_percentile_interval(seed, n, pa, pb):
    rng = np.random.default_rng(seed)
    both = rng.random(n)                                   # correlated: the two models err on the same hard items
    a, b = (both < pa).astype(float), (both + rng.normal(0, 0.05, n) < pb).astype(float)
    ours = paired_bootstrap(a, b, n_boot=20000, seed=seed)
    ref = bootstrap((a, b), lambda x, y: x.mean() - y.mean(), paired=True, vectorized=False, n_resamples=20000,
                    confidence_level=0.95, method='percentile', random_state=seed + 100)
    se = ref.standard_error
    assert ours['diff'] == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    # two Monte Carlo estimates of the same percentiles: equal within a small share of the standard error
    assert ours.ci == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high), abs=0.1*se + 1/n)

def test_thresholds_are_on_their_grid():
    assert [repr(float(t)) for t in THRESHS[[0, 6, 27, 93, 98]]] == ['0.01', '0.07', '0.28', '0.94', '0.99']
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 300)
    p = np.clip(0.9*np.eye(5)[y] + rng.normal(0, 0.2, (300, 5)), 0, 1)
    t = best_threshold(p, y)
    assert t in THRESHS and repr(t) == f'{t:.2f}'.rstrip('0').rstrip('.')
    assert set(per_class_thresholds(p, y).tolist()) <= set(THRESHS.tolist())
    assert best_threshold(p, y, [0.3, 0.45, 0.6]) in (0.3, 0.45, 0.6)   # a grid of one's own: its own values

def test_paired_bootstrap_asks_for_one_correctness_per_item():
    fc.test_fail(lambda: paired_bootstrap(np.ones((10, 3)), np.ones(10)),
                 contains='correct_a: expected non-empty 1-D per-item correctness (0/1, e.g. `exact_correct(probs, targs)`), got shape (10, 3)')


# ---- the labeler's decoders, each at its own tuned threshold ----
from classification_vs_labeling.thresholds import tuned_decoders

def test_tuned_decoders_fit_on_tuning_items_and_score_the_rest():
    y, _, lab = simulate_preds(n=600, k=12, seed=3, class_shift=1.0)
    tune = tune_split(len(y), seed=0, strat=y)
    items, th = tuned_decoders(lab, y, tune)
    assert th == dict(thresh=best_threshold(lab[tune], y[tune]), thresh_fallback=best_threshold(lab[tune], y[tune], metric='exact_match_fallback'))
    held = ~tune
    assert len(items) == held.sum() and list(items.columns) == ['argmax', 'exact', 'exact_fallback']
    assert items.argmax.mean() == argmax_accuracy(lab[held], y[held])
    assert items.exact.mean() == exact_match(lab[held], y[held], th['thresh'])
    assert items.exact_fallback.mean() == exact_match(lab[held], y[held], th['thresh_fallback'], fallback=True)

def test_the_fallback_adds_exactly_the_no_label_piece_of_the_gap():
    "At one threshold, the fallback turns each item with no label and a right argmax into a right answer, and nothing else."
    y, ce, lab = simulate_preds(n=500, k=8, seed=1, bce_bias=-4.0)
    tune = tune_split(len(y), seed=0, strat=y)
    items, th = tuned_decoders(lab, y, tune, threshs=[0.5])
    g = gap_items(ce[~tune], lab[~tune], y[~tune], 0.5)
    np.testing.assert_array_equal(items.exact_fallback - items.exact, g['none'])
    assert g['none'].sum() > 10                                                  # the case is exercised

def test_tuned_decoders_refuse_a_bad_mask():
    y, _, lab = simulate_preds(n=50, k=4, seed=0)
    with pytest.raises(ValueError, match=r'tune_mask: expected \(50,\) bools'): tuned_decoders(lab, y, np.ones(50))
    with pytest.raises(ValueError, match='tune_mask: expected items in both parts'): tuned_decoders(lab, y, np.ones(50, bool))
