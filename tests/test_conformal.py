"""Tests for classification_vs_labeling.conformal and classification_vs_labeling.coverage (chapter 08 and its 08a): cross-checks with MAPIE 1.x and brute-force loops, the coverage
guarantee over many random splits, and properties."""
import math, warnings
from fractions import Fraction
import numpy as np, pandas as pd, pytest
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from hypothesis import given, settings, strategies as st, HealthCheck
from scipy.special import softmax, expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedShuffleSplit
from mapie.classification import SplitConformalClassifier
from mapie.risk_control import MultiLabelClassificationController
from classification_vs_labeling.conformal import *
from classification_vs_labeling.coverage import *
from classification_vs_labeling.metrics import simulate_preds
from classification_vs_labeling.thresholds import best_threshold, tune_split

def rand_probs(rng, n, k, conc=1.): return rng.dirichlet(np.full(k, conc), n)

def sim(n=2000, k=10, seed=0):
    "Simulated single-label predictions (targs, classifier softmax, labeler sigmoids), about 85% accurate."
    return simulate_preds(n=n, k=k, seed=seed, signal=3.0, class_shift=0.5)

# ---------- alpha, the rank k and the quantile

@pytest.mark.parametrize('alpha', [0.1, 0.5, 1e-9, 0.999999, np.float32(0.2), np.float64(0.05), Fraction(1, 10)])
def test_check_alpha_accepts_numbers_strictly_between_0_and_1(alpha):
    assert check_alpha(alpha) == pytest.approx(float(alpha)) and isinstance(check_alpha(alpha), float)

@pytest.mark.parametrize('alpha', [0, 1, 0.0, 1.0, -0.1, 1.5, float('nan'), float('inf'), True, False, np.bool_(True),
                                   '0.1', 0.1+0j, complex(0.1, 0), None, [0.1], np.array([0.1])])
def test_check_alpha_refuses_in_one_line(alpha):
    with pytest.raises(ValueError) as e: check_alpha(alpha)
    msg = str(e.value)
    assert msg.startswith('alpha: expected a number strictly between 0 and 1') and repr(alpha)[:20] in msg and '\n' not in msg
    with pytest.raises(ValueError, match='^alphas:'): check_alpha(alpha, 'alphas')

@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 5000), digits=st.integers(1, 999), scale=st.sampled_from([100, 1000]))
def test_conformal_rank_is_exact_for_decimal_alphas(n, digits, scale):
    alpha = Fraction(digits % scale or 1, scale)   # 0.01 .. 0.99 or 0.001 .. 0.999, written as decimals
    exact = math.ceil((n + 1)*(1 - alpha))         # in exact arithmetic, not floats
    assert conformal_rank(n, float(alpha)) == exact

def test_conformal_rank_refuses_bad_n():
    for n in (0, -3, 2.5, True, '10', None):
        with pytest.raises(ValueError, match='n: expected'): conformal_rank(n, 0.1)

@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 300), alpha=st.floats(0.001, 0.999), seed=st.integers(0, 2**16))
def test_conformal_quantile_is_the_kth_smallest(n, alpha, seed):
    s = np.random.default_rng(seed).normal(size=n)
    k = conformal_rank(n, alpha)
    q = conformal_quantile(s, alpha)
    if k > n: assert q == float('inf')
    else:
        assert q == np.sort(s)[k-1]
        assert q == np.quantile(s, k/n, method='lower')    # the same number, as numpy's quantile
        assert (s <= q).sum() == k                          # exactly k calibration scores at or below the cut

def test_conformal_quantile_refuses_bad_scores():
    for bad, msg in [([], 'non-empty 1-D scores'), ([[.1, .2]], 'non-empty 1-D scores'), ([.1, np.nan], 'NaN'), ([.1, np.inf], 'NaN or infinite'),
                     (['a'], 'expected numbers')]:
        with pytest.raises(ValueError, match=msg): conformal_quantile(bad, 0.1)
    with pytest.raises(ValueError, match='alpha'): conformal_quantile([.1, .2], 0)

# ---------- scores and sets, against plain loops

