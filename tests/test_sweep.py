"""`cvl sweep` and chapter 12's analyses: numbers recomputed by hand from small synthetic saved sweeps, losses against
torch, the own-learning-rate pair against two plain fastai learners, resuming a tiny real sweep, and bad input."""
import contextlib, io, json
from pathlib import Path
import numpy as np, pandas as pd
import pytest
import torch, torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from fastai.test_utils import synth_learner
from classification_vs_labeling.core import softmax_probs, sigmoid_probs
from classification_vs_labeling.data import matched_dls
from classification_vs_labeling.datasets import load_set
from classification_vs_labeling.spec import RunSpec
from classification_vs_labeling.train import Predictions, train_pair, plain_learners
from classification_vs_labeling.runs import EpochLogits, run_path, save_run
from classification_vs_labeling import metrics as M, thresholds as TH, calibration as C, sweep as S
from classification_vs_labeling.seedview import val_losses
from classification_vs_labeling.sweep_plots import plot_curves, plot_mechanism
from classification_vs_labeling.cli import main as cvl_main
from helpers import digits_tree, one_line

K, N = 4, 80

def fake_sweep(out, budgets=(1, 3), lrs=(0.01, 0.02), seeds=(0, 1), own=(0.01, 0.02)):
    "A saved sweep of made-up logits: per run and seed, logits after each epoch; the final ones are the last epoch's."
    rng = np.random.default_rng(0)
    t = rng.integers(0, K, N)
    base = RunSpec('fake', arch='small', pretrained=False, size=28, bs=64, ood='none')
    for e in budgets:
        for lr in lrs:
            for s in seeds:
                grow = (1 + np.arange(e))[:, None, None]*lr*100      # sharper with epochs and learning rate
                ce = (rng.normal(size=(e, N, K)) + grow*np.eye(K)[t]).astype(np.float32)
                bce = (rng.normal(size=(e, N, K)) + grow*np.eye(K)[t] - 2).astype(np.float32)
                spec = base.replace(epochs=e, lr=lr, seed=s)
                p = Predictions([f'c{j}' for j in range(K)], t, ce[-1], bce[-1], seed=s, items=[f'i{i}' for i in range(N)], spec=spec.json())
                save_run(run_path(spec, Path(out)/'runs'), p, ce, bce, 2.0)
    cells = [c for e in budgets for c in (dict(epochs=e, setting='shared', lr_ce=lrs[0], lr_bce=lrs[0]),
                                          dict(epochs=e, setting='own', lr_ce=own[0], lr_bce=own[1]))]
    settings = dict(data='fake', n_items=2*N, n_valid=N, classes=[f'c{j}' for j in range(K)], arch='small', pretrained=False,
                    size=28, bs=64, mode='quick', device='cpu')
    (Path(out)/'sweep.json').write_text(json.dumps(dict(settings=settings, spec=base.to_dict(), budgets=list(budgets), seeds=list(seeds),
        lr=lrs[0], grid=list(lrs), tune_frac=0.5, cells=cells, run_date='2026-01-01', machine='test machine', versions={'torch': 't', 'fastai': 'f'})))
    return Path(out)

@pytest.fixture(scope='module')
def sw(tmp_path_factory):
    return S.load_sweep(fake_sweep(tmp_path_factory.mktemp('sweep')))

