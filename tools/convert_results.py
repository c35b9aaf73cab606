"""Convert results written before every metric was declared once (chapter 10b) to today's names; no number changes.

Run once on the committed runs, whose predictions are not committed (*.npz, ignored) and do not retrain to the same
numbers under another torch build:

    python tools/convert_results.py results/quick results/sweep_quick

metrics.json: each number moves to its key `model.metric[.items]` as {label, mean, sd, ci95, per_seed} (`new_key`
says where each old entry went; three old entries repeated a number that another one holds); `sd` is computed from
the per-seed values as chapter 10c computes it; the numbers that need the predictions themselves (both losses, the
labeler's temperature and sigmoids, the tuning-item scores) are left out. report.md is written again from the
converted file by chapter 11a's `write_report`. The sweep's CSV files get the new column names, and its report.md
the grid table's new header.
"""
import json, re, sys
from pathlib import Path
import numpy as np, pandas as pd

_OOD = {'ce_auroc': 'ce.auroc', 'bce_auroc': 'bce.auroc', 'auroc_diff': 'diff.auroc', 'ce_refusal': 'ce.refusal',
        'bce_refusal': 'bce.none_rate', 'refusal_diff': 'diff.refusal'}
_RENAMED = {'ce.ood_auroc_msp': 'ce.auroc.ood', 'bce.ood_auroc_max_sigmoid': 'bce.auroc.ood', 'bce.ood_none_rate': 'bce.none_rate.ood',
            'ood.in_refusal': 'bce.none_rate', 'ood.ce_in_refusal': 'ce.refusal', 'ood.ce_cut': 'ce.refusal_cut',
            'paired.accuracy_diff': 'diff.gap_total', 'conformal.bce.thresh.empty_rate': 'bce.none_rate'}

def new_key(group:str, name:str):
    "The key of old metrics.json's `group[name]` (its _per_seed, _ci95 or _seed_sd stripped), or None for what is not a metric."
    k = f'{group}.{name}'
    if k in _RENAMED: return _RENAMED[k]
    if group in ('ce', 'bce'): return k
    if group == 'gap' and name != 'definition': return f'diff.gap_{name}'
    if group == 'conformal' and (m := re.fullmatch(r'(ce|bce)\.(\w+)\.(coverage|mean_set_size|empty_rate)', name)): return f'{m[1]}.{m[2]}_{m[3]}'
    if group == 'ood' and (m := re.fullmatch(r'(\w+)_(all|near|far)', name)) and m[1] in _OOD: return f"{_OOD[m[1]]}.{'ood' if m[2] == 'all' else m[2]}"

def old_numbers(old:dict):
    "(new key, field, value) for every number of an old metrics.json body; field: mean, per_seed, ci95 or sd."
    for group in ('ce', 'bce', 'gap', 'conformal', 'ood', 'paired'):
        for name, v in old.get(group, {}).items():
            field = 'mean'
            for suffix, f in (('_per_seed', 'per_seed'), ('_ci95', 'ci95'), ('_seed_sd', 'sd')):
                if name.endswith(suffix): name, field = name[:-len(suffix)], f
            if (group, name) == ('paired', 'ci95'): name, field = 'accuracy_diff', 'ci95'
            if (k := new_key(group, name)): yield k, field, v

def _sd(per_seed):
    ok = np.array([x for x in per_seed if x is not None], float)
    return float(ok.std(ddof=1)) if len(ok) > 1 else None