def aps_loop(probs, lam=0., k_reg=0):
    "Reference: per item and class, by hand: the sum of the probabilities ranked at or above it, plus the RAPS penalty."
    out = np.zeros(probs.shape)
    for i, p in enumerate(probs):
        order = sorted(range(len(p)), key=lambda j: (-p[j], j))
        for r, j in enumerate(order, start=1):
            out[i, j] = sum(p[order[:r]]) + lam*max(0, r - k_reg)
    return out

def aps_sets_loop(probs, q, lam=0., k_reg=0):
    "Reference: add classes in order of probability until the running score reaches q; that class is in too."
    out = np.zeros(probs.shape, bool)
    for i, p in enumerate(probs):
        order = sorted(range(len(p)), key=lambda j: (-p[j], j))
        total = 0.
        for r, j in enumerate(order, start=1):
            out[i, j] = True
            total += p[j]
            if total + lam*max(0, r - k_reg) >= q: break
    return out

@pytest.mark.parametrize('k,lam,k_reg', [(3, 0., 0), (10, 0., 0), (10, 0.1, 2), (37, 0.01, 5), (5, 0.5, 0)])
def test_aps_scores_and_sets_match_loops(k, lam, k_reg):
    rng = np.random.default_rng(k)
    p = rand_probs(rng, 60, k, 0.5)
    s = aps_scores(p, lam=lam, k_reg=k_reg)
    np.testing.assert_allclose(s, aps_loop(p, lam, k_reg), atol=1e-12)
    for q in np.quantile(s, [0.05, 0.3, 0.6, 0.9]):
        np.testing.assert_array_equal(aps_sets(p, q, lam=lam, k_reg=k_reg), aps_sets_loop(p, q, lam, k_reg))

def test_lac_and_threshold_sets_match_a_loop():
    rng = np.random.default_rng(1)
    p = rand_probs(rng, 50, 6, 0.7)
    for q in (0.2, 0.6, 0.95):
        ref = np.array([[1 - p[i, j] <= q for j in range(6)] for i in range(50)])
        np.testing.assert_array_equal(threshold_sets(lac_scores(p), q), ref)
    np.testing.assert_array_equal(true_scores(lac_scores(p), np.arange(50) % 6), 1 - p[np.arange(50), np.arange(50) % 6])
    np.testing.assert_array_equal(true_scores(lac_scores(p), np.eye(6)[np.arange(50) % 6]), true_scores(lac_scores(p), np.arange(50) % 6))

def test_aps_randomised_score_subtracts_u_times_own_probability():
    p = rand_probs(np.random.default_rng(2), 20, 4)
    u = np.linspace(0, 1, 20)
    np.testing.assert_allclose(aps_scores(p, u=u), aps_scores(p) - u[:, None]*p, atol=1e-15)
    np.testing.assert_allclose(aps_scores(p, u=np.zeros(20)), aps_scores(p))
    with pytest.raises(ValueError, match='20 numbers in'): aps_scores(p, u=np.ones(19))
    with pytest.raises(ValueError, match=r'\[0, 1\]'): aps_scores(p, u=np.full(20, 1.5))

@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), k=st.integers(2, 12), lam=st.sampled_from([0., 0.01, 0.3]), k_reg=st.integers(0, 3),
       q1=st.floats(0, 2), q2=st.floats(0, 2))
def test_set_properties(seed, k, lam, k_reg, q1, q2):
    p = rand_probs(np.random.default_rng(seed), 40, k, 0.3)
    lo, hi = min(q1, q2), max(q1, q2)
    a_lo, a_hi = aps_sets(p, lo, lam=lam, k_reg=k_reg), aps_sets(p, hi, lam=lam, k_reg=k_reg)
    assert a_lo.any(1).all()                           # APS (our convention) never gives an empty set
    assert (a_lo <= a_hi).all()                        # a higher cut only adds classes
    s = aps_scores(p, lam=lam, k_reg=k_reg)
    assert ((s <= lo) <= a_lo).all()                   # it holds TorchCP's sets (score <= q)...
    assert (a_lo.sum(1) - (s <= lo).sum(1) <= 1).all() # ...plus at most the one class that reaches q
    l_lo, l_hi = threshold_sets(lac_scores(p), lo), threshold_sets(lac_scores(p), hi)
    assert (l_lo <= l_hi).all()
    np.testing.assert_array_equal(l_lo, p >= 1 - lo)
    assert aps_sets(p, float('inf'), lam=lam, k_reg=k_reg).all() and threshold_sets(lac_scores(p), float('inf')).all()

