"Tests for classification_vs_labeling.losses: the from-scratch losses equal PyTorch's and fastai's, stay finite where the naive ones don't, and reject bad input."
import numpy as np, pytest, torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from fastcore import test as fc       # fastcore's test_eq/test_close/test_fail, as in the chapter (a bare import would be collected as tests)
from classification_vs_labeling.activations import softmax, sigmoid   # before fastai: the package quiets two notices fastai's import prints
from fastai.losses import CrossEntropyLossFlat, BCEWithLogitsLossFlat
from classification_vs_labeling.losses import (cross_entropy, binary_cross_entropy, naive_cross_entropy,
    naive_binary_cross_entropy, one_hot, logsumexp, log_softmax, log_sigmoid, logit_grads, plot_loss_curves, plot_largest_losses)

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

# ---- chapter 02's checks, on its toy batch and against PyTorch and fastai

def rclose(a, b, rtol=1e-5):
    "`test_close` with a tolerance relative to the size of `b`."
    fc.test_close(a, b, eps=rtol * max(1., torch.as_tensor(b).abs().max().item()))

logits = torch.tensor([[ 2.5,  1.8, -0.8, -1.6, -0.4],    # a pen on a book; target: pen
                       [-1.5,  3.1, -2.0, -1.2, -0.9],    # a book; target: book
                       [ 0.3, -0.5, -1.1,  0.9,  1.2]])   # a phone in poor light; target: phone
targs = torch.tensor([0, 1, 3])
y = one_hot(targs, 5)
shapes_dims = [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)]
dtypes = pytest.mark.parametrize('dtype', [torch.float32, torch.float64])

@dtypes
@pytest.mark.parametrize('shape, dim', shapes_dims)
def test_logsumexp_equals_pytorch(shape, dim, dtype):
    x = torch.randn(shape, dtype=dtype) * 10
    fc.test_close(logsumexp(x, dim), torch.logsumexp(x, dim), eps=1e-5)
    fc.test_close(logsumexp(x, dim, keepdim=True), torch.logsumexp(x, dim, keepdim=True), eps=1e-5)

def test_logsumexp_edges_and_gradient():
    fc.test_close(logsumexp(torch.tensor([-1000., -1001.])), torch.logsumexp(torch.tensor([-1000., -1001.]), 0))
    fc.test_eq(logsumexp(torch.tensor([-float('inf')]*2)), torch.tensor(-float('inf')))   # log(0) = -inf, as torch gives
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    logsumexp(x).sum().backward()
    fc.test_close(x.grad, torch.softmax(x, -1).detach(), eps=1e-12)   # d logsumexp / dx = softmax

@dtypes
@pytest.mark.parametrize('shape', [(5,), (3, 4), (2, 3, 4)])
def test_log_softmax_log_sigmoid_equal_pytorch(shape, dtype):
    x = torch.randn(shape, dtype=dtype) * 20
    fc.test_close(log_softmax(x), F.log_softmax(x, -1), eps=1e-5)
    fc.test_close(log_softmax(x, 0), F.log_softmax(x, 0), eps=1e-5)
    fc.test_close(log_sigmoid(x), F.logsigmoid(x), eps=1e-5)

def test_log_sigmoid_extremes_and_gradient():
    x = torch.tensor([-1e4, -30., 0., 30., 1e4])
    fc.test_close(log_sigmoid(x), F.logsigmoid(x))
    x = torch.tensor([-3., 0., 0., 2.], dtype=torch.float64, requires_grad=True)
    log_sigmoid(x).sum().backward()
    fc.test_close(x.grad, 1 - torch.sigmoid(x.detach()), eps=1e-12)   # exact gradient, also at 0

@dtypes
@pytest.mark.parametrize('n, k', [(1, 2), (4, 3), (16, 10), (7, 1)])
def test_cross_entropy_equals_pytorch_and_fastai(n, k, dtype):
    x, t = torch.randn(n, k, dtype=dtype) * 4, torch.randint(0, k, (n,))
    for red in ('mean', 'sum', 'none'):
        rclose(cross_entropy(x, t, red), F.cross_entropy(x, t, reduction=red))
        rclose(cross_entropy(x, t, red), CrossEntropyLossFlat(reduction=red)(x, t))
    fc.test_eq(cross_entropy(x, t).dtype, dtype)

def test_cross_entropy_inputs():
    fc.test_close(cross_entropy(logits.numpy(), [0, 1, 3]), F.cross_entropy(logits, targs))   # numpy and lists work too
    fc.test_fail(lambda: cross_entropy(logits, [0, 1, 5]), contains='class indices in [0, 5)')
    fc.test_fail(lambda: cross_entropy(logits, [0, 1]), contains='3 targets')
    fc.test_fail(lambda: cross_entropy(logits, torch.eye(5)[[0, 1, 3]]), contains='(N,) class indices')
    fc.test_fail(lambda: cross_entropy(logits[0], 0), contains='2-d')
    fc.test_fail(lambda: cross_entropy(logits, targs, 'max'), contains='reduction')
    big2 = torch.tensor([[1e3, 512.], [512., 512.]])
    fc.test_close(cross_entropy(big2, [0, 0]), F.cross_entropy(big2, torch.tensor([0, 0])), eps=1e-7)   # float32 digits kept for large logits

