"""Measurements behind chapter 03c's proposals (issue 22), printed, not committed as results.

  python tools/offline_measure.py probe [SIZE ...]
      Linear probe (scikit-learn logistic regression, C=0.1, on standardised features) on frozen Lite0 features
      (`lite0_features`), ImageNet weights against random ones: accuracy on photos and clipart over 5 random 80/20
      splits, macro and micro mAP on clipart_tags' own split.
  python tools/offline_measure.py finetune SIZE EPOCHS BS LR [clipart|photos]
      fastai's fine_tune of the paired Lite0 learner: seconds of the head phase and of the full phase, validation
      accuracy of both models, and (clipart) what each says about the held-out people.

Set OMP_NUM_THREADS (and torch's threads follow it); timings on a shared machine vary with its load.
"""
import sys, time
import numpy as np, torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from classification_vs_labeling.data import valid_split, matched_dls
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


def finetune(size, epochs, bs, lr, data='clipart'):
    from fastai.callback.core import Callback
    from classification_vs_labeling.train import paired_learner, predict_pair
    size, epochs, bs, lr = int(size), int(epochs), int(bs), float(lr)
    class Timer(Callback):
        order = 100
        def __init__(self): self.t = []
        def before_fit(self): self.t0 = time.perf_counter()
        def after_fit(self): self.t.append(time.perf_counter() - self.t0)
    iset = clipart() if data == 'clipart' else photos()
    dls, _ = matched_dls(iset, size=size, bs=bs, seed=0)
    tm = Timer()
    learn = paired_learner(dls, 'efficientnet_lite0', pretrained=True, seed=0, cbs=[tm])
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(epochs, lr)
    p = predict_pair(learn, iset.ood_items)
    print(f"{data} {size}px bs {bs} lr {lr:g}, {torch.get_num_threads()} thread(s): head phase {tm.t[0]:.1f}s, full phase {tm.t[1]:.1f}s "
          f"({epochs} epochs); {len(dls.train_ds)} train / {len(dls.valid_ds)} valid; accuracy classifier "
          f"{(p.ce_probs.argmax(1) == p.targs).mean():.3f}, labeler (argmax) {(p.bce_probs.argmax(1) == p.targs).mean():.3f}")
    if len(iset.ood_items):
        print(f"  held out ({len(iset.ood_items)}): classifier's top probability {p.ood_ce_probs.max(1).mean():.3f} on average; "
              f"labeler's top sigmoid {p.ood_bce_probs.max(1).mean():.3f}, no label above 0.5 for {(p.ood_bce_probs.max(1) < 0.5).mean():.1%}")


if __name__ == '__main__':
    cmd, *args = sys.argv[1:] or ['help']
    if cmd == 'probe': probe(*args)
    elif cmd == 'finetune': finetune(*args)
    else: sys.exit(__doc__)
