"""Chapter 10 (softmax + count against BCE): the claims its prose makes, checked on its stored quick-mode outputs, and
the toy checks that left the lesson, run on the package.

The chapter is committed with one quick-mode run's outputs and tests/test_notebooks.py fails when they are not what
the code prints now, so reading them here checks the prose against the run without training both models again.
"""
import math, re
import torch
from fastcore import test as fc   # test_eq, test_fail, test_close: fastcore's small checks (a module, so pytest does not collect them)
from helpers import NUM, floats, stored_output, stored_prose, table_rows
from classification_vs_labeling.count import *

STEM = '10_count'
MODELS = ['labeler (tuned thresh)', 'labeler (thresh 0.5)', 'count model', 'softmax top-1']
LAB, CNT, TOP1 = 'labeler (tuned thresh)', 'count model', 'softmax top-1'
SET_COLS = ['exact_match', 'f1_samples', 'per_label_accuracy', 'mean_set_size', 'items']
KINDS = ['right', 'too few', 'none', 'too many', 'wrong labels']




rows = table_rows


def by_count_rows(text:str) -> dict:
    "A printed `by_count` table: {true number of labels: {'items': n, model: exact match}}."
    out = {int(l.split()[0]): dict(zip(['items'] + MODELS, floats(l)[1:])) for l in text.splitlines() if re.fullmatch(rf'\d+(\s+{NUM}){{5}}\s*', l)}
    assert out and all(len(r) == 5 for r in out.values()), text
    return out


# ---------- the toys (package calls: these were the lesson's visible checks)

