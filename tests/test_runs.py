"""Chapters 04c and 04e, the one engine: a run is kept in a folder named by its spec and reused by one rule (same spec,
same version, same data); a spec with two learning rates is realised from two runs; a folder that holds a comparison
is guarded (`record.check_out`); chapter 04's saved run goes through it. Training is replaced by a fake that records
what it was asked."""
import json, os
from dataclasses import dataclass
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from helpers import fresh_fastai_home
from classification_vs_labeling import runs as RN, __version__
from classification_vs_labeling.data import ImageSet
from classification_vs_labeling.files import fingerprint
from classification_vs_labeling.spec import RunSpec
from classification_vs_labeling.train import Predictions
from classification_vs_labeling.runs import saved_run, runs_dir, run_path, run_specs, reusable, read_run, save_run, realise
from classification_vs_labeling.record import run_settings, check_out, start_out


def toy_set(root, n=20, name='mnist') -> ImageSet:
    "`n` real little PNGs in two classes, every fourth one validated."
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n): Image.fromarray(np.full((4, 4), i % 256, np.uint8)).save(root/f'{i}.png')
    return ImageSet(name, [root/f'{i}.png' for i in range(n)], ['a', 'b']*(n//2), np.arange(0, n, 4))

class FakeTraining:
    "Stands for `train_pair`: logits that depend on the seed and on each model's rate (as a real pair's would), one snapshot per epoch."
    def __init__(self): self.calls = []
    def __call__(self, iset, spec, device=None, progress=True, cbs=()):
        self.calls.append(spec)
        v = iset.valid_idx; k = len(iset.classes)
        z = lambda lr: np.full((len(v), k), spec.seed + 100*lr, np.float32)
        for cb in cbs: cb.snaps += [np.concatenate([z(spec.lr_ce), z(spec.lr_bce)], 1)]*spec.epochs
        targs = [iset.classes.index(iset.labels[i]) for i in v]
        return Predictions(iset.classes, targs, z(spec.lr_ce), z(spec.lr_bce), seed=spec.seed, items=[iset.items[i] for i in v], spec=spec.json())

@pytest.fixture
def fake(monkeypatch):
    f = FakeTraining(); monkeypatch.setattr(RN, 'train_pair', f); return f

@pytest.fixture
def toy(tmp_path): return toy_set(tmp_path/'toy')

SPEC = RunSpec('mnist', bs=4)

def test_a_run_is_trained_once_then_reused(tmp_path, toy, fake):
    said = []
    p, = run_specs([SPEC], toy, tmp_path, log=said.append)
    f = run_path(SPEC, tmp_path)
    assert f == tmp_path/SPEC.key/'run.npz' and f.exists() and fake.calls == [SPEC]
    assert said[0] == 'seed 0: training the classifier and the labeler (small, 1 epoch(s), 28px)' and said[1].startswith('seed 0: done in')
    q, ep = read_run(f)
    assert json.loads(q.spec) == {**SPEC.to_dict(), 'version': __version__} and q.fingerprint == json.dumps(fingerprint(toy), sort_keys=True)
    np.testing.assert_array_equal(ep['ce_logits'][-1], p.ce_logits); assert ep['ce_logits'].shape == (1, 5, 2) and ep['seconds'] >= 0
    said.clear(); run_specs([SPEC], toy, tmp_path, log=said.append)
    assert len(fake.calls) == 1 and said == [f"seed 0: reusing finished predictions from {f}"]

def test_one_rule_for_reuse(tmp_path, toy, fake, monkeypatch):
    "Another seed's file, another version's, other data's, a damaged one: each named and trained again; a folder in its place refused."
    run_specs([SPEC, SPEC.replace(seed=1)], toy, tmp_path)
    f0, f1 = run_path(SPEC, tmp_path), run_path(SPEC.replace(seed=1), tmp_path)
    fp = json.dumps(fingerprint(toy), sort_keys=True)
    assert reusable(f0, SPEC, fp)[0] is not None and reusable(f0, SPEC)[0] is not None     # without the data: spec and version only
    f1.write_bytes(f0.read_bytes())
    assert 'holds another run: seed 0, not 1' in reusable(f1, SPEC.replace(seed=1), fp)[1]
    other = SPEC.replace(epochs=2); run_path(other, tmp_path).parent.mkdir(); run_path(other, tmp_path).write_bytes(f0.read_bytes())
    assert 'epochs 1, not 2' in reusable(run_path(other, tmp_path), other)[1]                 # a file copied from a shorter run
    assert reusable(f0, SPEC, fp.replace('"items": "', '"items": "x'))[1].endswith('was trained on other data')
    monkeypatch.setattr(RN.RunSpec, 'json', lambda self: json.dumps({**self.to_dict(), 'version': '9.9'}, sort_keys=True))
    assert f'version {__version__}, not 9.9' in reusable(f0, SPEC, fp)[1]
    monkeypatch.undo(); monkeypatch.setattr(RN, 'train_pair', fake)
    f0.write_bytes(b'PK\x03\x04 torn')
    said = []
    run_specs([SPEC], toy, tmp_path, log=said.append)
    assert said[0].startswith(f'seed 0: not reusing it ({f0}: not a readable predictions file') and said[0].endswith('training it again')
    f0.unlink(); f0.mkdir()
    with pytest.raises(ValueError, match='expected a run file, found a folder'): run_specs([SPEC], toy, tmp_path, on_start=pytest.fail)

def test_two_learning_rates_are_two_runs(tmp_path, toy, fake):
    "The classifier of the run at lr_ce beside the labeler of the run at lr_bce; a grid that holds both rates trains nothing more."
    own = SPEC.replace(lr_ce=0.01, lr_bce=0.04)
    assert realise(own) == (SPEC.replace(lr=0.01), SPEC.replace(lr=0.04)) and realise(SPEC) == (SPEC, SPEC)
    at1, at4 = run_specs([SPEC.replace(lr=0.01), SPEC.replace(lr=0.04)], toy, tmp_path)
    said = []
    p, = run_specs([own], toy, tmp_path, log=said.append)
    assert len(fake.calls) == 2 and all('reusing' in s for s in said)
    np.testing.assert_array_equal(p.ce_logits, at1.ce_logits); np.testing.assert_array_equal(p.bce_logits, at4.bce_logits)
    assert p.ce_logits[0, 0] == 1 and p.bce_logits[0, 0] == 4 and json.loads(p.spec)['lr_bce'] == 0.04

def test_the_engine_trains_exactly_the_spec_it_is_given(tmp_path, toy, fake):
    with pytest.raises(ValueError, match='bs: 64 is more than the 15 training images: fit the spec'): run_specs([RunSpec('mnist')], toy, tmp_path)
    with pytest.raises(ValueError, match='one data set'): run_specs([SPEC, SPEC.replace(ood='none')], toy, tmp_path)
    assert fake.calls == []

def test_a_new_run_setting_is_one_field(tmp_path, toy, fake):
    "A setting added to the spec (here a made-up one) names its own folder, enters the record and the reuse check, with no other edit."
    @dataclass(frozen=True)
    class Spec2(RunSpec):
        warmup: int = 0          # a made-up setting
    a, b = Spec2('mnist', bs=4), Spec2('mnist', bs=4, warmup=3)
    assert a.key != b.key and run_path(a, tmp_path) != run_path(b, tmp_path)
    assert run_settings(toy, b, [0])['warmup'] == 3 and Spec2.from_dict(b.to_dict()) == b
    run_specs([a], toy, tmp_path)
    run_path(b, tmp_path).parent.mkdir(); run_path(b, tmp_path).write_bytes(run_path(a, tmp_path).read_bytes())
    assert 'warmup 0, not 3' in reusable(run_path(b, tmp_path), b)[1]

def test_a_comparison_folder_is_guarded(tmp_path, toy):
    s = run_settings(toy, SPEC, [0, 1])
    out = tmp_path/'out'
    check_out(out, s); start_out(out, s)
    assert json.loads((out/'run.json').read_text())['seeds'] == [0, 1] and 'lr' in s and s['classes'] == ['a', 'b']
    check_out(out, {**s, 'seeds': [5], 'device': 'cuda'})                                   # seeds and device may differ
    with pytest.raises(ValueError, match=r'holds a run with other settings \(size\)'): check_out(out, {**s, 'size': 32})
    with pytest.raises(ValueError, match=r'holds a sweep on other data \(file contents'): check_out(out, {**s, 'fingerprint': {**s['fingerprint'], 'contents': 'x'}}, 'sweep')
    (out/'.metrics.abc.tmp.json').write_text('{'); (out/'runs'/'k').mkdir(parents=True); (out/'runs'/'k'/'.run.x.tmp.npz').write_text('')
    start_out(out, s)
    assert not list(out.rglob('*.tmp*'))                                                     # the pieces a kill left are gone
    (tmp_path/'mine').mkdir(); (tmp_path/'mine'/'notes.txt').write_text('keep')
    with pytest.raises(ValueError, match='is not empty and holds no cvl sweep'): check_out(tmp_path/'mine', s, 'sweep')
    (tmp_path/'piece').mkdir(); (tmp_path/'piece'/'.run.json.x.tmp').write_text('')
    check_out(tmp_path/'piece', s)                                                           # a killed first write: a fresh start

# ---------------------------------------------------------------- chapter 04's saved run

def test_runs_dir_order(tmp_path, monkeypatch):
    "CVL_RUNS first; then Google Drive when it is mounted; then fastai's data folder."
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path/'home'))
    fresh_fastai_home()                        # fastai reads FASTAI_HOME once per process
    monkeypatch.delenv('CVL_RUNS', raising=False)
    monkeypatch.setattr(RN, 'DRIVE', tmp_path/'drive'/'MyDrive')
    try: assert runs_dir() == tmp_path/'home'/'data'/'cvl_runs'
    finally: monkeypatch.undo(); fresh_fastai_home(); monkeypatch.setattr(RN, 'DRIVE', tmp_path/'drive'/'MyDrive')
    (tmp_path/'drive'/'MyDrive').mkdir(parents=True)
    assert runs_dir() == tmp_path/'drive'/'MyDrive'/'cvl_runs'
    monkeypatch.setenv('CVL_RUNS', str(tmp_path/'mine'))
    assert runs_dir() == tmp_path/'mine'

