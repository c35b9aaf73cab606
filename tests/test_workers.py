"""Chapter 04d and `cvl sweep --workers/--ray` (issue 24), with the sweep's hostile cases of issue 26: runs trained by
worker processes or Ray tasks give each run's logits to the bit; a failed run (an error, or a killed worker) is named,
tried once more, then left for a rerun while the rest finish; a killed sweep, a full disk or a kill at any write
resumes with only what is missing; a diverging run is recorded and skipped; grid points that print alike and a
broken sweep.json are one line.

Real trainings are tiny (90 digits, 1-2 epochs); worker processes cost an interpreter start each (seconds), so the
tests that need them are few and reuse one reference sweep, and the Ray tests share one local cluster."""
import functools, json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
from classification_vs_labeling import runs as RN, sweep as S, workers as W
from classification_vs_labeling.spec import RunSpec
from classification_vs_labeling.train import TrainingDiverged
from classification_vs_labeling.runs import run_specs, load_data, train_run, read_run, RunFailed
from classification_vs_labeling.cli import main
from helpers import digits_tree, one_line, ENV, faulty_writes, files_left, Killed

SWEEP = ['--arch', 'small', '--no-pretrained', '--size', '28', '--epochs', '1', '2', '--seeds', '0', '1', '--lr-factors', '1', '2',
         '--no-progress', '--fast']

@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    return digits_tree(tmp_path_factory.mktemp('digits')/'d', classes=(0, 1, 7), n=30)

def cvl(capsys, *args):
    "`cvl` in this process: (exit status, stdout, stderr)."
    code = main([str(a) for a in args])
    c = capsys.readouterr()
    return code, c.out, c.err

def logits(out) -> dict:
    "Every run file of a sweep folder: its name -> the bytes of its final and per-epoch logits."
    res = {}
    for f in sorted(Path(out).glob('runs/*/run.npz')):
        p, ep = read_run(f)
        res[f.parent.name] = p.ce_logits.tobytes() + p.bce_logits.tobytes() + ep['ce_logits'].tobytes() + ep['bce_logits'].tobytes()
    return res

def tables(out) -> dict:
    "The sweep's CSV files and report, as text (the date aside): what a resumed sweep must end up equal to."
    res = {f.name: f.read_text() for f in sorted(Path(out).glob('*.csv'))}
    res['report.md'] = '\n'.join(l for l in (Path(out)/'report.md').read_text().splitlines() if not l.startswith('Data:'))
    return res

@pytest.fixture(scope='module')
def reference_run(digits, tmp_path_factory):
    "The tiny sweep trained here, one run after another: (its folder, the paths it wrote through `core.atomic_path`, in order)."
    out = tmp_path_factory.mktemp('ref')/'sw'
    with pytest.MonkeyPatch.context() as mp, faulty_writes(mp) as written:
        assert main(['sweep', '--data', str(digits), *SWEEP, '--out', str(out)]) == 0
    return out, written

@pytest.fixture(scope='module')
def reference(reference_run):
    "The tiny sweep's folder: what every other way of running it must give."
    return reference_run[0]

# ---------------------------------------------------------------- threads, cores, progress

def test_threads_cores_and_gpus():
    assert W.core_shares(2, [0, 1]) == [[0], [1]] and W.core_shares(4, range(10)) == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    assert W.core_shares(3, [5]) == [[5], [5], [5]]
    assert W.cell_threads('cpu') == 1 and W.cell_threads('cuda') is None and W.cell_threads('cuda', 3) == 3
    assert W.gpu_shares(3, 'cpu') == [None]*3
    for bad in (0, 1.5, 'two'):
        with pytest.raises(ValueError, match='workers'): W.core_shares(bad)
    with pytest.raises(ValueError, match='threads'): W.cell_threads('cpu', 0)
    with pytest.raises(ValueError, match='choose one'): W.make_pool(2, 'auto')

class Terminal(list):
    def write(self, s): self.append(s)
    def flush(self): pass
    def isatty(self): return True

def test_one_progress_line_on_a_terminal_and_none_elsewhere(monkeypatch):
    said, term = [], Terminal()
    p = W.Progress(stream=term, log=said.append)
    p.log('before any run'); assert term == []                          # nothing to count yet: no line
    spec = RunSpec('mnist', ood='none')
    p.add([spec.replace(epochs=e) for e in (1, 3)])
    p.running = 2; p.show()
    assert term[-1] == '\r\x1b[K' + 'runs: 0 of 2 done, 2 running, 0 failed; 0:00 elapsed'
    monkeypatch.setattr(W.time, 'time', lambda: p.t0 + 90)
    p.done, p.running, p.epochs_done = 1, 1, 1                            # 1 of 4 epochs in 90 s: 3 more take about 270 s
    p.log('a run finished')
    assert said == ['before any run', 'a run finished'] and term[-2] == '\r\x1b[K'   # the line is cleared before a message
    assert term[-1].endswith('runs: 1 of 2 done, 1 running, 0 failed; 1:30 elapsed, about 4:30 left')
    p.close(); assert term[-1] == '\n'
    quiet = W.Progress(stream=type('Pipe', (Terminal,), {'isatty': lambda self: False})())
    quiet.add([spec]); quiet.show(); assert quiet.stream == []

