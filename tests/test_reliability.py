"""Never silently wrong (issue 16): hostile folders, stale resumes, crashes and full disks, hostile file names and
bad library inputs. Each case ends in correct numbers or one clear error, never in wrong numbers with exit 0.

Most runs call the CLI's `main` in this process (the subprocess imports cost seconds each); the full-disk and the
real kill run `cvl` in a subprocess, since a file-size limit and `os._exit` must not hit the test process."""
import errno, json, os, resource, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from hypothesis import given, settings, strategies as st, HealthCheck
from markdown_it import MarkdownIt
from classification_vs_labeling import core, data as D, files as FL, tables as TB, train as T, spec as SP, runs as RN, metrics as M, thresholds as TH, calibration as C, ood as O
from classification_vs_labeling.cli import main
from helpers import digits_tree, ENV, one_line, faulty_writes, files_left, Killed

RUN = ['--arch', 'small', '--size', '28', '--epochs', '1', '--bs', '16', '--ood', 'none', '--no-progress']

def cvl(capsys, *args):
    "`cvl` run in this process: (exit status, stdout, stderr)."
    code = main([str(a) for a in args])
    c = capsys.readouterr()
    return code, c.out, c.err

def refused(capsys, out, *args, words=()):
    "`cvl compare ... --out out` refused with one line, and nothing written."
    line = one_line(*cvl(capsys, 'compare', *args, '--out', out), *words)
    assert not Path(out).exists(), f'{out} written before refusing: {line}'
    return line

def outputs(out) -> dict:
    "What a finished run leaves, for comparing two runs bit for bit (the run date aside)."
    with np.load(out/'predictions.npz') as d: res = {k: d[k].tobytes() for k in d.files}
    m = json.loads((out/'metrics.json').read_text()); m['settings'].pop('run_date')
    res['metrics'] = json.dumps(m, sort_keys=True)
    res['report'] = (out/'report.md').read_text()
    return res

@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    return digits_tree(tmp_path_factory.mktemp('digits')/'d', n=40)

@pytest.fixture(scope='module')
def reference_run(digits, tmp_path_factory):
    "An uninterrupted two-seed run on `digits`: (its folder, the paths it wrote through `core.atomic_path`, in order)."
    out = tmp_path_factory.mktemp('ref')/'out'
    with pytest.MonkeyPatch.context() as mp, faulty_writes(mp) as written:
        assert main(['compare', '--data', str(digits), *RUN, '--seeds', '0', '1', '--out', str(out)]) == 0
    return out, written

@pytest.fixture(scope='module')
def reference(reference_run):
    "The uninterrupted run's folder: what every faulty run must end up equal to."
    return reference_run[0]

def seed_file(out, seed:int) -> Path:
    "The run file of `seed` in a `cvl compare` folder: runs/<its spec's key, which names the seed>/run.npz."
    fs = list((Path(out)/'runs').glob(f'*_seed{seed}_*/run.npz'))
    assert len(fs) == 1, fs
    return fs[0]

def seeded(out, reference, seeds=(0, 1)) -> Path:
    "`out` as a run killed after its seeds were saved: the reference's run.json and seeds' run folders."
    out.mkdir(parents=True); shutil.copy2(reference/'run.json', out/'run.json')
    for s in seeds: shutil.copytree(seed_file(reference, s).parent, out/'runs'/seed_file(reference, s).parent.name)
    return out

def fake_training(monkeypatch, reference) -> list:
    "Training replaced by reading the reference's seed files (for tests about what happens around training); returns the seeds 'trained'."
    trained = []
    def train_pair(iset, spec, cbs=(), **kwargs):
        trained.append(spec.seed)
        p, ep = RN.read_run(seed_file(reference, spec.seed))
        for cb in cbs: cb.snaps += list(np.concatenate([ep['ce_logits'], ep['bce_logits']], -1))   # what EpochLogits kept
        return p
    monkeypatch.setattr(RN, 'train_pair', train_pair)
    return trained

# ---------------------------------------------------------------- data integrity

