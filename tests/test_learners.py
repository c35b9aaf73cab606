"""Tests for classification_vs_labeling.learners on plain fastai learners, built as a user builds them (DataBlock,
CategoryBlock / MultiCategoryBlock, `Learner`), trained once for the module on 320 of the offline digits; exact match
cross-checked against scikit-learn's subset accuracy, the package's own metrics and brute-force loops."""
import collections, warnings
import numpy as np, pandas as pd, pytest, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import accuracy_score
from fastai.vision.all import (DataBlock, ImageBlock, CategoryBlock, MultiCategoryBlock, RandomSplitter, parent_label, Learner,
                               accuracy, accuracy_multi, set_seed, noop)
from classification_vs_labeling.core import sigmoid_probs, softmax_probs
from classification_vs_labeling.data import mnist_sample
from classification_vs_labeling.metrics import exact_match, predicted_sets
from classification_vs_labeling.thresholds import tuned_threshold
from classification_vs_labeling.calibration import error_table
from classification_vs_labeling.train import small_cnn, bce_exact_match, PairedModel
from classification_vs_labeling.learners import *

CLASSES = [str(d) for d in range(8)]

def _label_of(wrong=()):
    "A picklable-free get_y for the labeler: [parent folder], or a wrong label for the files in `wrong`."
    wrong = {str(f) for f in wrong}
    return lambda f: ['0' if parent_label(f) != '0' else '1'] if str(f) in wrong else [parent_label(f)]

def _dls(files, multi, vocab=None, get_y=None):
    y = MultiCategoryBlock(vocab=vocab) if multi else CategoryBlock(vocab=vocab)
    return DataBlock((ImageBlock, y), get_y=get_y or (_label_of() if multi else parent_label),
                     splitter=RandomSplitter(0.25, seed=0)).dataloaders(files, bs=32, num_workers=0)

@pytest.fixture(scope='module')
def trained():
    "A classifier and a labeler of one's own on 320 digits (40 of each of 0-7), 1 epoch each of a small CNN, CPU."
    root = mnist_sample()
    files = [f for c in CLASSES for f in sorted((root/c).glob('*.png'))[:40]]
    dls_ce, dls_bce = _dls(files, False), _dls(files, True)
    learns = {}
    for name, dls, metrics in (('ce', dls_ce, [accuracy]), ('bce', dls_bce, [accuracy_multi, ExactMatch(), bce_exact_match])):
        set_seed(0)
        learn = Learner(dls, small_cnn(len(dls.vocab)), metrics=metrics)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 1e-2)
        learns[name] = learn
    return dict(files=files, **learns)

# ---------- ExactMatch

@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**31), st.sampled_from([0.2, 0.5, 0.7]))
def test_exact_match_is_sklearns_subset_accuracy(n, k, seed, thresh):
    rng = np.random.default_rng(seed)
    out = torch.tensor(rng.normal(0, 2, (n, k)), dtype=torch.float32)
    targ = torch.tensor(rng.random((n, k)) < 0.3, dtype=torch.float32)            # multi-hot, sometimes empty rows
    pred = (out.sigmoid() > thresh).numpy()
    ref = accuracy_score(targ.numpy().astype(int), pred.astype(int))               # subset accuracy on indicator arrays
    assert float(ExactMatch(thresh)(out, targ)) == pytest.approx(ref, abs=1e-7)
    assert float(ExactMatch(thresh, sigmoid=False)(out.sigmoid(), targ)) == pytest.approx(ref, abs=1e-7)
    assert float(ExactMatch(thresh)(out, targ)) == pytest.approx(exact_match(out.sigmoid().numpy(), targ.numpy(), thresh), abs=1e-7)

def test_exact_match_takes_class_indices_and_refuses_other_shapes():
    out = torch.tensor([[3., -2., -4.], [2., 1., -3.], [-1., -2., -3.]])
    assert float(ExactMatch()(out, torch.tensor([0, 0, 2]))) == pytest.approx(1/3)
    assert float(ExactMatch()(out, torch.tensor([[1., 0, 0], [1, 0, 0], [0, 0, 1]]))) == pytest.approx(1/3)
    with pytest.raises(ValueError, match=r'ExactMatch: expected \(N, K\) outputs .* got \(3, 3\) and \(3, 2\)'): ExactMatch()(out, torch.ones(3, 2))
    with pytest.raises(ValueError, match='thresh'): ExactMatch(1.5)
    assert ExactMatch().name == 'exact_match'

