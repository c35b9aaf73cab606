"Tests for classification_vs_labeling.count: the softmax + count loss against PyTorch, decoding, the paired learner, set metrics against scikit-learn, bad input."
import numpy as np, pandas as pd, pytest, torch
import torch.nn.functional as F
import matplotlib; matplotlib.use('Agg')
from hypothesis import given, settings, strategies as st
from sklearn.metrics import accuracy_score, hamming_loss
from classification_vs_labeling.multilabel import multi_digits, multi_dls
from classification_vs_labeling.count import *
from fastcore import test as fc       # fastcore's test_eq/test_close/test_fail, as in the chapter (a bare import would be collected as tests)

@pytest.fixture(scope='module')
def digits(): return multi_digits(n_train=300, n_valid=100, seed=0)

# ---- the softmax + count loss
def batch():
    torch.manual_seed(0)
    targ = torch.tensor([[1., 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 0, 0], [0, 0, 0, 0, 0]])
    return torch.randn(5, 5 + 4, requires_grad=True), targ

def test_count_loss_matches_pytorch():
    out, targ = batch()
    loss = CountLoss(5, max_count=3)(out, targ)
    n = targ.sum(1); has = n > 0
    dist = F.cross_entropy(out[has, :5], targ[has]/n[has, None])          # PyTorch's CE with probability targets
    ref = dist + F.cross_entropy(out[:, 5:], n.long())
    torch.testing.assert_close(loss, ref)
    by_hand = -(targ[has]/n[has, None]*F.log_softmax(out[has, :5], 1)).sum(1).mean() - F.log_softmax(out[:, 5:], 1)[torch.arange(5), n.long()].mean()
    torch.testing.assert_close(loss, by_hand)

def test_count_loss_gradient_is_masked():
    out, targ = batch()
    CountLoss(5, 3)(out, targ).backward()
    g = out.grad
    empty = targ.sum(1) == 0
    assert torch.isfinite(g).all()
    assert (g[empty, :5] == 0).all()                               # no label: the distribution is not trained
    assert (g[~empty, :5].abs().sum(1) > 0).all() and (g[:, 5:].abs().sum(1) > 0).all()

def test_count_loss_all_empty_batch():
    out = torch.randn(3, 8, requires_grad=True)
    loss = CountLoss(4, 3)(out, torch.zeros(3, 4))
    torch.testing.assert_close(loss, F.cross_entropy(out[:, 4:], torch.zeros(3, dtype=torch.long)))
    loss.backward()
    assert (out.grad[:, :4] == 0).all() and torch.isfinite(out.grad).all()

def test_count_loss_accepts_fastai_tensors():
    from fastai.torch_core import TensorImage, TensorMultiCategory
    out, targ = batch()
    torch.testing.assert_close(CountLoss(5, 3)(TensorImage(out), TensorMultiCategory(targ)), CountLoss(5, 3)(out, targ))

@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.integers(1, 6), st.integers(0, 10_000))
def test_predict_sets_is_top_n(k, n_items, seed):
    mc = min(k, 3)
    out = np.random.default_rng(seed).normal(size=(n_items, k + mc + 1))
    cl = CountLoss(k, mc)
    sets = cl.predict_sets(out)
    assert sets.shape == (n_items, k) and sets.dtype == bool
    for row, o in zip(sets, out):
        n = o[k:].argmax()
        assert row.sum() == n
        assert set(np.flatnonzero(row)) == set(np.argsort(-o[:k], kind='stable')[:n])
    np.testing.assert_array_equal(cl.predict_sets(cl.activation(torch.tensor(out))), sets)   # softmax keeps the order

def test_activation_sums_to_one():
    out, _ = batch()
    a = CountLoss(5, 3).activation(out)
    torch.testing.assert_close(a[:, :5].sum(1), torch.ones(5)); torch.testing.assert_close(a[:, 5:].sum(1), torch.ones(5))