def test_sets_refuse_bad_inputs():
    p = rand_probs(np.random.default_rng(0), 5, 3)
    for q in (np.nan, 'x', None, True):
        with pytest.raises(ValueError, match='q: expected'): aps_sets(p, q)
        with pytest.raises(ValueError, match='q: expected'): threshold_sets(lac_scores(p), q)
    with pytest.raises(ValueError, match='lam'): aps_scores(p, lam=np.inf)
    with pytest.raises(ValueError, match='k_reg'): aps_scores(p, k_reg=1.5)
    with pytest.raises(ValueError, match='k_reg'): aps_sets(p, 0.5, k_reg=-1)
    with pytest.raises(ValueError, match=r'probs: expected probabilities in \[0, 1\]'): aps_scores(p + 1)
    with pytest.raises(ValueError, match='one true class per item'): true_scores(p, [[1, 1, 0]]*5)

# ---------- fitting

def test_fit_raps_by_hand():
    y, p, _ = sim(400, 8, seed=3)
    lam, k_reg = fit_raps(p, y, alpha=0.1)
    rank = np.array([1 + (p[i] > p[i, y[i]]).sum() for i in range(len(p))])   # continuous probabilities: no ties
    assert k_reg == np.sort(rank)[conformal_rank(len(p), 0.1) - 1]
    sizes = []
    for l in RAPS_LAMS:
        q = conformal_quantile(aps_scores(p, lam=l, k_reg=k_reg)[np.arange(len(p)), y], 0.1)
        sizes.append(aps_sets_loop(p, q, l, k_reg).sum(1).mean())
    assert lam == RAPS_LAMS[int(np.argmin(sizes))]
    assert fit_raps(p[:5], y[:5], alpha=0.01)[1] == 8   # no finite rank at this alpha: every rank unpenalised

def test_fit_conformal_raps_keeps_its_parameter_items_apart():
    y, p, _ = sim(500, 6, seed=4)
    f = fit_conformal(p, y, method='raps', alpha=0.1, raps_frac=0.2, seed=7)
    apart = tune_split(500, 0.2, seed=7, strat=y)
    assert (f['lam'], f['k_reg']) == fit_raps(p[apart], y[apart], alpha=0.1) and f['n'] == (~apart).sum()
    s = aps_scores(p[~apart], lam=f['lam'], k_reg=f['k_reg'])[np.arange(f['n']), y[~apart]]
    assert f['q'] == conformal_quantile(s, 0.1)
    for m in METHODS: assert fit_conformal(p, y, method=m, alpha=0.2)['method'] == m

# ---------- cross-checks against MAPIE 1.x

class PassThrough(ClassifierMixin, BaseEstimator):
    "A 'fitted' classifier whose predict_proba returns its input: MAPIE then conformalises our saved probabilities."
    def __init__(self, n_classes=10): self.n_classes = n_classes
    def fit(self, X, y=None): self.classes_ = np.arange(self.n_classes); return self
    def predict_proba(self, X): return np.asarray(X, dtype=np.float64)
    def predict(self, X): return np.asarray(X).argmax(1)