def test_exact_match_in_training_is_the_exact_match_of_the_predictions(trained):
    learn = trained['bce']
    names = [m.name for m in learn.metrics]
    rec = dict(zip(names, list(learn.recorder.values[-1])[2:]))           # what fastai recorded after the epoch (read before
    assert names == ['accuracy_multi', 'exact_match', 'bce_exact_match']   # get_preds, which drops the train loss from it)
    with learn.no_bar(): logits, targs = learn.get_preds(act=noop)
    ref = accuracy_score(targs.numpy().astype(int), (logits.sigmoid() > 0.5).numpy().astype(int))
    assert rec['exact_match'] == pytest.approx(ref, abs=1e-6)
    assert rec['bce_exact_match'] == pytest.approx(ref, abs=1e-6)         # train's metric now works on a labeler of one's own
    with learn.no_bar(): v = learn.validate()
    assert v[2] == pytest.approx(ref, abs=1e-6)
    assert exact_match(sigmoid_probs(logits), targs) == pytest.approx(ref, abs=1e-12)

def test_bce_exact_match_still_reads_the_paired_model():
    rng = np.random.default_rng(0)
    out, targ = torch.tensor(rng.normal(0, 2, (50, 10)), dtype=torch.float32), torch.tensor(rng.integers(0, 5, 50))
    ref = ((out[:, 5:].sigmoid() > 0.5) == torch.nn.functional.one_hot(targ, 5).bool()).all(1).float().mean()
    assert float(bce_exact_match(out, targ)) == float(ref)
    with pytest.raises(ValueError, match='bce_exact_match: expected'): bce_exact_match(out[:, :7], targ)
    with pytest.raises(ValueError, match='bce_exact_match: expected'): bce_exact_match(out, torch.ones(50, 4))

# ---------- set outcomes

@settings(max_examples=300, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 20), st.integers(1, 5))), st.integers(0, 2**31))
def test_set_outcomes_by_a_loop(sets, seed):
    targs = np.random.default_rng(seed).random(sets.shape) < 0.3
    want = ['correct' if (s == t).all() else 'none' if not s.any() else 'several' if s.sum() > t.sum() else 'wrong'
            for s, t in zip(sets, targs)]
    assert set_outcomes(sets, targs).tolist() == want

def test_set_outcomes_refuses_different_shapes():
    with pytest.raises(ValueError, match=r'expected two \(N, K\) bool arrays of the same shape'): set_outcomes(np.ones((3, 2)), np.ones((3, 3)))

# ---------- LabelerInterpretation

@pytest.fixture(scope='module')
def interp(trained):
    with trained['bce'].no_bar(): return LabelerInterpretation.from_learner(trained['bce'])

def test_interpretation_reads_the_labelers_validation_set(trained, interp):
    learn = trained['bce']
    with learn.no_bar(): logits, targs = learn.get_preds(act=noop)
    np.testing.assert_array_equal(interp.logits, logits.numpy())
    np.testing.assert_array_equal(interp.targs, targs.numpy().astype(bool))
    np.testing.assert_array_equal(interp.sets, predicted_sets(sigmoid_probs(logits), 0.5))
    assert interp.vocab == CLASSES and len(interp.dl.items) == len(logits) == 80
    # the loss per item is the mean binary cross-entropy over the classes, as torch computes it
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits.double(), targs.double(), reduction='none').mean(1)
    np.testing.assert_allclose(interp.losses.numpy(), ref.numpy(), atol=1e-12)