def test_symlink_loop_counts_each_file_once(tmp_path):
    from fastai.data.transforms import get_files
    root = digits_tree(tmp_path/'d', n=20)
    os.symlink('.', root/'digit0'/'again')
    assert len(get_files(root)) > 5*60                   # fastai's walker follows the loop: each digit0 image many times
    s = D.folder_set(root)
    assert len(s.items) == 60 and s.classes == ['digit0', 'digit1', 'digit7']
    assert dict(s.skipped)[str(root/'digit0'/'again')].startswith('link loop')
    ids = [FL._identity(f) for f in s.items]
    assert len(set(ids)) == len(ids)

def _png(path, v=0):
    Image.fromarray(np.full((4, 4), v, np.uint8)).save(path)

@given(st.lists(st.tuples(st.sampled_from('abc'), st.integers(0, 5), st.booleans()), max_size=6))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_links_no_file_twice_and_each_under_its_own_class(tmp_path_factory, links):
    "Random folder and file links (loops, siblings, outside folders): the walk ends, no real file is counted twice, no file gets another class's label."
    base = tmp_path_factory.mktemp('links'); root, ext = base/'root', base/'ext'
    for k, c in enumerate('abc'): (root/c).mkdir(parents=True); [_png(root/c/f'{c}{i}.png', 40*i + 10*k) for i in range(2)]   # distinct pictures
    ext.mkdir(); [_png(ext/f'e{i}.png', 200 + i) for i in range(2)]
    targets = [root, root/'a', root/'b', root/'c', ext, root/'a'/'a0.png']
    for j, (where, t, as_file) in enumerate(links):
        tgt = targets[t]
        if as_file and tgt.is_dir(): tgt = sorted(p for p in tgt.rglob('*.png'))[0]
        os.symlink(tgt, root/where/f'link{j}' if tgt.is_dir() else root/where/f'link{j}.png')
    try: s = D.folder_set(root, valid_pct=0.3)
    except ValueError as e:
        assert 'holds no usable image' in str(e) or 'at least 2 classes' in str(e); return
    ids = [FL._identity(f) for f in s.items]
    assert len(set(ids)) == len(ids)
    assert not set(ids[i] for i in s.valid_idx) & set(ids[i] for i in s.train_idx)
    for f, label in zip(s.items, s.labels):
        real = f.resolve()
        if real.is_relative_to(root.resolve()): assert real.relative_to(root.resolve()).parts[0] == label, (f, label)

def test_file_under_two_classes_and_hard_links(tmp_path):
    root = digits_tree(tmp_path/'d', n=10)
    os.symlink(root/'digit0'/'3.png', root/'digit1'/'from0.png')     # one file, two classes: dropped from both
    os.link(root/'digit7'/'2.png', root/'digit7'/'copy.png')          # a hard link in its own class: kept once
    s = D.folder_set(root)
    why = dict(s.skipped)
    assert 'several classes (digit0, digit1)' in why[str(root/'digit1'/'from0.png')]
    assert 'several classes' in why[str(root/'digit0'/'3.png')]
    assert why[str(root/'digit7'/'copy.png')].startswith('same file as')
    assert len(s.items) == 30 - 1 and len({FL._identity(f) for f in s.items}) == len(s.items)

def test_folders_that_would_change_the_question_are_refused(tmp_path, digits, capsys):
    out = tmp_path/'out'
    hollow = tmp_path/'hollow'; shutil.copytree(digits, hollow)
    (hollow/'digit9').mkdir(); (hollow/'digit9'/'notes.png').write_text('not an image')
    refused(capsys, out, '--data', hollow, *RUN, words=["class folder 'digit9'", 'no usable image'])
    empty_ood = tmp_path/'blank'; empty_ood.mkdir(); (empty_ood/'x.png').write_bytes(b'')
    for ood, word in [(digits, 'overlap'), (digits/'digit0', 'overlap'), (digits.parent, 'overlap'), (empty_ood, 'no usable image')]:
        refused(capsys, out, '--data', digits, *RUN[:-3], '--ood', ood, '--no-progress', words=[word])
    refused(capsys, digits/'cvl_out', '--data', digits, *RUN, words=['inside the data folder'])
    refused(capsys, empty_ood/'out', '--data', digits, *RUN[:-3], '--ood', empty_ood, '--no-progress', words=['inside the out-of-domain folder'])

