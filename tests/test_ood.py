"Tests for classification_vs_labeling.ood: cross-checks with scikit-learn, scipy and PyTorch, and properties."
import numpy as np, pandas as pd, pytest, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import softmax, expit
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score, roc_curve
from classification_vs_labeling.ood import *

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
    plt.close('all')

# ---------- bad input

Z = np.zeros((4, 3))

@pytest.mark.parametrize('call,msg', [
    (lambda: ood_auroc([], [1.]), 'empty'),
    (lambda: ood_auroc([1.], []), 'empty'),
    (lambda: ood_auroc([[1., 2.]], [1.]), '1-d'),
    (lambda: ood_auroc([1., np.nan], [1.]), 'NaN'),
    (lambda: ood_auroc([1., 2.], [np.inf]), 'NaN or infinite'),
    (lambda: ood_auroc(['a'], [1.]), 'expected numbers'),
    (lambda: fpr_at_tpr([1.], [1.], tpr=0), '(0, 1]'),
    (lambda: fpr_at_tpr([1.], [1.], tpr=1.01), '(0, 1]'),
    (lambda: fpr_at_tpr([1.], [[1.]]), '1-d'),
    (lambda: msp(Z + 2), '[0, 1]'),
    (lambda: msp(np.zeros((0, 3))), 'empty'),
    (lambda: max_sigmoid(-Z - 1), '[0, 1]'),
    (lambda: max_logit([1., 2.]), '2-d'),
    (lambda: energy(Z, T=-1), 'positive'),
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