def test_outcomes_are_the_error_tables_of_the_calibration_chapter(trained, interp):
    "On single-label targets, the sets' outcomes are calibration.error_table's labeler outcomes, item for item."
    t = interp.targs.argmax(1)
    ref = error_table(np.eye(8)[t], interp.probs, t, CLASSES)
    assert interp.outcomes.tolist() == ref.outcome.astype(str).tolist()
    tab = interp.error_table()
    assert tab.columns.tolist() == ['item', 'target', 'pred', 'n_labels', 'outcome', 'loss', 'top']
    assert tab.target.tolist() == ['{' + CLASSES[i] + '}' for i in t]
    assert tab.pred.tolist() == ['{' + ', '.join(np.array(CLASSES)[r]) + '}' for r in interp.sets]
    assert tab.outcome.eq('correct').mean() == pytest.approx(exact_match(interp.probs, t))
    assert tab['item'].tolist() == [str(f) for f in interp.dl.items]
    top = tab.top.iloc[0].split()
    assert len(top) == 3 and top[0] == f"{CLASSES[interp.probs[0].argmax()]}:{interp.probs[0].max():.2f}"

def test_top_losses_of_one_outcome(interp):
    losses, idx = interp.top_losses()
    assert (np.diff(losses.numpy()) <= 0).all() and sorted(idx.tolist()) == list(range(80))
    for o in ('none', 'several', 'wrong', 'correct'):
        l, i = interp.top_losses(outcome=o)
        assert sorted(i.tolist()) == np.flatnonzero(interp.outcomes == o).tolist() and (np.diff(l.numpy()) <= 0).all()
        l3, i3, items = interp.top_losses(3, largest=False, outcome=o, items=True)
        assert i3.tolist() == i.tolist()[::-1][:3] and items == [str(interp.dl.items[j]) for j in i3]
    with pytest.raises(ValueError, match="outcome: expected one of"): interp.top_losses(outcome='right')

def test_plot_top_losses_shows_the_images_with_their_sets(interp):
    o = next(o for o in ('none', 'wrong', 'several') if (interp.outcomes == o).any())
    n = min(4, int((interp.outcomes == o).sum()))
    fig = interp.plot_top_losses(4, outcome=o, ncols=2)
    shown = [ax for ax in fig.axes if ax.images]
    _, idx = interp.top_losses(n, outcome=o)
    assert len(shown) == n
    for ax, i in zip(shown, idx.tolist()):
        title = ax.get_title()
        assert title.startswith(f"true {interp.error_table().target[i]}, said {interp.error_table().pred[i]}\n")
        assert f"loss {interp.losses[i]:.2f}" in title
        assert ax.images[0].get_array().shape[:2] == (28, 28)               # the digit itself
    plt.close('all')
    with pytest.raises(ValueError, match="outcome: expected one of"): interp.plot_top_losses(3, outcome='bogus')
    perfect = LabelerInterpretation(interp.learn, interp.dl, 10*np.eye(8)[interp.targs.argmax(1)] - 5, interp.targs)
    with pytest.raises(ValueError, match='no items to show: none has the outcome asked for'): perfect.plot_top_losses(3, outcome='none')

def test_most_confused_counts_set_pairs_among_the_mistakes(interp):
    tab = interp.error_table()
    wrong = tab[tab.outcome != 'correct']
    want = collections.Counter(zip(wrong.target, wrong.pred))
    got = interp.most_confused()
    assert {(a, b): n for a, b, n in got} == dict(want) and sum(n for *_, n in got) == len(wrong)
    assert [n for *_, n in got] == sorted((n for *_, n in got), reverse=True)
    assert all(n >= 2 for *_, n in interp.most_confused(min_val=2))

def test_fastais_classification_interpretation_reads_a_labelers_sets_as_two_classes(trained):
    "What chapter 16 says of it: the sets flattened into 0s and 1s, counted as the first two classes of the vocab."
    from fastai.interpret import ClassificationInterpretation
    with trained['bce'].no_bar(): pairs = ClassificationInterpretation.from_learner(trained['bce']).most_confused()
    assert pairs and {(a, b) for a, b, _ in pairs} <= {(CLASSES[0], CLASSES[1]), (CLASSES[1], CLASSES[0])}