def test_seed_table_by_hand_and_own_pairs_take_each_model_from_its_run(sw):
    tab = S.seed_table(sw)
    assert len(tab) == 2*2*2 and set(tab.setting) == {'shared', 'own'}
    held = ~sw['tune_mask']
    for r in tab.to_dict('records'):
        p_ce, _ = sw['runs'][0, r['epochs'], r['lr_ce']][r['seed']]
        p_bce, _ = sw['runs'][0, r['epochs'], r['lr_bce']][r['seed']]
        t = p_ce.targs[held]
        ce_p, bce_p = softmax_probs(p_ce.ce_logits[held]), sigmoid_probs(p_bce.bce_logits[held])
        assert r['ce.accuracy'] == pytest.approx((ce_p.argmax(1) == t).mean())
        assert r['bce.argmax_accuracy'] == pytest.approx((bce_p.argmax(1) == t).mean())
        sets = bce_p > r['bce.threshold']
        assert r['bce.exact_match'] == pytest.approx((sets == np.eye(K, dtype=bool)[t]).all(1).mean())
        assert r['bce.none_rate'] == pytest.approx((sets.sum(1) == 0).mean())
        assert r['bce.several_rate'] == pytest.approx((sets.sum(1) >= 2).mean())
        assert r['bce.sigmoid_sum'] == pytest.approx(bce_p.sum(1).mean())
        assert r['bce.true_sigmoid'] == pytest.approx(bce_p[np.arange(len(t)), t].mean())
        assert r['bce.top_other_sigmoid'] == pytest.approx(np.max(np.where(np.eye(K)[t] == 1, -1, bce_p), 1).mean())
        assert r['bce.sigmoid_sum_q10'] <= r['bce.sigmoid_sum_q50'] <= r['bce.sigmoid_sum_q90']
        tb = C.fit_bce_temperature(p_bce.bce_logits[~held], p_bce.targs[~held])
        assert r['bce.temperature'] == pytest.approx(tb)
        assert r['bce.ece_after_temperature'] == pytest.approx(C.ece(C.apply_bce_temperature(p_bce.bce_logits[held], tb), t, multilabel=True))
        assert r['ce.temperature'] == pytest.approx(C.fit_temperature(p_ce.ce_logits[~held], p_ce.targs[~held]))
    own = tab[tab.setting == 'own']
    assert (own['ce.accuracy'].values != own['bce.argmax_accuracy'].values).any()   # the two halves really come from different runs

def test_epoch_table_last_epoch_is_the_seed_table(sw):
    ep, seeds = S.epoch_table(sw), S.seed_table(sw)
    assert sorted(ep.groupby(['epochs', 'setting', 'seed']).epoch.max().unique()) == [1, 3]
    last = ep[ep.epoch == ep.epochs].drop(columns='epoch').reset_index(drop=True)
    pd.testing.assert_frame_equal(last, seeds[last.columns])

def test_gap_table_parts_add_up_and_match_the_seed_table(sw):
    g, seeds = S.gap_table(sw, n_boot=200), S.seed_table(sw)
    for r in g.to_dict('records'):
        d = seeds[(seeds.epochs == r['epochs']) & (seeds.setting == r['setting'])]
        assert r['n_seeds'] == len(d) == 2
        for k in ('ce.accuracy', 'bce.exact_match', 'bce.argmax_accuracy'):
            assert r[k] == pytest.approx(d[k].mean()) and r[k + '_sd'] == pytest.approx(d[k].std(ddof=1))
        assert r['diff.gap_total'] == pytest.approx(r['diff.gap_ranking'] + r['diff.gap_decoding'])
        assert r['diff.gap_ranking'] == pytest.approx(r['ce.accuracy'] - r['bce.argmax_accuracy'])
        for k in ('total', 'ranking', 'decoding'):
            g = f'diff.gap_{k}'
            assert r[f'{g}_low'] <= r[g] <= r[f'{g}_high']
            assert r[f'{g}_sd'] == pytest.approx(np.std((d['ce.accuracy'] if k != 'decoding' else d['bce.argmax_accuracy']).values -
                (d['bce.exact_match'] if k != 'ranking' else d['bce.argmax_accuracy']).values, ddof=1))

def test_gap_table_is_chapter_05s_decomposition_for_one_seed(tmp_path):
    "With one seed, each gap and its interval are chapter 05's `gap_decomposition` on the held-out items at the tuned threshold."
    one = S.load_sweep(fake_sweep(tmp_path/'sw', seeds=(0,)))
    held = ~one['tune_mask']
    for r in S.gap_table(one, n_boot=300).to_dict('records'):
        t, z1, z2, _, _ = S.cell_logits(one, r, 0)
        th = TH.best_threshold(sigmoid_probs(z2)[~held], t[~held], metric='exact_match')
        ref = M.gap_decomposition(softmax_probs(z1)[held], sigmoid_probs(z2)[held], t[held], th, n_boot=300, seed=0)
        for k in ('total', 'ranking', 'decoding'):
            g = f'diff.gap_{k}'
            assert (r[g], r[f'{g}_low'], r[f'{g}_high']) == pytest.approx(tuple(ref.loc[k, ['value', 'ci_low', 'ci_high']]), abs=1e-12), k
        assert (r['ce.accuracy'], r['bce.argmax_accuracy'], r['bce.exact_match']) == pytest.approx(tuple(ref.loc[['classifier', 'argmax', 'exact'], 'value']), abs=1e-12)
        assert np.isnan(r['diff.gap_total_sd'])                                  # one seed: no spread

