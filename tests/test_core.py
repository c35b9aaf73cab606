"""core: the mode switch, atomic writes, the validators and float64 probabilities (the run defaults: tests/test_datasets.py);
result (chapter 00b): several numbers in one Result, one convention for intervals."""
import os
from pathlib import Path
import numpy as np, pytest, torch
from hypothesis import given, strategies as st
from classification_vs_labeling.core import *
from classification_vs_labeling.core import _umask
from classification_vs_labeling.result import Result, interval

@pytest.mark.parametrize('v,exp', [('1', True), ('true', True), ('0', False), ('', False), ('no', False)])
def test_quick_mode_reads_cvl_quick(monkeypatch, v, exp):
    monkeypatch.setenv('CVL_QUICK', v)
    assert quick_mode() == exp

def test_atomic_path_keeps_whole_files_only(tmp_path):
    with atomic_path(tmp_path/'a.txt') as tmp: tmp.write_text('done')
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path/'b.txt') as tmp: tmp.write_text('half'); raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.txt']
    assert (tmp_path/'a.txt').read_text() == 'done'
    assert (tmp_path/'a.txt').stat().st_mode & 0o777 == 0o666 & ~_umask()   # the usual permissions, not mkstemp's private ones

def test_array_validators():
    assert check_probs(torch.tensor([[0.2, 0.8]])).dtype == np.float64
    assert (check_targets(np.eye(3)[[1, 2]], 2, 3) == np.eye(3, dtype=bool)[[1, 2]]).all()
    for f, msg in [(lambda: check_probs([[0.2, 1.3]]), '[0, 1]'), (lambda: check_probs([[0.2, float('nan')]]), 'NaN'),
                   (lambda: check_probs(np.zeros((0, 3))), 'empty'), (lambda: check_probs([0.2, 0.3]), '2-d'),
                   (lambda: check_probs([[0.2, 0.3]], n_classes=3), '3 classes'), (lambda: check_targets([0, 3], 2, 3), '[0, 3)'),
                   (lambda: check_targets([0], 2, 3), '2 targets'), (lambda: check_targets([[0, 2, 0]], 1, 3), 'multi-hot'),
                   (lambda: check_thresh(1.5), '[0, 1]'), (lambda: check_thresh([0.5, 0.5], n_classes=3), '3 per-class'),
                   (lambda: check_targets(torch.tensor([[1 - 1e-12, 0.]], dtype=torch.float64), 1, 2), 'multi-hot')]:
        with pytest.raises(ValueError) as e: f()
        assert msg in str(e.value) and '\n' not in str(e.value)
    assert check_thresh(0.5).shape == ()
    assert to_np(torch.tensor([1e-300], dtype=torch.float64))[0] == 1e-300   # no silent float32 rounding

@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf'), 1+2j, None, 'abc', '0.5', [1], np.array([1.]), True, np.bool_(False)])
def test_check_number_refuses_in_one_line(bad):
    with pytest.raises(ValueError) as e: check_number(bad, 'x')
    assert str(e.value).startswith('x: expected') and '\n' not in str(e.value)

@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.booleans(), st.booleans())
def test_check_number_bounds(x, a, b, lo_open, hi_open):
    lo, hi = min(a, b), max(a, b)
    inside = (x > lo or (x == lo and not lo_open)) and (x < hi or (x == hi and not hi_open))
    if inside: assert check_number(x, 'x', lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open) == x
    else:
        with pytest.raises(ValueError, match='x: expected a value in'): check_number(x, 'x', lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)

def test_check_int_and_fraction():
    assert check_number(np.float32(0.5), 'x') == 0.5 and check_int(np.int64(7), 'n') == 7 and isinstance(check_int(7.0, 'n'), int)
    with pytest.raises(ValueError, match='whole'): check_int(2.5, 'n')
    with pytest.raises(ValueError, match=r'\(0, inf\]'): check_number(0, 'x', lo=0, lo_open=True)
    for bad in (0, 1, 0.0, 1.0, -0.5): 
        with pytest.raises(ValueError, match=r'tune_frac: expected a value in \(0, 1\)'): check_fraction(bad, 'tune_frac')

