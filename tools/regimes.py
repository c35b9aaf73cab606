"""The regime axis: the labeler's gap (classifier accuracy - labeler exact match), split into ranking and decoding, for
three regimes side by side, read from the sweeps' gaps.csv (shared learning rate, paired 95% CIs over held-out items,
means over seeds). Writes results/regimes/regimes.csv and regimes.png.

    python tools/regimes.py [results]

The sweeps it reads (each: `cvl sweep ... --out results/sweep_<name>`; see results/regimes/report.md for the commands):
from scratch on MNIST digits (results/sweep_quick), pretrained Lite0 on clip art (results/sweep_clipart) and on photos
(results/sweep_photos).
"""
import sys
from pathlib import Path
import pandas as pd, matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

REGIMES = {'digits, small CNN from scratch': 'sweep_quick', 'clip art, Lite0 pretrained': 'sweep_clipart',
           'photos, Lite0 pretrained': 'sweep_photos'}
PARTS = ('ranking', 'decoding', 'total')

def table(root: Path) -> pd.DataFrame:
    rows = []
    for regime, folder in REGIMES.items():
        g = pd.read_csv(root/folder/'gaps.csv')
        for r in g[g.setting == 'shared'].to_dict('records'):
            row = {'regime': regime, 'epochs': r['epochs'], 'lr': r['lr_ce'], 'n_seeds': r['n_seeds'],
                   'ce_accuracy': r['ce.accuracy'], 'bce_argmax_accuracy': r['bce.argmax_accuracy'], 'bce_exact_match': r['bce.exact_match']}
            for p in PARTS:
                for s in ('', '_low', '_high', '_sd'): row[f'gap_{p}{s}'] = r[f'diff.gap_{p}{s}']
            rows.append(row)
    return pd.DataFrame(rows)

def plot(t: pd.DataFrame, f: Path):
    fig, axs = plt.subplots(1, len(REGIMES), figsize=(4*len(REGIMES), 3.6), sharey=True)
    for ax, regime in zip(axs, REGIMES):
        r = t[t.regime == regime].reset_index(drop=True)
        for j, (p, c) in enumerate(zip(PARTS, ('C0', 'C1', 'k'))):
            x = r.index + (j - 1) * 0.25
            ax.errorbar(x, r[f'gap_{p}'], yerr=[r[f'gap_{p}'] - r[f'gap_{p}_low'], r[f'gap_{p}_high'] - r[f'gap_{p}']],
                        fmt='o', color=c, capsize=3, label=p)
        ax.axhline(0, color='grey', lw=0.8); ax.set_xticks(r.index, [f"{e} epoch(s)" for e in r.epochs])
        ax.set_title(regime, fontsize=10)
    axs[0].set_ylabel('classifier accuracy - labeler exact match'); axs[-1].legend(loc='upper right', fontsize=8)
    fig.suptitle('The gap and its parts, shared learning rate, mean of 3 seeds, paired 95% CIs over held-out items', fontsize=10)
    fig.tight_layout(); fig.savefig(f, dpi=110); plt.close(fig)

if __name__ == '__main__':
    root = Path(sys.argv[1] if len(sys.argv) > 1 else 'results')
    t = table(root)
    t = t[t.epochs.isin([1, 3])]   # the budgets every regime ran
    (root/'regimes').mkdir(exist_ok=True)
    t.to_csv(root/'regimes'/'regimes.csv', index=False)
    plot(t, root/'regimes'/'regimes.png')
    print(t[['regime', 'epochs', 'ce_accuracy', 'bce_exact_match'] + [f'gap_{p}{s}' for p in PARTS for s in ('', '_low', '_high')]].round(3).to_string(index=False))