def test_grid_table_scores_tuning_items_only(sw):
    g = S.grid_table(sw)
    assert len(g) == 2*2 and g['ce.chosen'].sum() == 2 and g['bce.chosen'].sum() == 2
    tune = sw['tune_mask']
    p = sw['runs'][0, 1, 0.02][0][0]
    r = g[(g.epochs == 1) & (g.lr == 0.02)].iloc[0]
    assert r['ce.accuracy.tune'] == pytest.approx((p.ce_logits[tune].argmax(1) == p.targs[tune]).mean())
    th = TH.best_threshold(sigmoid_probs(p.bce_logits)[tune], p.targs[tune])
    assert r['bce.exact_match.tune'] == pytest.approx(M.exact_match(sigmoid_probs(p.bce_logits)[tune], p.targs[tune], th))
    assert r['ce.loss.tune'] == pytest.approx(F.cross_entropy(torch.tensor(p.ce_logits[tune]).double(), torch.tensor(p.targs[tune])).item())
    p.ce_logits[~tune] = 0; p.bce_logits[~tune] = 0                  # held-out items change nothing
    again = S.tuning_scores(p, tune)
    assert all(again[k] == r[k] for k in ('ce.loss.tune', 'bce.loss.tune', 'ce.accuracy.tune', 'bce.exact_match.tune'))

@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20), st.integers(2, 6), st.integers(0, 2**31), st.floats(0.1, 30))
def test_val_losses_match_torch(n, k, seed, scale):
    rng = np.random.default_rng(seed)
    zc, zb, t = scale*rng.normal(size=(n, k)), scale*rng.normal(size=(n, k)), rng.integers(0, k, n)
    ce, bce = val_losses(zc, zb, t)
    tt = torch.tensor(t)
    assert ce == pytest.approx(F.cross_entropy(torch.tensor(zc), tt).item(), rel=1e-9, abs=1e-12)
    assert bce == pytest.approx(F.binary_cross_entropy_with_logits(torch.tensor(zb), F.one_hot(tt, k).double()).item(), rel=1e-9, abs=1e-12)

@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=8))
def test_choose_lrs_lowest_own_loss(rows):
    g = pd.DataFrame([{'lr': 0.001*(i+1), 'ce.loss.tune': a, 'bce.loss.tune': b} for i, (a, b) in enumerate(rows)])
    for m, lr in zip(('ce', 'bce'), S.choose_lrs(g)):
        assert g[g.lr == lr][f'{m}.loss.tune'].iloc[0] == g[f'{m}.loss.tune'].min()
    with pytest.raises(ValueError, match='missing'): S.choose_lrs(g.drop(columns='ce.loss.tune'))

def test_epoch_logits_one_snapshot_per_training_epoch_across_fits():
    cb = EpochLogits()
    learn = synth_learner(n_trn=3, n_val=2, cbs=cb)
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 1e-2); learn.fit(2, 1e-2)       # fine_tune fits twice: both fits' epochs are kept
        preds, _ = learn.get_preds(); learn.validate()
    assert len(cb.snaps) == 3 and np.array_equal(cb.snaps[-1], preds.numpy())

def test_report_files_from_saved_predictions_alone(tmp_path):
    out = fake_sweep(tmp_path/'sw')
    tabs = S.write_sweep_report(out, n_boot=100)
    for f in ['seeds.csv', 'gaps.csv', 'epochs.csv', 'grid.csv', 'gaps.png', 'curves.png', 'mechanism.png', 'report.md']:
        assert (out/f).stat().st_size > 0, f
    rep = (out/'report.md').read_text()
    assert 'test machine' in rep and 'Budgets: 1, 3 epoch(s)' in rep and '![gaps](gaps.png)' in rep
    assert "Defaults: the registry's `folder` row." in rep and 'Mode:' not in rep          # 'fake' is no registered set: a folder, no mode
    again = pd.read_csv(out/'gaps.csv')
    np.testing.assert_allclose(again['diff.gap_total'], tabs['gaps']['diff.gap_total'], rtol=1e-5)
    plot_curves(pd.read_csv(out/'epochs.csv'), budget=1, setting='own')         # the committed CSV files draw the figures
    with pytest.raises(ValueError, match=r'budget 7.*budgets \[1, 3\]'): plot_mechanism(tabs['epochs'], budget=7)
    with pytest.raises(ValueError, match='epoch_table'): plot_curves(tabs['seeds'])