def test_probabilities_are_float64_from_logits():
    z = np.array([[17., 18.]], np.float32)
    assert (np.float32(1)/(1 + np.exp(-z)) == 1).all()                        # float32 saturates and ties these two
    p = sigmoid_probs(z)
    assert p.dtype == np.float64 and p[0, 0] < p[0, 1] < 1
    np.testing.assert_allclose(softmax_probs([[0., 0.]]), [[0.5, 0.5]])
    np.testing.assert_allclose(softmax_probs(z), torch.softmax(torch.tensor(z, dtype=torch.float64), 1).numpy(), rtol=1e-12)
    assert softmax_probs(np.zeros((0, 3))).shape == (0, 3)                      # no out-of-domain items is fine
    with pytest.raises(ValueError, match='finite'): softmax_probs([[0., np.nan]])

def test_check_seeds():
    assert check_seeds(3) == [3] and check_seeds(np.arange(2)) == [0, 1] and check_seeds([2**32 - 1]) == [2**32 - 1]
    for bad, words in [([1, 1], 'distinct'), ([], 'one or more'), ([-1], r'\[0, 4294967295\]'), ([2**32], r'\[0, 4294967295\]'),
                       (['a'], 'real number'), ([1.5], 'whole number')]:
        with pytest.raises(ValueError, match='seeds: expected.*' + words): check_seeds(bad)
    with pytest.raises(ValueError, match='--seeds: expected'): check_seeds([0, 0], '--seeds')

def test_validators_never_raise_type_errors_or_cast_silently():
    for bad in [np.array([[0.2 + 1j, 0.8]]), [[0.2, 0.8j]], [[10**400, 1]], None, 'abc', [['a', 'b']]]:   # never a TypeError or a silent cast
        with pytest.raises(ValueError, match='probs: expected'): check_probs(bad)
    with pytest.raises(ValueError, match='n_classes'): check_targets([0, 1], 2, float('nan'))
    assert check_int(10**30, 'seed') == 10**30
    with pytest.raises(ValueError, match='x: expected a number that fits'): check_number(10**400, 'x')
    with pytest.raises(ValueError, match=r'seed: expected a value in \['): check_int(2**40, 'seed', hi=2**32-1)

def test_check_classes():
    for bad in ['aba', 3, ['a', None], [1.5], [''], [True], ['cat', 'dog', 'cat']]:
        with pytest.raises(ValueError, match='classes: expected'): check_classes(bad)
    assert check_classes(np.array(['a', 'b'])) == ['a', 'b'] and check_classes(range(3)) == ['0', '1', '2']

# ---------- probabilities where logits are expected (issue 23)

import warnings
from scipy.special import softmax as _sm, expit as _ex

def _logits(n=50, k=6, seed=0):
    rng = np.random.default_rng(seed)
    return 3*np.eye(k)[rng.integers(0, k, n)] + rng.normal(size=(n, k)) - 1

def test_check_logits_is_silent_on_logits_and_returns_check_scores():
    z = _logits()
    with warnings.catch_warnings():
        warnings.simplefilter('error')                      # any warning fails the test
        for kind in ('ce', 'bce'): np.testing.assert_array_equal(check_logits(z, kind=kind), check_scores(z))
        check_logits(torch.tensor(z, dtype=torch.float32), kind='ce')
    with pytest.raises(ValueError, match='logits: expected a 2-d array'): check_logits(z[0])
    with pytest.raises(ValueError, match="kind: expected 'ce' or 'bce'"): looks_like_probs(z, 'softmax')

@pytest.mark.parametrize('kind,probs,what', [('ce', lambda z: _sm(z, axis=1), 'softmax probabilities (every row in [0, 1], summing to 1)'),
                                             ('bce', lambda z: _ex(z), 'sigmoid probabilities (every value in [0, 1])'),
                                             ('bce', lambda z: _sm(z, axis=1), 'sigmoid probabilities'),   # any probabilities for the labeler
                                             ('ce', lambda z: torch.softmax(torch.tensor(z, dtype=torch.float32), 1), 'softmax')])
