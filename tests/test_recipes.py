"""Chapter 02a: the labeler recipes' targets and losses against timm's (`BinaryCrossEntropy`, `Mixup`,
`SoftTargetCrossEntropy`) and fastai's, label noise, and (chapter 04) what a recipe changes in a paired run: only the
labeler, except mixup."""
import json
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from fastai.losses import BCEWithLogitsLossFlat
from timm.data import Mixup
from timm.loss import BinaryCrossEntropy, SoftTargetCrossEntropy
from classification_vs_labeling.recipes import (RECIPES, Recipe, check_recipe, prior_bias, head_linear, set_head_bias, bce_targets,
                                                labeler_loss, mixup_lambda, mixup_batch, soft_cross_entropy, noisy_labels)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 37, generator=g)*3, torch.randint(0, 37, (16,), generator=g)


def test_recipe_names_and_refusals():
    assert list(RECIPES) == ['default', 'prior-bias', 'smooth', 'sum', 'mixup']
    assert check_recipe('mixup') is RECIPES['mixup'] and check_recipe(RECIPES['sum']) is RECIPES['sum']
    for bad in ('focal', '', None, 3, 'Default'):
        with pytest.raises(ValueError) as e: check_recipe(bad)
        assert str(e.value).startswith('recipe: expected one of default, prior-bias') and '\n' not in str(e.value)
    with pytest.raises(Exception): RECIPES['default'].smoothing = 0.2     # frozen: a recorded setting never changes


@pytest.mark.parametrize('n,k', [(16, 37), (32, 10), (64, 8)])
def test_default_is_fastais_loss_bit_for_bit(n, k):
    "Loss and gradient, through a slice of a wider output as the paired model's labeler half is: PyTorch's BCE rounds differently on other layouts."
    for seed in range(10):
        g = torch.Generator().manual_seed(seed)
        wide, t = torch.randn(n, 2*k, generator=g), torch.randint(0, k, (n,), generator=g)
        a, b = wide.clone().requires_grad_(), wide.clone().requires_grad_()
        la, lb = labeler_loss(a[:, k:], t), BCEWithLogitsLossFlat()(b[:, k:], F.one_hot(t, k).float())
        la.backward(); lb.backward()
        assert torch.equal(la, lb) and torch.equal(a.grad, b.grad), seed


@pytest.mark.parametrize('name,timm_kw', [('smooth', dict(smoothing=0.1)), ('sum', dict(smoothing=0., sum_classes=True)),
                                          ('default', dict(smoothing=0.))])
def test_losses_match_timms_binary_cross_entropy(batch, name, timm_kw):
    z, t = batch
    torch.testing.assert_close(labeler_loss(z, t, name), BinaryCrossEntropy(**timm_kw)(z, t))
    torch.testing.assert_close(labeler_loss(z.double(), t, name), BinaryCrossEntropy(**timm_kw)(z.double(), t))


def test_smoothing_targets_as_timm_writes_them():
    y = bce_targets(torch.tensor([1, 0]), 5, smoothing=0.1)
    torch.testing.assert_close(y, torch.tensor([[0.02, 0.92, 0.02, 0.02, 0.02], [0.92, 0.02, 0.02, 0.02, 0.02]]))
    torch.testing.assert_close(y.sum(1), torch.ones(2))           # smoothing moves weight, it adds none
    for bad, msg in ((torch.tensor([5]), r'targs: expected class indices in \[0, 5\)'), (torch.zeros(2, 3), r'targs: expected \(N,\) class indices or \(N, 5\)'),
                     (torch.zeros(2, 5, 1), 'targs: expected')):
        with pytest.raises(ValueError, match=msg): bce_targets(bad, 5)
    with pytest.raises(ValueError, match=r'smoothing: expected a value in \[0, 1\)'): bce_targets(torch.tensor([0]), 5, smoothing=1.)