def test_committed_sweep_without_npz_says_what_to_do(tmp_path):
    out = fake_sweep(tmp_path/'sw')
    for f in out.rglob('*.npz'): f.unlink()
    with pytest.raises(ValueError, match='no finished seed.*npz'): S.load_sweep(out)

@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    return digits_tree(tmp_path_factory.mktemp('digits'), classes=(0, 1, 7), n=30)

def test_own_rates_pair_equals_two_plain_learners(digits):
    "The classifier of the paired run at lr a and the labeler of the run at lr b are two plain learners trained at a and b."
    iset = load_set(digits, 'none')
    spec = RunSpec(str(digits), arch='small', pretrained=False, size=28, augment=False, epochs=2, seed=3)
    a, b = 0.01, 0.03
    pa, pb = train_pair(iset, spec.replace(lr=a), progress=False), train_pair(iset, spec.replace(lr=b), progress=False)
    dce, dbce = matched_dls(iset, size=28, bs=spec.bs, seed=3)
    lce, lbce = plain_learners(dce, dbce, seed=3)
    out = []
    for learn, lr in ((lce, a), (lbce, b)):
        with learn.no_bar(), learn.no_logging():
            learn.fit_one_cycle(2, lr); out.append(learn.get_preds(act=lambda x: x)[0].numpy())
    np.testing.assert_allclose(out[0], pa.ce_logits, atol=1e-5)
    np.testing.assert_allclose(out[1], pb.bce_logits, atol=1e-5)
    assert np.abs(pa.bce_logits - pb.bce_logits).max() > 1e-2                  # the two rates did train differently

def run_main(*args):
    "`cvl sweep ARGS` in this process: (exit status, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: code = cvl_main(['sweep', *map(str, args)])
        except SystemExit as e: code = e.code
    return code, out.getvalue(), err.getvalue()

def test_tiny_sweep_resumes_and_reuses(digits, tmp_path):
    out = tmp_path/'sw'
    args = ['--data', digits, '--arch', 'small', '--no-pretrained', '--size', 28, '--epochs', 1, '--seeds', 0, 1,
            '--lr-factors', 1, 2, '--out', out, '--no-progress', '--fast']
    code, log, err = run_main(*args)
    assert code == 0, err[-3000:]
    sw = json.loads((out/'sweep.json').read_text())
    assert sw['budgets'] == [1] and sw['seeds'] == [0, 1] and len(sw['cells']) == 2 and (out/'report.md').exists()
    stamps = {f: f.stat().st_mtime_ns for f in out.rglob('*.npz')}
    code, log, err = run_main(*args)                                           # finished: nothing trains again
    assert code == 0 and 'done in' not in log and log.count('reusing') >= 4, log
    assert {f: f.stat().st_mtime_ns for f in out.rglob('*.npz')} == stamps
    spec = RunSpec.from_dict(sw['spec']).replace(epochs=1, lr=sw['lr'], seed=1)
    gone = run_path(spec, out/'runs'); gone.unlink()                           # as if killed while training that seed
    code, log, err = run_main(*args)
    assert code == 0 and gone.exists() and log.count('done in') == 1, log
    assert [f for f in stamps if f.stat().st_mtime_ns != stamps[f]] == [gone]
    stamps = {f: f.stat().st_mtime_ns for f in out.rglob('*')}
    code, log, err = run_main(*[a if a != 28 else 32 for a in args])          # other settings: refused, nothing written
    assert code == 2 and 'other settings' in err and 'size' in err and len(err.strip().splitlines()) == 1, err
    assert {f: f.stat().st_mtime_ns for f in out.rglob('*')} == stamps