def mapie_fit(score, p_cal, y_cal, alphas, seed):
    m = SplitConformalClassifier(PassThrough(p_cal.shape[1]).fit(p_cal, y_cal), confidence_level=[1 - a for a in alphas],
                                 conformity_score=score, prefit=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        m.conformalize(p_cal, y_cal)
    return m, m._mapie_classifier.conformity_score_function_

ALPHAS_MAPIE = [0.05, 0.1, 0.2]
CASES = [(0, 10, 400), (1, 3, 300), (2, 37, 1000)]

@pytest.mark.parametrize('seed,k,n', CASES)
def test_lac_matches_mapie(seed, k, n):
    y, p, _ = sim(n + 500, k, seed)
    m, cs = mapie_fit('lac', p[:n], y[:n], ALPHAS_MAPIE, seed)
    _, mapie_sets = m.predict_set(p[n:])
    for i, a in enumerate(ALPHAS_MAPIE):
        f = fit_conformal(p[:n], y[:n], method='lac', alpha=a)
        assert f['q'] == pytest.approx(cs.quantiles_[i], abs=1e-12)
        assert np.abs(lac_scores(p[n:]) - f['q']).min() > 1e-8   # MAPIE compares with a 1e-8 slack: no score that close here
        np.testing.assert_array_equal(conformal_sets(p[n:], f), mapie_sets[:, :, i])

@pytest.mark.parametrize('seed,k,n', CASES)
def test_aps_matches_mapie_given_its_random_draws(seed, k, n):
    # MAPIE always randomises the APS calibration score: s = (total up to and including the true class) - u * p(true),
    # with u = RandomState(random_state).uniform(size=n). Given the same u, our quantile and our sets (MAPIE's default
    # include_last_label=True: the class that reaches q is in, never an empty set) are MAPIE's.
    y, p, _ = sim(n + 500, k, seed)
    m, cs = mapie_fit('aps', p[:n], y[:n], ALPHAS_MAPIE, seed)
    _, mapie_sets = m.predict_set(p[n:])
    u = np.random.RandomState(seed).uniform(size=n)
    for i, a in enumerate(ALPHAS_MAPIE):
        q = conformal_quantile(true_scores(aps_scores(p[:n], u=u), y[:n]), a)
        assert q == pytest.approx(cs.quantiles_[i], abs=1e-12)
        np.testing.assert_array_equal(aps_sets(p[n:], q), mapie_sets[:, :, i])
        assert mapie_sets[:, :, i].any(1).all()

@pytest.mark.parametrize('seed,k,n', CASES)
def test_raps_matches_mapie_given_its_split_draws_and_lambda(seed, k, n):
    # MAPIE keeps a stratified share of the conformalisation items apart to choose k_star and lambda_star. Its
    # RAPSConformityScore resets size_raps to None when the classifier sets it up, so the share is sklearn's default
    # test_size, 0.1, not the documented 0.2. Its lambda search also builds the sets with k_reg = lambda (raps.py,
    # _add_regularization outside the prediction phase), so we take its lambda_star as given and compare the rest:
    # the same k_reg from the same items, the same quantile and the same sets.
    y, p, _ = sim(n + 500, k, seed)
    m, cs = mapie_fit('raps', p[:n], y[:n], ALPHAS_MAPIE, seed)
    _, mapie_sets = m.predict_set(p[n:])
    rest, apart = next(StratifiedShuffleSplit(n_splits=1, test_size=0.1, random_state=seed).split(p[:n], y[:n]))
    u = np.random.RandomState(seed).uniform(size=len(rest))
    for i, a in enumerate(ALPHAS_MAPIE):
        lam, k_star = float(np.atleast_1d(cs.lambda_star)[i]), int(np.atleast_1d(cs.k_star)[i])
        assert fit_raps(p[:n][apart], y[:n][apart], alpha=a)[1] == k_star
        q = conformal_quantile(true_scores(aps_scores(p[:n][rest], lam=lam, k_reg=k_star, u=u), y[:n][rest]), a)
        assert q == pytest.approx(cs.quantiles_[i], abs=1e-12)
        np.testing.assert_array_equal(aps_sets(p[n:], q, lam=lam, k_reg=k_star), mapie_sets[:, :, i])

def test_mapie_takes_the_float_rank_at_face_value():
    # 150 * (1 - 0.18) is 123.00000000000001 in floats: MAPIE's ceil gives 124, one calibration score further up
    # (still valid, slightly larger sets); we read it as the 123 it means.
    y, p, _ = sim(149 + 100, 5, seed=5)
    m, cs = mapie_fit('lac', p[:149], y[:149], [0.18], 0)
    m.predict_set(p[149:])                                # MAPIE computes its quantile when it predicts
    s = np.sort(true_scores(lac_scores(p[:149]), y[:149]))
    assert conformal_quantile(s, 0.18) == s[122] and cs.quantiles_[0] == pytest.approx(s[123], abs=1e-12)

def mapie_recall_cut(p_cal, y_cal, alpha):
    "MAPIE's conformal risk control of recall on the labeler's sigmoids, with a grid holding every cut that matters."
    k = p_cal.shape[1]
    grid = np.nextafter(np.unique(p_cal[np.arange(len(p_cal)), y_cal]), -np.inf)   # just below each true-class sigmoid
    m = MultiLabelClassificationController(predict_function=lambda X: X, risk='recall', method='crc', target_level=1 - alpha,
                                           predict_params=grid)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        m.calibrate(p_cal, np.eye(k, dtype=int)[y_cal])
    return m

@pytest.mark.parametrize('seed,n,alpha', [(0, 250, 0.1), (1, 250, 0.05), (2, 120, 0.2), (3, 400, 0.13)])
def test_labeler_conformal_cut_matches_mapie_recall_control(seed, n, alpha):
    # For one true class per item, recall is "the true class is in the set", and CRC's rule (n/(n+1)) R + 1/(n+1) <= alpha
    # allows floor((n+1) alpha - 1) misses: the split conformal cut. MAPIE predicts p > lambda, we p >= 1 - q.
    assert ((n + 1)*alpha) % 1 != 0   # MAPIE tests that rule with '<': the two differ when (n+1) alpha is whole (below)
    y, _, lab = sim(n + 400, 10, seed)
    m = mapie_recall_cut(lab[:n], y[:n], alpha)
    f = fit_conformal(lab[:n], y[:n], method='lac', alpha=alpha)
    pt = lab[np.arange(n), y[:n]]
    cut = pt[1 - pt == f['q']]                             # the true-class sigmoid at the cut (1 - (1 - p) need not be p in floats)
    assert len(cut) == 1 and m.best_predict_param[0] == np.nextafter(cut[0], -np.inf)
    np.testing.assert_array_equal(m.predict(lab[n:])[:, :, 0], conformal_sets(lab[n:], f))

def test_labeler_cut_when_n_plus_1_times_alpha_is_whole():
    y, _, lab = sim(199 + 400, 10, seed=0)
    n, alpha = 199, 0.1                                   # (n+1) alpha = 20: we allow 19 misses, MAPIE 18
    m = mapie_recall_cut(lab[:n], y[:n], alpha)
    f = fit_conformal(lab[:n], y[:n], method='lac', alpha=alpha)
    pt = lab[np.arange(n), y[:n]]
    assert (pt < 1 - f['q']).sum() == 19 and (pt <= m.best_predict_param[0]).sum() == 18

# ---------- the guarantee: many random splits of the same predictions

@pytest.mark.parametrize('alpha', [0.05, 0.1, 0.2])
def test_mean_coverage_is_at_least_1_minus_alpha(alpha):
    y, ce, lab = sim(2000, 10, seed=11)
    cov = coverage_over_splits(ce, lab, y, alpha=alpha, n_splits=300, seed=100)
    assert list(cov.columns) == list(NAMES) and len(cov) == 300
    for k in ('ce.lac', 'ce.aps', 'ce.raps', 'bce.conformal'):
        assert cov[k].mean() >= 1 - alpha - 3*cov[k].sem(), (k, cov[k].mean(), cov[k].sem())

def test_lac_coverage_is_k_over_n_plus_1_and_no_more():
    # With continuous scores and random splits, the expected held-out coverage of the k-th smallest cut is exactly
    # k/(n+1) (the new score is equally likely in each of the n+1 gaps). With 100 tuning items the next score up,
    # (k+1)/(n+1), is a full point higher, so this tells the exact rank from a rank one too high.
    y, ce, lab = sim(2000, 10, seed=12)
    cov = coverage_over_splits(ce, lab, y, alpha=0.1, n_splits=400, tune_frac=0.05, seed=0)
    k = conformal_rank(100, 0.1)
    for c in ('ce.lac', 'bce.conformal'):
        mean, se = cov[c].mean(), cov[c].sem()
        assert abs(mean - k/101) < 3.5*se and abs(mean - (k + 1)/101) > 3.5*se, (c, mean, se)

# ---------- held-out sets, the summary for the report, curves

def test_conformal_summary_matches_its_parts():
    y, ce, lab = sim(800, 7, seed=6)
    ce_logits, bce_logits = np.log(ce), np.log(lab) - np.log1p(-lab)   # logits that give back these probabilities
    tune = tune_split(800, 0.5, seed=0, strat=y)
    s = conformal_summary(ce_logits, bce_logits, y, tune, alpha=0.1)
    sets, fits = held_out_sets(softmax(ce_logits, axis=1), expit(bce_logits), y, tune, alpha=0.1)
    assert list(sets) == list(NAMES)
    for k, v in sets.items():
        assert v.shape == ((~tune).sum(), 7)
        for stat, x in set_stats(v, y[~tune]).items(): assert s[f'{k}.{stat}'] == pytest.approx(x, abs=1e-12)
    assert s['bce.thresh.thresh'] == best_threshold(lab[tune], y[tune], metric='exact_match')
    assert s['ce.lac.q'] == fit_conformal(ce[tune], y[tune], alpha=0.1)['q'] and s['conformal.alpha'] == 0.1
    assert all(isinstance(v, float) for k, v in s.items() if k != 'ce.raps.k_reg')
    p = conformal_summary(ce, lab, y, tune, alpha=0.1, from_logits=False)
    assert p.keys() == s.keys() and all(p[k] == pytest.approx(s[k], abs=1e-9) for k in s)
    assert conformal_summary(ce, lab, y, tune, thresh=0.3, from_logits=False)['bce.thresh.coverage'] == \
        pytest.approx((lab[~tune][np.arange((~tune).sum()), y[~tune]] > 0.3).mean())
    assert s['ce.aps.empty_rate'] == s['ce.raps.empty_rate'] == 0

def test_conformal_summary_refuses_bad_inputs():
    y, ce, lab = sim(100, 4, seed=1)
    tune = np.arange(100) < 50
    for bad, msg in [(dict(alpha=0), '^alpha:'), (dict(alpha=float('nan')), '^alpha:'), (dict(alpha=True), '^alpha:'),
                     (dict(thresh=1.5), 'thresh'), (dict(thresh=[.5]*4), 'one threshold')]:
        with pytest.raises(ValueError, match=msg): conformal_summary(ce, lab, y, tune, from_logits=False, **bad)
    for mask, msg in [(tune.astype(int), 'bools'), (tune[:99], r'\(100,\)'), (np.ones(100, bool), 'both parts')]:
        with pytest.raises(ValueError, match='tune_mask: expected.*' + msg): conformal_summary(ce, lab, y, mask, from_logits=False)
    with pytest.raises(ValueError, match="classifier's shape"): conformal_summary(ce, lab[:, :3], y, tune, from_logits=False)
    with pytest.raises(ValueError, match='ce_probs'): conformal_summary(ce + 1, lab, y, tune, from_logits=False)
    with pytest.raises(ValueError, match='bce_logits: expected finite'): conformal_summary(ce, lab*np.inf, y, tune)

def test_coverage_size_curves_and_plot():
    y, ce, lab = sim(600, 5, seed=2)
    tune = tune_split(600, 0.5, seed=1, strat=y)
    alphas, threshs = [0.05, 0.1, 0.3], np.linspace(0.1, 0.9, 9)
    c = coverage_size_curves(ce, lab, y, tune, alphas=alphas, threshs=threshs)
    assert len(c) == 4*len(alphas) + len(threshs)
    s = conformal_summary(ce, lab, y, tune, alpha=0.1, from_logits=False)
    at = c[c.param == 0.1].set_index('method')
    for k in ('ce.lac', 'ce.aps', 'ce.raps', 'bce.conformal'):
        assert at.loc[k, 'coverage'] == s[f'{k}.coverage'] and at.loc[k, 'mean_set_size'] == s[f'{k}.mean_set_size']
    sw = c[c.method == 'bce.thresh']
    pt = lab[~tune][np.arange((~tune).sum()), y[~tune]]
    np.testing.assert_allclose(sw.coverage, [(pt > t).mean() for t in threshs])
    ax = plot_coverage_size(c, alpha=0.1, thresh=0.5, title='seed 0 (one seed)')
    assert isinstance(ax, plt.Axes) and len(ax.get_legend().get_texts()) == 6 and ax.get_title() == 'seed 0 (one seed)'
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    for k in ('ce.lac', 'bce.conformal'):                           # each method's values at alpha, in its legend entry
        assert f"{NAMES[k]} (star: coverage {s[f'{k}.coverage']:.3f}, size {s[f'{k}.mean_set_size']:.2f})" in texts
    p5 = sw[np.isclose(sw.param, 0.5)].iloc[0]
    assert f'labeler, threshold sweep (dot: coverage {p5.coverage:.3f}, size {p5.mean_set_size:.2f})' in texts
    line = {l.get_label().split(' (')[0]: l for l in ax.lines}
    lac, cut, thr = line[NAMES['ce.lac']], line[NAMES['bce.conformal']], line['labeler, threshold sweep']
    assert lac.get_zorder() < min(cut.get_zorder(), thr.get_zorder()) and lac.get_linewidth() >= 3*cut.get_linewidth()   # LAC under the labeler's lines
    assert lac.get_alpha() < 1 and thr.get_linestyle() == '--'
    ax.figure.canvas.draw()
    assert ax.get_legend().get_window_extent().y1 < ax.get_window_extent().y0   # the legend under the axes, off the curves
    plt.close(ax.figure)
    with pytest.raises(ValueError, match='coverage_size_curves'): plot_coverage_size(pd.DataFrame(dict(x=[1])))
    with pytest.raises(ValueError, match='^alphas:'): coverage_size_curves(ce, lab, y, tune, alphas=[0.1, 1.0])

def test_coverage_by_class_and_size_against_pandas():
    rng = np.random.default_rng(3)
    sets = rng.random((300, 6)) < 0.3
    y = rng.integers(0, 6, 300)
    hit = sets[np.arange(300), y]
    by_class = coverage_by_class(sets, y, list('abcdef'))
    np.testing.assert_allclose(by_class.values, pd.Series(hit).groupby(y).mean().reindex(range(6)).values)
    assert list(by_class.index) == list('abcdef')
    by_size = coverage_by_size(sets, y)
    ref = pd.DataFrame(dict(size=sets.sum(1), hit=hit)).groupby('size').hit.agg(['size', 'mean'])
    np.testing.assert_array_equal(by_size.n_items, ref['size']); np.testing.assert_allclose(by_size.coverage, ref['mean'])
    assert np.isnan(coverage_by_class(sets[y != 2], y[y != 2])[2])   # a class with no items: no coverage to report
    with pytest.raises(ValueError, match='6 names'): coverage_by_class(sets, y, list('abc'))
    with pytest.raises(ValueError, match='bool'): coverage_by_size(sets.astype(float), y)
    fig = plot_set_diagnostics({'ce.lac': sets, 'mine': ~sets}, y, list('abcdef'), alpha=0.1, title='seed 0 (one seed)')
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 3 and fig._suptitle.get_text() == 'seed 0 (one seed)'
    (leg,) = fig.legends
    assert [t.get_text() for t in leg.get_texts()] == [NAMES['ce.lac'], 'mine', '1 - alpha = 0.90']
    assert sum(b.get_height() for b in fig.axes[0].patches) == 2*300   # the left panel counts items: each method's bars add up to 300
    fig.canvas.draw()
    assert leg.get_window_extent().y1 <= min(a.get_tightbbox().y0 for a in fig.axes) + 1   # under the panels and their tick labels
    xs = {round(float(x)) for l in fig.axes[2].lines if l.get_marker() == 'x' for x in l.get_xdata()}   # x: the set sizes few items have
    expect = {int(k) for s_ in (sets, ~sets) for k, n in coverage_by_size(s_, y).n_items.items() if n < 10}
    assert xs == expect and expect                                    # this data has sizes held by few items
    plt.close(fig)

def test_raps_on_too_few_items_to_keep_some_apart_is_aps():
    "A blog-size tuning part (3 items) cannot spare any for lam and k_reg: RAPS falls back to APS (lam 0), and a report can still be written."
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]); y = np.array([0, 1, 2])
    f = fit_conformal(p, y, method='raps', alpha=0.3)
    assert f['lam'] == 0 and f['n'] == 3 and f['q'] == fit_conformal(p, y, method='aps', alpha=0.3)['q']