def test_count_loss_bad_input():
    out, targ = batch()
    cl = CountLoss(5, 3)
    with pytest.raises(ValueError, match='multi-hot'): cl(out, targ*0.5)
    with pytest.raises(ValueError, match='multi-hot'): cl(out, targ*2)
    with pytest.raises(ValueError, match='at most max_count=3'): cl(out, torch.ones(5, 5))
    with pytest.raises(ValueError, match=r'\(N, 5\)'): cl(out, targ[:, :4])
    with pytest.raises(ValueError, match='expected shape'): cl(out[:, :8], targ)
    with pytest.raises(ValueError, match='max_count'): CountLoss(3, 4)
    with pytest.raises(ValueError, match='max_count'): CountLoss(3, 0)
    with pytest.raises(ValueError, match='finite'): cl.predict_sets(np.full((2, 9), np.nan))

def test_count_pair_loss_is_the_sum():
    out, targ = batch()
    both = torch.cat([out, torch.randn(5, 9)], 1)
    pl = CountPairLoss(5, 3)
    ref = CountLoss(5, 3)(both[:, :9], targ) + F.binary_cross_entropy_with_logits(both[:, 9:14], targ)
    torch.testing.assert_close(pl(both, targ), ref)
    np.testing.assert_array_equal(pl.decodes(both).numpy(), CountLoss(5, 3).predict_sets(out.detach()))
    with pytest.raises(ValueError, match='columns'): pl(both[:, :17], targ)

def test_count_pair_learner_same_init_and_metrics(digits):
    dls = multi_dls(digits, bs=8)
    learn = count_pair_learner(dls, seed=1)
    for p, q in zip(learn.model.ce.parameters(), learn.model.bce.parameters()): assert torch.equal(p, q)
    xb, yb = dls.valid.one_batch()
    out = learn.model(xb).as_subclass(torch.Tensor)
    t = yb.as_subclass(torch.Tensor)
    assert out.shape == (8, 28)
    em = (CountLoss(10, 3).decodes(out[:, :14]) == t.bool()).all(1).float().mean()
    torch.testing.assert_close(count_exact_match(out, t), em)
    torch.testing.assert_close(bce_exact_match_multi(out, t), ((out[:, 14:24] > 0) == t.bool()).all(1).float().mean())
    loss = learn.loss_func(out, t); loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in learn.model.ce.parameters() if p.requires_grad)
    fc.test_close(loss, CountLoss(10, 3)(out[:, :14], t) + F.binary_cross_entropy_with_logits(out[:, 14:24], t.float()), eps=1e-5)

def test_count_pair_learner_passes_learner_options_on(digits):
    learn = count_pair_learner(multi_dls(digits, bs=8), seed=1, wd=0.25, max_count=4)
    assert learn.wd == 0.25 and learn.loss_func.count.max_count == 4
    with pytest.raises(TypeError): count_pair_learner(multi_dls(digits, bs=8), 'small', False, 1)   # seed is keyword-only

def test_multi_predictions_checks():
    p = MultiPredictions(list('abcde'), np.eye(5)[[0, 1]], np.zeros((2, 9)), np.zeros((2, 5)), 3)
    assert p.count_sets.shape == (2, 5) and p.counts.tolist() == [1, 1]
    np.testing.assert_allclose(p.dist_probs.sum(1), 1, rtol=1e-6); np.testing.assert_allclose(p.bce_probs, 0.5)
    with pytest.raises(ValueError, match='9 classes'): MultiPredictions(list('abcde'), np.eye(5)[[0, 1]], np.zeros((2, 8)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match='rows'): MultiPredictions(list('abcde'), np.eye(5)[[0, 1]], np.zeros((3, 9)), np.zeros((2, 5)))

# ---- set metrics
def rand_sets(n=300, k=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, k)) < 0.25, rng.random((n, k)) < 0.25