def test_cross_entropy_looks_only_at_the_target():
    two = torch.tensor([[2., 0., 0., 0., 0.], [2., np.log(2.), 0., np.log(.5), np.log(.5)]])  # exp of the others sums to 4 in both
    ce = cross_entropy(two, [0, 0], 'none')
    fc.test_close(ce[0], ce[1], eps=1e-6)
    fc.test_ne(softmax(two)[0], softmax(two)[1])

@pytest.mark.parametrize('n, k', [(1, 2), (6, 5), (20, 10)])
def test_one_hot_equals_pytorch_cases(n, k):
    t = torch.randint(0, k, (n,))
    fc.test_eq(one_hot(t, k), F.one_hot(t, k).float())

def test_one_hot_dtype_and_bad_input():
    fc.test_eq(one_hot([1], 3, dtype=torch.float64).dtype, torch.float64)
    fc.test_fail(lambda: one_hot([0, 3], 3), contains='[0, 3)')
    fc.test_fail(lambda: one_hot([[0, 1]], 3), contains='(N,) class indices')

@dtypes
@pytest.mark.parametrize('n, k', [(1, 1), (1, 2), (4, 3), (16, 10)])
def test_binary_cross_entropy_equals_pytorch_and_fastai(n, k, dtype):
    x, t = torch.randn(n, k, dtype=dtype) * 4, (torch.rand(n, k) < 0.3).to(dtype)
    for red in ('mean', 'sum', 'none'):
        rclose(binary_cross_entropy(x, t, red), F.binary_cross_entropy_with_logits(x, t, reduction=red))
        fastai = BCEWithLogitsLossFlat(reduction=red)(x, t)
        rclose(binary_cross_entropy(x, t, red), fastai.view(n, k) if red == 'none' else fastai)
    fc.test_eq(binary_cross_entropy(x, t).dtype, dtype)

def test_binary_cross_entropy_inputs():
    fc.test_close(binary_cross_entropy(logits, y.bool()), binary_cross_entropy(logits, y))      # bool targets work too
    fc.test_fail(lambda: binary_cross_entropy(logits, targs), contains="logits' shape (3, 5)")
    fc.test_fail(lambda: binary_cross_entropy(logits, y[:, :4]), contains="logits' shape (3, 5)")
    fc.test_fail(lambda: binary_cross_entropy(logits, y * 0.9), contains='multi-hot')
    fc.test_fail(lambda: binary_cross_entropy(logits.double(), y.double() * (1 - 1e-12)), contains='multi-hot')   # not rounded to 1 on the way
    fc.test_fail(lambda: binary_cross_entropy(logits.clone().fill_(float('nan')), y), contains='finite')

def test_gradients_on_the_toy_batch_and_against_pytorch():
    fc.test_close(logit_grads(cross_entropy, logits, targs), softmax(logits) - y, eps=1e-6)
    fc.test_close(logit_grads(binary_cross_entropy, logits, y), sigmoid(logits) - y, eps=1e-6)
    x64 = torch.randn(8, 6, dtype=torch.float64) * 5
    t64 = torch.randint(0, 6, (8,))
    fc.test_close(logit_grads(cross_entropy, x64, t64), logit_grads(F.cross_entropy, x64, t64), eps=1e-12)
    fc.test_close(logit_grads(binary_cross_entropy, x64, one_hot(t64, 6, torch.float64)),
                  logit_grads(F.binary_cross_entropy_with_logits, x64, one_hot(t64, 6, torch.float64)), eps=1e-12)

def test_ce_stops_pushing_wrong_classes_once_the_target_wins_bce_does_not():
    sure = logits[:1].clone()
    sure[0, 0] = 8.
    assert (logit_grads(cross_entropy, sure, targs[:1])[0, 1:] < 0.01).all()
    fc.test_close(logit_grads(binary_cross_entropy, sure, y[:1])[0, 1:], logit_grads(binary_cross_entropy, logits[:1], y[:1])[0, 1:])

def test_plot_loss_curves():
    fig = plot_loss_curves(n=31)
    a0, a1 = fig.axes
    lines = {l.get_label(): l.get_ydata() for l in a0.lines + a1.lines}
    zs, others = torch.linspace(-6, 6, 31, dtype=torch.float64), torch.tensor([1., 0., -1., -2.], dtype=torch.float64)
    fc.test_close(lines['CE, target logit: p - 1'], softmax(torch.cat([zs[:, None], others.repeat(31, 1)], 1))[:, 0].numpy() - 1, eps=1e-9)
    assert np.ptp(lines['BCE, first wrong logit (1): sigmoid']) < 1e-12 and np.ptp(lines['CE, first wrong logit (1): p']) > 0.3
    fc.test_close(lines['CE: -log softmax(target)'], -log_sigmoid(zs - logsumexp(others)).numpy(), eps=1e-9)  # CE is BCE's target term, shifted
    fig.canvas.draw()
    for a in (a0, a1): assert a.get_legend().get_window_extent().y1 < a.get_window_extent().y0   # legends under the panels, off the curves
    assert a0.get_tightbbox().x1 <= a1.get_tightbbox().x0 + 1                                      # the panels' labels do not meet
    fc.test_fail(lambda: plot_loss_curves(other_logits=[[1.]]), contains='1-d')
    fc.test_fail(lambda: plot_loss_curves(n=0), contains='n:')
    plt.close('all')

