"Tests for classification_vs_labeling.activations: softmax and sigmoid against PyTorch, what chapter 01 shows about them, and its two plots."
import numpy as np, pytest, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from fastcore import test as fc                 # fastcore's test_eq/test_close/test_fail, as in the chapter (a bare import would be collected as tests)
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from classification_vs_labeling.activations import softmax, sigmoid, plot_activations, plot_softmax_push, plot_two_readings

fast = settings(max_examples=60, deadline=None)
close = lambda a, b, tol=1e-9: torch.testing.assert_close(a, b, rtol=tol, atol=tol)

classes = ['pen', 'book', 'mug', 'phone', 'lamp']            # chapter 01's desk photo: a pen lying on a book
acts = torch.tensor([2.5, 1.8, -0.8, -1.6, -0.4])

@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close('all')

# ---- softmax and sigmoid against PyTorch
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('shape, dim', [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_sigmoid_equal_pytorch_and_keep_dtype(shape, dim, dtype):
    x = torch.randn(shape, dtype=dtype) * 5
    fc.test_close(softmax(x, dim), torch.softmax(x, dim), eps=1e-6)
    fc.test_close(sigmoid(x), torch.sigmoid(x), eps=1e-6)
    fc.test_eq(softmax(x, dim).dtype, dtype)

def test_large_activations_give_no_nan():
    big = torch.tensor([1000., 0., -1000.])
    fc.test_close(softmax(big), torch.tensor([1., 0., 0.]))   # without the max subtraction: exp(1000.) = inf, inf/inf = NaN
    fc.test_close(sigmoid(big), torch.tensor([1., 0.5, 0.]))

def test_lists_of_ints_become_float32():
    fc.test_eq(softmax([1, 2]).dtype, torch.float32)

@fast
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.floats(-700, 700)))
def test_softmax_rows_sum_to_one_and_match_pytorch(a):
    x = torch.from_numpy(a)
    close(softmax(x).sum(-1), torch.ones(len(x), dtype=x.dtype))
    close(softmax(x), torch.softmax(x, -1))
    close(sigmoid(x), torch.sigmoid(x))

# ---- what the chapter shows
def test_softmax_ratio_is_exp_of_the_difference():
    p = softmax(acts)
    fc.test_close(p[0]/p[1], (acts[0]-acts[1]).exp(), eps=1e-5)

def test_raising_one_activation_takes_from_the_others_under_softmax_only():
    acts2 = acts.clone()
    acts2[2] += 2
    d_soft, d_sig = softmax(acts2) - softmax(acts), sigmoid(acts2) - sigmoid(acts)
    others = [0, 1, 3, 4]
    assert (d_soft[others] < 0).all() and d_soft[2] > 0
    fc.test_close(d_sig[others], torch.zeros(4))
    fc.test_close(d_soft.sum(), 0, eps=1e-6)

def test_softmax_sees_only_differences():
    fc.test_close(softmax(acts + 5), softmax(acts), eps=1e-6)
    fc.test_close(softmax(acts - 5), softmax(acts), eps=1e-6)
    assert (sigmoid(acts - 5) < 0.5).all() and (sigmoid(acts + 5) > 0.5).all()

@fast
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.floats(-50, 50)), st.floats(-50, 50))
def test_softmax_is_shift_invariant(a, c):
    x = torch.from_numpy(a)
    close(softmax(x + c), softmax(x))

def test_two_class_softmax_is_sigmoid_of_the_difference():
    ab = torch.randn(1000, 2, dtype=torch.float64) * 4
    fc.test_close(softmax(ab)[:, 0], sigmoid(ab[:, 0] - ab[:, 1]), eps=1e-12)

@fast
@given(arrays(np.float64, st.tuples(st.integers(1, 20), st.just(2)), elements=st.floats(-30, 30)))
def test_two_class_softmax_is_sigmoid_of_difference_hypothesis(a):
    x = torch.from_numpy(a)
    close(softmax(x)[:, 0], sigmoid(x[:, 0] - x[:, 1]))

