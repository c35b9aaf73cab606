"Tests for classification_vs_labeling.ood: cross-checks with scikit-learn, scipy and PyTorch, and properties."
import numpy as np, pandas as pd, pytest, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import softmax, expit
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score, roc_curve
from fastcore import test as fc       # fastcore's test_eq/test_close/test_fail, as in the chapter (a bare import would be collected as tests)
from classification_vs_labeling.ood import *
from classification_vs_labeling.ood import _weighted_auroc
from helpers import from_chapter

def labels(n_in, n_out): return np.r_[np.ones(n_in), np.zeros(n_out)]

def fpr_sklearn(s_in, s_out, tpr):
    "FPR at the first point of sklearn's ROC curve whose TPR reaches `tpr`."
    f, t, _ = roc_curve(labels(len(s_in), len(s_out)), np.r_[s_in, s_out], drop_intermediate=False)
    return f[np.argmax(t >= tpr)]

# ---------- scores

def test_scores_match_torch():
    z = np.random.default_rng(0).normal(0, 4, (100, 9)); zt = torch.tensor(z)
    np.testing.assert_allclose(energy(z), torch.logsumexp(zt, 1).numpy(), atol=1e-12)
    for T in (0.5, 3.):
        np.testing.assert_allclose(energy(z, T), T*torch.logsumexp(zt/T, 1).numpy(), atol=1e-12)
    np.testing.assert_allclose(max_logit(z), zt.max(1).values.numpy())
    np.testing.assert_allclose(msp(softmax(z, 1)), torch.softmax(zt, 1).max(1).values.numpy(), atol=1e-12)
    np.testing.assert_allclose(max_sigmoid(expit(z)), torch.sigmoid(zt).max(1).values.numpy(), atol=1e-12)

def test_energy_sign_convention_and_limits():
    z = np.array([[10., 0., 0.], [0., 0., 0.], [-10., -10., -10.]])
    e = energy(z)
    assert e[0] > e[1] > e[2]                          # higher = more in-domain
    assert e[1] == pytest.approx(np.log(3))            # logsumexp of zeros
    assert energy(z, T=1e-3) == pytest.approx(max_logit(z), abs=1e-2)   # T -> 0 gives the max logit

def test_softmax_cannot_see_a_shift_but_max_logit_and_sigmoid_can():
    z = np.array([[3., -1., -2.]]); far = z - 11
    assert msp(softmax(z, 1)) == pytest.approx(msp(softmax(far, 1)))
    assert max_logit(far) < max_logit(z) and energy(far) < energy(z)
    assert no_label_rate(expit(far)) == 1. and no_label_rate(expit(z)) == 0.

def test_no_label_rate():
    p = np.array([[.2, .4], [.6, .1], [.5, .5], [.9, .8]])
    assert no_label_rate(p) == 0.5                      # rows 0 and 2: nothing strictly above 0.5
    assert no_label_rate(p, thresh=0.) == 0.
    assert no_label_rate(p, thresh=1.) == 1.
    assert no_label_rate(p, thresh=[.1, .9]) == 0.      # per-class thresholds
    assert no_label_rate(p, thresh=[.95, .3]) == 0.25   # only row 1 (.6 <= .95 and .1 <= .3)

# ---------- AUROC

@pytest.mark.parametrize('seed', range(3))
def test_auroc_equals_sklearn_and_mann_whitney(seed):
    rng = np.random.default_rng(seed)
    s_in, s_out = np.round(rng.normal(1, 1, 150), 1), np.round(rng.normal(0, 1, 90), 1)   # rounded: ties
    a = ood_auroc(s_in, s_out)
    assert a == pytest.approx(roc_auc_score(labels(150, 90), np.r_[s_in, s_out]), abs=1e-12)
    assert a == pytest.approx(mannwhitneyu(s_in, s_out).statistic/(150*90), abs=1e-12)
    assert a == pytest.approx(np.mean((s_in[:, None] > s_out) + 0.5*(s_in[:, None] == s_out)), abs=1e-12)

scores = arrays(np.float64, st.integers(1, 25), elements=st.floats(-1e3, 1e3, allow_nan=False))
int_scores = arrays(np.int64, st.integers(1, 25), elements=st.integers(-60, 60))

@settings(max_examples=80, deadline=None)
@given(scores, scores)
def test_auroc_swap_is_one_minus(s_in, s_out):
    a = ood_auroc(s_in, s_out)
    assert 0 <= a <= 1
    assert a == pytest.approx(1 - ood_auroc(s_out, s_in), abs=1e-12)   # holds with ties too (they count 1/2 both ways)

@settings(max_examples=80, deadline=None)
@given(int_scores, int_scores)
def test_auroc_invariant_to_increasing_transforms(s_in, s_out):
    a = ood_auroc(s_in, s_out)
    for f in (lambda x: np.exp(x/7.), lambda x: x.astype(float)**3 + 5*x, lambda x: expit(x/10.)):
        assert ood_auroc(f(s_in), f(s_out)) == pytest.approx(a, abs=1e-12)
    assert ood_auroc(-s_in, -s_out) == pytest.approx(1 - a, abs=1e-12)