def test_set_metrics_against_sklearn():
    s, t = rand_sets()
    m = set_metrics(s, t)
    assert m['exact_match'] == pytest.approx(accuracy_score(t, s))          # scikit-learn's subset accuracy
    assert m['per_label_accuracy'] == pytest.approx(1 - hamming_loss(t, s))
    ns, nt, tp = s.sum(1), t.sum(1), (s & t).sum(1)
    f1 = np.where(ns + nt == 0, 1.0, 2*tp/np.maximum(ns + nt, 1))            # an empty answer to an empty truth is right
    assert m['f1_samples'] == pytest.approx(f1.mean())
    assert m['mean_set_size'] == pytest.approx(ns.mean())
    with pytest.raises(ValueError, match='0 and 1'): set_metrics(s*0.5 + 0.25, t)
    with pytest.raises(ValueError, match='expected shape'): set_metrics(s, t[:, :5])

def test_by_count_and_error_kinds():
    s, t = rand_sets(seed=1)
    sets = {'a': s, 'b': t}
    bc = by_count(sets, t)
    n = t.sum(1)
    assert bc.index.tolist() == sorted(np.unique(n)) and bc['items'].sum() == len(t)
    assert (bc['b'] == 1).all()
    for c in bc.index: assert bc.loc[c, 'a'] == pytest.approx((s[n == c] == t[n == c]).all(1).mean())
    e = error_kinds(s, t)
    assert e['right'] + e['too few'] + e['too many'] + e['right number, wrong labels'] == pytest.approx(1)
    assert e['right'] == pytest.approx(accuracy_score(t, s)) and e['(of which none)'] <= e['too few']
    cc = count_confusion(s, t)
    assert cc.to_numpy().sum() == len(t) and np.trace(count_confusion(t, t).to_numpy()) == len(t)
    ax = plot_by_count(bc)
    assert len(ax.patches) == 2*len(bc)
    few = bc['items'].to_numpy() < 10                                   # groups of few images are hatched, the others not
    assert few.any() and not few.all()
    for p, f in zip(ax.patches, np.tile(few, 2)): assert (p.get_hatch() == '//') == f
    assert [t.get_text() for t in ax.texts] == [f'{v:.2f}' for m in ('a', 'b') for v in bc[m]]   # every bar says its value, 0.00 too
    ax.figure.canvas.draw()
    assert ax.get_legend().get_window_extent().y1 < ax.get_window_extent().y0 and 'hatched: fewer than 10 images' in [t.get_text() for t in ax.get_legend().get_texts()]
    assert [p.get_hatch() for p in plot_by_count(bc, min_count=1, title='one seed').patches] == [None]*len(ax.patches)

def test_held_out_sets_tunes_on_the_other_part():
    rng = np.random.default_rng(0)
    t = rng.random((200, 4)) < 0.3
    logits = np.where(t, 1.0, -1.0) + rng.normal(0, 1, t.shape)
    count_out = np.concatenate([np.where(t, 2.0, 0.0), np.eye(5)[t.sum(1)]*3], 1)
    p = MultiPredictions(list('abcd'), t, count_out, logits - 1, max_count=4)
    sets, targs, held, thresh = held_out_sets(p, seed=0)
    np.testing.assert_array_equal(targs, t[held])
    assert 0 < held.sum() < len(t) and set(sets) == {'labeler (tuned thresh)', 'labeler (thresh 0.5)', 'count model', 'softmax top-1'}
    from classification_vs_labeling.thresholds import best_threshold
    assert thresh == best_threshold(p.bce_probs[~held], t[~held])
    np.testing.assert_array_equal(sets['labeler (tuned thresh)'], p.bce_probs[held] > thresh)
    np.testing.assert_array_equal(sets['count model'], t[held])   # this count model is right by construction
    assert (sets['softmax top-1'].sum(1) == 1).all()

def test_most_common_set_and_names():
    t = np.array([[0, 1], [0, 1], [1, 1], [0, 0]])
    np.testing.assert_array_equal(most_common_set(t), [False, True])
    assert set_names([[True, False], [False, False], [True, True]], ['x', 'y']) == ['{x}', '{}', '{x,y}']
    np.testing.assert_array_equal(top1_sets([[0.1, 0.7, 0.2]]), [[False, True, False]])