def test_argmax_of_softmax_and_labels_above_threshold():
    xb = torch.stack([acts, torch.tensor([-2.9, -3.4, -1.7, -2.2, -3.0]), torch.tensor([-1.5, 3.1, -2.0, -1.2, -0.9])])
    fc.test_eq(softmax(xb).argmax(1), xb.argmax(1))                         # the largest softmax is the largest activation
    fc.test_eq((sigmoid(xb) > 0.5).sum(1), torch.tensor([2, 0, 1]))         # desk: pen and book; cat: none; book: one

# ---- the plots
def test_plot_activations():
    ax = plot_activations(acts, classes)
    fc.test_eq(len(ax.patches), 3*len(classes))
    fc.test_eq([t.get_text() for t in ax.get_xticklabels()], classes)
    fc.test_fail(lambda: plot_activations(torch.zeros(2, 5)), contains='1-d')
    fc.test_fail(lambda: plot_activations(acts, ['pen']), contains='5 names')

def test_plot_softmax_push():
    ax = plot_softmax_push(acts, 2, classes=classes, n=50)
    fc.test_eq(len(ax.lines), 2*len(classes) + 1)
    fc.test_eq([t.get_text() for t in ax.get_legend().get_texts()], classes + ['softmax', 'sigmoid'])   # colour: class, style: function
    ax.figure.canvas.draw()
    assert ax.get_legend().get_window_extent().y1 < ax.get_window_extent().y0                          # under the curves
    ys = {l.get_label(): l.get_ydata() for l in ax.lines}
    fc.test_close(ys['pen: sigmoid'], np.full(50, sigmoid(acts[0]).item()), eps=1e-6)   # other sigmoids are flat
    assert (np.diff(ys['pen: softmax']) < 0).all() and (np.diff(ys['mug: softmax']) > 0).all()
    fc.test_eq(plot_softmax_push(acts, -1, n=5).get_xlabel(), 'activation of class 4')  # negative indices count from the end
    fc.test_fail(lambda: plot_softmax_push(acts, idx=5), contains='idx: expected a value in [-5, 4]')
    fc.test_fail(lambda: plot_softmax_push(acts, n=0), contains='n:')

def test_plot_two_readings(tmp_path):
    "One row per image: the image, the classifier's softmax, the labeler's sigmoids; each panel titled with its answer."
    from PIL import Image
    files = []
    for i in range(2):
        files.append(tmp_path/f'{i}.png'); Image.fromarray(np.full((28, 28), 40*i, np.uint8)).save(files[-1])
    ce, bce = torch.tensor([[3., 0., -1.], [0., 0., 2.]]), torch.tensor([[2., -3., -3.], [-3., -2., -4.]])
    fig = plot_two_readings(files, ce, bce, ['a', 'b', 'c'], titles=['one', 'two'], title='a run')
    axs = np.array(fig.axes).reshape(2, 3)
    fc.test_eq([a.get_title() for a in axs[:, 0]], ['one', 'two'])
    assert axs[0, 1].get_title().startswith(f"classifier: a ({softmax(ce[0])[0]:.2f})") and 'sums to 1.00' in axs[0, 1].get_title()
    assert axs[0, 2].get_title().startswith('labeler: a;') and axs[1, 2].get_title().startswith('labeler: no label;')
    fc.test_close([p.get_height() for p in axs[1, 2].patches], sigmoid(bce[1]).numpy(), eps=1e-6)
    fc.test_eq(fig._suptitle.get_text(), 'a run')
    fc.test_fail(lambda: plot_two_readings(files, ce[:1], bce, 'abc'), contains='ce_logits: expected shape (2, 3)')
    fc.test_fail(lambda: plot_two_readings(files, ce, bce[:, :2], 'abc'), contains='bce_logits: expected shape (2, 3)')