@settings(max_examples=60, deadline=None)
@given(scores, scores, st.randoms(use_true_random=False))
def test_auroc_and_fpr_permutation_invariant(s_in, s_out, r):
    p_in, p_out = list(range(len(s_in))), list(range(len(s_out))); r.shuffle(p_in); r.shuffle(p_out)
    assert ood_auroc(s_in[p_in], s_out[p_out]) == pytest.approx(ood_auroc(s_in, s_out), abs=1e-12)
    assert fpr_at_tpr(s_in[p_in], s_out[p_out]) == fpr_at_tpr(s_in, s_out)

# ---------- FPR at TPR

@settings(max_examples=100, deadline=None)
@given(int_scores, int_scores, st.sampled_from([0.01, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0]))
def test_fpr_at_tpr_equals_sklearn_roc_curve_rule(s_in, s_out, tpr):
    assert fpr_at_tpr(s_in, s_out, tpr) == pytest.approx(fpr_sklearn(s_in, s_out, tpr), abs=1e-12)

@settings(max_examples=60, deadline=None)
@given(scores, scores)
def test_fpr_at_tpr_by_brute_force_and_monotone(s_in, s_out):
    prev = -1.
    for tpr in (0.1, 0.5, 0.9, 0.95, 1.0):
        # the largest candidate threshold accepting at least `tpr` of the in-domain items
        t = max(c for c in s_in if (s_in >= c).mean() >= tpr)
        f = fpr_at_tpr(s_in, s_out, tpr)
        assert f == (s_out >= t).mean()
        assert f >= prev; prev = f   # asking for more in-domain items never lets fewer out-of-domain ones in

def test_fpr_at_tpr_by_hand():
    s_in = np.arange(1., 21)                                  # 19 of 20 (95%) are >= 2
    assert fpr_at_tpr(s_in, [0., 1.5, 2., 3.]) == 0.5         # 2 (a tie, accepted) and 3
    assert fpr_at_tpr(s_in, [0., 1.5, 2., 3.], tpr=1.) == 0.75
    assert fpr_at_tpr(s_in, [21., 22.]) == 1. and fpr_at_tpr(s_in, [-1.]) == 0.

# ---------- summary and plot

def sim(rng, n, k, sig):
    return rng.uniform(*sig, (n, 1))*np.eye(k)[rng.integers(0, k, n)] + rng.normal(size=(n, k))

def test_ood_summary():
    rng = np.random.default_rng(0)
    ci, co, bi, bo = sim(rng, 300, 5, (3, 6)), sim(rng, 200, 5, (0, 1)), sim(rng, 300, 5, (3, 6)) - 2, sim(rng, 200, 5, (0, 1)) - 2
    df = ood_summary(ci, co, bi, bo, thresh=0.4)
    assert df.index.tolist() == ['ce msp', 'ce max_logit', 'ce energy', 'bce max_sigmoid']
    assert df.columns.tolist() == ['auroc', 'fpr95', 'no_label_in', 'no_label_out']
    y, msp_all = labels(300, 200), np.r_[softmax(ci, 1).max(1), softmax(co, 1).max(1)]
    assert df.loc['ce msp', 'auroc'] == pytest.approx(roc_auc_score(y, msp_all))
    assert df.loc['ce energy', 'auroc'] == pytest.approx(roc_auc_score(y, np.r_[energy(ci), energy(co)]))
    assert df.loc['bce max_sigmoid', 'auroc'] == pytest.approx(roc_auc_score(y, np.r_[bi.max(1), bo.max(1)]))
    assert df.loc['ce max_logit', 'fpr95'] == pytest.approx(fpr_sklearn(ci.max(1), co.max(1), 0.95))
    assert df.loc['bce max_sigmoid', 'no_label_in'] == pytest.approx((expit(bi).max(1) <= 0.4).mean())
    assert df.loc['bce max_sigmoid', 'no_label_out'] == pytest.approx((expit(bo).max(1) <= 0.4).mean())
    assert df.loc[['ce msp', 'ce max_logit', 'ce energy'], ['no_label_in', 'no_label_out']].isna().all().all()
    assert ((df.auroc > 0.5) & (df.auroc <= 1)).all()   # in-domain items have the stronger class signal here

def test_plot_ood_hist():
    ax = plot_ood_hist([1., 2., 3.], [0., 1.], name='energy', bins=5)
    assert isinstance(ax, plt.Axes) and ax.get_title() == f'energy: AUROC {ood_auroc([1., 2., 3.], [0., 1.]):.3f}'
    assert len(ax.patches) == 10
    ax.figure.canvas.draw()
    assert ax.get_legend().get_window_extent().y1 < ax.get_window_extent().y0          # the legend under the axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ['in-domain (3 items)', 'out-of-domain (2 items)']
    edges = np.linspace(-1, 4, 6)                                                       # edges given: the x axis another panel shares
    ax = plot_ood_hist([1., 2., 3.], [0., 1.], bins=edges, title='seed 0')
    np.testing.assert_allclose(sorted({p.get_x() for p in ax.patches}), edges[:-1])
    assert ax.get_title().startswith('seed 0: AUROC')
    plt.close('all')