def test_saved_run_trains_once_then_reuses(tmp_path, monkeypatch, fake):
    monkeypatch.setenv('CVL_RUNS', str(tmp_path/'runs'))
    monkeypatch.delenv('CVL_SCALE', raising=False)
    toy = toy_set(tmp_path/'pets', n=400, name='pets')
    loads, said = [], []
    monkeypatch.setattr(RN, 'load_data', lambda spec: loads.append(spec) or toy)
    p = saved_run('pets', log=said.append, files=False)
    spec = RunSpec('pets')
    f = run_path(spec, tmp_path/'runs')
    assert fake.calls == [spec] and loads == [spec] and f.exists() and len(p.targs) == 100
    assert said[0] == (f"No saved run at {f}: training it now (pets, resnet34 pretrained, 4 epoch(s), 224px, seed 0; "
                       f"about {RN.t4_minutes([('pets', 'train')])} minutes on a Colab T4, an estimate)")
    said.clear()
    q = saved_run('pets', log=said.append, files=False)
    assert len(fake.calls) == 1 and len(loads) == 1 and said == [f"Using the saved run at {f} (pets, resnet34 pretrained, 4 epoch(s), 224px, seed 0)"]
    assert np.array_equal(q.ce_logits, p.ce_logits) and q.items == p.items
    said.clear(); saved_run(toy, log=said.append)                   # the data at hand: its fingerprint is checked too, and matches
    assert len(fake.calls) == 1 and said[0].startswith('Using the saved run')