def test_multi_label_targets(trained):
    "Several true classes per item: 'several' means more classes than the true set, 'wrong' fewer or other ones."
    learn = trained['bce']
    dl = learn.dls.valid.new(shuffle=False)
    n = len(dl.items)
    z = np.full((n, 8), -5.)
    t = np.zeros((n, 8), bool); t[:, 0] = t[:, 1] = True
    z[0, [0, 1]] = 5                 # right
    z[1, [0, 1, 2]] = 5              # several
    z[2, [0]] = 5                    # wrong (too few)
    z[3, [2, 3]] = 5                 # wrong (other ones)
    z[5, 1:6] = 5                    # several: five classes, named in part in a title
    li = LabelerInterpretation(learn, dl, z, t)
    assert li.outcomes[:6].tolist() == ['correct', 'several', 'wrong', 'wrong', 'none', 'several']
    assert li.error_table().target[0] == '{0, 1}' and li.error_table().pred[4] == '{}'
    fig = li.plot_top_losses(3, outcome='wrong')
    assert sorted(ax.get_title().split('\n')[0] for ax in fig.axes if ax.images) == ['true {0, 1}, said {0}', 'true {0, 1}, said {2, 3}']
    fig = li.plot_top_losses(1, outcome='several')                        # a single item; a long set named in part
    assert [ax.get_title().split('\n')[0] for ax in fig.axes if ax.images] == ['true {0, 1}, said {1, 2, 3, +2}']
    plt.close('all')