# ---------- bad input

Z = np.zeros((4, 3))

@pytest.mark.parametrize('call,msg', [
    (lambda: ood_auroc([], [1.]), 'empty'),
    (lambda: ood_auroc([1.], []), 'empty'),
    (lambda: ood_auroc([[1., 2.]], [1.]), 'expected 1-D scores'),
    (lambda: ood_auroc([1., np.nan], [1.]), 'NaN'),
    (lambda: ood_auroc([1., 2.], [np.inf]), 'NaN or infinite'),
    (lambda: ood_auroc(['a'], [1.]), 'expected numbers'),
    (lambda: fpr_at_tpr([1.], [1.], tpr=0), '(0, 1]'),
    (lambda: fpr_at_tpr([1.], [1.], tpr=1.01), '(0, 1]'),
    (lambda: fpr_at_tpr([1.], [[1.]]), 'expected 1-D scores'),
    (lambda: msp(Z + 2), '[0, 1]'),
    (lambda: msp(np.zeros((0, 3))), 'empty'),
    (lambda: max_sigmoid(-Z - 1), '[0, 1]'),
    (lambda: max_logit([1., 2.]), '2-d'),
    (lambda: energy(Z, T=-1), '(0, inf]'),
    (lambda: energy(Z + np.nan), 'NaN'),
    (lambda: no_label_rate(Z, thresh=1.5), '[0, 1]'),
    (lambda: no_label_rate(Z, thresh=[.5, .5]), '3 per-class'),
    (lambda: ood_summary(Z, np.zeros((4, 2)), Z, Z), '3 classes'),
    (lambda: ood_summary(Z, Z, Z, np.zeros((4, 4))), '3 classes'),
    (lambda: ood_summary(Z, Z, Z, Z, thresh=-0.5), '[0, 1]'),
    (lambda: plot_ood_hist([], [1.]), 'empty'),
])
def test_bad_input_raises_clear_value_error(call, msg):
    with pytest.raises(ValueError) as e: call()
    assert msg in str(e.value), str(e.value)

# ---------- matched refusal, paired AUROC difference, near and far

@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 80), st.floats(0, 1))
def test_refusal_cut_refuses_the_share_asked(seed, n, rate):
    s = np.random.default_rng(seed).random(n)                 # distinct scores: the match is exact
    k = int(np.floor(rate*n + 0.5))
    assert (s < refusal_cut(s, rate)).sum() == k
    ties = np.round(s, 1)                                       # ties: never more than asked, and a tie group is never split
    c = refusal_cut(ties, rate)
    assert (ties < c).sum() <= k and not ((ties < c) & (ties == c)).any()

def matched_by_hand(ce_in, bce_in, ce_out, bce_out, t):
    "The labeler's no-label share in-domain, the classifier cut there (sorted scores, by hand), and both shares out of domain."
    rate = np.mean(bce_in <= t)
    k = int(np.floor(rate*len(ce_in) + 0.5)); s = np.sort(ce_in)
    cut = s[0] if k == 0 else np.inf if k == len(s) else (s[k-1] + s[k])/2
    return rate, np.mean(ce_out < cut), np.mean(bce_out <= t), np.mean(ce_in < cut)

def sim_scores(seed, n_in=300, n_out=200, k=6):
    rng = np.random.default_rng(seed)
    z_in = rng.uniform(1, 6, (n_in, 1))*np.eye(k)[rng.integers(0, k, n_in)] + rng.normal(size=(n_in, k))
    z_out = 1.5*np.eye(k)[rng.integers(0, k, n_out)] + rng.normal(size=(n_out, k))
    return (msp(softmax(z_in, 1)), max_sigmoid(expit(z_in - 2)), msp(softmax(z_out, 1)), max_sigmoid(expit(z_out - 2 + rng.normal(0, .5, (n_out, 1)))))

def test_matched_refusal_matches_by_construction():
    ce_in, bce_in, ce_out, bce_out = sim_scores(0)
    r = matched_refusal(ce_in, bce_in, ce_out, bce_out, 0.5, n_boot=400)
    rate, ce, bce, ce_in_rate = matched_by_hand(ce_in, bce_in, ce_out, bce_out, 0.5)
    assert ce_in_rate == rate == r['in_rate'] > 0                 # the same in-domain price
    assert (r['ce'], r['bce'], r['diff']) == pytest.approx((ce, bce, bce - ce), abs=1e-12)
    for key, ci in (('ce', 'ce_ci'), ('bce', 'bce_ci'), ('diff', 'ci')): assert r[ci][0] <= r[key] <= r[ci][1]
    assert r['diff_ci'] == r.ci and r.level == 0.95 and isinstance(r.ci, tuple)   # the old name still reads
    assert r['bce'] == pytest.approx(no_label_rate(np.c_[bce_out, bce_out*0], 0.5))   # max sigmoid <= t: no label above t