# ---------------------------------------------------------------- worker processes

def flaky(spec, *, device=None, threads=None, marks=None):
    "A worker's task that fails on purpose: seed 1's worker dies on its first try, seed 2 raises every time; the rest train."
    first = not (Path(marks)/spec.key).exists()
    (Path(marks)/spec.key).touch()
    if spec.seed == 1 and first: os._exit(9)
    if spec.seed == 2: raise ValueError('a bug in seed 2')
    return W.train_cell(spec, device=device, threads=threads)

def test_workers_give_each_run_its_logits_alone_and_a_failed_run_is_retried_once(digits, tmp_path):
    """Three runs in two pinned processes: seed 1's worker dies on its first try, seed 2 raises every time. Seeds 0 and 1
    (seed 1 on a new worker) give, to the bit, the logits of the run trained alone here on one thread; seed 2 is named,
    tried once more, then left for a rerun, which trains only it."""
    spec = RunSpec(str(digits), ood='none', arch='small', pretrained=False, size=28, epochs=1, bs=16, fast=True)
    specs, iset, said = [spec.replace(seed=s) for s in (0, 1, 2)], load_data(spec), []
    (tmp_path/'marks').mkdir()
    with W.Workers(2, log=said.append, fn=functools.partial(flaky, marks=tmp_path/'marks')) as pool:
        got = run_specs(specs, iset, tmp_path/'runs', pool=pool, log=pool.log, keep_going=True)
    assert not W.mp.active_children()                                   # leaving the pool stopped its workers
    assert [type(p).__name__ for p in got] == ['Predictions', 'Predictions', 'RunFailed'], '\n'.join(said)
    assert any(', worker 1)' in s for s in said) and any(', worker 2)' in s for s in said), said
    assert any(s.startswith('seed 1: failed (its worker died (exit status 9)): trying it once more') for s in said), said
    assert any(s.startswith('seed 2: failed (a bug in seed 2): trying it once more') for s in said)
    assert any(s.startswith('seed 2: failed again (a bug in seed 2): left for a rerun; the other runs go on') for s in said)
    assert str(got[2]) == 'seed 2: a bug in seed 2' and not RN.run_path(specs[2], tmp_path/'runs').parent.exists()
    for s, p in zip(specs, got[:2]):
        alone, ep = train_run(s, iset, threads=1)
        assert p.ce_logits.tobytes() == alone.ce_logits.tobytes() and p.bce_logits.tobytes() == alone.bce_logits.tobytes()
        _, saved = read_run(RN.run_path(s, tmp_path/'runs'))
        assert saved['ce_logits'].tobytes() == ep['ce_logits'].tobytes() and saved['bce_logits'].tobytes() == ep['bce_logits'].tobytes()
    with pytest.raises(RunFailed, match='seed 2'): run_specs(specs, iset, tmp_path/'runs', pool=W.InProcess(fn=flaky_always), log=said.append)
    said.clear()
    again = run_specs(specs, iset, tmp_path/'runs', log=said.append)    # a rerun trains only what is missing
    assert [s.split(':')[1].split()[0] for s in said] == ['reusing', 'reusing', 'training', 'done']
    assert again[0].ce_logits.tobytes() == got[0].ce_logits.tobytes()

def flaky_always(spec, **kw): raise ValueError('a bug in seed 2') if spec.seed == 2 else W.train_cell(spec, **kw)

def _children(pid:int) -> set[int]:
    "The processes `pid` started (Linux)."
    kids = set()
    for t in Path(f'/proc/{pid}/task').iterdir():
        kids |= {int(c) for c in (t/'children').read_text().split()}
    return kids

def _cmdline(pid:int) -> str:
    try: return Path(f'/proc/{pid}/cmdline').read_text()
    except OSError: return ''