def test_probabilities_given_as_the_labelers_logits_warn(trained):
    learn = trained['bce']
    dl = learn.dls.valid.new(shuffle=False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        LabelerInterpretation(learn, dl, np.full((len(dl.items), 8), 0.3), np.zeros(len(dl.items), int))
    assert any('expected logits, got what look like sigmoid probabilities' in str(x.message) for x in w)

# ---------- PairInterpretation

@pytest.fixture(scope='module')
def pair(trained):
    with trained['ce'].no_bar(), trained['bce'].no_bar(): return PairInterpretation.from_learners(trained['ce'], trained['bce'])

def test_pair_lines_up_both_learners(trained, pair, interp):
    with trained['ce'].no_bar(): ce, t = trained['ce'].get_preds(act=noop)
    np.testing.assert_allclose(pair.ce_probs, softmax_probs(ce))
    np.testing.assert_array_equal(pair.targs, t.numpy())
    ref = error_table(softmax_probs(ce), interp.probs, t, CLASSES, items=[str(f) for f in interp.dl.items])
    pd.testing.assert_frame_equal(pair.table, ref)
    with trained['ce'].no_bar(): acc = trained['ce'].validate()[1]
    assert pair.table.ce_correct.mean() == pytest.approx(acc, abs=1e-6)

def test_pair_counts_and_disagreements(pair):
    c = pair.counts()
    assert c.loc['all', 'all'] == 80 and c.loc['right', 'all'] == pair.table.ce_correct.sum()
    assert c.loc['all', 'correct'] == (pair.table.outcome == 'correct').sum()
    ce_ok, bce_ok = pair.table.ce_correct.to_numpy(bool), (pair.table.outcome == 'correct').to_numpy(bool)
    d = pair.disagreements('ce')
    assert sorted(d.tolist()) == np.flatnonzero(ce_ok & ~bce_ok).tolist() and (np.diff(pair.bce_loss[d]) <= 0).all()
    assert c.loc['right', ['none', 'several', 'wrong']].sum() == len(d)
    d = pair.disagreements('bce')
    assert sorted(d.tolist()) == np.flatnonzero(bce_ok & ~ce_ok).tolist() and (np.diff(pair.ce_loss[d]) <= 0).all()
    for o in ('none', 'several', 'wrong'):
        assert set(pair.disagreements('ce', o)) == set(np.flatnonzero(ce_ok & (pair.table.outcome == o).to_numpy(bool)))
    with pytest.raises(ValueError, match="right: expected 'ce', 'bce' or None"): pair.disagreements('both')

def test_pair_plot_titles_both_answers(pair):
    which = 'ce' if len(pair.disagreements('ce')) else 'bce'
    d = pair.disagreements(which)[:3]
    fig = pair.plot_disagreements(which, k=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == len(d)
    for ax, i in zip(shown, d):
        r = pair.table.iloc[i]
        lines = ax.get_title().split('\n')
        assert lines[:2] == [f"true {r.target}", f"classifier: {r.ce_pred} ({r.ce_conf:.2f})"] and len(lines) == 4
        if r.n_labels <= 3: assert lines[2] == f"labeler: {{{r.bce_labels}}}"
    plt.close('all')

def test_pair_refuses_learners_that_saw_other_items_classes_or_labels(trained):
    ce, bce, files = trained['ce'], trained['bce'], trained['files']
    valid = list(bce.dls.valid.items)
    with ce.no_bar(), bce.no_bar():
        shuffled = bce.dls.test_dl(valid[::-1], with_labels=True)
        with pytest.raises(ValueError, match=r"learn_bce: expected the classifier's items in the same order; at position 0 the classifier has '.*\.png', the labeler '.*\.png'"):
            PairInterpretation.from_learners(ce, bce, dl_bce=shuffled)
        with pytest.raises(ValueError, match=r"learn_bce: expected the classifier's 80 items, got 240"):
            PairInterpretation.from_learners(ce, bce, dl_bce=bce.dls.train.new(shuffle=False, drop_last=False))
        other = Learner(_dls(files, True, vocab=CLASSES[::-1]), small_cnn(8))      # the same classes in another order
        with pytest.raises(ValueError, match=r"learn_bce: expected the classifier's classes in the same order; at position 0 the classifier has '0', the labeler '7'"):
            PairInterpretation.from_learners(ce, other)
        mislabelled = Learner(_dls(files, True, get_y=_label_of(valid[3:5])), small_cnn(8))
        with pytest.raises(ValueError, match=r"learn_bce: expected the classifier's labels; item 3 is '\d' for the classifier, \{\d\} for the labeler"):
            PairInterpretation.from_learners(ce, mislabelled)

def test_pair_from_arrays_checks_them():
    rng = np.random.default_rng(0)
    z, t = rng.normal(0, 2, (20, 3)), rng.integers(0, 3, 20)
    p = PairInterpretation(z, z - 1, t, ['a', 'b', 'c'])
    assert p.items == [str(i) for i in range(20)] and p.dl is None
    with pytest.raises(ValueError, match='no images'): p.plot_disagreements()
    with pytest.raises(ValueError, match=r'vocab: expected 3 class names'): PairInterpretation(z, z, t, ['a', 'b'])
    with pytest.raises(ValueError, match='bce_logits: expected 20 items'): PairInterpretation(z, z[:5], t, 'abc')
    with pytest.raises(ValueError, match='one true class per item'): PairInterpretation(z, z, np.ones((20, 3)), 'abc')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        PairInterpretation(softmax_probs(z), z, t, 'abc')
    assert len(w) == 1 and str(w[0].message).startswith('ce_logits: expected logits, got what look like softmax probabilities')

# ---------- From two learners to the report: Predictions.from_learners, compare_predictions (issue 23, part 2)

import json, re, shutil
from pathlib import Path
from markdown_it import MarkdownIt
from classification_vs_labeling import Predictions, compare_predictions
from classification_vs_labeling.report import compare, SETTINGS_UNKNOWN
from classification_vs_labeling.spec import RunSpec
from classification_vs_labeling.probes import probe_items

def _unseen():
    "20 images of each of the classes 8 and 9 (held out of the learners' training: near) and 10 letters (far)."
    root = mnist_sample()
    return [f for c in '89' for f in sorted((root/c).glob('*.png'))[:20]] + probe_items('letters', size=28, n=10)[0]

@pytest.fixture(scope='module')
def preds(trained):
    with trained['ce'].no_bar(), trained['bce'].no_bar(): return Predictions.from_learners(trained['ce'], trained['bce'], ood=_unseen())

def test_predictions_from_learners_are_each_learners_logits(trained, preds):
    ce, bce = trained['ce'], trained['bce']
    with ce.no_bar(), bce.no_bar():
        z_ce, t = ce.get_preds(act=noop)
        z_bce, tb = bce.get_preds(act=noop)
        o_ce = ce.get_preds(dl=ce.dls.test_dl(_unseen()), act=noop)[0]
        o_bce = bce.get_preds(dl=bce.dls.test_dl(_unseen()), act=noop)[0]
    np.testing.assert_array_equal(preds.ce_logits, z_ce.numpy()); np.testing.assert_array_equal(preds.bce_logits, z_bce.numpy())
    np.testing.assert_array_equal(preds.ood_ce_logits, o_ce.numpy()); np.testing.assert_array_equal(preds.ood_bce_logits, o_bce.numpy())
    np.testing.assert_array_equal(preds.targs, t.numpy()); np.testing.assert_array_equal(np.eye(8)[preds.targs], tb.numpy())
    assert preds.classes == CLASSES and preds.items == [str(f) for f in ce.dls.valid.items] and preds.ood_items == [str(f) for f in _unseen()]
    assert (preds.seed, preds.spec, preds.fingerprint) == (0, '', '')
    folder = mnist_sample()/'8'                                          # a folder: its images, sorted
    with ce.no_bar(), bce.no_bar(): p8 = Predictions.from_learners(ce, bce, ood=folder, seed=3)
    assert p8.ood_items == sorted(str(f) for f in folder.glob('*.png')) and p8.seed == 3

def test_predictions_from_learners_refuse_learners_that_saw_other_items_classes_or_labels(trained):
    ce, bce, files = trained['ce'], trained['bce'], trained['files']
    valid = list(bce.dls.valid.items)
    with ce.no_bar(), bce.no_bar():
        with pytest.raises(ValueError, match=r"learn_bce: expected the classifier's items in the same order; at position 0 the classifier has '.*\.png', the labeler '.*\.png'"):
            Predictions.from_learners(ce, bce, dl_bce=bce.dls.test_dl(valid[::-1], with_labels=True))
        with pytest.raises(ValueError, match=r"learn_bce: expected the classifier's classes in the same order; at position 0 the classifier has '0', the labeler '7'"):
            Predictions.from_learners(ce, Learner(_dls(files, True, vocab=CLASSES[::-1]), small_cnn(8)))
        with pytest.raises(ValueError, match=r"learn_bce: expected the classifier's labels; item 3 is '\d' for the classifier, \{\d\} for the labeler"):
            Predictions.from_learners(ce, Learner(_dls(files, True, get_y=_label_of(valid[3:5])), small_cnn(8)))
        with pytest.raises(ValueError, match='dl_ce and dl_bce: expected labelled items'):
            Predictions.from_learners(ce, bce, dl_ce=ce.dls.test_dl(valid), dl_bce=bce.dls.test_dl(valid))

def _structure(out:Path) -> dict:
    "What a report is made of, numbers aside: report.md's headings and each table's header and first column; metrics.json's keys; the files."
    text = (out/'report.md').read_text()
    tokens = MarkdownIt().enable('table').parse(text)
    heads = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == 'heading_open']
    rows = re.findall(r'^\| ([^|]+) \|', text, re.M)
    m = json.loads((out/'metrics.json').read_text())
    with np.load(out/'predictions.npz') as d: arrays = sorted(d.files)
    return dict(heads=heads, rows=rows, top=sorted(m), metrics=sorted(m['metrics']), items=sorted(m['items']), arrays=arrays,
                files=sorted(p.name for p in out.iterdir() if p.name not in ('run.json', 'runs') and not p.name.startswith('.')))   # .cvl.lock: the folder's lock

@pytest.fixture(scope='module')
def compared(tmp_path_factory):
    "cvl compare's report on a small folder like the learners' (digits 0-7 trained, 8 and 9 held out, 10 letters as probes), one seed."
    root, data = mnist_sample(), tmp_path_factory.mktemp('digits')/'digits'
    for c in '0123456789':
        (data/c).mkdir(parents=True)
        for f in sorted((root/c).glob('*.png'))[:30]: shutil.copy2(f, data/c/f.name)
    out = data.parent/'compare'
    spec = RunSpec(data, held_out=('8', '9'), ood='letters', arch='small', pretrained=False, size=28, epochs=1, bs=16, scale=0.02)
    compare(spec=spec, seeds=[0], out=out, progress=False, log=lambda s: None)
    return out

def test_compare_predictions_writes_cvl_compares_report(preds, compared, tmp_path):
    m = compare_predictions(preds, tmp_path/'mine', held_out=['8', '9'], log=lambda s: None)
    mine, theirs = _structure(tmp_path/'mine'), _structure(compared)
    for k in mine: assert mine[k] == theirs[k], k                     # the same sections, rows, keys and files as cvl compare's
    assert m == json.loads((tmp_path/'mine'/'metrics.json').read_text())
    assert m['items'] == {'tune': 40, 'held': 40, 'near': 40, 'far': 10, 'ood': 50} and m['held_out'] == ['8', '9']
    s = m['settings']
    assert s['unknown'] == list(SETTINGS_UNKNOWN) and all(s[k] is None for k in SETTINGS_UNKNOWN)   # recorded as unknown, never guessed
    assert (s['n_valid'], s['n_ood'], s['classes'], s['seeds'], s['mode'], m['skipped']) == (80, 50, CLASSES, [0], 'learners', None)
    text = (tmp_path/'mine'/'report.md').read_text()
    assert 'unknown' not in text.split('\n')[2] and 'Model:' not in text.split('\n')[2]            # the header says only what it knows
    assert f"Not recorded (the models were trained outside cvl): {', '.join(SETTINGS_UNKNOWN)}." in text
    assert 'Run: your own learners, trained outside cvl' in text and text.endswith('Not recorded: your own loaders read the images.\n')
    # the numbers: the threshold fitted on the tuning half, the accuracy measured on the other half
    tune = np.load(tmp_path/'mine'/'predictions.npz')['tune_mask']
    assert m['metrics']['ce.accuracy']['mean'] == pytest.approx((preds.ce_logits.argmax(1) == preds.targs)[~tune].mean(), abs=1e-12)
    assert m['metrics']['bce.threshold']['mean'] == pytest.approx(tuned_threshold(preds.bce_probs, preds.targs, tune), abs=1e-12)

def test_compare_predictions_over_seeds_and_with_known_settings(preds, tmp_path):
    two = [preds, Predictions(preds.classes, preds.targs, preds.ce_logits, preds.bce_logits, preds.ood_ce_logits,
                              preds.ood_bce_logits, seed=1, items=preds.items, ood_items=preds.ood_items)]
    m = compare_predictions(two, tmp_path/'two', held_out=['8', '9'], settings=dict(arch='small', epochs=1, pretrained=False), log=lambda s: None)
    assert m['metrics']['ce.accuracy']['per_seed'] == [m['metrics']['ce.accuracy']['mean']]*2 and m['settings']['seeds'] == [0, 1]
    text = (tmp_path/'two'/'report.md').read_text()
    assert 'Model: `small` (from scratch), 1 epoch(s). Seeds: 0, 1.' in text and '(seed 0; the tables above average both seeds)' in text
    assert 'arch' not in m['settings']['unknown'] and 'epochs' not in m['settings']['unknown']
    compare_predictions(two, tmp_path/'two', held_out=['8', '9'], log=lambda s: None)      # its own earlier report: written again

def _reseeded(p, seed, ood=slice(None), targs=None):
    "The same predictions under another seed, with some of the unseen images or other labels."
    return Predictions(p.classes, p.targs if targs is None else targs, p.ce_logits, p.bce_logits, p.ood_ce_logits[ood], p.ood_bce_logits[ood],
                       seed=seed, items=p.items, ood_items=p.ood_items[ood])

@pytest.mark.parametrize('call,msg', [
    (lambda p, o: compare_predictions([p, p], o), r"preds: expected one `Predictions` per seed, got seeds \[0, 0\]"),
    (lambda p, o: compare_predictions(p, o, held_out=['7']), r"held_out: \['7'\] are classes the models were trained on"),
    (lambda p, o: compare_predictions(p, o, held_out=['cat']), 'held_out: no unseen image is in a folder named cat'),
    (lambda p, o: compare_predictions(p, o, settings=dict(epoch=2)), r"settings: unknown names \['epoch'\]; expected some of data, "),
    (lambda p, o: compare_predictions([], o), 'preds: expected a `Predictions` or a non-empty list'),
    (lambda p, o: compare_predictions(p, o, tune_frac=1), 'tune_frac'),
    (lambda p, o: compare_predictions([p, _reseeded(p, 1, ood=slice(1, None))], o),
     r"preds: expected every seed's predictions on the same unseen images; seed 1's differ from seed 0's"),
    (lambda p, o: compare_predictions([p, _reseeded(p, 2, targs=np.roll(p.targs, 1))], o), "on the same labels; seed 2's differ"),
])
def test_compare_predictions_refuses_before_writing(preds, tmp_path, call, msg):
    with pytest.raises(ValueError, match=msg) as e: call(preds, tmp_path/'r')
    assert '\n' not in str(e.value) and not (tmp_path/'r').exists()

def test_compare_predictions_never_writes_over_other_files(preds, compared, tmp_path):
    with pytest.raises(ValueError, match=r"out: .* holds other files \(run\.json, runs\): choose a new or empty folder"):
        compare_predictions(preds, compared, held_out=['8', '9'])
    (tmp_path/'notes.txt').write_text('mine')
    with pytest.raises(ValueError, match='holds other files'): compare_predictions(preds, tmp_path, held_out=['8', '9'])

def test_the_readmes_lines_for_ones_own_learners_run_as_written(trained, tmp_path, monkeypatch):
    "README's 'In five lines' block for your own learners, run as it is written there (read from nbs/index.ipynb, its source)."
    import nbformat
    nb = nbformat.read(Path(__file__).parents[1]/'nbs'/'index.ipynb', as_version=4)
    blocks = [b for c in nb.cells if c.cell_type == 'markdown' for b in re.findall(r'```python\n(.*?)```', c.source, re.S)]
    code = [b for b in blocks if 'from_learners' in b]
    assert len(code) == 1
    (tmp_path/'unseen_images').mkdir()
    for f in probe_items('letters', size=28, n=10)[0]: shutil.copy2(f, tmp_path/'unseen_images'/Path(f).name)
    monkeypatch.chdir(tmp_path)
    ns = dict(learn_ce=trained['ce'], learn_bce=trained['bce'])
    with trained['ce'].no_bar(), trained['bce'].no_bar(): exec(code[0], ns)
    assert (tmp_path/'my_report'/'report.md').exists() and ns['m']['items']['far'] == 10 and 'ci95' in ns['m']['metrics']['diff.gap_total']


def test_plot_gap_shows_the_saved_runs_files_by_kind(tmp_path, capsys):
    "From a saved run's logits and image files (no DataLoader): refused and several-labels items the classifier got right, and items both missed, each kind its own figure with its count."
    from PIL import Image
    items = []
    for i in range(6):
        f = tmp_path/f'{i}.png'; Image.fromarray(np.full((8, 8), 40*i, np.uint8)).save(f); items.append(str(f))
    y = np.array([0, 1, 2, 0, 1, 2])
    ce = np.eye(3)[[0, 1, 2, 0, 2, 0]]*4                 # right on 0-3, wrong on 4 and 5
    bce = np.full((6, 3), -4.)
    bce[0, 0] = 4                                          # right
    bce[2, [1, 2]] = 4                                     # several, classifier right
    bce[4, 0] = 4                                          # wrong, classifier wrong too
    pair = PairInterpretation(ce, bce, y, ['a', 'b', 'c'], items=items)   # items 1, 3: no label (refused), classifier right
    assert pair.disagreements('ce', 'none').tolist() == [1, 3] and pair.disagreements('ce', 'several').tolist() == [2]
    assert sorted(pair.disagreements(None).tolist()) == [4, 5]                       # both wrong: 4 (wrong label), 5 (no label)
    figs = pair.plot_gap(k=4, seed_note=' (toy)')
    assert list(figs) == ['refused', 'several', 'both']
    assert figs['refused']._suptitle.get_text() == 'the labeler gave no label, the classifier was right: 2 of 2 (toy)'
    ax_titles = [ax.get_title() for ax in figs['both'].axes if ax.get_title()]
    assert len(ax_titles) == 2 and all('classifier:' in t and 'labeler:' in t for t in ax_titles)
    assert figs['refused'].axes[0].images[0].get_array().shape == (8, 8)                # the file itself, as a picture
    plt.close('all')
    bce[2, 1] = -4                                         # no several-labels item left
    assert list(PairInterpretation(ce, bce, y, ['a', 'b', 'c'], items=items).plot_gap()) == ['refused', 'both']
    assert 'several labels, the classifier was right: no such image' in capsys.readouterr().out
    with pytest.raises(ValueError, match="right: expected 'ce', 'bce' or None"): pair.disagreements('x')
    with pytest.raises(ValueError, match='no images'): PairInterpretation(ce, bce, y, ['a', 'b', 'c']).plot_gap()
    plt.close('all')