def test_matched_refusal_over_seeds_averages_the_seeds():
    runs = [sim_scores(s) for s in range(3)]
    r = matched_refusal(*[np.stack(x) for x in zip(*runs)], [0.5, 0.4, 0.6], n_boot=200)
    by_hand = [matched_by_hand(*x, t) for x, t in zip(runs, (0.5, 0.4, 0.6))]
    assert r['ce'] == pytest.approx(np.mean([b[1] for b in by_hand])) and r['bce'] == pytest.approx(np.mean([b[2] for b in by_hand]))
    one = matched_refusal(*runs[0], 0.5, n_boot=200)
    assert r.ci[1] - r.ci[0] < one.ci[1] - one.ci[0]   # three seeds: a narrower interval

def test_auroc_diff_against_sklearn():
    ce_in, bce_in, ce_out, bce_out = sim_scores(1)
    d = auroc_diff(ce_in, ce_out, bce_in, bce_out, n_boot=500, seed=2)
    y = labels(len(ce_in), len(ce_out))
    a, b = roc_auc_score(y, np.r_[ce_in, ce_out]), roc_auc_score(y, np.r_[bce_in, bce_out])
    assert (d['auroc_a'], d['auroc_b'], d['diff']) == pytest.approx((a, b, a - b), abs=1e-12)
    assert d.ci[0] <= d.diff <= d.ci[1] and 0 < d.p_value <= 1 and (d['low'], d['high']) == d.ci
    # the interval against a plain loop of resamples, each scored by scikit-learn
    rng = np.random.default_rng(7); boot = []
    for _ in range(300):
        i, o = rng.integers(0, len(ce_in), len(ce_in)), rng.integers(0, len(ce_out), len(ce_out))
        yy = labels(len(i), len(o))
        boot.append(roc_auc_score(yy, np.r_[ce_in[i], ce_out[o]]) - roc_auc_score(yy, np.r_[bce_in[i], bce_out[o]]))
    assert d.ci == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])), abs=0.01)

@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10**6))
def test_auroc_diff_seeds_and_ties(seed):
    rng = np.random.default_rng(seed)
    s_in, s_out = np.round(rng.normal(1, 1, (2, 30)), 1), np.round(rng.normal(0, 1, (2, 20)), 1)   # two seeds, many ties
    t_in, t_out = np.round(rng.normal(1, 1, (2, 30)), 1), np.round(rng.normal(0, 1, (2, 20)), 1)
    d = auroc_diff(s_in, s_out, t_in, t_out, n_boot=20, seed=seed)
    y = labels(30, 20)
    want = np.mean([roc_auc_score(y, np.r_[a, b]) - roc_auc_score(y, np.r_[c, e]) for a, b, c, e in zip(s_in, s_out, t_in, t_out)])
    assert d['diff'] == pytest.approx(want, abs=1e-12)

def test_ood_kinds_and_held_out_classes_never_trained_on(monkeypatch):
    "load_set's held-out classes are out-of-domain, marked near, and never among the training (or validation) items."
    from pathlib import Path
    from classification_vs_labeling.datasets import load_set, data_set
    monkeypatch.setenv('CVL_QUICK', '1')
    held = data_set('mnist').held_out
    s = load_set('mnist')
    kinds = ood_kinds(s.ood_items, held)
    assert not set(held) & set(s.labels) and not set(held) & {Path(f).parent.name for f in s.items}
    assert (kinds == 'near').sum() == 1000 and (kinds == 'far').sum() == 1000
    assert all(Path(f).parent.name in held for f, k in zip(s.ood_items, kinds) if k == 'near')
    assert list(ood_kinds(['pets/images/Ragdoll_1.jpg', 'pets/images/Birman_1.jpg', 'x/Ragdoll/1.png'], ['Ragdoll'])) == ['near', 'far', 'near']

@pytest.mark.parametrize('call, msg', [
    (lambda: refusal_cut([0.1, 0.2], -0.1), r'\[0, 1\]'),
    (lambda: refusal_cut([[0.1, 0.2]], 0.5), 'expected 1-D scores'),
    (lambda: matched_refusal([.5, .6], [.5, .6], [.1], [.1, .2]), 'same items'),
    (lambda: matched_refusal([.5, .6], [.5, .6], [.1], [.1], 1.5), r'\[0, 1\]'),
    (lambda: matched_refusal([.5, .6], [.5, .6], [.1], [.1], n_boot=0), 'n_boot'),
    (lambda: matched_refusal([.5, .6], [.5, .6], [.1], [.1], n_boot=10**400), 'n_boot'),
    (lambda: auroc_diff([.5, .6], [.1], [.5, .6], [.1], n_boot=2.5), 'n_boot'),
    (lambda: energy(Z, T=True), 'T: expected a real number'),
    (lambda: auroc_diff([.5, .6], [.1], [.5], [.1]), 'same items'),
    (lambda: auroc_diff([.5, np.nan], [.1], [.5, .6], [.1]), 'NaN'),
    (lambda: auroc_diff([.5, .6], [.1], [.5, .6], [.1], level=0), r'level: expected a value in \(0, 1\)'),
])
def test_matched_and_diff_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg): call()