def test_a_killed_sweep_resumes_with_only_the_missing_runs(digits, reference, tmp_path, capsys):
    "`cvl sweep --workers 2` killed (SIGKILL) once some runs are saved: its workers end too, and the sweep again (here, in this process) trains only the rest, to the reference's bits."
    out = tmp_path/'sw'
    cmd = [sys.executable, '-m', 'classification_vs_labeling.cli', 'sweep', '--data', str(digits), *SWEEP, '--out', str(out), '--workers', '2']
    r = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    t0 = time.time()
    while len(list(out.glob('runs/*/run.npz'))) < 2 and time.time() - t0 < 300 and r.poll() is None: time.sleep(0.2)
    server = {k for k in _children(r.pid) if 'forkserver' in _cmdline(k)}                 # not multiprocessing's resource tracker
    kids = {k for s in server for k in _children(s)} | {k for k in _children(r.pid) if 'spawn_main' in _cmdline(k)}
    r.kill(); r.wait()
    assert len(kids) == 2, kids
    live = lambda: [k for k in kids | server if Path(f'/proc/{k}').exists() and 'Z' not in Path(f'/proc/{k}/stat').read_text().split()[2]]
    t0 = time.time()
    while live() and time.time() - t0 < 30: time.sleep(0.5)
    assert not live(), 'workers (or their fork server) outlived their driver'
    kept = {f.parent.name for f in out.glob('runs/*/run.npz')}
    assert 2 <= len(kept) < len(logits(reference))
    code, log, err = cvl(capsys, *cmd[3:-2])
    assert code == 0, err
    assert log.count('done in') == len(logits(reference)) - len(kept), log
    assert logits(out) == logits(reference) and tables(out) == tables(reference)

# ---------------------------------------------------------------- kills and full disks (issue 26), as for cvl compare

def test_one_patch_of_core_atomic_path_reaches_every_write_of_a_sweep(reference_run):
    "Each file a sweep leaves was written through `core.atomic_path`, once (found by looking at the folder, not from a list of writers)."
    out, written = reference_run
    assert files_left(out) == set(written), files_left(out) ^ set(written)
    assert len(written) == 18      # the count the kill chain below is planned on

def test_a_full_disk_while_workers_train_is_one_line_then_a_rerun_finishes(digits, reference, tmp_path, capsys, monkeypatch):
    "Only the driver writes: a full disk at the third write (a run file) stops the sweep with one line naming it, its workers stopped; the same command then finishes."
    out = tmp_path/'sw'
    with faulty_writes(monkeypatch, 3, OSError(28, 'No space left on device')):
        line = one_line(*cvl(capsys, 'sweep', '--data', digits, *SWEEP, '--out', out, '--workers', '2'), 'run.npz: No space left on device (the disk is full)')
    monkeypatch.undo()
    assert not W.mp.active_children() and not list(out.rglob('*.tmp*')) and len(list(out.glob('runs/*/run.npz'))) == 1, line
    code, log, err = cvl(capsys, 'sweep', '--data', digits, *SWEEP, '--out', out)
    assert code == 0, err
    assert logits(out) == logits(reference) and tables(out) == tables(reference)

# A sweep of this size writes run.json, 8 run files (2 budgets x 2 rates x 2 seeds), sweep.json, 4 CSV files, 3 figures
# and report.md: 18 writes; once every run is saved, a resumed sweep writes the other 10. A chain of runs, each killed at
# its nth write (just before the rename, or just after), each resuming from what the one before left, must end with the
# uninterrupted sweep's runs and tables: run.json, run files, then (every run saved) a CSV file, a figure, report.md.
KILLS = [(1, False), (2, False), (2, True), (5, True), (10, False), (3, True), (8, True), (10, False), (10, True)]

def test_kill_at_writes_then_resume_equals_uninterrupted(digits, reference, tmp_path, capsys, monkeypatch):
    out, n_runs = tmp_path/'sw', len(logits(reference))
    for n, after in KILLS:
        with faulty_writes(monkeypatch, n, after=after):
            with pytest.raises(Killed): cvl(capsys, 'sweep', '--data', digits, *SWEEP, '--out', out)
        monkeypatch.undo(); capsys.readouterr()
        for f in out.glob('runs/*/run.npz'): read_run(f)                 # a run file left behind is whole
    code, log, err = cvl(capsys, 'sweep', '--data', digits, *SWEEP, '--out', out)
    assert code == 0 and log.count('reusing') >= n_runs, err
    assert not list(out.rglob('*.tmp*')), 'pieces of killed writes left behind'
    assert logits(out) == logits(reference) and tables(out) == tables(reference)

# ---------------------------------------------------------------- hostile grids and records (issue 26)