def test_saved_run_fetches_its_images_in_a_new_runtime(tmp_path, monkeypatch, fake):
    "A run saved on Drive names images that a fresh runtime lacks: they are fetched again (here: recorded), once."
    monkeypatch.setenv('CVL_RUNS', str(tmp_path/'runs'))
    monkeypatch.delenv('CVL_SCALE', raising=False)
    toy = toy_set(tmp_path/'pets', n=400, name='pets')
    monkeypatch.setattr(RN, 'load_data', lambda spec: toy)
    saved_run('pets', log=lambda s: None)
    (tmp_path/'pets'/'0.png').unlink()                               # a validation image is gone
    fetched, said = [], []
    monkeypatch.setattr(RN, 'load_data', fetched.append)
    saved_run('pets', log=said.append)
    assert fetched == [RunSpec('pets')] and 'fetching them' in said[-1]
    fetched.clear(); saved_run('pets', log=said.append, files=False)
    assert fetched == []

@pytest.mark.parametrize('bad', [float('nan'), 'abc', True, -1, 1j])
def test_saved_run_refuses_a_bad_seed_naming_it(bad, tmp_path, monkeypatch):
    monkeypatch.setenv('CVL_RUNS', str(tmp_path))
    monkeypatch.setattr(RN, 'train_pair', lambda *a, **kw: pytest.fail('trained'))
    with pytest.raises(ValueError) as e: saved_run('mnist', seed=bad)
    assert str(e.value).startswith('seed: expected') and '\n' not in str(e.value), str(e.value)