# ---------- chapter 07's checks, moved from its hidden cells: on its own simulated pair (read from the chapter) and toy examples

chapter_simulate = from_chapter('07_ood_internals', 'simulate')

@pytest.fixture(scope='module')
def chapter_sim():
    ce_logits, bce_logits = chapter_simulate()
    return ce_logits, bce_logits, {k: softmax(v, axis=1) for k, v in ce_logits.items()}, {k: expit(v) for k, v in bce_logits.items()}

def test_chapter_scores_against_torch():
    z = torch.randn(50, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)*3
    fc.test_close(energy(z.numpy()), torch.logsumexp(z, 1).numpy(), eps=1e-12)
    fc.test_close(energy(z.numpy(), T=2.5), 2.5*torch.logsumexp(z/2.5, 1).numpy(), eps=1e-12)
    fc.test_close(energy(z), torch.logsumexp(z, 1).numpy(), eps=1e-5)   # tensors are read as float32 by core.to_np
    fc.test_close(msp(torch.softmax(z, 1).numpy()), torch.softmax(z, 1).max(1).values.numpy(), eps=1e-12)
    fc.test_close(max_logit(z.numpy()), z.max(1).values.numpy(), eps=1e-12)
    toy = np.array([[3., -1., -2.], [-8., -12., -13.]])                    # clear evidence for class 0, and far from everything
    fc.test_eq(msp(softmax(toy, axis=1))[0], msp(softmax(toy, axis=1))[1])  # softmax cannot tell them apart
    fc.test_eq(no_label_rate([[.2, .6], [.5, .1], [.7, .9]]), 1/3)          # p > thresh, strictly
    fc.test_eq(no_label_rate([[.2, .6], [.5, .1]], thresh=[.1, .7]), 0.)
    fc.test_fail(lambda: energy(z, T=0), contains='T: expected a value in (0, inf]')
    fc.test_fail(lambda: msp(z), contains='[0, 1]')
    fc.test_fail(lambda: no_label_rate([[.2, .6]], thresh=2), contains='[0, 1]')
    fc.test_fail(lambda: no_label_rate([[.2, .6]], thresh=[.5, .5, .5]), contains='2 per-class')
    fc.test_fail(lambda: max_logit([[1., float('nan')]]), contains='NaN')

def test_chapter_auroc_by_hand():
    a, b = np.array([3., 1., 2., 2.]), np.array([0., 2., 1.])
    pairs = np.mean([(x > y) + 0.5*(x == y) for x in a for y in b])       # every (in, out) pair, ties count 1/2
    fc.test_close(ood_auroc(a, b), pairs, eps=1e-12)
    fc.test_close(ood_auroc(a, b), 1 - ood_auroc(b, a), eps=1e-12)
    fc.test_close(ood_auroc(np.exp(a), np.exp(b)), ood_auroc(a, b), eps=1e-12)
    fc.test_fail(lambda: ood_auroc([], b), contains='empty')
    fc.test_fail(lambda: ood_auroc(a[:, None], b), contains='expected 1-D scores (one per item, e.g. `msp(probs)`')
    fc.test_fail(lambda: ood_auroc(a, [1., float('nan')]), contains='NaN')

def test_chapter_fpr_at_tpr():
    # by hand: 20 in-domain scores 1..20; 95% of them (19) are >= 2, so t = 2
    fc.test_eq(fpr_at_tpr(np.arange(1., 21), [0., 1.5, 2., 3.]), 0.5)             # 2 and 3 are accepted (ties count)
    fc.test_eq(fpr_at_tpr(np.arange(1., 21), [0., 1.5, 2., 3.], tpr=1.), 0.75)    # t = 1: 1.5 gets in too
    fc.test_eq(fpr_at_tpr(np.arange(1., 21), [0., 1.5, 2., 3.], tpr=0.96), 0.75)  # 96% of 20 needs all 20: t = 1
    fc.test_eq(fpr_at_tpr(np.arange(1., 21), [0., 1., 2., 3.], tpr=0.5), 0.)       # 10 items: t = 11
    fc.test_eq(fpr_at_tpr([1., 1., 1., 1.], [1., 0.]), 0.5)                        # all in-domain scores tie
    i, o = np.round(np.random.default_rng(3).normal(1, 1, 200), 1), np.round(np.random.default_rng(4).normal(0, 1, 150), 1)
    for t in (0.5, 0.8, 0.95, 0.99, 1.):                                           # rounded scores: many ties
        f, tp, _ = roc_curve(labels(200, 150), np.r_[i, o], drop_intermediate=False)
        fc.test_eq(fpr_at_tpr(i, o, t), f[np.argmax(tp >= t)])
    fc.test_fail(lambda: fpr_at_tpr(i, o, 0), contains='(0, 1]')
    fc.test_fail(lambda: fpr_at_tpr(i, o, 1.2), contains='(0, 1]')