# ---------- APS randomised as MAPIE does by default, or not (issue 23)

@pytest.mark.parametrize('seed,k,n', CASES)
def test_randomized_aps_gives_mapies_default_cut_and_sets(seed, k, n):
    y, p, _ = sim(n + 500, k, seed)
    m, cs = mapie_fit('aps', p[:n], y[:n], ALPHAS_MAPIE, seed)
    _, mapie_sets = m.predict_set(p[n:])
    for i, a in enumerate(ALPHAS_MAPIE):
        f = fit_conformal(p[:n], y[:n], method='aps', alpha=a, seed=seed, randomized=True)
        assert f['randomized'] and f['q'] == pytest.approx(cs.quantiles_[i], abs=1e-12)
        np.testing.assert_array_equal(conformal_sets(p[n:], f), mapie_sets[:, :, i])
        plain = fit_conformal(p[:n], y[:n], method='aps', alpha=a)       # the default: the whole p(true class) counts
        assert not plain['randomized'] and plain['q'] >= f['q']
        assert conformal_sets(p[n:], plain).sum() >= mapie_sets[:, :, i].sum()   # larger cut, larger (or equal) sets

def test_randomized_changes_nothing_for_lac_and_checks_its_flag():
    y, p, _ = sim(600, 10, 0)
    assert fit_conformal(p, y, method='lac', randomized=True) == fit_conformal(p, y, method='lac')
    with pytest.raises(ValueError, match='randomized: expected True or False'): fit_conformal(p, y, method='aps', randomized='yes')