# ---- chapter 10's checks: its toy batch and toy sets, and how its tables fit together (on made-up predictions)
def toy():
    "The chapter's toy batch, K=4: an image with classes 0 and 2, one with class 1, one with none."
    targ = torch.tensor([[1., 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    out = torch.tensor([[2., 0, 2, 0,   0, 0, 3, 0],         # classes 0 and 2 tie; count 2
                        [0., 3, 1, 0,   0, 3, 0, 0],         # class 1; count 1
                        [1., 0, 0, 0,   3, 0, 0, 0]])        # count 0
    return CountLoss(4, max_count=3), out, targ

def test_count_loss_on_the_chapter_toy():
    cl, out, targ = toy()
    dist = F.cross_entropy(out[:2, :4], targ[:2]/targ[:2].sum(1, keepdim=True))
    fc.test_close(cl(out, targ), dist + F.cross_entropy(out[:, 4:], torch.tensor([2, 1, 0])), eps=1e-6)
    fc.test_eq(cl.predict_sets(out), np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]], bool))
    fc.test_eq(cl.predict_sets(cl.activation(out)), cl.predict_sets(out))   # softmax keeps the order: same sets
    fc.test_fail(lambda: cl(out, targ*2), contains='multi-hot')
    fc.test_fail(lambda: cl(out, torch.ones(3, 4)), contains='at most')
    fc.test_fail(lambda: cl(out[:, :6], targ), contains='expected shape')

def test_set_metrics_and_error_kinds_on_the_chapter_toys():
    t1 = set_metrics(np.array([[1, 0], [0, 0], [1, 1], [0, 0]]), np.array([[1, 0], [0, 0], [1, 0], [0, 1]]))
    fc.test_close(t1['exact_match'], 0.5); fc.test_close(t1['f1_samples'], (1 + 1 + 2/3 + 0)/4); fc.test_close(t1['per_label_accuracy'], 6/8)
    fc.test_fail(lambda: set_metrics(np.ones((2, 3)), np.ones((2, 2))), contains='expected shape')
    e = error_kinds([[0, 0], [1, 1], [0, 1], [1, 0]], [[1, 0], [1, 0], [1, 0], [1, 0]])
    fc.test_eq(e, {'right': .25, 'too few': .25, '(of which none)': .25, 'too many': .25, 'right number, wrong labels': .25})

def made_up_preds(n=400, k=5, seed=0) -> MultiPredictions:
    "Noisy predictions of both models for random label sets of 0..3 labels: neither model is always right."
    rng = np.random.default_rng(seed)
    t = np.zeros((n, k), bool)
    for row, c in zip(t, rng.integers(0, 4, n)): row[rng.choice(k, c, replace=False)] = True
    count_out = np.concatenate([np.where(t, 2., 0.) + rng.normal(0, 1, t.shape), np.eye(4)[t.sum(1)]*2 + rng.normal(0, 1, (n, 4))], 1)
    return MultiPredictions([str(i) for i in range(k)], t, count_out, np.where(t, 1., -1.) + rng.normal(0, 1, t.shape), max_count=3)

def test_the_chapters_tables_fit_together():
    p = made_up_preds()
    sets, targs_h, held, thresh = held_out_sets(p)
    table = sets_table(sets, targs_h)
    fc.test_eq(table.loc['count model', 'exact_match'], (p.count_sets[held] == targs_h).all(1).mean())
    fc.test_eq(held.sum(), len(targs_h)); fc.test_eq(p.targs[held], targs_h)
    assert 0 < table.loc['count model', 'exact_match'] < 1 and 0 < table.loc['labeler (tuned thresh)', 'exact_match'] < 1
    bc = by_count(sets, targs_h)
    fc.test_eq(bc['items'].sum(), len(targs_h))
    for m in sets: fc.test_close((bc[m]*bc['items']).sum()/len(targs_h), table.loc[m, 'exact_match'], eps=1e-9)   # the rows add up to the total
    assert 0 in bc.index
    fc.test_eq(bc.loc[0, 'softmax top-1'], 0.)                                                                     # top-1 is never empty
    errs = pd.DataFrame({m: error_kinds(s, targs_h) for m, s in sets.items()}).T
    fc.test_close(errs[['right', 'too few', 'too many', 'right number, wrong labels']].to_numpy().sum(1), 1, eps=1e-9)
    fc.test_close(errs['right'].to_numpy(), table['exact_match'].to_numpy(), eps=1e-9)

