"""Measurements behind chapter 03c's proposals (issue 22), printed, not committed as results.

  python tools/offline_measure.py probe [SIZE ...]
      Linear probe (scikit-learn logistic regression, C=0.1, on standardised features) on frozen Lite0 features
      (`lite0_features`), ImageNet weights against random ones: accuracy on photos and clipart over 5 random 80/20
      splits, macro and micro mAP on clipart_tags' own split.
  python tools/offline_measure.py finetune [clipart|photos] [False|True ...]
      The registry's run on the data set (seed 0) as the engine trains it: seconds of fine_tune's head phase
      (cached features included) and of its second phase, train_bn False (cached) and True (fastai's default).

Set OMP_NUM_THREADS (and torch's threads follow it); timings on a shared machine vary with its load.
"""
import sys, time
import numpy as np, torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from classification_vs_labeling.data import valid_split
from classification_vs_labeling.offline import photos, clipart, clipart_tags, lite0_features


def probe(*sizes):
    clf = lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.1))
    sets, tags = (photos(), clipart()), clipart_tags()
    for size in map(int, sizes or (64, 96)):
        for pre in (True, False):
            name = 'ImageNet' if pre else 'random'
            for s in sets:
                X, y = lite0_features(s.items, size, pre), np.array(s.labels)
                accs = []
                for seed in range(5):
                    va = valid_split(list(y), 0.2, seed); tr = np.setdiff1d(np.arange(len(y)), va)
                    accs.append((clf().fit(X[tr], y[tr]).predict(X[va]) == y[va]).mean())
                print(f"{size}px {name:8s} {s.name:8s} accuracy {np.mean(accs):.3f} (splits {' '.join(f'{a:.2f}' for a in accs)})", flush=True)
            X, Y = lite0_features(tags.items, size, pre), tags.targs
            tr, va = tags.train_idx, tags.valid_idx
            p = OneVsRestClassifier(clf()).fit(X[tr], Y[tr]).predict_proba(X[va])
            print(f"{size}px {name:8s} tags     mAP macro {average_precision_score(Y[va], p, average='macro'):.3f} "
                  f"micro {average_precision_score(Y[va], p, average='micro'):.3f}", flush=True)


def finetune(data='clipart', *train_bns):
    """The registry's run on `data` (`RunSpec(data)`, seed 0), as the engine trains it: seconds of fine_tune's head
    phase (features included when cached) and of its second phase, with the frozen body's BatchNorm frozen
    (train_bn=False, cached: the offline rows' setting) and training (train_bn=True, fastai's default)."""
    from fastai.callback.core import Callback
    from classification_vs_labeling import frozen
    from classification_vs_labeling.datasets import load_set
    from classification_vs_labeling.spec import RunSpec
    from classification_vs_labeling.train import train_pair
    class Timer(Callback):
        order = 100
        def __init__(self): self.fits = []
        def before_fit(self): self.t0 = time.perf_counter()
        def after_fit(self): self.fits.append((self.t0, time.perf_counter()))
    feats, f0 = [], frozen.frozen_features
    def timed_features(*a, **k):
        t0 = time.perf_counter(); out = f0(*a, **k); feats.append(time.perf_counter() - t0); return out
    frozen.frozen_features = timed_features
    iset = load_set(data)
    for train_bn in [b == 'True' for b in train_bns] or [False, True]:
        spec, tm, feats[:] = RunSpec(data, train_bn=train_bn), Timer(), []
        t0 = time.perf_counter()
        p = train_pair(iset, spec, progress=False, cbs=[tm])
        total = time.perf_counter() - t0
        (h0, h1), (b0, b1), *preds = tm.fits   # fastai's get_preds also runs before_fit and after_fit: the predictions
        print(f"{data} train_bn={train_bn} ({spec.epochs} epochs, {spec.size}px, bs {spec.bs}, {torch.get_num_threads()} thread(s)): "
              f"head phase {h1 - h0 + sum(feats):.1f}s (features {sum(feats):.1f}s), second phase {b1 - b0:.1f}s, predictions {sum(b - a for a, b in preds):.1f}s, train_pair {total:.1f}s; "
              f"{len(iset.train_idx)} train / {len(iset.valid_idx)} valid; accuracy classifier {(p.ce_probs.argmax(1) == p.targs).mean():.3f}, "
              f"labeler argmax {(p.bce_probs.argmax(1) == p.targs).mean():.3f}", flush=True)


if __name__ == '__main__':
    cmd, *args = sys.argv[1:] or ['help']
    if cmd == 'probe': probe(*args)
    elif cmd == 'finetune': finetune(*args)
    else: sys.exit(__doc__)