def test_imageset_refuses_one_file_twice():
    with pytest.raises(ValueError, match='distinct items'): D.ImageSet('x', ['a/1.png', 'a/1.png'], ['a', 'a'], [1])
    with pytest.raises(ValueError, match='distinct items and ood_items'): D.ImageSet('x', ['a/1.png', 'b/2.png'], ['a', 'b'], [1], ['a/1.png'])

# ---------------------------------------------------------------- images decoded as a user expects

@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_16bit_scaled_not_clipped(tmp_path_factory, h, w, seed):
    a = np.random.default_rng(seed).integers(0, 65536, (h, w)).astype(np.uint16)
    f = tmp_path_factory.mktemp('deep')/'deep.png'; Image.fromarray(a).save(f)
    assert Image.open(f).mode.startswith('I')
    got = np.array(FL.open_image(f))
    assert got.shape == (h, w, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got[..., 0], np.round(a.astype(float)*255/65535).astype(np.uint8))

def test_every_path_decodes_with_the_same_opener(tmp_path):
    from fastai.vision.augment import Resize, ResizeMethod
    from classification_vs_labeling.fastpath import _load
    root = tmp_path/'d'
    for c, lo in (('dark', 0), ('light', 30000)):
        (root/c).mkdir(parents=True)
        for i in range(4): Image.fromarray(np.full((16, 16), lo + 5000*i, np.uint16)).save(root/c/f'{i}.png')
    s = D.folder_set(root, valid_pct=0.25)
    dls, _ = D.matched_dls(s, size=16, bs=2)
    x, _ = dls.train_ds[0]
    assert isinstance(x, FL.CVLImage)
    np.testing.assert_array_equal(np.array(x), np.array(FL.open_image(dls.train_ds.items[0])))
    np.testing.assert_array_equal(_load(s.items[5], Resize(16, method=ResizeMethod.Squish)), np.array(FL.open_image(s.items[5])))
    assert np.array(FL.open_image(s.items[5])).max() < 255                 # 45000/65535 of white, not clipped white

def test_decompression_bombs_skipped_with_the_limit(tmp_path, monkeypatch):
    Image.new('L', (12000, 12000)).save(tmp_path/'bomb.png')            # 144 million pixels in about 140 KB
    assert (tmp_path/'bomb.png').stat().st_size < 300_000
    _png(tmp_path/'ok.png')
    ok, sk = FL.scan_images([tmp_path/'bomb.png', tmp_path/'ok.png'])
    assert ok == [tmp_path/'ok.png']
    assert sk[0][1] == f"too large: 12,000 x 12,000 = 144,000,000 pixels, over the limit of {FL.MAX_PIXELS:,} (files.MAX_PIXELS)"
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 5)                  # past twice Pillow's own limit it refuses to open
    with pytest.raises(FL.ImageRefused, match='decompression bomb.*over the limit of 1,000,000'): FL.open_image(tmp_path/'ok.png', max_pixels=10**6)

# ---------------------------------------------------------------- a resume that can be trusted

def test_resume_on_changed_data_is_refused(tmp_path, digits, reference, capsys, monkeypatch):
    trained = fake_training(monkeypatch, reference)
    root, out = tmp_path/'d', tmp_path/'out'; shutil.copytree(digits, root)      # a copy with the same times: the same fingerprint
    RUN2 = [*RUN, '--seeds', '0', '1']
    assert cvl(capsys, 'compare', '--data', root, *RUN, '--seeds', '0', '--out', out)[0] == 0 and trained == [0]
    assert cvl(capsys, 'compare', '--data', root, *RUN2, '--out', out)[0] == 0 and trained == [0, 1]   # seed 0 reused
    before = outputs(out)
    f = root/'digit1'/'3.png'
    Image.fromarray(255 - np.array(Image.open(f))).save(f)              # same name, same count, new content
    st_ = f.stat(); os.utime(f, ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))
    one_line(*cvl(capsys, 'compare', '--data', root, *RUN2, '--out', out), 'other data', 'file contents')
    shutil.copy2(digits/'digit1'/'3.png', f)                            # back as it was (times too): resumes
    code, log, _ = cvl(capsys, 'compare', '--data', root, *RUN2, '--out', out)
    assert code == 0 and 'seed 0: reusing' in log and 'seed 1: reusing' in log and outputs(out) == before
    os.rename(root/'digit1'/'4.png', root/'digit7'/'4b.png')              # a file moved between classes
    one_line(*cvl(capsys, 'compare', '--data', root, *RUN2, '--out', out), 'other data', 'the item names or their classes')
    assert outputs(out) == before