def test_file_based_tag_set_takes_its_row_and_caches_the_head_phase(tmp_path, monkeypatch):
    "A set of image files named like a registered multi-label row (clipart_tags) gets that row's size and settings; its head phase runs on cached features."
    from PIL import Image
    from classification_vs_labeling.data import MultiLabelSet
    from classification_vs_labeling.multilabel import multi_size
    from classification_vs_labeling import frozen
    rng = np.random.default_rng(0); files, labels = [], []
    for i in range(12):
        f = tmp_path/f'{i}.png'; Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(f)
        files.append(f); labels.append([['a'], ['b'], ['a', 'b'], []][i % 4])
    mset = MultiLabelSet('clipart_tags', files, labels, ['a', 'b'], valid_idx=[0, 1, 2, 3])
    cfg = multi_config(mset)
    assert (multi_size(mset), cfg.data, cfg.arch, cfg.pretrained, cfg.train_bn) == (64, 'clipart_tags', 'efficientnet_lite0', True, False)
    assert multi_size(MultiLabelSet('mine', files, labels, ['a', 'b'], valid_idx=[0])) == 224   # another set of files: pascal's
    calls = []
    monkeypatch.setattr(frozen, 'fit_head_cached', lambda *a, f=frozen.fit_head_cached, **k: calls.append(1) or f(*a, **k))
    p = train_count_pair(mset, cfg.replace(size=32, epochs=1, bs=4), progress=False)
    assert calls == [1] and p.bce_logits.shape == (4, 2) and p.targs.shape == (4, 2)

def test_head_only_cached_equals_plain(tmp_path, monkeypatch):
    "head_only (the chapter's clip-art run) on cached features gives fastai's own frozen head phase under the same setting, closer than another seed."
    from PIL import Image
    from classification_vs_labeling.data import MultiLabelSet
    from classification_vs_labeling import frozen
    rng = np.random.default_rng(1); files, labels = [], []
    for i in range(16):
        f = tmp_path/f'{i}.png'; Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(f)
        files.append(f); labels.append([['a'], ['b'], ['a', 'b'], []][i % 4])
    mset = MultiLabelSet('clipart_tags', files, labels, ['a', 'b'], valid_idx=[0, 1, 2, 3, 4, 5])
    cfg = multi_config(mset).replace(size=32, epochs=3, bs=4, lr=1e-2)
    run = lambda seed=0: train_count_pair(mset, cfg, head_only=True, progress=False, seed=seed)
    calls = []
    monkeypatch.setattr(frozen, 'fit_head_cached', lambda *a, f=frozen.fit_head_cached, **k: calls.append(1) or f(*a, **k))
    cached = run()
    monkeypatch.setattr(frozen, 'cacheable', lambda learn: 'not cached in this test')      # fine_tune takes fastai's own head phase
    plain, other = run(), run(seed=1)
    assert calls == [1]                                                                     # only the first run was cached
    out = lambda p: np.concatenate([p.count_out, p.bce_logits], 1)
    np.testing.assert_allclose(out(cached), out(plain), atol=1e-4, rtol=1e-4)
    assert np.abs(out(plain) - out(other)).max() > 100*np.abs(out(cached) - out(plain)).max()
    with pytest.raises(ValueError, match='head_only: expected a pretrained'): train_count_pair(mset, cfg.replace(pretrained=False), head_only=True)