def convert_metrics(old:dict) -> dict:
    "Today's metrics.json from an old one: the same numbers under their declared keys, in declaration order."
    from classification_vs_labeling.analysis import METRICS
    from classification_vs_labeling.summary import _definitions
    got = {}
    for k, field, v in old_numbers(old): got.setdefault(k, {}).setdefault(field, v)   # a repeated number: its first place wins
    ms = {k: {'label': m.label, 'mean': got[k]['mean'], 'sd': got[k].get('sd', _sd(got[k]['per_seed']))}
             | ({'ci95': got[k]['ci95']} if 'ci95' in got[k] else {}) | {'per_seed': got[k]['per_seed']}
          for k, m in METRICS.items() if k in got}
    o, n_held = old.get('ood', {}), old['paired']['n_held']
    items = {'tune': old['settings']['n_valid'] - n_held, 'held': n_held} | {('ood' if g == 'all' else g): o[f'n_{g}'] for g in ('near', 'far', 'all') if f'n_{g}' in o}
    n_boot = int(re.search(r'\((\d+) resamples\)', old['paired']['definition'])[1])
    return ({'metrics': ms, 'items': items, 'alpha': old['conformal']['alpha']} | ({'held_out': o['held_out']} if 'held_out' in o else {})
            | {'definitions': _definitions(n_boot)} | {k: old[k] for k in ('settings', 'skipped')})

def convert_quick(folder:Path):
    "metrics.json converted, report.md written again from it (the plots stay as they are)."
    from classification_vs_labeling.record import write_json
    from classification_vs_labeling.tables import write_report
    new = convert_metrics(json.loads((folder/'metrics.json').read_text()))
    write_json(folder/'metrics.json', new)
    write_report(folder, new, json.loads((folder/'run.json').read_text()), plots={p.stem: p for p in folder.glob('*.png')},
                 skipped=[tuple(s) for s in new['skipped']])

_GAPS = {'total', 'ranking', 'decoding'}
COLUMNS = {'ce': 'ce.accuracy', 'bce_argmax': 'bce.argmax_accuracy', 'bce_exact': 'bce.exact_match', 'ce.score': 'ce.accuracy.tune',
           'bce.score': 'bce.exact_match.tune',
           **{f'{g}{s}': f"diff.gap_{g}{s.replace('_seed_sd', '_sd')}" for g in _GAPS for s in ('', '_low', '_high', '_seed_sd')},
           **{f'gap.{g}': f'diff.gap_{g}' for g in ('total', 'ranking', 'decoding', 'none', 'several', 'wrong', 'rescued')},
           **{f'conformal.{m}.{s}': f'{m}_{s}' for m in ('ce.lac', 'ce.aps', 'ce.raps', 'bce.thresh', 'bce.conformal')
              for s in ('coverage', 'mean_set_size', 'empty_rate')}}
GRID = {'ce.loss': 'ce.loss.tune', 'bce.loss': 'bce.loss.tune'}

def convert_sweep(folder:Path):
    "The sweep's CSV files with today's column names, cells copied as text; the grid table's header in report.md."
    for name in ('seeds', 'epochs', 'gaps', 'grid'):
        f = folder/f'{name}.csv'
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        if 'conformal.bce.thresh.empty_rate' in df:             # the labeler's empty sets at its threshold: bce.none_rate
            assert (df['conformal.bce.thresh.empty_rate'] == df['bce.none_rate']).all()
            df = df.drop(columns='conformal.bce.thresh.empty_rate')
        df.columns = [(GRID if name == 'grid' else {}).get(c, COLUMNS.get(c, c)) for c in df.columns]
        if name in ('seeds', 'epochs'):                             # the metrics in the order they are declared, as the sweep writes them
            from classification_vs_labeling.analysis import METRICS
            df = df[[c for c in df.columns if c not in METRICS] + [k for k in METRICS if k in df.columns]]
        f.write_text(df.to_csv(index=False))
    rep, old = folder/'report.md', '| epochs | lr | ce.loss | bce.loss | ce.score | bce.score | ce.chosen | bce.chosen |'
    text = rep.read_text()
    assert old in text, f'{rep}: no grid table with the old header'
    rep.write_text(text.replace(old, '| ' + ' | '.join(pd.read_csv(folder/'grid.csv', nrows=0).columns) + ' |'))

if __name__ == '__main__':
    for a in sys.argv[1:]:
        (convert_sweep if (Path(a)/'sweep.json').exists() else convert_quick)(Path(a))
        print(f'converted {a}')