def test_check_logits_warns_on_probabilities_at_the_callers_line(kind, probs, what):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        check_logits(probs(_logits()), 'ce_logits', kind=kind, hint=', or from_logits=False')
    assert len(w) == 1 and w[0].category is UserWarning
    msg = str(w[0].message)
    assert msg.startswith('ce_logits: expected logits, got what look like') and what in msg
    assert '`learn.get_preds(act=noop)`' in msg and msg.endswith(', or from_logits=False')
    assert w[0].filename == __file__                          # the reader's own line, not the package's

def test_sigmoid_probabilities_do_not_pass_for_the_classifiers():
    # sigmoids do not sum to 1 across classes: as classifier logits they are odd, but not the mix-up we name
    assert not looks_like_probs(_ex(_logits()), 'ce') and looks_like_probs(_ex(_logits()), 'bce')
    assert not looks_like_probs(np.zeros((0, 3)), 'bce') and not looks_like_probs(_logits(), 'bce')

def test_a_warning_prints_once_per_line_in_a_loop():
    "Python's default filter shows a warning once per line: five seeds in a loop, one warning."
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('default')
        for seed in range(5): check_logits(_sm(_logits(seed=seed), axis=1))
    assert len(w) == 1
def test_legend_below_sits_under_the_axes_whatever_their_size():
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    for size in [(3, 2), (9, 6)]:
        fig, ax = plt.subplots(figsize=size)
        ax.plot([0, 1], [0, 1], label='a'); ax.plot([0, 1], [1, 0], label='b'); ax.set(xlabel='threshold')
        leg = legend_below(ax, ncol=1)
        fig.canvas.draw()
        lb, box, xl = leg.get_window_extent(), ax.get_window_extent(), ax.xaxis.label.get_window_extent()
        assert lb.y1 < xl.y0 < box.y0 and [t.get_text() for t in leg.get_texts()] == ['a', 'b']   # under the x label, the axes' own labels
        plt.close(fig)
    with pytest.raises(ValueError, match='ncol: expected'): legend_below(plt.subplots()[1], ncol=0)
    plt.close('all')


def test_committed_results_reads_the_clone_else_fetches_once(tmp_path, monkeypatch):
    "A chapter opened alone fetches the committed results it needs from GitHub, once; a failed fetch leaves no file and says what to do."
    import shutil, urllib.request
    import fastai.data.external as fde
    from classification_vs_labeling.core import committed_results, REPO_RAW
    repo = Path(__file__).resolve().parents[1]/'results'
    assert committed_results('sweep_quick', ['gaps.csv']) == repo/'sweep_quick'          # the clone's copy
    monkeypatch.setattr(fde, 'fastai_path', lambda what: tmp_path/what)
    asked = []
    def fake_get(url, dest):                  # a stand-in for GitHub: serves the repository's own files
        asked.append(url); shutil.copy(repo/url[len(REPO_RAW) + len('/results/'):], dest)
    monkeypatch.setattr(urllib.request, 'urlretrieve', fake_get)
    got = committed_results('sweep_quick', ['gaps.csv', 'seeds.csv'], where=[tmp_path/'none'])
    assert got == tmp_path/'data'/'cvl_results'/'sweep_quick'
    assert asked == [f'{REPO_RAW}/results/sweep_quick/{f}' for f in ('gaps.csv', 'seeds.csv')]
    assert (got/'gaps.csv').read_bytes() == (repo/'sweep_quick'/'gaps.csv').read_bytes()
    committed_results('sweep_quick', ['gaps.csv'], where=[]); assert len(asked) == 2       # fetched once
    def offline(url, dest): Path(dest).write_text('half'); raise OSError('no network')
    monkeypatch.setattr(urllib.request, 'urlretrieve', offline)
    with pytest.raises(ValueError, match=r'results/sweep_quick/grid.csv is not on this machine .*a clone'):
        committed_results('sweep_quick', ['grid.csv'], where=[])
    assert sorted(p.name for p in got.iterdir()) == ['gaps.csv', 'seeds.csv']              # no partial file left
# ---------- Result: several numbers, one convention for intervals (issue 23)