def _nan_logits(f):
    with np.load(f) as d: a = {k: d[k] for k in d.files}
    a['ce_logits'] = np.full_like(a['ce_logits'], np.nan); np.savez(f, **a)

def _bad_targets(f):
    with np.load(f) as d: a = {k: d[k] for k in d.files}
    a['targs'] = a['targs'] + 7; np.savez(f, **a)

def _pickled(f):
    with np.load(f) as d: a = {k: d[k] for k in d.files}
    a['classes'] = np.array([{'a': 1}, 'b', 'c'], dtype=object); np.savez(f, **a)

@pytest.mark.parametrize('name,damage,words', [
    ('truncated', lambda f: f.write_bytes(f.read_bytes()[:200]), ['not a readable predictions file']),
    ('empty', lambda f: f.write_bytes(b''), ['not a readable predictions file']),
    ('text', lambda f: f.write_text('hello'), ['not a readable predictions file']),
    ('pickled', _pickled, ['holds pickled objects, which are never loaded']),
    ('nan', _nan_logits, ['ce_logits: expected finite logits']),
    ('targets', _bad_targets, ['targs: expected (N,) class indices in [0, 3)']),
    ('other seed', lambda f: shutil.copy(seed_file(f.parents[2], 0), f), ['holds another run: seed 0, not 1']),
])
def test_damaged_seed_file_is_named_and_retrained(tmp_path, reference, digits, capsys, monkeypatch, name, damage, words):
    "A damaged or foreign seed file is named and trained again (here training returns what the uninterrupted run trained)."
    out = tmp_path/'out'; shutil.copytree(reference, out)
    f = seed_file(out, 1); damage(f)
    trained = fake_training(monkeypatch, reference)
    code, log, err = cvl(capsys, 'compare', '--data', digits, *RUN, '--seeds', '0', '1', '--out', out)
    assert code == 0 and trained == [1], err
    line = next(l for l in log.splitlines() if l.startswith('seed 1: not reusing'))
    assert str(f) in line and 'training it again' in line and 'unsafe' not in line
    for w in words: assert w in line, line
    assert 'seed 0: reusing' in log
    assert outputs(out) == outputs(reference)                          # seeds [0, 1] again, bit for bit

@pytest.mark.parametrize('damage,words', [
    (lambda out: (out/'run.json').write_text('[1, 2]'), ['run.json: expected a JSON object, got a list']),
    (lambda out: (out/'run.json').write_text('{"data": '), ['run.json: not a readable run record']),
    (lambda out: ((out/'run.json').unlink(), (out/'run.json').mkdir()), ['run.json: not a readable run record']),
    (lambda out: (f := seed_file(out, 1), f.unlink(), f.mkdir()), ['run.npz: expected a run file, found a folder']),
])
def test_damaged_run_folder_is_one_line_and_untouched(tmp_path, reference, digits, capsys, damage, words):
    out = tmp_path/'out'; shutil.copytree(reference, out); damage(out)
    before = sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob('*'))
    one_line(*cvl(capsys, 'compare', '--data', digits, *RUN, '--seeds', '0', '1', '--out', out), *words)
    assert sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob('*')) == before

# ---------------------------------------------------------------- the promise: exit 2, one line, nothing written