def test_on_a_confident_model_plain_aps_sets_are_much_larger_than_mapies():
    "The issue saw mean sizes 6.28 (ours) against 4.19 (MAPIE) at alpha 0.1: a confident classifier, most p(true) near 1."
    rng = np.random.default_rng(0)
    n, k = 1200, 8
    y = rng.integers(0, k, n)
    p = softmax(4*(2.5*np.eye(k)[y] + rng.normal(size=(n, k))), axis=1)     # 84% right, half the items at p > 0.99
    tune = tune_split(n, 0.5, seed=0)
    sizes = {}
    for r in (False, True):
        s = conformal_summary(p, p, y, tune, alpha=0.1, from_logits=False, randomized=r)
        sizes[r] = (s['ce.aps.mean_set_size'], s['ce.aps.coverage'])
    m, _ = mapie_fit('aps', p[tune], y[tune], [0.1], 0)
    _, ms = m.predict_set(p[~tune])
    assert sizes[True][0] == pytest.approx(ms[:, :, 0].sum(1).mean())   # randomized=True: MAPIE's sets, seed 0
    assert sizes[False][0] > 1.5*sizes[True][0] and min(sizes[False][1], sizes[True][1]) >= 0.9 - 0.03

def test_conformal_summary_warns_when_its_logits_are_probabilities():
    y, p, lab = sim(600, 10, 0)
    tune = tune_split(600, 0.5, seed=0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        conformal_summary(p, lab, y, tune)                  # from_logits=True by default: softmax twice, without a word before
    msgs = [str(x.message) for x in w]
    assert len(msgs) == 2 and all(m.endswith('or probabilities with from_logits=False') for m in msgs)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        conformal_summary(p, lab, y, tune, from_logits=False)