OUT = torch.tensor([[2., 0, 2, 0,   0, 0, 3, 0], [0., 3, 1, 0,   0, 3, 0, 0], [1., 0, 0, 0,   3, 0, 0, 0]])
TARG = torch.tensor([[1., 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])


def test_count_loss_on_the_toy_batch():
    cl = CountLoss(4, max_count=3)
    fc.test_eq(cl.predict_sets(OUT), TARG.bool().numpy())   # the top-n classes, n from the count head
    assert cl(OUT[:1], TARG[:1]) >= math.log(2)           # a two-label image: its soft target's entropy is a floor
    fc.test_fail(lambda: cl(OUT, torch.ones(3, 4)), contains='at most max_count=3 labels per item')
    assert 'loss 0.6547' in stored_output(STEM, 'cl = CountLoss(4')


def test_set_metrics_and_error_kinds_on_toys():
    toy = set_metrics([[1, 0], [0, 0], [1, 1], [0, 0]], [[1, 0], [0, 0], [1, 0], [0, 1]])
    fc.test_close(toy['f1_samples'], (1 + 1 + 2/3 + 0)/4)   # the empty answer to the empty truth scores 1, the missed label 0
    assert 'right=0.25, too few=0.25, (of which none)=0.25, too many=0.25, right number, wrong labels=0.25' in stored_output(STEM, 'error_kinds([[0, 0]')
    softmax_sigmoid = stored_output(STEM, 'scores = torch.full((1, 10), -4.)')
    assert 'softmax: [[0.  0.  0.  0.5 0.  0.  0.  0.5 0.  0. ]]' in softmax_sigmoid and '0.98' in softmax_sigmoid


# ---------- the composed digits

def test_digits_the_count_model_wins_at_every_number_of_labels_and_both_fall_as_labels_add_up():
    bc = by_count_rows(stored_output(STEM, 'bc = by_count(sets, targs_h)'))
    assert bc[0][LAB] == bc[0][CNT] == 1.0                                     # both right on every image with no digit
    for c in (1, 2, 3): assert bc[c][CNT] > bc[c][LAB], (c, bc[c])
    for m in (LAB, CNT): assert bc[1][m] >= bc[2][m] >= bc[3][m], (m, bc)
    assert all(bc[c][TOP1] == 0 for c in (0, 2, 3)) and bc[1][TOP1] > 0       # top-1: right on one-label images only
    em = stored_output(STEM, 'em = table.exact_match')
    cnt, lab, lab05, top1, ceiling = floats(re.sub(r'\(0\.5\)', '', re.sub(r'top-1', '', em)))
    assert cnt > lab and top1 <= ceiling


def test_digits_the_count_model_errs_only_by_wrong_labels_the_labeler_both_ways():
    text = stored_output(STEM, "ek = errs.loc[")
    got = {m: floats(l.split(':', 1)[1]) for l in text.splitlines() for m in (LAB, CNT) if l.startswith(m + ':')}
    wrong, few, none, many, wrong_labels = got[CNT]
    assert few == none == many == 0 and wrong_labels == wrong > 0   # all on the diagonal
    wrong, few, none, many, wrong_labels = got[LAB]
    assert few > 0 and none > 0 and many > 0


def test_digits_both_beat_the_guess_by_far_on_exact_match_and_f1():
    text = stored_output(STEM, "margin = table.loc[")
    margin = rows(text, [LAB, CNT], ['exact_match', 'f1_samples', 'per_label_accuracy'])
    assert len(margin) == 2, text
    for m, r in margin.items():
        assert min(r.values()) > 0, (m, r)
        assert min(r['exact_match'], r['f1_samples']) > 2*r['per_label_accuracy'], (m, r)   # small on per-label accuracy
    right, guess = floats(re.search(rf'count head right on ({NUM}) of the validation images; always the most common count: ({NUM})', text)[0])
    assert right > guess


def test_digits_the_count_can_almost_be_read_from_the_ink():
    text = stored_output(STEM, 'n_pix = ')
    corr = float(re.search(rf'number of digits: ({NUM})', text)[1])
    head, lab = map(float, re.search(rf'count head right on ({NUM}) of the held-out images; labeler\'s number of labels right on ({NUM})', text).groups())
    assert corr > 0.9 and head > 0.95 > lab


# ---------- the clip-art tags (the chapter's former wall of asserts)

def clipart():
    table = rows(stored_output(STEM, 'tsets, ttargs_h, theld, tthresh = held_out_sets(tpreds)'), MODELS, SET_COLS)
    bc = by_count_rows(stored_output(STEM, 'tbc = by_count(tsets, ttargs_h)'))
    errs = rows(stored_output(STEM, 'terrs = pd.DataFrame('), MODELS, KINDS)
    guess_text = stored_output(STEM, 'tguess = most_common_set(')
    margin = rows(guess_text, ['margin: ' + LAB, 'margin: ' + CNT], ['exact_match', 'f1_samples', 'per_label_accuracy'])
    right, guess = floats(re.search(rf'count head right on ({NUM}) of the validation pictures; always the most common count: ({NUM})', guess_text)[0])
    assert len(table) == len(errs) == 4 and len(margin) == 2
    return table, bc, errs, {k.removeprefix('margin: '): v for k, v in margin.items()}, right, guess


def test_clipart_the_labeler_wins_and_its_lead_is_on_the_pictures_with_no_tag():
    table, bc, *_ = clipart()
    assert table[LAB]['exact_match'] > table[CNT]['exact_match']
    assert bc[0][LAB] > bc[0][CNT] and bc[0][LAB] > 0.5  # the labeler says none for most untagged pictures
    assert bc[1][CNT] > bc[1][LAB]                       # on one-tag pictures the count model is ahead
    em = lambda m: f"{table[m]['exact_match']:.3f}"
    assert f"({em(LAB)} against {em(CNT)})" in stored_prose(STEM) and f"({bc[1][CNT]:.3f} against {bc[1][LAB]:.3f})" in stored_prose(STEM)
    assert bc[3]['items'] == 2                           # only two held-out pictures have three tags (hatched)


def test_clipart_how_each_model_errs():
    _, _, errs, *_ = clipart()
    lab, cnt = errs[LAB], errs[CNT]
    assert lab['too few'] > lab['too many'] + lab['wrong labels']   # the labeler's errors: mostly too few tags
    assert lab['none'] > lab['too few']/2                             # often none at all
    assert all(cnt[k] > 0.05 for k in ('too few', 'too many', 'wrong labels'))   # the count model errs all three ways


def test_clipart_both_beat_the_guesses_and_the_count_head_beats_the_common_count_by_little():
    _, _, _, margin, right, guess = clipart()
    for m in (LAB, CNT): assert margin[m]['exact_match'] > 0 and margin[m]['f1_samples'] > 0, margin
    assert margin[LAB]['per_label_accuracy'] > 0
    assert all(0 < margin[m]['per_label_accuracy'] < 0.01 for m in (LAB, CNT))   # "by less than a point"
    assert guess < right < guess + 0.15


def test_the_runs_settings_are_the_ones_the_prose_names():
    digits = stored_output(STEM, 'cfg = multi_config(mset)')
    assert "arch='small', pretrained=False, epochs=5, size=56" in digits   # a small CNN from scratch, 5 epochs at 56px
    tags = stored_output(STEM, 'tags = clipart_tags()')
    assert "arch='efficientnet_lite0', pretrained=True, epochs=10, size=64" in tags and "lr_ce=0.01, lr_bce=0.01" in tags
    assert re.search(r'clipart_tags: 900 images, 24 classes, 300 valid', tags)   # 600 training and 300 validation pictures