def test_checked_before_anything_is_written(tmp_path, digits, capsys):
    out = tmp_path/'out'
    refused(capsys, out, '--data', digits, *RUN[2:], '--arch', 'alexnet', words=['alexnet cannot train on 28px'])
    refused(capsys, out, '--data', digits, *RUN[2:], '--arch', 'vit_b_16', words=['vit_b_16 cannot train on 28px'])
    refused(capsys, out, '--data', digits, *RUN, '--tune-frac', '0.999', words=['--tune-frac'])
    refused(capsys, out, '--data', digits, *RUN, '--seeds', str(2**64), words=['seeds: expected a value in [0, 4294967295]'])
    tiny = digits_tree(tmp_path/'tiny', n=1)                            # 3 images: too few to split and score
    refused(capsys, out, '--data', tiny, *RUN, words=['expected at least'])
    (tmp_path/'file').write_text('x')
    refused(capsys, tmp_path/'file'/'out', '--data', digits, *RUN)

def test_diverging_run_names_seed_and_lr_and_keeps_no_seed_file(tmp_path, digits, capsys):
    out = tmp_path/'out'
    one_line(*cvl(capsys, 'compare', '--data', digits, *RUN, '--lr', '1e30', '--out', out), 'seed 0: training diverged', 'learning rate 1e+30')
    assert not list(out.rglob('*.npz'))

@pytest.mark.parametrize('err,words', [(OSError(errno.ENOSPC, 'No space left on device'), ['run.json: No space left on device (the disk is full)']),
                                       (PermissionError(errno.EACCES, 'Permission denied'), ['run.json: Permission denied'])])
def test_os_errors_are_one_line_naming_the_file(tmp_path, digits, capsys, monkeypatch, err, words):
    with faulty_writes(monkeypatch, exc=err):
        one_line(*cvl(capsys, 'compare', '--data', digits, *RUN, '--out', tmp_path/'out'), *words)
    assert [p.name for p in (tmp_path/'out').glob('*')] in ([], ['.cvl.lock'])   # the temporary file is gone too (the folder's lock may stay)

def test_size_limited_disk_then_resume(tmp_path, reference, digits):
    "A file-size limit (RLIMIT_FSIZE) stops the run at the first plot: one line naming it; the same command then finishes it."
    out = seeded(tmp_path/'out', reference)
    cmd = [sys.executable, '-m', 'classification_vs_labeling.cli', 'compare', '--data', str(digits), *RUN, '--seeds', '0', '1', '--out', str(out)]
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600, preexec_fn=limit)
    line = one_line(r.returncode, r.stdout, r.stderr, '.png', 'over the file-size limit')
    assert str(out) in line and not list(out.rglob('.*.tmp*'))
    assert (out/'predictions.npz').exists() and not (out/'report.md').exists()
    assert main(cmd[3:]) == 0
    assert outputs(out) == outputs(reference)

@pytest.fixture(scope='module')
def one_seed(reference, digits, tmp_path_factory):
    "A one-seed run: (its folder, its outputs); seed 0 is the reference's (the same seed trains the same weights in any run)."
    out = seeded(tmp_path_factory.mktemp('one')/'out', reference, seeds=(0,))
    assert main(['compare', '--data', str(digits), *RUN, '--out', str(out)]) == 0
    return out, outputs(out)

# A one-seed run without out-of-domain images writes 8 files: run.json, runs/<seed 0's key>/run.npz, then predictions.npz,
# metrics.json, three plots and report.md; a run that finds the seed saved writes run.json again and the last six.
# Each run of the chain is killed at the next write point (just before its rename, leaving a piece, or just after),
# and every run resumes from what the one before left: the last one must finish with the uninterrupted run's numbers.
KILLS = [(1, False), (2, False), (2, True), (1, True)] + [(k, False) for k in range(2, 8)] + [(7, True)]

def test_one_patch_of_core_atomic_path_reaches_every_write(reference_run):
    "Each file a run leaves was written through `core.atomic_path` (found by looking at the folder, not from a list of writers)."
    out, written = reference_run
    assert files_left(out) == set(written), files_left(out) ^ set(written)
    assert len(written) == 9      # run.json, 2 run files, predictions.npz, metrics.json, 3 plots, report.md: each once