@pytest.mark.parametrize('seed', range(6))
def test_mixup_matches_timms_mixup_and_threshold(seed):
    "timm's batch Mixup (its lambda recovered from its targets) gives the same images and soft targets; its BCE with target_threshold=0.2 the same loss."
    g = torch.Generator().manual_seed(seed)
    x, t, k = torch.rand(8, 3, 4, 4, generator=g), torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])[torch.randperm(8, generator=g)], 10
    np.random.seed(seed)
    xt, yt = Mixup(mixup_alpha=0.2, cutmix_alpha=0., prob=1., mode='batch', label_smoothing=0., num_classes=k)(x.clone(), t)
    lam = float(yt[0, t[0]])                                         # t has distinct classes, so item 0's own weight is lam
    xm, ym = mixup_batch(x, t, k, lam)
    torch.testing.assert_close(xm, xt); torch.testing.assert_close(ym, yt)
    z = torch.randn(8, k, generator=g)
    torch.testing.assert_close(labeler_loss(z, ym, 'mixup'), BinaryCrossEntropy(smoothing=0., target_threshold=0.2)(z, ym))
    torch.testing.assert_close(soft_cross_entropy(z, ym), SoftTargetCrossEntropy()(z, ym))
    assert set(bce_targets(ym, k, target_threshold=0.2).sum(1).tolist()) <= {1., 2.}   # one label, or two for an even blend


def test_mixup_lambda_is_beta_and_seeded():
    a = [mixup_lambda(0.2, np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    lams = np.array([mixup_lambda(0.2, r) for r in [np.random.default_rng(0)] for _ in range(4000)])
    from scipy import stats
    assert stats.kstest(lams, stats.beta(0.2, 0.2).cdf).pvalue > 1e-3
    with pytest.raises(ValueError, match='alpha: expected'): mixup_lambda(0., np.random.default_rng(0))
    with pytest.raises(ValueError, match='lam: expected'): mixup_batch(torch.zeros(2, 1), torch.tensor([0, 1]), 2, 1.5)


def test_prior_bias_and_the_head():
    for k in (2, 8, 37, 1000):
        assert abs(torch.sigmoid(torch.tensor(prior_bias(k), dtype=torch.float64)).item() - 1/k) < 1e-12
    with pytest.raises(ValueError, match=r'n_classes: expected a value in \[2, inf\]'): prior_bias(1)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 5))
    assert head_linear(m) is m[2]
    first = m[0].weight.detach().clone()
    set_head_bias(m, -2.)
    assert torch.equal(m[2].bias.detach(), torch.full((5,), -2.)) and torch.equal(m[0].weight, first)
    nob = nn.Sequential(nn.Linear(3, 5, bias=False))
    set_head_bias(nob, prior_bias(5))
    assert isinstance(nob[0].bias, nn.Parameter) and nob[0].bias.requires_grad and nob(torch.zeros(1, 3)).allclose(torch.full((1, 5), -np.log(4)))


def test_label_noise_flips_training_labels_only():
    labels = [c for c in 'abcdefgh' for _ in range(50)]              # 400 items, 8 classes
    train = np.random.default_rng(0).permutation(400)[:320]
    for p in (0.0, 0.1, 0.2, 0.5, 0.95):
        noisy = noisy_labels(labels, train, p, seed=4)
        changed = np.flatnonzero(np.array(noisy) != np.array(labels))
        assert len(changed) == round(p*320) and set(changed) <= set(train)     # exactly that many, training items only
        assert set(noisy) <= set(labels)                                 # to another class of the set
        assert noisy == noisy_labels(labels, train, p, seed=4)
    a, b = noisy_labels(labels, train, 0.2, seed=0), noisy_labels(labels, train, 0.2, seed=1)
    assert a != b
    # the new class is uniform over the K - 1 others (chi-square over many flips)
    many = noisy_labels(['a']*20000 + ['b', 'c', 'd'], np.arange(20000), 0.9, seed=0)
    from scipy import stats
    counts = [many.count(c) for c in 'bcd']
    assert stats.chisquare(np.array(counts) - 1).pvalue > 1e-3


@pytest.mark.parametrize('bad', [1.0, -0.1, float('nan'), 'x', True, 2])
def test_label_noise_refused_at_the_door(bad):
    with pytest.raises(ValueError) as e: noisy_labels(['a', 'b'], [0], bad)
    assert str(e.value).startswith('label_noise: expected') and '\n' not in str(e.value)

