"""Chapter 04a: the saved predictions, kept, read back, and refused when damaged or inconsistent."""
import numpy as np
import pytest
from classification_vs_labeling.predictions import Predictions


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

def test_predictions_keep_their_spec_and_more_arrays(preds, tmp_path):
    preds.spec = '{"seed": 4}'
    f = preds.save(tmp_path/'p.npz', extra=np.arange(3))
    assert Predictions.load(f).spec == '{"seed": 4}'
    with np.load(f) as d: np.testing.assert_array_equal(d['extra'], np.arange(3))