def test_naive_losses_break_at_scale_ours_do_not():
    rows = {}
    for scale in (1, 10, 100, 1000):
        x = logits * scale
        rows[scale] = [naive_cross_entropy(x, targs).item(), cross_entropy(x, targs).item(), F.cross_entropy(x, targs).item(),
                       naive_binary_cross_entropy(x, y).item(), binary_cross_entropy(x, y).item(), F.binary_cross_entropy_with_logits(x, y).item()]
    (nce1, ce1, _, nbce1, bce1, _), (nce, _, _, nbce, _, _) = rows[1], rows[1000]
    fc.test_close(nce1, ce1, eps=1e-5); fc.test_close(nbce1, bce1, eps=1e-5)
    assert not np.isfinite(nce) and not np.isfinite(nbce)
    a = np.array(list(rows.values()))
    assert np.isfinite(a[:, [1, 4]]).all()
    assert np.allclose(a[:, 1], a[:, 2], rtol=1e-5) and np.allclose(a[:, 4], a[:, 5], rtol=1e-5)

def test_fastai_picks_the_loss_from_the_block():
    import pandas as pd
    from fastai.data.block import DataBlock, TransformBlock, CategoryBlock, MultiCategoryBlock
    from fastai.data.transforms import ColReader, IndexSplitter
    df = pd.DataFrame({'x0': [0.1, 0.5, 0.9, 0.3, 0.7, 0.2], 'x1': [1., 2., 3., 4., 5., 6.],
                       'label': ['pen', 'book', 'pen', 'book', 'pen', 'book']})
    get_x = lambda r: torch.tensor([r.x0, r.x1], dtype=torch.float32)
    dls_cat = DataBlock(blocks=(TransformBlock, CategoryBlock), get_x=get_x, get_y=ColReader('label'),
                        splitter=IndexSplitter([0, 1])).dataloaders(df, bs=2)
    dls_multi = DataBlock(blocks=(TransformBlock, MultiCategoryBlock), get_x=get_x, get_y=ColReader('label', label_delim=' '),
                          splitter=IndexSplitter([0, 1])).dataloaders(df, bs=2)
    fc.test_eq(type(dls_cat.loss_func), CrossEntropyLossFlat)
    fc.test_eq(type(dls_multi.loss_func), BCEWithLogitsLossFlat)
    fc.test_eq(list(dls_cat.vocab), list(dls_multi.vocab))
    y_cat, y_multi = torch.stack([yb for _, yb in dls_cat.train_ds]), torch.stack([yb for _, yb in dls_multi.train_ds])
    fc.test_eq(one_hot(y_cat, len(dls_cat.vocab)), torch.as_tensor(y_multi))   # one label per item: MultiCategoryBlock's targets are one-hot

def test_plot_largest_losses(tmp_path):
    "Top row: the classifier's largest cross-entropies, largest first; bottom row: the labeler's largest BCEs; titles give the numbers."
    from PIL import Image
    files = []
    for i in range(4):
        files.append(tmp_path/f'{i}.png'); Image.fromarray(np.full((28, 28), 60*i, np.uint8)).save(files[-1])
    ce = torch.tensor([[3., 0.], [0., 1.], [2., 2.], [-4., 4.]])
    bce = torch.tensor([[3., -3.], [-2., -3.], [3., 3.], [-4., -4.]])
    t = torch.tensor([0, 0, 0, 0])
    fig = plot_largest_losses(files, ce, bce, t, ['x', 'y'], k=2, title='a run')
    axs = np.array(fig.axes).reshape(2, 2)
    top_ce = cross_entropy(ce, t, 'none').argsort(descending=True)[:2]
    top_bce = binary_cross_entropy(bce, one_hot(t, 2), 'none').mean(1).argsort(descending=True)[:2]
    fc.test_eq(top_ce.tolist(), [3, 1]); fc.test_eq(top_bce.tolist(), [3, 2])
    assert axs[0, 0].get_title().startswith('true x (') and f"CE {cross_entropy(ce[3:], t[3:]):.2f}" in axs[0, 0].get_title()
    assert 'labels none' in axs[1, 0].get_title() and 'labels x, y' in axs[1, 1].get_title()
    fc.test_fail(lambda: plot_largest_losses(files[:3], ce, bce, t, 'xy'), contains='items: expected 4 image files')
    plt.close('all')
