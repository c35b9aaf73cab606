"""Chapter 12's prose quotes the committed quick-mode sweep (results/sweep_quick): every number it quotes is checked
here against the sweep's files, to the rounding the prose uses, so that a new run of the sweep fails here instead of
leaving the text stale. These checks were the chapter's last section ("The claims above, checked"); they moved here
as they were, reading the same files the chapter reads, and each quoted interval is also looked for in the prose."""
import json, re
import numpy as np, pandas as pd
from functools import partial
from helpers import stored_prose
from classification_vs_labeling.core import committed_results

def _committed():
    res = committed_results('sweep_quick', ['gaps.csv', 'seeds.csv', 'epochs.csv', 'grid.csv', 'report.md', 'sweep.json'])
    return res, {k: pd.read_csv(res/f'{k}.csv') for k in ('gaps', 'seeds', 'epochs', 'grid')}

prose = partial(stored_prose, '12_sweep')


def test_the_chapters_numbers_are_the_committed_sweeps():
    from fastcore.test import test_eq, test_close   # here, so pytest does not collect them as tests
    res, committed = _committed()
    g, sw = committed['gaps'].set_index(['epochs', 'setting']), json.loads((res/'sweep.json').read_text())
    s = committed['seeds'].groupby(['epochs', 'setting'])
    ep = committed['epochs'][committed['epochs'].setting == 'shared'].groupby(['epochs', 'epoch']).mean(numeric_only=True)
    e10, e1 = ep.loc[10], ep.loc[1].iloc[0]                                  # per epoch of the 10-epoch runs; the 1-epoch runs
    near = lambda a, b, d=3: test_close(np.asarray(a, float), np.asarray(b, float), eps=0.5*10**-d + 1e-9)   # as rounded
    T, R, D = 'diff.gap_total', 'diff.gap_ranking', 'diff.gap_decoding'           # gaps.csv's columns: each gap, its _low and _high
    ci = lambda e, st, k: g.loc[(e, st), [k, f'{k}_low', f'{k}_high']]
    test_eq((sw['settings']['n_items'], sw['settings']['n_valid'], sw['settings']['classes']), (4000, 800, list('01234567')))
    test_eq((sw['budgets'], sw['seeds'], sw['lr'], sw['grid'], sw['settings']['n_valid']*sw['tune_frac']), ([1, 3, 10], [0, 1, 2], 0.01, [0.005, 0.01, 0.02, 0.04], 400))
    near(g.loc[(1, 'shared'), ['ce.accuracy', 'bce.argmax_accuracy', 'bce.exact_match']], [0.954, 0.955, 0.936])    # chapter 11's report
    near(ci(1, 'shared', T), [0.018, 0.007, 0.031])
    near(ci(1, 'shared', R), [-0.001, -0.010, 0.008]); near(ci(3, 'shared', R), [-0.003, -0.007, 0.001])   # ranking
    near(ci(10, 'shared', R), [-0.003, -0.007, 0.002]); near(g.loc[(10, 'shared'), ['bce.argmax_accuracy', 'ce.accuracy']], [0.977, 0.974])
    assert (g[R + '_low'] < 0).all() and (g[R + '_high'] > 0).all()          # every ranking interval includes 0
    shared, own = g.xs('shared', level=1), g.xs('own', level=1)
    assert (shared[R] < 0).all(); near(shared[R].min(), -0.003)               # shared rate: the labeler's argmax ahead, by at most 0.003
    for e, v in [(1, [0.019, 0.011, 0.029]), (3, [0.007, 0.003, 0.012]), (10, [0.003, 0.001, 0.007])]: near(ci(e, 'shared', D), v)
    near(own[D], [0.014, 0.007, 0.003]); near(ci(10, 'own', D), [0.003, 0.001, 0.007])
    assert shared[D].is_monotonic_decreasing and own[D].is_monotonic_decreasing   # the decoding gap shrinks...
    lowest = g[D + '_low'].min()                                               # ...and every interval lies above 0, the lowest at 10 epochs
    assert lowest > 0 and set(g.index[np.isclose(g[D + '_low'], lowest, rtol=0, atol=1e-9)]) == {(10, 'shared'), (10, 'own')}; near(lowest, 0.001)
    near(s['bce.none_rate'].mean()[10, 'shared'], 0.014); near(s['bce.several_rate'].mean()[10, 'shared'], 0.002)
    near(ci(3, 'shared', T), [0.004, 0, 0.008]); near(ci(10, 'shared', T), [0.001, -0.003, 0.004])   # the total
    near(ci(10, 'own', T), [0.004, -0.001, 0.010]); near(ci(1, 'own', T), [0.007, -0.001, 0.017]); near(ci(3, 'own', T), [0.007, 0.003, 0.013])
    assert (g.loc[10][T + '_low'] < 0).all() and (g.loc[10][T + '_high'] > 0).all()   # at 10 epochs the interval includes 0, either setting
    assert shared.loc[1, T + '_low'] > 0 and abs(shared.loc[3, T + '_low']) <= 1e-9 and shared.loc[10, T + '_low'] < 0   # shared: reaches 0 from 3 epochs on
    assert own.loc[1, T + '_low'] < 0 < own.loc[3, T + '_low'] and own.loc[10, T + '_low'] < 0   # own: includes 0 at 1, not at 3, again at 10
    near(g.loc[(10, 'shared'), [R, D]], [-0.003, 0.003])                       # the two parts nearly cancel
    near(e10.loc[1, ['bce.sigmoid_sum', 'bce.sigmoid_sum_q10', 'bce.sigmoid_sum_q90', 'bce.true_sigmoid', 'bce.threshold']], [0.74, 0.60, 0.87, 0.47, 0.20], 2)
    near(e10.loc[1, ['bce.none_rate', 'bce.several_rate']], [0.057, 0.052]); near(e10.loc[2:, 'bce.sigmoid_sum'].agg(['min', 'max']), [0.989, 1.007])
    near(e10.loc[10, ['bce.sigmoid_sum_q10', 'bce.sigmoid_sum_q90', 'bce.true_sigmoid', 'bce.top_other_sigmoid', 'bce.sigmoid_sum']], [1.000, 1.004, 0.969, 0.019, 0.989])
    assert e10.loc[10, 'bce.sigmoid_sum'] < e10.loc[10, 'bce.sigmoid_sum_q10']   # the mean below the 10th percentile
    near(e1[['bce.sigmoid_sum', 'bce.sigmoid_sum_q10', 'bce.sigmoid_sum_q90', 'bce.true_sigmoid']], [1.05, 0.99, 1.11, 0.85], 2); near(e1['bce.none_rate'], 0.027)
    test_eq((own.lr_ce.tolist(), own.lr_bce.tolist()), ([0.02, 0.02, 0.02], [0.04, 0.04, 0.04]))   # learning rates
    test_eq(max(sw['grid']), 0.04); assert sw['lr'] not in own.lr_ce.tolist() + own.lr_bce.tolist()   # the grid's largest; the shared 0.01 never chosen
    near((own['ce.accuracy'] - shared['ce.accuracy']).abs().max(), 0.007); near(shared[D], [0.019, 0.007, 0.003])
    assert own.loc[1, D] < shared.loc[1, D] and (own.loc[[3, 10], D] >= shared.loc[[3, 10], D] - 1e-9).all()   # own rates lower it at one epoch only
    for e in (1, 3, 10): assert g.loc[e][D + '_low'].max() <= g.loc[e][D + '_high'].min()   # the two settings' intervals overlap
    t, t_bce = s['ce.temperature'], s['bce.temperature']                      # calibration, shared rate
    for e, v in [(1, [0.72, 0.69, 0.74]), (3, [0.84, 0.80, 0.92]), (10, [1.12, 1.05, 1.17])]: near([t.mean()[e, 'shared'], t.min()[e, 'shared'], t.max()[e, 'shared']], v, 2)
    assert t.max()[3, 'shared'] < 1 < t.min()[10, 'shared'] and (e10.loc[5:, 'ce.temperature'] > 1).all() and e10.loc[4, 'ce.temperature'] < 1
    near(t_bce.mean().xs('shared', level=1), [0.53, 0.68, 0.99], 2); assert (t_bce.max().xs('shared', level=1)[[1, 3]] < 1).all()   # under-confident at 1 and 3
    near([t_bce.min()[10, 'shared'], t_bce.max()[10, 'shared']], [0.94, 1.03], 2); test_eq((s.get_group((10, 'shared'))['bce.temperature'] > 1).sum(), 1)
    ece = lambda m: np.r_[s[f'{m}.ece'].mean().xs('shared', level=1), s[f'{m}.ece_after_temperature'].mean().xs('shared', level=1)]
    near(ece('ce'), [0.034, 0.015, 0.016, 0.021, 0.016, 0.015]); near(ece('bce'), [0.093, 0.028, 0.016, 0.041, 0.017, 0.015])
    assert (np.sign(ece('ce')[3:] - ece('ce')[:3]) == [-1, 1, -1]).all()   # scaling lowers the classifier's ECE at 1 and 10 epochs, not at 3


def test_every_interval_the_prose_quotes_is_one_of_the_sweeps():
    "Each 'value [low, high]' in the chapter's prose is a gap of results/sweep_quick's gaps.csv, as gap_markdown prints it (the chapter's table)."
    from classification_vs_labeling.sweep_markdown import gap_markdown
    _, committed = _committed()
    table = gap_markdown(committed['gaps'])
    quoted = re.findall(r'[+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]', ' '.join(prose().split()))   # line breaks read as spaces
    assert len(quoted) >= 12, quoted
    missing = [q for q in quoted if q not in table]
    assert not missing, f"chapter 12 quotes intervals its table does not hold: {missing}"
    for n in ('0.954', '0.955', '0.936'): assert n in prose()   # the question quotes chapter 11's report, the one-epoch shared cell


def test_default_budgets_per_mode_and_scale():
    "The chapter's budget examples (two of them stay visible there), with full mode at scale 1."
    from classification_vs_labeling.sweep import default_budgets
    assert default_budgets('mnist') == [1, 3, 10]
    assert default_budgets('pets', 1) == [1, 4, 10]
    assert default_budgets('pets', 0.25) == [1, 2]    # 1 and 4 epochs both scale to 1