def test_start_says_the_mode_and_in_colab_stops_full_mode_without_a_gpu(monkeypatch, capsys):
    "A chapter's first cell: the mode line everywhere; in Colab, full mode on a CPU runtime stops in one line, and Drive is mounted only when asked."
    import sys, types
    from classification_vs_labeling.runs import start
    mounted = []
    fake = types.ModuleType('google.colab'); fake.drive = types.SimpleNamespace(mount=mounted.append)
    monkeypatch.setenv('CVL_QUICK', '1')
    line = start(drive=True)                                    # not in Colab: nothing is mounted
    assert mounted == [] and line.startswith('Mode: quick') and 'unset CVL_QUICK for full mode' in line
    assert capsys.readouterr().out == line + '\n'
    monkeypatch.setitem(sys.modules, 'google.colab', fake)
    start(); assert mounted == []
    start(drive=True); assert mounted == ['/content/drive']
    monkeypatch.setenv('CVL_QUICK', '0')
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    with pytest.raises(SystemExit) as e: start(drive=True)
    msg = str(e.value)
    assert '\n' not in msg and 'T4 GPU' in msg and "CVL_QUICK'] = '1'" in msg and mounted == ['/content/drive']
    monkeypatch.setattr('torch.cuda.is_available', lambda: True)
    assert start().startswith('Mode: full') and mounted == ['/content/drive']   # a GPU: full mode goes on
    monkeypatch.delitem(sys.modules, 'google.colab')
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    assert start().startswith('Mode: full')                     # the offline rehearsal: full mode on a CPU, outside Colab
def test_verify_hash_reuses_only_runs_whose_files_hash_the_same(tmp_path, toy, fake):
    "A run saved with sizes and times only is not taken for a hashed check; a file swapped under the same size and time is seen by the hash alone."
    run_specs([SPEC], toy, tmp_path)
    said = []; run_specs([SPEC], toy, tmp_path, log=said.append, verify='hash')
    assert 'records no hashes of its files (made without --verify hash)' in said[0] and len(fake.calls) == 2
    said = []; run_specs([SPEC], toy, tmp_path, log=said.append, verify='hash')
    assert said == [f"seed 0: reusing finished predictions from {run_path(SPEC, tmp_path)}"]
    f = toy.items[5]; st = f.stat()
    for v in range(6, 256):                                                        # another grey of the same PNG size
        Image.fromarray(np.full((4, 4), v, np.uint8)).save(f)
        if f.stat().st_size == st.st_size: break
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size                                          # same size, same time, other bytes
    said = []; run_specs([SPEC], toy, tmp_path, log=said.append)                  # sizes and times: blind to it
    assert said[0].startswith('seed 0: reusing')
    said = []; run_specs([SPEC], toy, tmp_path, log=said.append, verify='hash')
    assert 'was trained on other data' in said[0] and len(fake.calls) == 3
    with pytest.raises(ValueError, match="verify: expected 'stat'"): run_specs([SPEC], toy, tmp_path, verify='sha')