def test_chapter_ood_summary(chapter_sim):
    ce_logits, bce_logits, _, bce_probs = chapter_sim
    summary = ood_summary(ce_logits['in'], ce_logits['out'], bce_logits['in'], bce_logits['out'])
    fc.test_eq(list(summary.index), ['ce msp', 'ce max_logit', 'ce energy', 'bce max_sigmoid'])
    fc.test_close(summary.loc['ce energy', 'auroc'], ood_auroc(energy(ce_logits['in']), energy(ce_logits['out'])), eps=1e-12)
    fc.test_close(summary.loc['bce max_sigmoid', 'auroc'],   # sigmoid is increasing: max sigmoid ranks items like max logit
                  ood_auroc(max_logit(bce_logits['in']), max_logit(bce_logits['out'])), eps=1e-12)
    fc.test_eq(summary.loc['bce max_sigmoid', 'no_label_out'], no_label_rate(bce_probs['out']))
    assert summary.loc['ce msp', ['no_label_in', 'no_label_out']].isna().all()
    fc.test_fail(lambda: ood_summary(ce_logits['in'], ce_logits['out'][:, :5], bce_logits['in'], bce_logits['out']), contains='10 classes')
    fc.test_fail(lambda: ood_summary(ce_logits['in'], ce_logits['out'], bce_logits['in'], bce_logits['out'], thresh=-1), contains='[0, 1]')
    for s in ('ce max_logit', 'ce energy'): assert summary.loc[s, 'auroc'] > summary.loc['ce msp', 'auroc']   # they see what MSP cannot

def test_chapter_refusal_cut():
    fc.test_eq(refusal_cut([0.9, 0.2, 0.6, 0.4], 0.5), 0.5)         # refuses 0.2 and 0.4
    fc.test_eq(refusal_cut([0.9, 0.2, 0.6, 0.4], 0.0), 0.2)         # nothing is below the lowest
    assert (np.array([0.9, 0.2, 0.6, 0.4]) < refusal_cut([0.9, 0.2, 0.6, 0.4], 1.0)).all()
    fc.test_eq(refusal_cut([0.3, 0.3, 0.3, 0.8], 0.5), 0.3)         # a tie: nothing below 0.3 can be refused without refusing all three
    s = np.random.default_rng(0).random(101)
    for r in (0.01, 0.1, 0.37, 0.5, 0.99): fc.test_eq((s < refusal_cut(s, r)).sum(), int(np.floor(r*101 + 0.5)))   # 50.5 rounds up
    fc.test_fail(lambda: refusal_cut(s, 1.5), contains='[0, 1]')
    fc.test_fail(lambda: refusal_cut([], 0.5), contains='empty')

def test_chapter_matched_refusal(chapter_sim):
    _, _, ce_probs, bce_probs = chapter_sim
    ci, bi, co, bo = msp(ce_probs['in']), max_sigmoid(bce_probs['in']), msp(ce_probs['out']), max_sigmoid(bce_probs['out'])
    ref = matched_refusal(ci, bi, co, bo, 0.5)
    cut = refusal_cut(ci, no_label_rate(bce_probs['in']))
    fc.test_eq((ci < cut).mean(), no_label_rate(bce_probs['in']))   # matched by construction
    fc.test_close(ref['ce'], (co < cut).mean(), eps=1e-12)
    fc.test_close(ref['bce'], no_label_rate(bce_probs['out']), eps=1e-12)
    fc.test_close(ref['in_rate'], no_label_rate(bce_probs['in']), eps=1e-12)
    for k in ('ce', 'bce', 'diff'): assert ref[k + '_ci'][0] <= ref[k] <= ref[k + '_ci'][1]
    two = matched_refusal(*[np.stack([x, x]) for x in (ci, bi, co, bo)], [0.5, 0.5])
    fc.test_close(two['diff'], ref['diff'], eps=1e-12)              # two identical seeds: the same rates
    fc.test_fail(lambda: matched_refusal(ci, bi[:5], co, bo), contains='same items')
    fc.test_fail(lambda: matched_refusal(*[np.stack([x, x]) for x in (ci, bi, co, bo)], [.5, .5, .5]), contains='one per seed (2)')