def test_kill_at_each_write_then_resume_equals_uninterrupted(tmp_path, digits, one_seed, capsys, monkeypatch):
    out = tmp_path/'out'
    args = ['compare', '--data', digits, *RUN, '--out', out]
    reused = []
    for n, after in KILLS:
        with faulty_writes(monkeypatch, n, after=after):
            with pytest.raises(Killed): cvl(capsys, *args)
        monkeypatch.undo()
        reused.append('seed 0: reusing' in capsys.readouterr().out)
        for f in out.glob('runs/*/run.npz'): RN.read_run(f)            # a run file left behind is whole
    assert reused == [False]*4 + [True]*7          # trained twice (killed before, then after its rename), then reused
    code, log, err = cvl(capsys, *args)
    assert code == 0 and 'seed 0: reusing' in log, err
    assert not list(out.rglob('*.tmp*')), 'pieces of killed writes left behind'
    assert outputs(out) == one_seed[1]

def test_real_kill_before_a_rename_then_resume(tmp_path, digits, one_seed):
    "The same with a real process death (`os._exit`) in the middle of writing predictions.npz."
    out = seeded(tmp_path/'out', one_seed[0], seeds=(0,))
    args = ['compare', '--data', str(digits), *RUN, '--out', str(out)]
    code = ("import os, sys\nfrom contextlib import contextmanager\nfrom classification_vs_labeling import core\n"
            "real = core.atomic_path\n@contextmanager\ndef dying(path):\n    with real(path) as tmp:\n        yield tmp\n"
            "        if path.name == 'predictions.npz': os._exit(137)\ncore.atomic_path = dying\n"
            f"from classification_vs_labeling.cli import main\nsys.exit(main({args!r}))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 137 and list(out.glob('.predictions.*.tmp.npz')) and not (out/'predictions.npz').exists(), r.stderr[-2000:]
    assert main(args) == 0
    assert not list(out.rglob('*.tmp*')) and outputs(out) == one_seed[1]

# ---------------------------------------------------------------- safe reports

HOSTILE = ['<img src=x onerror=alert(1)>.png', 'evil\n# Injected heading [click](javascript:alert(1)).png', 'tick`tock``.png',
           '*star*_under_|pipe|~~strike~~.png', '&lt;amp.png', ' spaced .png']

def _esc(s): return FL.show_name(s)   # how the report shows a name (chapter 03a)

def test_report_escapes_hostile_names(tmp_path, digits, reference, capsys, monkeypatch):
    fake_training(monkeypatch, reference)
    root = tmp_path/'d`<b>x'; shutil.copytree(digits, root)
    for i, name in enumerate(HOSTILE): (root/'digit0'/name).write_text(f'not an image {i}')
    Image.new('L', (9000, 9000)).save(root/'digit1'/'bomb.png')
    assert cvl(capsys, 'compare', '--data', root, *RUN, '--seeds', '0', '1', '--out', tmp_path/'out')[0] == 0
    text = (tmp_path/'out'/'report.md').read_text()
    tokens = MarkdownIt().parse(text)
    inline = [c for t in tokens if t.type == 'inline' for c in t.children]
    assert not [t for t in tokens + inline if t.type.startswith(('html', 'link'))]              # no raw HTML, no links
    assert sorted(c.attrs['src'] for c in inline if c.type == 'image') == ['accuracy_vs_threshold.png', 'reliability.png', 'risk_coverage.png']
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == 'heading_open']
    assert headings[0] == 'Classify or label: report' and headings[-1] == 'Skipped files' and len(headings) == 5
    skipped = json.loads((tmp_path/'out'/'metrics.json').read_text())['skipped']
    assert len(skipped) == len(HOSTILE) + 1 and sum(t.type == 'list_item_open' for t in tokens) == len(skipped)
    codes = [c.content for c in inline if c.type == 'code_inline']
    assert str(root) in codes
    for name in HOSTILE: assert str(root/'digit0'/_esc(name)) in codes, name
    assert any('over the limit' in c.content for c in inline if c.type == 'text')

