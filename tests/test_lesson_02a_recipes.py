"""Chapter 02a's prose, checked against the outputs the chapter stored (tests/test_notebooks.py fails when those are not
what its code prints now) and the committed sweeps it reads: the toy's gradients, the ranking and decoding gaps
against K it quotes, the recipes' losses, mixup's targets and the label noise example. The chapter keeps four visible
checks against timm and fastai; the checks it used to make of the recipe registry, the head's bias and the label
noise are in its internals notebook and in tests/test_recipes.py, and the two that were nowhere else are here."""
import re
import pandas as pd, torch
import torch.nn.functional as F
from functools import partial
from helpers import ROOT, stored_output, stored_prose, table_row, from_chapter
from classification_vs_labeling.recipes import prior_bias, soft_cross_entropy, mixup_batch

STEM = '02a_recipes'

def numbers(s) -> list[float]: return [float(x) for x in re.findall(r'[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?', s)]

row = partial(table_row, numbers=numbers, strip=True)   # a table's line, its indent dropped

prose = partial(stored_prose, STEM)

def test_the_toy_prior_bias_balances_the_pushes():
    t = stored_output(STEM, 'grads = {}')
    b0, pb = row(t, 'bias 0'), row(t, 'prior bias')          # sigmoid, grad_right, grad_each_wrong, grad_sum
    K = 37
    assert b0 == [0.5, -0.5, 0.5, (K - 2)/2]                  # 36 wrong classes x 0.5 - 0.5: every logit pushed down
    assert round(pb[0], 3) == round(1/K, 3) and abs(pb[3]) < 1e-6
    assert prior_bias(2) == 0.                                # two classes: a sigmoid of 0.5 is already the prior

def gap_rows():
    "The stored table, as {(K, recipe, epochs): [classifier, labeler argmax, ranking, low, high, decoding]} (the index prints once per group)."
    out, K, rec = {}, None, None
    for line in stored_output(STEM, 'gk.set_index').splitlines()[2:]:
        w = line.split()
        if w[0].isdigit() and len(w) == 9: K, rec, w = int(w[0]), w[1], w[2:]
        elif not w[0].isdigit() or len(w) == 8: rec, w = w[0], w[1:]
        out[(K, rec, int(w[0]))] = [float(v) for v in w[1:]]
    return out

def test_real_data_quotes_the_committed_k_sweep():
    g = gap_rows()
    assert len(g) == 16
    gk = pd.read_csv(ROOT/'results'/'classes_quick'/'gaps.csv')
    for (K, rec, e), v in g.items():                          # the stored table is the committed one
        r = gk[(gk.n_classes == K) & (gk.recipe == rec) & (gk.epochs == e)].iloc[0]
        assert v == [round(r[c], 3) for c in ['ce.accuracy', 'bce.argmax_accuracy', 'diff.gap_ranking', 'diff.gap_ranking_low', 'diff.gap_ranking_high', 'diff.gap_decoding']]
    d1 = [g[(K, 'default', 1)][2] for K in (2, 8, 20, 49)]
    assert d1 == sorted(d1)                                   # "ranks worse as K grows"
    assert g[(49, 'default', 1)][:3] == [0.712, 0.279, 0.433] and g[(49, 'prior-bias', 1)][2] == 0.027
    assert (g[(49, 'default', 3)][2], g[(49, 'prior-bias', 3)][2]) == (0.037, 0.002)
    assert (g[(49, 'prior-bias', 1)][5], g[(49, 'default', 1)][5]) == (0.327, 0.210)
    assert [g[(K, 'default', 1)][5] for K in (2, 8, 20)] == sorted(g[(K, 'default', 1)][5] for K in (2, 8, 20))   # decoding grows with K
    for q in ['right for 0.279\nof the items against the classifier\'s 0.712, a ranking gap of +0.433', '(+0.027)', '(+0.037 and +0.002)',
              '(+0.327 against the default\'s +0.210 at K = 49 after one epoch)']: assert q in prose(), q

def test_on_the_digits_no_recipe_moves_the_ranking():
    gr = pd.read_csv(ROOT/'results'/'recipes_quick'/'gaps.csv')
    assert set(gr.recipe) == {'default', 'prior-bias', 'smooth', 'sum', 'mixup'} and set(gr.n_classes) == {8}
    assert ((gr['diff.gap_ranking_low'] <= 0) & (gr['diff.gap_ranking_high'] >= 0)).all()
    mix = gr[gr.recipe == 'mixup'].set_index('epochs')['diff.gap_decoding']
    assert all(mix[e] == gr[gr.epochs == e]['diff.gap_decoding'].max() for e in (1, 3))   # "mixup: the largest decoding gap at both budgets"

def test_the_recipes_losses_and_mixups_targets():
    t = stored_output(STEM, "for name in ('default', 'smooth', 'sum')")
    d = dict(zip(('default', 'smooth', 'sum'), numbers(t)))
    assert abs(d['sum'] - 37*d['default']) < 1e-2             # `sum` is K times `default`
    m = stored_output(STEM, 'xm, ym = mixup_batch(')
    assert '[[1., 0., 0., 1.],\n         [0., 1., 1., 0.],\n         [0., 1., 1., 0.],\n         [1., 0., 0., 1.]]' in m   # 70/30 blends: two labels each
    x, t_ = torch.arange(4.).view(4, 1), torch.tensor([0, 1, 2, 3])
    _, ym = mixup_batch(x, t_, 4, 0.7)
    z = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(soft_cross_entropy(z, ym), F.cross_entropy(z, ym))   # PyTorch takes class probabilities too

def test_label_noise_changes_a_quarter_of_the_training_labels_only():
    changed = re.findall(r'\((\d+), ', stored_output(STEM, 'noisy = noisy_labels('))
    assert len(changed) == 6 and max(map(int, changed)) < 24   # 25% of 24 training labels; never a validation label
    labs, train = from_chapter(STEM, 'labs', 'train')
    assert len(labs) == 30 and list(train) == list(range(24))