def test_label_noise_refuses_bad_indices():
    with pytest.raises(ValueError, match=r'train_idx: expected distinct indices in \[0, 2\)'): noisy_labels(['a', 'b'], [0, 2], 0.5)
    with pytest.raises(ValueError, match='train_idx: expected distinct'): noisy_labels(['a', 'b'], [1, 1], 0.5)
    with pytest.raises(ValueError, match='needs 2 or more classes'): noisy_labels(['a', 'a'], [0, 1], 0.5)


# ---- chapter 04: a recipe in the paired run ----

@pytest.fixture(scope='module')
def tiny():
    from classification_vs_labeling.data import mnist_set, ImageSet
    iset = mnist_set(seed=0, ood='none')
    keep = np.random.default_rng(0).permutation(len(iset.items))[:400]
    valid = set(iset.valid_idx.tolist())
    return ImageSet('tiny', [iset.items[i] for i in keep], [iset.labels[i] for i in keep], [j for j, i in enumerate(keep) if i in valid])

def _fresh(iset, recipe):
    "A paired learner on fresh loaders (so every call sees the same batches), not yet trained."
    from classification_vs_labeling.fastpath import cached_dls
    from classification_vs_labeling.train import paired_learner
    torch.set_num_threads(1)
    return paired_learner(cached_dls(iset, 28, bs=32, seed=1, device='cpu'), 'small', seed=3, recipe=recipe)

def _trained(iset, recipe, epochs=1):
    "(the learner, its predictions before training, after `epochs` epochs)."
    from classification_vs_labeling.train import predict_pair
    learn = _fresh(iset, recipe)
    z0 = predict_pair(learn)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 1e-2)
    return learn, z0, predict_pair(learn)

def test_a_recipe_changes_only_the_labeler(tiny):
    "Same initial weights, same batches: the classifier's logits are bit-identical under every recipe but mixup, the labeler's are not."
    _, z0, base = _trained(tiny, 'default')
    np.testing.assert_array_equal(z0.bce_logits, z0.ce_logits)                   # the default labeler starts as the classifier
    for name in ('prior-bias', 'smooth', 'sum', 'mixup'):
        learn, z0r, p = _trained(tiny, name)
        assert np.array_equal(z0r.ce_logits, z0.ce_logits)                          # the same classifier at the start
        assert np.array_equal(p.ce_logits, base.ce_logits) == (name != 'mixup'), name
        assert not np.allclose(p.bce_logits, base.bce_logits), name
        assert np.isfinite(p.bce_logits).all() and learn.loss_func.recipe.name == name

def test_prior_bias_starts_the_labelers_sigmoids_at_one_over_k(tiny):
    from classification_vs_labeling.train import predict_pair
    learn = _fresh(tiny, 'prior-bias')
    k, b_init = len(learn.dls.vocab), head_linear(learn.model.ce).bias.detach().numpy()   # the classifier keeps the architecture's init
    np.testing.assert_array_equal(head_linear(learn.model.bce).bias.detach().numpy(), np.full(k, prior_bias(k), np.float32))
    z0 = predict_pair(learn)
    # the labeler starts as the classifier with its head bias replaced by -log(K - 1): the logits shift by the difference
    np.testing.assert_allclose(z0.bce_logits - z0.ce_logits, np.broadcast_to(prior_bias(k) - b_init, z0.ce_logits.shape), atol=1e-5)
    assert abs(np.median(1/(1 + np.exp(-z0.bce_logits))) - 1/k) < 0.5/k         # so its sigmoids start near 1/K

def test_sum_is_the_default_with_adams_eps_divided_by_k(tiny):
    "Adam cancels a constant loss factor except against eps (weight decay is decoupled): 'sum' trains the labeler as 'default' with eps/K."
    from functools import partial
    from fastai.optimizer import Adam
    from classification_vs_labeling.train import predict_pair
    k = len(set(tiny.labels))
    def run(recipe, eps):
        learn = _fresh(tiny, recipe)
        learn.opt_func = partial(Adam, eps=eps)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 1e-2)
        return predict_pair(learn).bce_logits
    summed, scaled = run('sum', 1e-5), run('default', 1e-5/k)
    same, other = np.abs(summed - scaled).max(), np.abs(summed - run('default', 1e-5)).max()
    print(f"largest labeler logit difference from 'sum': default with eps/K {same:.2e}, default with eps {other:.2e}")
    assert same < 0.01 and other > 10*same                                         # the same training to float rounding; eps itself matters

