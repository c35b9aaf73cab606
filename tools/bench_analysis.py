"""Benchmark (not a test) of the analysis functions in classification_vs_labeling.metrics and .conformal.

Prints one JSON line per measurement: median and min seconds over `--repeats` runs, sizes, and the machine
(cpu count, python/numpy/pandas/torch/scikit-learn versions), and the peak memory the call allocates. Baselines are measured in the same run:
the plain (T, N, K) broadcast sweep and a Python loop over thresholds calling the single-threshold functions; for the
conformal sets (fitted on --items calibration items, then built for --items items), MAPIE's SplitConformalClassifier
on the same probabilities when MAPIE (a dev dependency) is installed.

    python tools/bench_analysis.py [--items 10000] [--classes 37] [--thresh 100] [--boot 1000] [--repeats 5]
"""
import argparse, json, os, platform, statistics, time, tracemalloc
import numpy as np, pandas as pd, sklearn, torch
from classification_vs_labeling.metrics import (simulate_preds, paired_bootstrap, argmax_correct, exact_correct, per_label_accuracy, exact_match,
    none_rate, several_rate, set_sizes)
from classification_vs_labeling.thresholds import threshold_sweep, per_class_thresholds, tune_split
from classification_vs_labeling.conformal import METHODS, fit_conformal, conformal_sets, conformal_summary
try: from mapie.classification import SplitConformalClassifier
except ImportError: SplitConformalClassifier = None

MACHINE = dict(cpu_count=os.cpu_count(), affinity=len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None,
               python=platform.python_version(), numpy=np.__version__, pandas=pd.__version__, torch=torch.__version__,
               sklearn=sklearn.__version__, platform=platform.platform(), processor=platform.machine(), date=time.strftime('%Y-%m-%d'))

def timeit(f, repeats):
    "Median and min wall-clock seconds of `f()` over `repeats` runs, and peak traced memory of a warm-up run (numpy reports its arrays)."
    tracemalloc.start(); f(); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return dict(median_s=round(statistics.median(ts), 5), min_s=round(min(ts), 5), repeats=repeats, peak_mb=round(peak/2**20, 1))

def report(name, f, repeats, **sizes):
    print(json.dumps(dict(bench=name, **sizes, **timeit(f, repeats), **MACHINE)), flush=True)

def broadcast_sweep(p, t, ts):
    "Baseline: the obvious vectorisation, one (T, N, K) boolean array."
    s = p[None] > ts[:, None, None]
    wrong = (s != t[None]).sum(2)
    size = s.sum(2)
    return pd.DataFrame(dict(thresh=ts, per_label_accuracy=1 - wrong.sum(1)/t.size, exact_match=(wrong == 0).mean(1),
                             none_rate=(size == 0).mean(1), several_rate=(size >= 2).mean(1), mean_set_size=size.mean(1)))

def loop_sweep(p, t, ts):
    "Baseline: what one writes first, a Python loop calling the single-threshold functions."
    return pd.DataFrame([dict(thresh=x, per_label_accuracy=per_label_accuracy(p, t, x), exact_match=exact_match(p, t, x),
                              none_rate=none_rate(p, x), several_rate=several_rate(p, x), mean_set_size=set_sizes(p, x).mean())
                         for x in ts])

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--items', type=int, default=10_000); ap.add_argument('--classes', type=int, default=37)
    ap.add_argument('--thresh', type=int, default=100); ap.add_argument('--boot', type=int, default=1000)
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--no-baselines', action='store_true', help='skip the slower baselines')
    a = ap.parse_args(argv)
    y, clas, lab = simulate_preds(n=a.items, k=a.classes, seed=0, class_shift=1.0)
    t = np.eye(a.classes, dtype=bool)[y]
    ts = np.linspace(0, 1, a.thresh)
    sizes = dict(n_items=a.items, n_classes=a.classes, n_thresh=a.thresh)
    ours = threshold_sweep(lab, y, ts)
    report('threshold_sweep', lambda: threshold_sweep(lab, y, ts), a.repeats, **sizes)
    report('per_class_thresholds', lambda: per_class_thresholds(lab, y, ts), a.repeats, **sizes)
    if not a.no_baselines:
        cols = ['per_label_accuracy', 'exact_match', 'none_rate', 'several_rate', 'mean_set_size']
        for name,f,reps in [('baseline_broadcast_sweep', broadcast_sweep, a.repeats), ('baseline_loop_sweep', loop_sweep, 1)]:
            ref = f(lab, t, ts)
            assert np.allclose(ref[cols].to_numpy(float), ours[cols].to_numpy(float)), f'{name} disagrees with threshold_sweep'
            report(name, lambda: f(lab, t, ts), reps, **sizes)
    ca, cb = argmax_correct(clas, y), exact_correct(lab, y, 0.5)
    report('paired_bootstrap', lambda: paired_bootstrap(ca, cb, n_boot=a.boot), a.repeats, n_items=a.items, n_boot=a.boot)
    csizes = dict(n_cal=a.items, n_items=a.items, n_classes=a.classes, alpha=0.1)
    for m in METHODS:   # fit the cut on the calibration items, then build the sets
        report(f'conformal_sets_{m}', lambda: conformal_sets(clas, fit_conformal(clas, y, method=m, alpha=0.1)), a.repeats, **csizes)
    tune = tune_split(a.items, 0.5, seed=0, strat=y)
    report('conformal_summary', lambda: conformal_summary(clas, lab, y, tune, alpha=0.1, from_logits=False), a.repeats,
           n_items=a.items, n_classes=a.classes, n_tune=int(tune.sum()), alpha=0.1)
    if SplitConformalClassifier is not None and not a.no_baselines:
        for m in METHODS:
            def mapie(m=m):
                c = SplitConformalClassifier(PassThrough(a.classes), confidence_level=0.9, conformity_score=m, prefit=True, random_state=0)
                return c.conformalize(clas, y).predict_set(clas)[1][:, :, 0]
            if m == 'lac': assert (mapie() == conformal_sets(clas, fit_conformal(clas, y, alpha=0.1))).all(), 'MAPIE disagrees with LAC'
            report(f'baseline_mapie_{m}', mapie, a.repeats, **csizes)

class PassThrough:
    "A prefitted classifier for MAPIE whose predict_proba returns its input: the saved probabilities."
    def __init__(self, k): self.classes_ = np.arange(k)
    def fit(self, X, y): return self
    def predict_proba(self, X): return np.asarray(X)
    def predict(self, X): return np.asarray(X).argmax(1)
    def __sklearn_is_fitted__(self): return True

if __name__ == '__main__': main()
