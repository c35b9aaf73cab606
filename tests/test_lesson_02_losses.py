"""Chapter 02's prose, checked against the outputs the chapter stored (tests/test_notebooks.py fails when those are not
what its code prints now): the toy's losses, the trained run's losses and where they come from, ours against
PyTorch's, the gradients, and where the naive losses break. The chapter keeps four visible checks of what its losses
refuse and of one_hot against PyTorch's; the rest of its former checks are in tests/test_losses.py, which calls the package."""
import re
from functools import partial
from helpers import stored_output, stored_outputs, stored_prose, table_row

STEM = '02_losses'

def numbers(s) -> list[float]:
    "The numbers in `s`, NaN and inf included (pandas prints NaN)."
    return [float(x) for x in re.findall(r'[-+]?(?:\d+\.\d+|\d+)(?:e[-+]?\d+)?|nan|inf', s.replace('NaN', 'nan'))]

row = partial(table_row, numbers=numbers, strip=True)   # a table's line, its indent dropped

prose = partial(stored_prose, STEM)

def test_the_toy_pen_on_a_book_is_right_yet_its_bce_is_high():
    t = stored_output(STEM, "'BCE (mean of 5 terms)'")
    pen, book, phone = (row(t, f'{i} ') for i in range(3))        # softmax of target, CE, BCE
    assert pen[0] == max(pen[0], 0.2) and round(pen[1], 2) == 0.47 and round(phone[1], 2) == 1.19 and pen[1] < phone[1]/2
    assert (round(pen[2], 2), round(phone[2], 2)) == (0.62, 0.68) and book[2] < pen[2] < phone[2]
    assert 'a CE (0.47) less than half the phone\'s (1.19), yet its BCE (0.62) is\nclose to the phone\'s (0.68)' in prose()

def test_real_data_losses_and_where_they_come_from():
    src, text, kinds = next(o for o in stored_outputs(STEM) if o[0].startswith('from classification_vs_labeling.runs import saved_run'))
    assert 'image/png' in kinds and 'seed 0' in src
    t = stored_output(STEM, "'from the wrong classes'")
    target, wrong, right = row(t, 'from the target class'), row(t, 'from the wrong classes'), row(t, 'digits answered right (argmax)')
    assert target[0] == 1 and wrong[0] == 0                                    # CE: all from the target
    assert round(wrong[1], 2) == 0.50 and abs(target[1] + wrong[1] - 1) < 1e-3   # "half of the labeler's (0.50 here)"
    assert [round(v, 3) for v in right] == [0.955, 0.956]
    for q in ['(0.50 here)', '(0.955 and 0.956)']: assert q in prose(), q

def test_ours_equal_pytorchs_on_the_toy_and_on_the_real_digits():
    ce = row(stored_output(STEM, 'print(f"ours: {cross_entropy(logits, targs)'), 'ours:')
    bce = row(stored_output(STEM, 'print(f"ours: {binary_cross_entropy(logits, y5)'), 'ours:')
    for r in (ce, bce): assert abs(r[0] - r[1]) < 2e-6 and abs(r[2] - r[3]) < 2e-6
    assert 'log(sum(exp(x))) as written: inf, logsumexp: 1000.3132, torch.logsumexp: 1000.3132' in stored_output(STEM, 'big = torch.tensor([1000., 999.])')
    t = stored_output(STEM, 'print("log(sigmoid(x)) as written:"')
    assert '-inf' in t.splitlines()[0] and 'inf' not in t.splitlines()[1]
    assert len(set(row(stored_output(STEM, 'two = torch.tensor('), 'cross_entropy per item: tensor(')[:2])) == 1   # CE looks at the target only

def test_gradients_and_the_sure_pen():
    assert max(row(stored_output(STEM, 'g_ce, g_bce = logit_grads('), 'largest difference CE:')) < 1e-6
    t = stored_output(STEM, 'sure = logits[:1].clone()')
    for c in ['book', 'mug', 'phone', 'lamp']:
        ce25, ce8, bce25, bce8 = row(t, c)
        assert ce8 < ce25/100 and bce8 == bce25                             # CE lets go once the pen wins, BCE keeps pushing
    assert round(row(t, 'book')[2], 4) == 0.8581                            # sigmoid(1.8): still a confident "yes, a book"
    s = row(stored_output(STEM, 'others = torch.tensor([1., 0., -1., -2.]'), 'shift = logsumexp(others) =')
    assert s[0] == s[1] and s[2] == s[4] == 0.6931                          # CE at z = lse(others) is BCE's target term at z = 0

def test_naive_losses_break_where_the_prose_says():
    t = stored_output(STEM, 'stab = pd.DataFrame(')
    # columns: largest |logit|, naive CE, CE, F.cross_entropy, naive BCE, BCE, F.bce_with_logits
    rows = {s: row(t, f'{s} ') for s in (1, 10, 100, 1000)}
    import math
    first_bad = lambda col: next(s for s, r in rows.items() if not math.isfinite(r[col]))
    assert first_bad(1) == 100 and rows[10][0] < 88.7 < rows[100][0]        # naive CE: once a logit passes about 88.7
    assert first_bad(4) == 10 and rows[1][0] < 17 < rows[10][0]              # naive BCE sooner: sigmoid rounds to 1 past about 17
    for r in rows.values(): assert all(math.isfinite(v) for v in (r[2], r[3], r[5], r[6])) and abs(r[2] - r[3]) < 1e-3 and abs(r[5] - r[6]) < 1e-3
    f = stored_output(STEM, 'print(f"float32: exp(88.7)')
    assert 'exp(88.8) = inf' in f and '1 - sigmoid(17.) = 0.0' in f
