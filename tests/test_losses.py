"Tests for classification_vs_labeling.losses: the from-scratch losses equal PyTorch's and fastai's, stay finite where the naive ones don't, and reject bad input."
import numpy as np, pytest, torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from classification_vs_labeling.activations import softmax, sigmoid
from classification_vs_labeling.losses import (cross_entropy, binary_cross_entropy, naive_cross_entropy,
    naive_binary_cross_entropy, one_hot, logsumexp, log_softmax, log_sigmoid, logit_grads)

fast = settings(max_examples=60, deadline=None)
close = lambda a, b, tol=1e-9: torch.testing.assert_close(a, b, rtol=tol, atol=tol)

@st.composite
def batches(draw, lo=-1e3, hi=1e3, dtype=np.float64, max_items=8, max_classes=7):
    "(logits (N, K), class indices (N,), multi-hot (N, K)) with N in [1, max_items], K in [2, max_classes]."
    n, k = draw(st.integers(1, max_items)), draw(st.integers(2, max_classes))
    x = draw(arrays(dtype, (n, k), elements=st.floats(lo, hi, width=np.dtype(dtype).itemsize*8)))
    t = draw(arrays(np.int64, (n,), elements=st.integers(0, k-1)))
    y = draw(arrays(np.bool_, (n, k)))
    return torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(y).to(torch.from_numpy(x).dtype)

reductions = st.sampled_from(['mean', 'sum', 'none'])

@fast
@given(batches(), reductions)
def test_cross_entropy_equals_pytorch(b, red):
    x, t, _ = b
    close(cross_entropy(x, t, red), F.cross_entropy(x, t, reduction=red))

@fast
@given(batches(), reductions)
def test_binary_cross_entropy_equals_pytorch(b, red):
    x, _, y = b
    close(binary_cross_entropy(x, y, red), F.binary_cross_entropy_with_logits(x, y, reduction=red))

@fast
@given(batches(lo=-50, hi=50))
def test_gradients_are_softmax_minus_onehot_and_sigmoid_minus_y(b):
    x, t, y = b
    close(logit_grads(cross_entropy, x, t), torch.softmax(x, -1) - F.one_hot(t, x.shape[1]).to(x.dtype))
    close(logit_grads(binary_cross_entropy, x, y), torch.sigmoid(x) - y)

@fast
@given(batches(lo=-1e4, hi=1e4, dtype=np.float32), st.data())
def test_stable_losses_are_finite_where_naive_ones_are_not(b, data):
    x, t, y = b
    i, j = data.draw(st.integers(0, len(x)-1)), data.draw(st.integers(0, x.shape[1]-1))
    x[i, j] = data.draw(st.floats(1e3, 1e4, width=32))            # exp overflows in float32 past ~88.7
    assert torch.isfinite(cross_entropy(x, t)) and torch.isfinite(binary_cross_entropy(x, y))
    assert not torch.isfinite(naive_cross_entropy(x, t))
    close(cross_entropy(x, t), F.cross_entropy(x, t), tol=1e-5)
    x[i, j] = -x[i, j]                                             # sigmoid rounds to 0 or 1: log(0) = -inf
    assert not torch.isfinite(naive_binary_cross_entropy(x, y))
    assert torch.isfinite(binary_cross_entropy(x, y))
    close(binary_cross_entropy(x, y), F.binary_cross_entropy_with_logits(x, y), tol=1e-5)

@fast
@given(batches(lo=-5, hi=5))
def test_naive_losses_agree_on_small_logits(b):
    x, t, y = b
    close(naive_cross_entropy(x, t), cross_entropy(x, t))
    close(naive_binary_cross_entropy(x, y), binary_cross_entropy(x, y))

@fast
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.floats(-700, 700)))
def test_log_functions_match_pytorch(a):   # softmax and sigmoid themselves: tests/test_activations.py
    x = torch.from_numpy(a)
    close(logsumexp(x), torch.logsumexp(x, -1))
    close(log_softmax(x), F.log_softmax(x, -1))
    close(log_sigmoid(x), F.logsigmoid(x))

@fast
@given(st.integers(1, 10).flatmap(lambda k: st.tuples(st.just(k), arrays(np.int64, st.integers(1, 12), elements=st.integers(0, k-1)))))
def test_one_hot_equals_pytorch(kt):
    k, t = kt
    t = torch.from_numpy(t)
    assert torch.equal(one_hot(t, k), F.one_hot(t, k).float())

@fast
@given(batches(lo=-5, hi=5), st.data())
def test_targets_out_of_range_are_refused(b, data):
    x, t, _ = b
    t[data.draw(st.integers(0, len(t)-1))] = data.draw(st.one_of(st.integers(-100, -1), st.integers(x.shape[1], 100)))
    with pytest.raises(ValueError, match=r'class indices in \[0, '): cross_entropy(x, t)
    with pytest.raises(ValueError, match=r'class indices in \[0, '): naive_cross_entropy(x, t)
    with pytest.raises(ValueError, match=r'class indices in \[0, '): one_hot(t, x.shape[1])

@fast
@given(batches(lo=-5, hi=5), st.data())
def test_multi_hot_other_than_0_1_is_refused(b, data):
    x, _, y = b
    y[data.draw(st.integers(0, len(y)-1)), data.draw(st.integers(0, y.shape[1]-1))] = data.draw(
        st.floats(-2, 2).filter(lambda v: v not in (0., 1.)))
    for fn in (binary_cross_entropy, naive_binary_cross_entropy):
        with pytest.raises(ValueError, match='multi-hot'): fn(x, y)

def test_shape_mismatch_is_refused():
    x, t, y = torch.randn(4, 3), torch.tensor([0, 2, 1, 1]), torch.eye(3)[[0, 2, 1, 1]]
    with pytest.raises(ValueError, match='4 targets'): cross_entropy(x, t[:3])
    with pytest.raises(ValueError, match=r'\(N,\) class indices'): cross_entropy(x, y)
    with pytest.raises(ValueError, match=r"logits' shape \(4, 3\)"): binary_cross_entropy(x, t)
    with pytest.raises(ValueError, match=r"logits' shape \(4, 3\)"): binary_cross_entropy(x, y[:, :2])
    with pytest.raises(ValueError, match='2-d'): cross_entropy(x[0], 0)
    with pytest.raises(ValueError, match='finite'): binary_cross_entropy(torch.full((4, 3), float('inf')), y)
    with pytest.raises(ValueError, match='reduction'): cross_entropy(x, t, reduction='avg')