@given(st.text(min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_md_code_and_md_text_show_any_string_as_it_is(s):
    toks = MarkdownIt().parse('- ' + TB.md_code(s) + ' says ' + TB.md_text(s))
    assert [t.type for t in toks] == ['bullet_list_open', 'list_item_open', 'paragraph_open', 'inline', 'paragraph_close',
                                      'list_item_close', 'bullet_list_close']
    kids = toks[3].children
    assert [k.type for k in kids] == ['code_inline', 'text'] and kids[0].content == _esc(s)
    assert kids[1].content.rstrip() == (' says ' + _esc(s)).rstrip()

# ---------------------------------------------------------------- library inputs

P, L3 = np.random.default_rng(0).random((6, 3)), np.random.default_rng(1).normal(size=(6, 3))
T3 = np.array([0, 1, 2, 0, 1, 2])
CALLS = {   # function -> arguments that work
    M.exact_match: dict(probs=P, targs=T3, thresh=0.5), M.argmax_accuracy: dict(probs=P, targs=T3),
    TH.threshold_sweep: dict(probs=P, targs=T3), TH.best_threshold: dict(probs=P, targs=T3), M.none_rate: dict(probs=P, thresh=0.5),
    TH.tune_split: dict(n_items=10, tune_frac=0.5, seed=0), M.paired_bootstrap: dict(correct_a=[1, 0, 1], correct_b=[0, 0, 1], n_boot=20),
    M.simulate_preds: dict(n=10, k=3, seed=0), M.seed_summary: dict(values=[0.1, 0.2]),
    C.ece: dict(probs=P, targs=T3, n_bins=5), C.fit_temperature: dict(logits=L3, targs=T3), C.apply_temperature: dict(logits=L3, T=1.5),
    C.accuracy_at_coverage: dict(probs=P, targs=T3, coverage=0.5), C.error_table: dict(ce_probs=P, bce_probs=P, targs=T3, classes=['a', 'b', 'c']),
    O.ood_auroc: dict(scores_in=[0.9, 0.8], scores_out=[0.1]), O.fpr_at_tpr: dict(scores_in=[0.9, 0.8], scores_out=[0.1], tpr=0.95),
    O.energy: dict(logits=L3), core.softmax_probs: dict(logits=L3), core.check_targets: dict(targs=T3, n_items=6, n_classes=3),
}
BAD_ARRAYS = {'complex': P + 1j, 'nan': np.where(P > 0.5, np.nan, P), 'inf': P*np.inf, 'text': [['a', 'b', 'c']], 'None': None,
              'huge ints': [[10**400, 1, 2]], 'a dict': {'a': 1}}
BAD_SCALARS = {'complex': 0.5 + 1j, 'nan': float('nan'), 'inf': float('inf'), 'text': 'abc', 'None': None, 'huge': 10**400,
               'a list': [0.1, 0.2], 'a bool': True}
CASES = [(f, k, bad, v) for f, kw in CALLS.items() for k, v0 in kw.items() if k not in ('classes', 'targs')
         for bad, v in (BAD_ARRAYS if isinstance(v0, (np.ndarray, list)) else BAD_SCALARS).items()
         if not (k == 'seed' and bad == 'huge')]          # numpy's generators take seeds of any size
CASES += [(f, 'targs', bad, v) for f in (M.exact_match, C.ece, C.fit_temperature, core.check_targets)
          for bad, v in {'out of range': T3 + 3, 'fractions': T3 + 0.5, 'complex': T3 + 1j, 'negative': T3 - 1, 'huge': [10**400]*6}.items()]
CASES += [(C.error_table, 'classes', bad, v) for bad, v in {'duplicates': ['a', 'a', 'b'], 'None': [None, 'b', 'c'], 'empty': ['', 'b', 'c'], 'a number': 3}.items()]

@pytest.mark.parametrize('f,param,bad,value', CASES, ids=[f"{f.__name__}-{k}-{b}" for f, k, b, _ in CASES])
def test_public_functions_refuse_bad_input_naming_the_parameter(f, param, bad, value):
    with pytest.raises(ValueError) as e: f(**{**CALLS[f], param: value})
    assert param in str(e.value) and '\n' not in str(e.value), str(e.value)

def test_predictions_load_checks_what_it_reads(tmp_path):
    p = T.Predictions(['a', 'b'], [0, 1], np.zeros((2, 2)), np.zeros((2, 2)), seed=3, items=['x.png', 'y.png'], fingerprint='{}')
    f = p.save(tmp_path/'p.npz'); q = T.Predictions.load(f)
    assert q.seed == 3 and q.fingerprint == '{}' and q.items == p.items
    with np.load(f) as d: a = {k: d[k] for k in d.files}
    for key, val, words in [('targs', np.array([0, 5]), 'targs: expected (N,) class indices in [0, 2)'),
                            ('ce_logits', np.full((2, 2), np.nan), 'ce_logits: expected finite logits'),
                            ('classes', np.array(['a', 'a']), 'classes: expected distinct names'),
                            ('seed', np.array([0, 0]), 'seed: expected a real number'),
                            ('items', np.array(['only one']), 'items: expected 2 names')]:
        np.savez(tmp_path/'bad.npz', **{**a, key: val})
        with pytest.raises(ValueError) as e: T.Predictions.load(tmp_path/'bad.npz')
        assert str(e.value).startswith(f"{tmp_path/'bad.npz'}: not a readable predictions file") and words in str(e.value), str(e.value)
    np.save(tmp_path/'one.npy', np.zeros(3))
    with pytest.raises(ValueError, match='one.npy: not a readable'): T.Predictions.load(tmp_path/'one.npy')
    (tmp_path/'dir.npz').mkdir()
    with pytest.raises(ValueError, match='dir.npz: not a readable'): T.Predictions.load(tmp_path/'dir.npz')

def test_bench_refuses_up_front(tmp_path, capsys):
    one_line(*cvl(capsys, 'bench', '--device', 'cpu', '--n', '74', '--arch', 'small', '--size', '32'), 'fewer than one batch of 64')
    one_line(*cvl(capsys, 'bench', '--device', 'cpu', '--n', '74', '--arch', 'small', '--size', '32', '--bs', '16', '--out', tmp_path),
             'is a folder')
    one_line(*cvl(capsys, 'bench', '--n', '74', '--out', tmp_path/'no'/'such'/'file.jsonl'), 'no folder')

def test_damaged_saved_run_is_retrained_not_trusted(tmp_path, monkeypatch):
    "`saved_run` reads a saved file back: a damaged one is named and replaced."
    toy = D.folder_set(digits_tree(tmp_path/'toy', n=40))             # 96 to train on: a batch of 64 fits
    v = len(toy.valid_idx)
    fresh = T.Predictions(toy.classes, [toy.classes.index(toy.labels[i]) for i in toy.valid_idx], np.eye(3)[[0]*v], np.eye(3)[[0]*v])
    def train_pair(iset, spec, cbs=(), **kwargs):
        for cb in cbs: cb.snaps.append(np.zeros((v, 6), np.float32))
        return fresh
    monkeypatch.setenv('CVL_RUNS', str(tmp_path/'runs'))
    monkeypatch.setattr(RN, 'load_data', lambda spec: toy)
    monkeypatch.setattr(RN, 'train_pair', train_pair)
    f = RN.run_path(SP.RunSpec(), RN.runs_dir())
    f.parent.mkdir(parents=True, exist_ok=True); f.write_bytes(b'PK\x03\x04 torn')
    lines = []
    p = RN.saved_run(log=lines.append)
    assert any(str(f) in l and 'training it again' in l for l in lines) and (p.ce_logits == fresh.ce_logits).all()
    assert (T.Predictions.load(f).ce_logits == fresh.ce_logits).all()

def test_fast_path_store_sees_a_file_rewritten_in_place(tmp_path):
    "The fast path keeps decoded images between seeds: a file rewritten under the same name must be decoded again."
    from fastai.vision.augment import Resize
    from classification_vs_labeling.fastpath import stored_images
    f = tmp_path/'a.png'; _png(f, 10)
    before = stored_images([f], Resize(4), 'cpu').clone()
    _png(f, 200); os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    after = stored_images([f], Resize(4), 'cpu')
    assert before.max() == 10 and after.min() == 200