def test_chapter_auroc_diff(chapter_sim):
    i, o = np.round(np.random.default_rng(1).normal(1, 1, 60), 1), np.round(np.random.default_rng(2).normal(0, 1, 40), 1)   # ties
    wi, wo = np.random.default_rng(3).multinomial(60, np.full(60, 1/60), 4), np.random.default_rng(4).multinomial(40, np.full(40, 1/40), 4)
    for b in range(4):   # one resample's AUROC is scikit-learn's AUROC with the resample's counts as sample weights
        ref = roc_auc_score(labels(60, 40), np.r_[i, o], sample_weight=np.r_[wi[b], wo[b]])
        fc.test_close(_weighted_auroc(i, o, wi[b:b+1].astype(float), wo[b:b+1].astype(float))[0], ref, eps=1e-12)
    _, _, ce_probs, bce_probs = chapter_sim
    d = auroc_diff(msp(ce_probs['in']), msp(ce_probs['out']), max_sigmoid(bce_probs['in']), max_sigmoid(bce_probs['out']))
    fc.test_close(d['auroc_a'], ood_auroc(msp(ce_probs['in']), msp(ce_probs['out'])), eps=1e-12)
    fc.test_close(d['diff'], ood_auroc(msp(ce_probs['in']), msp(ce_probs['out'])) - ood_auroc(max_sigmoid(bce_probs['in']), max_sigmoid(bce_probs['out'])), eps=1e-12)
    assert d.ci[0] <= d.diff <= d.ci[1]
    same = auroc_diff(i, o, i, o, n_boot=50)
    fc.test_eq((same.diff, *same.ci), (0., 0., 0.))
    fc.test_fail(lambda: auroc_diff(i, o, i[:5], o), contains='same items')
    fc.test_fail(lambda: auroc_diff(i, o, i, o, level=2), contains='(0, 1)')

def test_chapter_ood_kinds():
    fc.test_eq(list(ood_kinds(['mnist5k/8/0012.png', 'cvl_letters_28px_500_seed0/0001_A.png', 'oxford-iiit-pet/images/Ragdoll_12.jpg',
                               'x/images/Birman_3.jpg', 'cvl_photos_28px_500_seed0/0002_astronaut.png'], ('8', '9', 'Ragdoll'))),
               ['near', 'far', 'near', 'far', 'far'])
    fc.test_eq(list(ood_kinds(['ill/people/a.jpg'], ('people',))), ['near'])
    fc.test_eq(ood_kinds([], ('8',)).shape, (0,))

def test_chapter_hist_title(chapter_sim):
    _, _, ce_probs, _ = chapter_sim
    ax = plot_ood_hist(msp(ce_probs['in']), msp(ce_probs['out']), name='classifier MSP')
    fc.test_eq(ax.get_title(), f"classifier MSP: AUROC {ood_auroc(msp(ce_probs['in']), msp(ce_probs['out'])):.3f}")
    plt.close('all')

# ---------- FPR95's two conventions, and pytorch-ood's (issue 23)

from pytorch_ood.metrics.functional import fpr_at_tpr as pood_fpr_at_tpr

def pood_fpr95(s_in, s_out, tpr=0.95) -> float:
    "pytorch-ood's FPR at `tpr`: out-of-domain items positive (label < 0), outlier scores = minus our in-domain scores."
    scores = torch.tensor(-np.r_[s_in, s_out], dtype=torch.float64)
    labels = torch.tensor(np.r_[np.zeros(len(s_in)), -np.ones(len(s_out))], dtype=torch.long)
    return float(pood_fpr_at_tpr(scores, labels, tpr))

@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.integers(1, 40), elements=st.sampled_from([0., 0.1, 0.25, 0.5, 0.75, 1.])),   # ties on purpose
       arrays(np.float64, st.integers(1, 40), elements=st.sampled_from([0., 0.1, 0.25, 0.5, 0.75, 1.])),
       st.sampled_from([0.5, 0.8, 0.9, 0.95, 1.0]))
def test_fpr_with_out_of_domain_positive_is_pytorch_oods(s_in, s_out, tpr):
    assert fpr_at_tpr(s_in, s_out, tpr, positive='out') == pytest.approx(pood_fpr95(s_in, s_out, tpr), abs=1e-12)

def test_the_two_fpr95_conventions_differ_and_are_each_others_mirror():
    rng = np.random.default_rng(0)
    s_in, s_out = rng.normal(2, 1, 800), rng.normal(0, 1.5, 300)
    ours, theirs = fpr_at_tpr(s_in, s_out), fpr_at_tpr(s_in, s_out, positive='out')
    assert theirs == pytest.approx(pood_fpr95(s_in, s_out), abs=1e-12)
    assert abs(ours - theirs) > 0.05                          # not the same number: a report must say which it gives
    assert theirs == fpr_at_tpr(-s_out, -s_in)                # in-domain and out swapped, scores negated
    fc.test_fail(lambda: fpr_at_tpr(s_in, s_out, positive='ood'), contains="positive: expected 'in' or 'out'")

# ---------- misuse: probabilities as logits, (N, K) arrays as scores (issue 23)

import warnings

def simulate_logits(seed=0):
    "({'in', 'out'} classifier logits, the same for the labeler): 300 in-domain and 200 out-of-domain items, 5 classes."
    rng = np.random.default_rng(seed)
    ce = {'in': sim(rng, 300, 5, (3, 6)), 'out': sim(rng, 200, 5, (0, 1))}
    return ce, {'in': sim(rng, 300, 5, (3, 6)) - 2, 'out': sim(rng, 200, 5, (0, 1)) - 2}

def _messages(f):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        f()
    return [str(x.message) for x in w]

