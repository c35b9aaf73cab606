"""Chapter 03g: the cached head phase gives fastai's own head phase (body frozen completely), batch for batch, for a
paired learner and for a plain one; it refuses what would make cached features wrong."""
import numpy as np, pytest, torch
from PIL import Image
from fastai.callback.training import BnFreeze
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat
from fastai.torch_core import set_seed
from classification_vs_labeling.data import folder_set, matched_dls
from classification_vs_labeling.offline import lite0_model
from classification_vs_labeling.train import paired_learner
from classification_vs_labeling.frozen import *

@pytest.fixture(scope='module')
def iset(tmp_path_factory):
    d = tmp_path_factory.mktemp('frozen'); rng = np.random.default_rng(0)
    for k, c in enumerate(('a', 'b', 'c')):
        (d/c).mkdir()
        for i in range(6): Image.fromarray((rng.random((40, 40, 3))*80 + 60*k).astype(np.uint8)).save(d/c/f'{i}.png')
    return folder_set(d, valid_pct=0.25, seed=0)

def fastai_then_cached(make, epochs=2):
    "The same learner twice: fastai's frozen fit_one_cycle, then `fit_head_cached`, from the same random states."
    ref, ours = make(), make()
    set_seed(3)
    with ref.no_bar(), ref.no_logging(): ref.fit_one_cycle(epochs, 1e-2, pct_start=0.99)
    set_seed(3)
    hl = fit_head_cached(ours, epochs, 1e-2, pct_start=0.99)
    return ref, ours, hl

def assert_same(ref, ours, hl):
    # float order only: a weight whose gradient is near 0 can move by a little more through Adam's division (1% of a step)
    for a, b in zip(ref.model.parameters(), ours.model.parameters()): torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert ref.dls.train.rng.getstate() == ours.dls.train.rng.getstate()
    losses = [v[0] for v in ref.recorder.values]                                  # the validation loss after each epoch
    np.testing.assert_allclose(losses, [v[0] for v in hl.recorder.values], rtol=1e-4)
    with ref.no_bar(): p_ref = ref.get_preds()[0]
    with ours.no_bar(): p_ours = ours.get_preds()[0]
    torch.testing.assert_close(p_ref, p_ours, atol=1e-5, rtol=1e-4)

def test_paired_learner_same_as_fastai(iset):
    def make():
        dls, _ = matched_dls(iset, size=32, bs=4, seed=1)
        return paired_learner(dls, 'efficientnet_lite0', pretrained=True, seed=0, train_bn=False, cbs=BnFreeze())
    ref, ours, hl = fastai_then_cached(make)
    assert not all(torch.equal(a, b) for a, b in zip(make().model.parameters(), ours.model.parameters()))   # it did train
    assert_same(ref, ours, hl)
    seen = {}                                                                    # fine_tune's second phase sees the same batches
    for name, learn in (('ref', ref), ('ours', ours)):
        seen[name] = [yb[0].tolist() for _ in range(2) for _, *yb in learn.dls.train]
    assert seen['ref'] == seen['ours'] and len(seen['ref']) == 2*len(ref.dls.train)

def test_plain_learner_same_as_fastai(iset):
    def make():
        dls, _ = matched_dls(iset, size=32, bs=4, seed=1)
        set_seed(0); model, split, _ = lite0_model(len(dls.vocab))
        dls.add_tfms([__import__('fastai.vision.all', fromlist=['Normalize']).Normalize.from_stats([0.5]*3, [0.5]*3)], 'after_batch')
        learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), splitter=split, train_bn=False, cbs=BnFreeze())
        learn.freeze(); return learn
    assert_same(*fastai_then_cached(make, epochs=1))

def test_refuses_what_would_make_cached_features_wrong(iset):
    dls, _ = matched_dls(iset, size=32, bs=4)
    with pytest.raises(ValueError, match='train_bn=False'): fit_head_cached(paired_learner(dls, 'efficientnet_lite0', pretrained=True), 1, 1e-3)
    with pytest.raises(ValueError, match='expected a frozen learner'): fit_head_cached(paired_learner(dls, 'efficientnet_lite0', train_bn=False), 1, 1e-3)
    dls, _ = matched_dls(iset, size=32, bs=4, augment=True)
    with pytest.raises(ValueError, match='random augmentation'): fit_head_cached(paired_learner(dls, 'efficientnet_lite0', pretrained=True, train_bn=False), 1, 1e-3)
    with pytest.raises(ValueError, match='nn.Sequential'): body_and_heads(torch.nn.Linear(2, 2))

def test_frozen_features_in_item_order(iset):
    dls, _ = matched_dls(iset, size=32, bs=4, seed=1)
    body = lite0_model(3)[0][0]
    f, y = frozen_features(body, dls.train)
    assert len(f) == len(dls.train_ds) and body.training                    # every item, nothing dropped; mode restored
    x0 = dls.train.new(shuffle=False, drop_last=False).one_batch()[0][:1]
    with torch.no_grad(): torch.testing.assert_close(f[:1], body.eval()(x0), atol=1e-5, rtol=1e-4)
    assert y.tolist() == [dls.vocab.o2i[l] for l in (iset.labels[i] for i in iset.train_idx)]