@pytest.mark.parametrize('args,words', [
    (['--epochs', '0'], ['--epochs']),
    (['--epochs', '1', '1'], ['--epochs', 'distinct']),
    (['--lr-factors', '0'], ['--lr-factors']),
    (['--lr-factors', '1', '1'], ['--lr-factors', 'distinct']),
    (['--seeds', '2', '2'], ['--seeds', 'distinct']),
    (['--tune-frac', '1.5'], ['--tune-frac']),
    (['--data', 'no/such/folder'], ['no/such/folder']),
    (['--arch', 'resnet35'], ['unknown architecture']),
    (['--lr', 'fast'], ['--lr']),
    (['--recipes', 'default', 'focal'], ['--recipes', 'expected one of default', "'focal'"]),
    (['--recipe', 'focal'], ['--recipes', "'focal'"]),
    (['--recipes', 'sum', 'sum'], ['--recipes', 'distinct']),
    (['--label-noise', '0', '1'], ['--label-noise', '[0, 1)']),
    (['--label-noise', '0.2', '0.2'], ['--label-noise', 'distinct']),
    (['--classes', '1'], ['--classes']),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, args, words):
    out = tmp_path/'out'
    one_line(*run_main(*args, '--out', out), *words)
    assert not out.exists()

def test_foreign_out_folder_is_refused(digits, tmp_path):
    (tmp_path/'mine.txt').write_text('keep me')
    code, _, err = run_main('--data', digits, '--arch', 'small', '--no-pretrained', '--epochs', '1', '--out', tmp_path)
    assert code == 2 and 'holds no cvl sweep' in err and sorted(p.name for p in tmp_path.iterdir()) == ['mine.txt']

def test_sweep_flags_leave_compare_flags_alone():
    from classification_vs_labeling.flags import parser
    p = parser()
    a = p.parse_args(['compare', '--epochs', '3', '--out', 'x'])
    assert a.epochs == 3 and a.ood is None and a.out == 'x'
    a = p.parse_args(['sweep', '--epochs', '1', '3', '--lr-factors', '1', '2'])
    assert a.epochs == [1, 3] and a.lr_factors == [1, 2] and a.out == 'cvl_sweep' and a.seeds == [0, 1, 2]
    assert a.ood is None   # not typed: _sweep gives sweep's own default, 'none' (a folder named none here is then no clash)

def test_arms_sweep_recipes_noise_and_classes(digits, tmp_path, monkeypatch):
    "A sweep's arms (K x recipe x label noise): each recipe trains only the labeler (the classifier's logits are the same "
    "bits), the noise changes both models' training, each arm's spec is recorded, and gaps.csv is recomputed from the npz."
    from functools import partial
    monkeypatch.setattr(S, 'write_sweep_report', partial(S.write_sweep_report, n_boot=50))
    out = tmp_path/'sw'
    spec = RunSpec(str(digits), arch='small', pretrained=False, size=28, augment=False, ood='none')
    S.sweep(spec=spec, budgets=[1], seeds=[0], factors=[1], recipes=['default', 'prior-bias'], label_noise=[0, 0.3], classes=[2, 3],
            out=out, log=lambda s: None)
    sw = S.load_sweep(out)
    arms = [(a.classes, a.recipe, a.label_noise) for a in sw['arm_specs']]
    assert arms == [(k, r, p) for k in (2, 3) for r in ('default', 'prior-bias') for p in (0, 0.3)]
    logits = {arm: S.cell_logits(sw, c, 0) for arm, c in zip(arms, sw['cells'])}
    for k in (2, 3):
        for p in (0, 0.3):
            (t, ce1, bce1, *_), (_, ce2, bce2, *_) = logits[k, 'default', p], logits[k, 'prior-bias', p]
            assert ce1.shape == (len(t), k)
            np.testing.assert_array_equal(ce1, ce2)                             # the recipe never touches the classifier
            assert np.abs(bce1 - bce2).max() > 1e-3                             # but trains the labeler differently
        for r in ('default', 'prior-bias'):                                     # noise: both models trained on other labels
            (t0, ce0, bce0, *_), (t3, ce3, bce3, *_) = logits[k, r, 0], logits[k, r, 0.3]
            np.testing.assert_array_equal(t0, t3)                               # never a validation label
            assert np.abs(ce0 - ce3).max() > 1e-3 and np.abs(bce0 - bce3).max() > 1e-3
    gaps = pd.read_csv(out/'gaps.csv')
    assert list(zip(gaps.n_classes, gaps.recipe, gaps.label_noise)) == arms and set(gaps.setting) == {'shared'}
    for arm, g in zip(arms, gaps.to_dict('records')):                           # recomputed from the saved predictions
        t, ce, bce, *_ = logits[arm]
        held = ~sw['tune_masks'][arms.index(arm)]
        assert g['ce.accuracy'] == pytest.approx((ce.argmax(1) == t)[held].mean(), abs=1e-6)
        assert g['bce.argmax_accuracy'] == pytest.approx((bce.argmax(1) == t)[held].mean(), abs=1e-6)
        assert g['diff.gap_ranking'] == pytest.approx(g['ce.accuracy'] - g['bce.argmax_accuracy'], abs=1e-5)
    assert 'prior-bias, noise 0.3, 2 classes' in (out/'report.md').read_text()