def test_ood_summary_warns_once_per_model_on_probabilities():
    ce, bce = simulate_logits()
    assert _messages(lambda: ood_summary(ce['in'], ce['out'], bce['in'], bce['out'])) == []
    msgs = _messages(lambda: ood_summary(softmax(ce['in'], axis=1), softmax(ce['out'], axis=1), expit(bce['in']), expit(bce['out'])))
    assert len(msgs) == 2 and msgs[0].startswith('ce_logits_in: expected logits, got what look like softmax probabilities')
    assert msgs[1].startswith('bce_logits_in: expected logits, got what look like sigmoid probabilities')
    for f in (max_logit, energy): assert len(_messages(lambda: f(softmax(ce['in'], axis=1)))) == 1

def test_matched_refusal_asks_for_one_score_per_item():
    ce, bce = simulate_logits()
    P, B, Po, Bo = softmax(ce['in'], axis=1), expit(bce['in']), softmax(ce['out'], axis=1), expit(bce['out'])
    # the call: the classifier's MSP, but the labeler's (N, K) sigmoids
    fc.test_fail(lambda: matched_refusal(msp(P), B, msp(Po), Bo),
                 contains=f"expected 1-D scores (one per item, e.g. `msp(probs)` or `max_sigmoid(probs)`), or (seeds, items), on the same items for both models, got shapes ce_in ({len(P)},), bce_in {B.shape}")
    # both models' (N, K) probabilities: the classifier's rows sum to 1, which no (seeds, items) scores do
    fc.test_fail(lambda: matched_refusal(P, B, Po, Bo), contains=f"ce_in: expected 1-D scores (one per item, e.g. `msp(probs)`")
    fc.test_fail(lambda: auroc_diff(P, Po, msp(P), msp(Po)), contains="got what look like (items, classes) probabilities")
    r = matched_refusal(msp(P), max_sigmoid(B), msp(Po), max_sigmoid(Bo), n_boot=50)   # the right call runs
    assert 0 <= r['ce'] <= 1


# ---- scores made for labelers: JointEnergy and max logit, beside the classifier's ----
import torch
from pytorch_ood.detector import EnergyBased, MaxLogit
from classification_vs_labeling.ood import joint_energy, ood_scores, score_table, OOD_SCORES


def _logits(seed=0, n=(300, 200), k=6):
    rng = np.random.default_rng(seed)
    return [rng.normal(m, 2, (nn, k)) + 4*np.eye(k)[rng.integers(0, k, nn)]*(m == 0) for nn, m in zip(n*2, (0, -2, 0, -2))]

def test_joint_energy_and_max_logit_match_pytorch_ood():
    z = _logits()[2]
    zt = torch.as_tensor(z)
    np.testing.assert_allclose(joint_energy(z), torch.nn.functional.softplus(zt).sum(1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(joint_energy(z), -EnergyBased.score(torch.stack([torch.zeros_like(zt), zt], 1)).sum(1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(max_logit(z), -MaxLogit.score(zt).numpy())
    np.testing.assert_allclose(energy(z), -EnergyBased.score(zt).numpy(), rtol=1e-12)
    assert np.isfinite(joint_energy([[800., -800.]])).all() and joint_energy([[800., -800.]])[0] == 800.   # no overflow

def test_score_table_rows_and_the_matched_refusal():
    ce_in, ce_out, bce_in, bce_out = _logits()
    t = score_table(ce_in, ce_out, bce_in, bce_out, rate=0.1)
    assert list(t.index) == list(OOD_SCORES) and list(t.columns) == ['auroc', 'fpr95', 'refused_out']
    s = ood_scores(ce_in, ce_out, bce_in, bce_out)
    for name, (i, o) in s.items():
        assert t.loc[name, 'auroc'] == ood_auroc(i, o)
        assert (i < refusal_cut(i, 0.1)).mean() == 0.1                         # every cut refuses 10% of in-domain items
        assert t.loc[name, 'refused_out'] == (o < refusal_cut(i, 0.1)).mean()
    assert t.loc['bce max_logit'].equals(t.loc['bce max_sigmoid'])             # a sigmoid keeps the order: the same ranking
    old = ood_summary(ce_in, ce_out, bce_in, bce_out)                          # the rows both tables have agree
    np.testing.assert_allclose(t.loc[old.index, ['auroc', 'fpr95']], old[['auroc', 'fpr95']])

def test_joint_energy_sees_several_raised_labels():
    "Two out-of-domain items, one raising one label, one raising three half as much: max logit prefers the first, JointEnergy the second."
    z = np.array([[4., -6, -6, -6], [2., 2, 2, -6]])
    assert max_logit(z)[0] > max_logit(z)[1] and joint_energy(z)[1] > joint_energy(z)[0]

def test_score_table_refuses_what_does_not_fit():
    ce_in, ce_out, bce_in, bce_out = _logits()
    with pytest.raises(ValueError, match='bce_logits_out: expected 6 classes'): score_table(ce_in, ce_out, bce_in, bce_out[:, :5])
    with pytest.raises(ValueError, match=r'rate: expected a value in \[0, 1\]'): score_table(ce_in, ce_out, bce_in, bce_out, rate=1.5)
    with pytest.raises(ValueError, match='logits: expected finite'): joint_energy([[np.nan, 0.]])