def test_fine_tune_cached_equals_uncached(iset):
    "fine_tune with its head phase cached gives fastai's fine_tune under the same setting (train_bn=False): weights, outputs, batches."
    def make():
        dls, _ = matched_dls(iset, size=32, bs=4, seed=1)
        return paired_learner(dls, 'efficientnet_lite0', pretrained=True, seed=0, train_bn=False, cbs=BnFreeze())
    (a, b, c), seen = (make(), make(), make()), []
    for learn, cache, seed in ((a, True, 5), (b, False, 5), (c, False, 6)):   # c: other batches, the size of a real difference
        set_seed(seed); seen.append(cache and cacheable(learn) is None)
        with learn.no_bar(), learn.no_logging(): fine_tune(learn, 1, 1e-3, cache=cache)
    assert seen == [True, False, False]
    # float order only: the head phases agree to ~1e-5 (the tests above); the second phase's Adam then divides tiny
    # gradients of the body, so single weights can drift by a step, but on average the runs stay 10x closer than other batches
    gap = lambda x, y: np.mean(np.concatenate([(p - q).abs().detach().flatten().numpy() for p, q in zip(x.model.parameters(), y.model.parameters())]))
    assert gap(a, b) < gap(b, c) / 10
    preds = []
    for learn in (a, b, c):
        with learn.no_bar(): preds.append(learn.get_preds()[0])
    assert (preds[0] - preds[1]).abs().max() < (preds[1] - preds[2]).abs().max() / 10
    assert a.dls.train.rng.getstate() == b.dls.train.rng.getstate()

def test_fine_tune_uncached_where_features_change(iset):
    "fastai's default (BatchNorm training) and augmentation are not cacheable: fine_tune then runs fastai's own head phase."
    dls, _ = matched_dls(iset, size=32, bs=4, seed=1)
    learn = paired_learner(dls, 'efficientnet_lite0', pretrained=True, seed=0)
    assert 'train_bn=True' in cacheable(learn)
    with learn.no_bar(), learn.no_logging(): fine_tune(learn, 1, 1e-3)
    assert len(learn.recorder.values) == 1   # the second phase's epoch (fastai's head phase logs to the same recorder, then fit resets it)

def test_plain_learners_build_lite0(iset):
    "plain_learners takes the offline architecture: two frozen Lite0 learners, the same initial weights, fastai's loss per block, Lite0's normalisation."
    from fastai.losses import BCEWithLogitsLossFlat
    from classification_vs_labeling.train import plain_learners
    from classification_vs_labeling.offline import LITE0_STATS
    dce, dbce = matched_dls(iset, size=32, bs=4, seed=1)
    ce, bce = plain_learners(dce, dbce, 'efficientnet_lite0', pretrained=True, seed=2)
    assert isinstance(ce.loss_func, CrossEntropyLossFlat) and isinstance(bce.loss_func, BCEWithLogitsLossFlat)
    assert ce.opt.frozen_idx == bce.opt.frozen_idx >= 1
    for a, b in zip(list(ce.model.parameters())[:-2], list(bce.model.parameters())[:-2]): torch.testing.assert_close(a, b)   # all but the last layer
    norm = [t for t in dce.after_batch.fs if type(t).__name__ == 'Normalize'][0]
    torch.testing.assert_close(norm.mean.flatten().cpu(), torch.tensor(LITE0_STATS[0]))

def test_fine_tune_zero_epochs_is_the_head_phase_alone(iset):
    "epochs=0: fastai's head phase and nothing else; the body keeps its pretrained weights, the heads are those of `fit_head_cached` alone."
    def make():
        dls, _ = matched_dls(iset, size=32, bs=4, seed=1)
        return paired_learner(dls, 'efficientnet_lite0', pretrained=True, seed=0, train_bn=False, cbs=BnFreeze())
    a, b = make(), make()
    (body0, heads0), state = body_and_heads(a.model), lambda m: [p.detach().clone() for p in m.parameters()]
    before, heads_before = state(body0), [state(h) for h in heads0]
    set_seed(5)
    with a.no_bar(), a.no_logging(): fine_tune(a, 0, 1e-2, freeze_epochs=2)
    for p, q in zip(before, state(body0)): assert torch.equal(p, q)                       # the body did not move
    assert any(not torch.equal(p, q) for h, hb in zip(heads0, heads_before) for p, q in zip(hb, state(h)))
    b.freeze(); set_seed(5)
    fit_head_cached(b, 2, slice(1e-2), pct_start=0.99)
    for p, q in zip(a.model.parameters(), b.model.parameters()): torch.testing.assert_close(p, q)
    with pytest.raises(ValueError, match='epochs'): fine_tune(make(), -1)
