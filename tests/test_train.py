"""Chapter 04: what the paired learner refuses before training, how the batch size fits a small split, and the saved
predictions (kept, read back, and refused when damaged or inconsistent)."""
import numpy as np
import pytest
from classification_vs_labeling.data import ImageSet
from classification_vs_labeling.train import (RunConfig, Predictions, check_build, fit_batch_size, fit_config, small_cnn, create_model,
                                              plain_learners, paired_learner, train_pair)


def test_check_build_refuses_what_cannot_train():
    check_build('small', 10, 28)
    with pytest.raises(ValueError, match='alexnet cannot train on 28px images') as e: check_build('alexnet', 10, 28)
    assert '\n' not in str(e.value) and '--arch or --size' in str(e.value)


def test_fit_batch_size_says_when_it_shrinks():
    said = []
    assert fit_batch_size(56, 14, 64, log=said.append) == 14 and len(said) == 1 and '56 training images' in said[0]
    assert fit_batch_size(64, 16, 64, log=said.append) == 64 and fit_batch_size(3, 4, 64, log=said.append) == 2
    assert len(said) == 2                                           # a batch size that fits says nothing
    with pytest.raises(ValueError, match='got 1 and 14'): fit_batch_size(1, 14, 64)
    with pytest.raises(ValueError, match='4 validation images'): fit_batch_size(56, 3, 64)

def test_fit_config_on_the_blogs_split():
    "The blog's 44 buildings and 26 coats, every fifth image validated: 56 to train on, so a batch of 14."
    blog = ImageSet('blog', [f'{i}.png' for i in range(70)], ['building']*44 + ['coat']*26, np.arange(0, 70, 5))
    assert fit_config(RunConfig('mnist'), blog, log=lambda s: None).bs == 14
    cfg = RunConfig('mnist', bs=8)
    assert fit_config(cfg, blog) is cfg                             # a batch size that fits: the same config back


@pytest.fixture
def preds():
    rng = np.random.default_rng(0)
    return Predictions(['a', 'b', 'c'], rng.integers(0, 3, 6), rng.normal(size=(6, 3)), rng.normal(size=(6, 3)),
                       rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), seed=4, items=[f'v{i}.png' for i in range(6)],
                       ood_items=['o0.png', 'o1.png'], fingerprint='{"items": "x"}')

def test_predictions_saved_and_read_back(preds, tmp_path):
    back = Predictions.load(preds.save(tmp_path/'p.npz'))
    assert back.classes == preds.classes and back.seed == 4 and back.fingerprint == preds.fingerprint
    for k in ('targs', 'ce_logits', 'bce_logits', 'ood_ce_logits', 'ood_bce_logits'): np.testing.assert_array_equal(getattr(back, k), getattr(preds, k))
    assert back.items == preds.items and back.ood_items == preds.ood_items
    np.testing.assert_allclose(preds.ce_probs.sum(1), 1, atol=1e-12)
    assert preds.ce_probs.dtype == preds.bce_probs.dtype == np.float64

def test_predictions_refuse_what_does_not_fit(preds, tmp_path):
    z = np.zeros((1, 2))
    with pytest.raises(ValueError, match='expected shape'): Predictions(['a', 'b'], [0], np.zeros((1, 3)), z)
    with pytest.raises(ValueError, match='classes: expected distinct'): Predictions(['a', 'a'], [0], z, z)
    with pytest.raises(ValueError, match=r'targs: expected \(N,\) class indices in \[0, 2\)'): Predictions(['a', 'b'], [2], z, z)
    with pytest.raises(ValueError, match='ce_logits: expected finite'): Predictions(['a', 'b'], [0], np.full((1, 2), np.nan), z)
    f = preds.save(tmp_path/'p.npz')
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(ValueError, match='not a readable predictions file') as e: Predictions.load(f)
    assert str(f) in str(e.value)


BAD = {'nan': float('nan'), 'text': 'abc', 'a bool': True, 'negative': -1, 'complex': 1j}
DOOR = [   # each refuses before it builds, loads or trains anything
    (lambda **kw: small_cnn(**{'n_out': 3, **kw}), 'n_out'), (lambda **kw: small_cnn(3, **kw), 'n_in'),
    (lambda **kw: create_model('small', **kw), 'n_out'), (lambda **kw: check_build('small', **{'n_classes': 3, 'size': 28, **kw}), 'n_classes'),
    (lambda **kw: check_build('small', 3, **kw), 'size'), (lambda **kw: plain_learners(None, None, **kw), 'seed'),
    (lambda **kw: plain_learners(None, None, **kw), 'thresh'), (lambda **kw: paired_learner(None, **kw), 'seed'),
    (lambda **kw: train_pair(None, **kw), 'seed')]

@pytest.mark.parametrize('bad', BAD)
@pytest.mark.parametrize('call,param', DOOR, ids=['small_cnn', 'small_cnn-n_in', 'create_model', 'check_build', 'check_build-size',
                                                  'plain_learners', 'plain_learners-thresh', 'paired_learner', 'train_pair'])
def test_scalars_refused_at_the_door_naming_the_parameter(call, param, bad):
    with pytest.raises(ValueError) as e: call(**{param: BAD[bad]})
    assert str(e.value).startswith(f'{param}: expected') and '\n' not in str(e.value), str(e.value)
