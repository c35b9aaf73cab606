"""Chapter 12b: the committed evidence under results/ is self-consistent (each gaps.csv mean is its seeds.csv mean over
seeds, the gap's parts add up, ood.csv's AUROCs are AUROCs), and `load_results` reads a sweep's tables or says what it expected."""
import json
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from classification_vs_labeling.findings import load_results, ci_text, claims, TABLES
from classification_vs_labeling.core import committed_results

SWEEPS = ['recipes_quick', 'noise_quick', 'classes_quick']
ARM = ['arm', 'epochs', 'setting']

def results_dir(): return Path(__file__).resolve().parents[1]/'results'

def test_results_are_the_repositorys():
    assert committed_results('classes_quick', ['gaps.csv']) == results_dir()/'classes_quick'
    assert load_results('classes_quick').equals(pd.read_csv(results_dir()/'classes_quick'/'gaps.csv'))

@pytest.mark.parametrize('name', SWEEPS)
def test_committed_sweep_is_consistent(name):
    gaps, seeds = load_results(name), load_results(name, 'seeds')
    assert len(gaps) and set(gaps.n_seeds) == {3}
    means = seeds.groupby(ARM)[['ce.accuracy', 'bce.argmax_accuracy', 'bce.exact_match']].mean()
    for r in gaps.to_dict('records'):
        m = means.loc[tuple(r[c] for c in ARM)]
        for k in m.index: assert r[k] == pytest.approx(m[k], abs=2e-6), (name, k)
    np.testing.assert_allclose(gaps['diff.gap_ranking'], gaps['ce.accuracy'] - gaps['bce.argmax_accuracy'], atol=2e-5)
    np.testing.assert_allclose(gaps['diff.gap_decoding'], gaps['bce.argmax_accuracy'] - gaps['bce.exact_match'], atol=2e-5)
    for k in ('diff.gap_ranking', 'diff.gap_decoding'):
        assert (gaps[f'{k}_low'] <= gaps[k] + 1e-9).all() and (gaps[k] <= gaps[f'{k}_high'] + 1e-9).all()
    assert 'wall:' in (results_dir()/name/'commands.txt').read_text()

@pytest.mark.parametrize('name', ['sweep_clipart', 'sweep_photos'])
def test_a_committed_sweep_on_debians_pictures_is_of_todays_data(name):
    "What the loaders keep (their rules, Debian's package) can change under a committed sweep: the items, split and unseen images it recorded must be today's."
    from classification_vs_labeling.datasets import load_set
    from classification_vs_labeling.files import fingerprint
    rec = json.loads((results_dir()/name/'run.json').read_text())
    iset, parts = load_set(rec['data']), ('items', 'split', 'ood')
    assert (rec['n_items'], rec['n_valid'], rec['n_ood']) == (len(iset.items), len(iset.valid_idx), len(iset.ood_items))
    assert {k: fingerprint(iset)[k] for k in parts} == {k: rec['fingerprint'][k] for k in parts}

def test_committed_ood_scores_are_aurocs():
    ood = load_results('recipes_quick', 'ood')
    cols = [c for c in ood if '.auroc' in c and not c.endswith(('_low', '_high', '_sd')) and not c.startswith('diff')]
    assert len(cols) >= 12 and ood[cols].min().min() >= 0 and ood[cols].max().max() <= 1

def test_load_results_from_a_folder_and_refusals(tmp_path):
    (tmp_path/'mine').mkdir()
    pd.DataFrame({'ce.accuracy': [0.9]}).to_csv(tmp_path/'mine'/'gaps.csv', index=False)
    assert load_results('mine', root=tmp_path)['ce.accuracy'].item() == 0.9
    with pytest.raises(ValueError, match=r"mine: expected .*seeds.csv"): load_results('mine', 'seeds', root=tmp_path)
    with pytest.raises(ValueError, match='table: expected one of gaps'): load_results('mine', 'logits', root=tmp_path)
    with pytest.raises(ValueError, match='name: expected'): load_results('../mine', root=tmp_path)
    assert set(TABLES) >= {'gaps', 'seeds', 'ood'}

def test_claims_formats_mean_interval_and_sd():
    r = {'n_classes': 8, 'recipe': 'default', 'label_noise': 0.0, 'epochs': 1, 'ce.accuracy': 0.9, 'bce.argmax_accuracy': 0.8,
         'bce.exact_match': 0.7, **{f'diff.gap_{p}{s}': v for p in ('ranking', 'decoding', 'fallback')
                                     for s, v in (('', 0.1), ('_low', 0.05), ('_high', 0.15), ('_sd', 0.02))}}
    assert ci_text(r, 'diff.gap_ranking') == '+0.100 [+0.050, +0.150] sd 0.020'
    c = claims(pd.DataFrame([r]))
    assert c.ranking.item() == '+0.100 [+0.050, +0.150] sd 0.020' and c.classifier.item() == 0.9


def test_the_readmes_headline_figure_is_what_plot_headline_draws(tmp_path):
    "results/headline.png (the README's first figure) is plot_headline's drawing of the committed results, at the size chapter 12b saves it."
    import matplotlib; matplotlib.use('Agg')
    from PIL import Image
    from classification_vs_labeling.findings import plot_headline
    fig = plot_headline(); fig.savefig(tmp_path/'h.png', dpi=80, bbox_inches='tight')
    new, old = Image.open(tmp_path/'h.png'), Image.open(results_dir()/'headline.png')
    assert new.size == old.size
    a, b = (np.asarray(x.convert('L'), float) for x in (new, old))
    assert np.abs(a - b).mean() < 2, "results/headline.png is stale: run chapter 12b (it saves the figure)"
    axs = fig.axes
    assert [ax.get_title() for ax in axs[:3]] == ['Digits (K = 8), small CNN from scratch', 'Glyphs, K classes, 1 epoch from scratch', 'Pretrained Lite0, small real sets']
    assert [len(ax.patches) for ax in axs[:3]] == [6, 12, 8]     # ranking and decoding per budget; 3 per K; 2 per real set and budget