# ---- the run spec's recipe and label noise, applied by train_pair (chapter 04) ----

def _spy(monkeypatch):
    "Record what train_pair hands on: the labeler's recipe of the learner it builds, and the labels of the data it loads."
    import classification_vs_labeling.train as T
    seen, learner, loaders = {}, T.paired_learner, T.cached_dls
    def paired_learner(*a, **kw):
        learn = learner(*a, **kw); seen['recipe'] = learn.loss_func.recipe.name; return learn
    def cached_dls(iset, *a, **kw): seen['labels'] = list(iset.labels); return loaders(iset, *a, **kw)
    monkeypatch.setattr(T, 'paired_learner', paired_learner); monkeypatch.setattr(T, 'cached_dls', cached_dls)
    return seen

def test_a_spec_with_a_recipe_trains_the_labeler_with_it(tiny, monkeypatch):
    "train_pair gives the spec's recipe to the labeler only: the classifier's logits are bit-identical to the default run's but under mixup."
    from classification_vs_labeling.spec import RunSpec
    from classification_vs_labeling.train import train_pair
    torch.set_num_threads(1)
    seen = _spy(monkeypatch)
    spec = RunSpec('mnist', arch='small', epochs=1, size=28, bs=32, fast=True, seed=3)
    base = train_pair(tiny, spec, device='cpu', progress=False)
    assert seen['recipe'] == 'default'
    for name in ('prior-bias', 'mixup'):
        p = train_pair(tiny, spec.replace(recipe=name), device='cpu', progress=False)
        assert seen['recipe'] == name and json.loads(p.spec)['recipe'] == name
        assert np.array_equal(p.ce_logits, base.ce_logits) == (name != 'mixup'), name
        assert not np.allclose(p.bce_logits, base.bce_logits), name
        assert seen['labels'] == tiny.labels                                      # no noise: the labels as they are

def test_label_noise_is_applied_to_training_labels_once_for_both_and_recorded(tiny, monkeypatch):
    from classification_vs_labeling.spec import RunSpec
    from classification_vs_labeling.train import train_pair
    torch.set_num_threads(1)
    seen = _spy(monkeypatch)
    spec = RunSpec('mnist', arch='small', epochs=1, size=28, bs=32, fast=True, seed=3, label_noise=0.25)
    p = train_pair(tiny, spec, device='cpu', progress=False)
    got, train = seen['labels'], tiny.train_idx
    changed = [i for i, (a, b) in enumerate(zip(tiny.labels, got)) if a != b]
    assert len(changed) == round(0.25*len(train)) and set(changed) <= set(train.tolist())    # training labels only, never validation
    assert got == noisy_labels(tiny.labels, train, 0.25, seed=3)                 # drawn from the spec's seed
    # one loader feeds both models (one paired learner), and the scores use the true validation labels
    assert [p.classes[t] for t in p.targs] == [tiny.labels[i] for i in tiny.valid_idx]
    rec = json.loads(p.spec)
    assert rec['label_noise'] == 0.25 and rec['recipe'] == 'default' and 'noise0.25' in spec.key
    assert train_pair(tiny, spec, device='cpu', progress=False).ce_logits.tobytes() == p.ce_logits.tobytes()   # the same flips again
    clean = train_pair(tiny, spec.replace(label_noise=0.), device='cpu', progress=False)
    assert not np.array_equal(clean.ce_logits, p.ce_logits) and not np.array_equal(clean.bce_logits, p.bce_logits)   # both models see the noise

@pytest.mark.parametrize('kw,msg', [(dict(recipe='focal'), 'recipe: expected one of default, prior-bias, smooth, sum, mixup'),
                                    (dict(label_noise=1.0), r'label_noise: expected a value in \[0, 1\)'),
                                    (dict(label_noise=-0.1), 'label_noise: expected'),
                                    (dict(recipe=Recipe('mine', smoothing=0.3)), 'a run records its recipe by name')])
def test_a_spec_refuses_an_unknown_recipe_or_noise(kw, msg):
    from classification_vs_labeling.spec import RunSpec
    with pytest.raises(ValueError, match=msg) as e: RunSpec('mnist', **kw)
    assert '\n' not in str(e.value)