def test_result_reads_as_attributes_and_as_the_dict_it_replaces():
    import json, pickle
    r = Result('paired_bootstrap', {'low': ('ci', 0), 'high': ('ci', 1), 'diff_ci': ('ci', None)}, diff=0.25, ci=interval([0.1, 0.4]), n=8)
    assert (r.diff, r['diff'], r.ci, r['low'], r['high'], r['diff_ci']) == (0.25, 0.25, (0.1, 0.4), 0.1, 0.4, (0.1, 0.4))
    assert isinstance(r, dict) and r == {'diff': 0.25, 'ci': (0.1, 0.4), 'n': 8} and list(r) == ['diff', 'ci', 'n']   # old names aside
    assert r.to_dict() == dict(r) and type(r.to_dict()) is dict
    assert r.to_frame().to_dict('records') == [{'diff': 0.25, 'ci_low': 0.1, 'ci_high': 0.4, 'n': 8}]
    assert repr(r) == 'paired_bootstrap(diff=0.25, ci=(0.1, 0.4), n=8)'
    assert pickle.loads(pickle.dumps(r)) == r and pickle.loads(pickle.dumps(r))['low'] == 0.1 and repr(pickle.loads(pickle.dumps(r))) == repr(r)
    assert json.loads(json.dumps(r)) == {'diff': 0.25, 'ci': [0.1, 0.4], 'n': 8}
    with pytest.raises(AttributeError, match="paired_bootstrap has no 'p'; it has diff, ci, n"): r.p
    with pytest.raises(KeyError): r['p']
    with pytest.raises(AttributeError, match='not as an attribute'): r.diff = 1
    assert interval(np.array([1, 2])) == (1.0, 2.0) and type(interval([1, 2])[0]) is float

def test_every_function_with_several_numbers_returns_a_result_and_intervals_are_ci():
    "One convention in the public API: a Result, its headline interval `ci` = (low, high), another's `<name>_ci`, the level `level`."
    from classification_vs_labeling import metrics as M, thresholds as TH, ood as O, conformal as CF, count as CT
    rng = np.random.default_rng(0)
    a, b = rng.random(50) < 0.8, rng.random(50) < 0.7
    s_in, s_out = rng.normal(1, 1, 40), rng.normal(0, 1, 30)
    p, y = rng.dirichlet(np.ones(3), 60), rng.integers(0, 3, 60)
    tune = TH.tune_split(60, 0.5, seed=0)
    got = {'paired_bootstrap': M.paired_bootstrap(a, b, n_boot=50), 'auroc_diff': O.auroc_diff(s_in, s_out, s_in + 0.1, s_out, n_boot=50),
           'matched_refusal': O.matched_refusal(s_in/5 + 0.5, s_in/5 + 0.4, s_out/5 + 0.5, s_out/5 + 0.4, 0.5, n_boot=50),
           'seed_summary': M.seed_summary([0.1, 0.2]), 'prf': M.prf(p, y), 'accuracy_summary': M.accuracy_summary(p, y),
           'fit_conformal': CF.fit_conformal(p, y), 'set_stats': CF.set_stats(p > 0.3, y),
           'conformal_summary': CF.conformal_summary(p, p, y, tune, from_logits=False),
           'set_metrics': CT.set_metrics(p > 0.3, np.eye(3)[y]), 'error_kinds': CT.error_kinds(p > 0.3, np.eye(3)[y])}
    for name, r in got.items():
        assert isinstance(r, Result) and repr(r).startswith(name + '(') and len(r.to_frame()) >= 1, name
        cis = {k: v for k, v in r.items() if k == 'ci' or k.endswith('_ci')}
        assert all(isinstance(v, tuple) and len(v) == 2 and v[0] <= v[1] for v in cis.values()), name
        assert not {'low', 'high', 'diff_ci'} & set(r), name            # the old names only as aliases
        if cis: assert r.level == 0.95 and r.ci[0] <= r.diff <= r.ci[1], name
    t = got['conformal_summary'].to_frame()
    assert list(t.index) == list(CF.NAMES) and t.loc['ce.lac', 'coverage'] == got['conformal_summary']['ce.lac.coverage']
    assert 'ce.lac' in repr(got['conformal_summary'])
    assert list(M.gap_decomposition(p, p, y, 0.3, n_boot=20).columns) == ['what', 'value', 'ci_low', 'ci_high']   # a table: two columns
