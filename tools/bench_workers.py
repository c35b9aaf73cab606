"""Benchmark (not a test) of `cvl sweep --workers`: the same quick-mode sweep, from an empty folder each time, trained
one run at a time and by several worker processes, the configurations taken in turn (A B C A B C ...) so that a change
in the machine's load touches them alike.

Prints one JSON line per sweep: the configuration, wall and CPU seconds (user + sys of the sweep and its workers, its
fork server's workers included: on Linux this process adopts them when the sweep ends), the
load average just before it, the machine; then one line per configuration with the median wall time and its ratio to
the first configuration's, and whether every configuration's logits equal the first's to the bit (runs on one thread).

    CVL_QUICK=1 python tools/bench_workers.py [--repeats 2] [--configs 1:1 1:2 2:1] [--out results/workers_speed.jsonl] \
        [-- SWEEP FLAGS (default: --epochs 1 2 --seeds 0 1 --lr-factors 1 2 --fast)]

A configuration W:T is `--workers W --threads T`.
"""
import argparse, hashlib, json, os, platform, resource, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--repeats', type=int, default=2)
p.add_argument('--configs', nargs='+', default=['1:1', '1:2', '2:1'])
p.add_argument('--out', default=None, help='also append each JSON line to this file as it comes')
p.add_argument('sweep', nargs='*', default=['--epochs', '1', '2', '--seeds', '0', '1', '--lr-factors', '1', '2', '--fast'])
a = p.parse_args()

MACHINE = dict(cpu_count=os.cpu_count(), affinity=len(os.sched_getaffinity(0)), processor=platform.machine(),
               python=platform.python_version(), platform=platform.platform(), date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))

def logits_digest(out:Path) -> str:
    "One hash of every run file's logits (final and per epoch), by run folder."
    import numpy as np
    h = hashlib.sha256()
    for f in sorted(out.glob('runs/*/run.npz')):
        with np.load(f) as z: h.update(f.parent.name.encode()); [h.update(z[k].tobytes()) for k in sorted(z.files) if 'logits' in k]
    return h.hexdigest()[:16]

def adopt_orphans():
    "Linux: make this process the reaper of its orphaned descendants (a sweep's fork server and its workers outlive the sweep by a moment), so their CPU time is counted too."
    import ctypes
    if sys.platform.startswith('linux'): ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER

def reap():
    "Wait for every descendant left (the fork server ends when its sweep has): their CPU joins RUSAGE_CHILDREN."
    while True:
        try: os.waitpid(-1, 0)
        except ChildProcessError: return

adopt_orphans()
lines, digests, tmp = [], {}, Path(tempfile.mkdtemp(prefix='cvl-bench-workers-'))
env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
for r in range(a.repeats):
    for c in a.configs:
        w, t = c.split(':')
        out = tmp/f"{w}w{t}t"; shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, '-m', 'classification_vs_labeling.cli', 'sweep', *a.sweep, '--workers', w, '--threads', t, '--out', str(out), '--no-progress']
        load, u0, t0 = os.getloadavg()[0], resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        reap(); u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if res.returncode: sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
        digests.setdefault(c, logits_digest(out))
        line = dict(bench='sweep_workers', config=c, workers=int(w), threads=int(t), repeat=r, wall_s=round(wall, 2),
                    cpu_s=round(u1.ru_utime - u0.ru_utime + u1.ru_stime - u0.ru_stime, 2), load_before=round(load, 2),
                    runs=len(list(out.glob('runs/*/run.npz'))), sweep=' '.join(a.sweep), **MACHINE)
        print(json.dumps(line), flush=True); lines.append(line)
        if a.out:
            with open(a.out, 'a') as f: f.write(json.dumps(line) + '\n')
first = statistics.median(l['wall_s'] for l in lines if l['config'] == a.configs[0])
for c in a.configs:
    walls = [l['wall_s'] for l in lines if l['config'] == c]
    line = dict(bench='sweep_workers_summary', config=c, median_wall_s=statistics.median(walls), min_wall_s=min(walls), max_wall_s=max(walls),
                speedup_vs_first=round(first/statistics.median(walls), 2), logits_equal_first=digests[c] == digests[a.configs[0]],
                loads_before=[l['load_before'] for l in lines if l['config'] == c], sweep=' '.join(a.sweep), **MACHINE)
    print(json.dumps(line), flush=True)
    if a.out:
        with open(a.out, 'a') as f: f.write(json.dumps(line) + '\n')
shutil.rmtree(tmp, ignore_errors=True)
