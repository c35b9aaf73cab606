"""Chapter 04b: where the saved run lives, how it is named, when it trains; and the Colab T4 estimates. Nothing trains."""
import numpy as np
import pytest
from classification_vs_labeling import runs as RN, __version__
from classification_vs_labeling.train import RunConfig, Predictions
from classification_vs_labeling.runs import saved_run, run_file, runs_dir


def fake_preds(items=(), ood_items=(), n=4):
    return Predictions(['a', 'b'], np.arange(n) % 2, np.zeros((n, 2)), np.zeros((n, 2)), items=list(items) or [f'v{i}.png' for i in range(n)],
                       ood_items=list(ood_items))


def test_runs_dir_order(tmp_path, monkeypatch):
    "CVL_RUNS first; then Google Drive when it is mounted; then fastai's data folder."
    from fastai.data.external import fastai_cfg
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path/'home'))
    fastai_cfg.cache_clear()                   # fastai reads FASTAI_HOME once per process
    monkeypatch.delenv('CVL_RUNS', raising=False)
    monkeypatch.setattr(RN, 'DRIVE', tmp_path/'drive'/'MyDrive')
    try: assert runs_dir() == tmp_path/'home'/'data'/'cvl_runs'
    finally: monkeypatch.undo(); fastai_cfg.cache_clear(); monkeypatch.setattr(RN, 'DRIVE', tmp_path/'drive'/'MyDrive')
    (tmp_path/'drive'/'MyDrive').mkdir(parents=True)
    assert runs_dir() == tmp_path/'drive'/'MyDrive'/'cvl_runs'
    monkeypatch.setenv('CVL_RUNS', str(tmp_path/'mine'))
    assert runs_dir() == tmp_path/'mine'


def test_run_file_names_the_run_and_hashes_every_setting(tmp_path, monkeypatch):
    monkeypatch.setenv('CVL_RUNS', str(tmp_path))
    monkeypatch.delenv('CVL_SCALE', raising=False)
    f = run_file(RunConfig('pets'), seed=0)
    assert f.parent == tmp_path and f.name.startswith('pets_resnet34_pretrained_4ep_224px_seed0_') and f.suffix == '.npz'
    others = [run_file(RunConfig('pets'), seed=1), run_file(RunConfig('pets', lr=1e-3)), run_file(RunConfig('pets', augment=False)),
              run_file(RunConfig('pets', scale=0.5)), run_file(RunConfig('mnist'))]
    assert len({f, *others}) == 6                                         # any setting changes the name
    monkeypatch.setattr(RN, '__version__', __version__ + '.1')
    assert run_file(RunConfig('pets')) != f                                # and so does another version of the package
    assert run_file(RunConfig(str(tmp_path/'my folder'))).name.startswith('my folder_resnet34_')


def test_saved_run_trains_once_then_reuses(tmp_path, monkeypatch):
    monkeypatch.setenv('CVL_RUNS', str(tmp_path))
    monkeypatch.delenv('CVL_SCALE', raising=False)
    calls, said = [], []
    def fake_train(iset, cfg, seed=0, progress=True): calls.append((iset, cfg, seed)); return fake_preds(n=6)
    monkeypatch.setattr(RN, 'train_pair', fake_train)
    monkeypatch.setattr(RN, 'load_set', lambda name: f'set {name}')
    p = saved_run('pets', log=said.append, files=False)
    f = run_file(RunConfig('pets'))
    assert calls == [('set pets', RunConfig('pets'), 0)] and f.exists() and len(p.targs) == 6
    assert said == [f"No saved run at {f}: training it now (pets, resnet34 pretrained, 4 epoch(s), 224px, seed 0; "
                    f"about {RN.t4_minutes([('pets', 'train')])} minutes on a Colab T4, an estimate)"]
    said.clear()
    q = saved_run('pets', log=said.append, files=False)
    assert len(calls) == 1 and said == [f"Using the saved run at {f} (pets, resnet34 pretrained, 4 epoch(s), 224px, seed 0)"]
    assert np.array_equal(q.ce_logits, p.ce_logits) and q.items == p.items


def test_saved_run_fetches_its_images_in_a_new_runtime(tmp_path, monkeypatch):
    "A run saved on Drive names images that a fresh runtime lacks: they are fetched again (here: recorded), once."
    monkeypatch.setenv('CVL_RUNS', str(tmp_path))
    monkeypatch.delenv('CVL_SCALE', raising=False)
    there = tmp_path/'x.png'; there.write_bytes(b'')
    fake_preds([there, tmp_path/'gone.png', there, there]).save(run_file(RunConfig('pets')))
    fetched, said = [], []
    monkeypatch.setattr(RN, 'load_set', fetched.append)
    saved_run('pets', log=said.append)
    assert fetched == ['pets'] and 'fetching them' in said[-1]
    fetched.clear(); saved_run('pets', log=said.append, files=False)
    assert fetched == []


def test_cost_lines_follow_the_assumptions():
    steps = RN.t4_steps('pets')
    a, n, v = RN.COLAB_T4, 7390 - 1478, 1478
    assert steps['get'] == pytest.approx(812/a['download_mb_s'] + 7390/a['decode_img_s'])
    assert steps['train'] == pytest.approx(n/270 + v/270 + 4*(n/90 + v/270) + (v + 1000)/270)
    for ch, (work, saved) in RN.FULL_MODE_WORK.items():
        line = RN.cost_line(ch)
        assert line.startswith('Full mode on a Colab T4: ') and 'not yet measured' in line
        assert str(RN.t4_minutes(work)) in line
        if saved is not None: assert 'Google Drive' in line and RN.t4_minutes(saved) <= RN.t4_minutes(work)
    assert RN.cost_line('01_activations') == ("Full mode on a Colab T4: under a minute, with nothing to download or train "
                                              "(an estimate, not yet measured).")


def test_chapter_04s_cost_arithmetic():
    assert RN.t4_minutes([('pets', 'get')]) == round((812/20 + 7390/300)/60)
    assert RN.t4_steps('pets')['train'] == pytest.approx(5912/270 + 1478/270 + 4*(5912/90 + 1478/270) + 2478/270, rel=1e-12)
    assert RN.cost_line('04_train').startswith('Full mode on a Colab T4: about ') and 'estimate' in RN.cost_line('04_train')
    assert 'Google Drive' in RN.cost_line('06_calibration') and 'nothing to download' in RN.cost_line('01_activations')
    assert RN.cost_line('04b_runs') == RN.cost_line('03a_files') == RN.cost_line('01_activations')   # the sub-chapters download and train nothing


BAD = {'nan': float('nan'), 'text': 'abc', 'a bool': True, 'negative': -1, 'complex': 1j}

@pytest.mark.parametrize('bad', BAD)
@pytest.mark.parametrize('call,param', [(lambda **kw: RN.t4_minutes([('pets', 'train')], **kw), 'scale'),
                                        (lambda **kw: run_file(RunConfig('mnist'), **kw), 'seed'), (lambda **kw: saved_run('mnist', **kw), 'seed')],
                         ids=['t4_minutes', 'run_file', 'saved_run'])
def test_scalars_refused_at_the_door_naming_the_parameter(call, param, bad, tmp_path, monkeypatch):
    monkeypatch.setenv('CVL_RUNS', str(tmp_path))
    monkeypatch.setattr(RN, 'train_pair', lambda *a, **kw: pytest.fail('trained'))
    with pytest.raises(ValueError) as e: call(**{param: BAD[bad]})
    assert str(e.value).startswith(f'{param}: expected') and '\n' not in str(e.value), str(e.value)