def test_a_diverging_grid_point_is_recorded_skipped_and_not_trained_again(digits, tmp_path, capsys):
    out = tmp_path/'sw'
    args = ['sweep', '--data', digits, '--arch', 'small', '--no-pretrained', '--size', '28', '--epochs', '1', '--seeds', '0', '1',
            '--lr-factors', '1', '1e9', '--out', out, '--no-progress']
    code, log, err = cvl(capsys, *args)
    assert code == 0, err
    assert 'the grid diverged at lr 1e+07' in log and (out/'report.md').exists()
    sw = json.loads((out/'sweep.json').read_text())
    assert sw['diverged'] == [{'arm': 0, 'epochs': 1, 'lr': 1e7, 'seed': 0}] and [c['lr_bce'] for c in sw['cells']] == [0.01, 0.01]
    d = RN.run_path(RunSpec.from_dict(sw['spec']).replace(epochs=1, lr=1e7), out/'runs').parent/RN.DIVERGED_FILE
    assert json.loads(d.read_text())['message'].startswith('seed 0: training diverged') and not d.with_name('run.npz').exists()
    assert 'Training diverged (a NaN or infinite loss) in 1 run(s)' in (out/'report.md').read_text()
    grid = S.load_sweep(out)
    assert grid['diverged'] == sw['diverged'] and S.grid_table(grid).diverged.tolist() == [False, True]
    code, log, err = cvl(capsys, *args)                                   # a recorded divergence is a result: not trained again
    assert code == 0 and 'done in' not in log and 'not training it again: seed 0: training diverged' in log, log

def test_grid_points_that_print_alike_are_refused_before_anything_is_written(digits, tmp_path, capsys):
    out = tmp_path/'sw'
    line = one_line(*cvl(capsys, 'sweep', '--data', digits, '--lr-factors', '1', '1.0000001', '--out', out), '--lr-factors', '1.0000001', 'alike')
    assert not out.exists(), line

@pytest.mark.parametrize('record,words', [({}, 'one without settings'), ([1, 2], 'got a list'), ('{"budgets": [1', 'not a readable sweep record')])
def test_a_broken_sweep_record_is_one_line_and_a_rerun_writes_it_again(reference, tmp_path, capsys, record, words):
    out = tmp_path/'sw'
    import shutil; shutil.copytree(reference, out)
    (out/'sweep.json').write_text(record if isinstance(record, str) else json.dumps(record))
    with pytest.raises(ValueError) as e: S.write_sweep_report(out)
    assert words in str(e.value) and 'sweep.json' in str(e.value) and '\n' not in str(e.value)
    code, log, err = cvl(capsys, 'sweep', '--data', Path(json.loads((reference/'sweep.json').read_text())['settings']['data']), *SWEEP, '--out', out)
    assert code == 0 and 'done in' not in log, err
    assert tables(out) == tables(reference)

# ---------------------------------------------------------------- Ray

def test_without_ray_the_flag_is_one_line(digits, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'ray', None)                         # as if it were not installed
    out = tmp_path/'sw'
    one_line(*cvl(capsys, 'sweep', '--data', digits, *SWEEP, '--out', out, '--ray', 'auto'), '--ray: Ray is not installed', 'pip install "classification_vs_labeling[ray]"')
    assert not out.exists()
    one_line(*cvl(capsys, 'sweep', '--data', digits, *SWEEP, '--out', out, '--ray', 'auto', '--workers', '2'), 'choose one')

@pytest.fixture(scope='module')
def ray_cluster():
    "One local Ray cluster of 2 CPUs for this module's Ray tests, as `ray start` would make (tests/ is sent by value to its workers)."
    ray = pytest.importorskip('ray') if os.environ.get('CVL_NO_RAY') else __import__('ray')
    import logging
    from ray import cloudpickle                                          # the copy Ray pickles its tasks with
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()

def test_a_sweep_through_ray_equals_the_serial_one(ray_cluster, digits, reference, tmp_path, capsys):
    out = tmp_path/'sw'
    code, log, err = cvl(capsys, 'sweep', '--data', digits, *SWEEP, '--out', out, '--ray', 'auto')
    assert code == 0, err
    assert log.count(', a Ray task)') == len(logits(reference)) and log.count('done in') == len(logits(reference))
    assert logits(out) == logits(reference) and tables(out) == tables(reference)
    assert ray_cluster.is_initialized()                                   # a cluster it did not start is left running

def test_a_ray_task_that_fails_or_whose_worker_dies_is_retried_once(ray_cluster, digits, tmp_path):
    spec = RunSpec(str(digits), ood='none', arch='small', pretrained=False, size=28, epochs=1, bs=16, fast=True)
    specs, iset, said = [spec.replace(seed=s) for s in (0, 1, 2)], load_data(spec), []
    (tmp_path/'marks').mkdir()
    with W.RayWorkers('auto', log=said.append, fn=functools.partial(flaky, marks=tmp_path/'marks')) as pool:
        got = run_specs(specs, iset, tmp_path/'runs', pool=pool, log=pool.log, keep_going=True)
    assert [type(p).__name__ for p in got] == ["Predictions", "Predictions", "RunFailed"], "\n".join(said)
    assert any(s.startswith('seed 1: failed (its Ray worker died') for s in said), said
    assert any(s.startswith('seed 2: failed again (a bug in seed 2)') for s in said)
    assert got[0].ce_logits.tobytes() == train_run(specs[0], iset, threads=1)[0].ce_logits.tobytes()
