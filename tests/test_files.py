"Chapter 03a: which files are images training can open, each real file once, folders written once, fingerprints."
import os, shutil
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from fastai.data.transforms import get_files
from fastai.vision.core import PILImage
from classification_vs_labeling.files import *
from helpers import from_chapter


make_bad_files = from_chapter('03a_files', 'make_bad_files')   # the chapter's own: good images in five modes, four files that are not images

@pytest.fixture(scope='module')
def bad(tmp_path_factory): return make_bad_files(tmp_path_factory.mktemp('files')/'bad')


def test_scan_keeps_what_loads_and_says_why_not(bad):
    imgs, skipped = scan_images(get_files(bad))
    assert [f.name for f in imgs] == ['cmyk.jpg', 'gray.png', 'palette.png', 'rgb.jpg', 'rgba.png']
    why = {Path(p).name: r for p, r in skipped}
    assert sorted(why) == ['empty.jpg', 'notes.jpg', 'trimap.mat', 'truncated.jpg']
    assert why['empty.jpg'] == 'zero-byte file' and 'not an image file type' in why['trimap.mat']
    assert why['truncated.jpg'].startswith('cannot decode') and why['notes.jpg'].startswith('cannot decode')
    for f in imgs: assert np.array(PILImage.create(f)).shape == (40, 60, 3)
    assert scan_images(get_files(bad), n_workers=1) == (imgs, skipped)
    assert scan_images([bad/'missing.jpg'])[1] == [(str(bad/'missing.jpg'), 'not a file')]

def test_scan_in_threads_gives_what_one_thread_gives(bad, tmp_path):
    "Over 32 files the scan runs in threads: the same images kept, the same reasons, in the same order."
    for i in range(5): shutil.copytree(bad, tmp_path/f'copy{i}')
    files = get_files(tmp_path)
    assert len(files) > 32
    assert scan_images(files, n_workers=4) == scan_images(files, n_workers=1)

def test_a_scanned_file_is_decoded_again_only_when_it_changes(tmp_path, monkeypatch):
    "The per-process memory of verdicts (`_verdict`) gives what a fresh decode gives, and never outlives a change to the file."
    import classification_vs_labeling.files as FL
    good, odd = tmp_path/'good.png', tmp_path/'odd.png'
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(good); shutil.copy(good, odd)
    decoded = []
    real = FL._why_not_image
    monkeypatch.setattr(FL, '_why_not_image', lambda fn: decoded.append(Path(fn).name) or real(fn))
    monkeypatch.setattr(FL, 'SETTLED_NS', 0)            # as if both files had been written long ago
    files = [good, odd]
    assert scan_images(files, n_workers=1) == ([good, odd], []) and decoded == ['good.png', 'odd.png']
    assert scan_images(files, n_workers=1) == ([good, odd], []) and decoded == ['good.png', 'odd.png']   # remembered
    st = os.stat(odd)
    odd.write_bytes(odd.read_bytes()[:len(odd.read_bytes())//2].ljust(st.st_size, b'\0'))   # cut short, padded to the same size,
    os.utime(odd, ns=(st.st_atime_ns, st.st_mtime_ns))                                        # its mtime put back: the ctime moved
    imgs, skipped = scan_images(files, n_workers=1)
    assert imgs == [good] and skipped == [(str(odd), real(odd))] and decoded[-1] == 'odd.png' and decoded.count('good.png') == 1
    odd.unlink(); shutil.copy(good, odd)                                                      # another file in its place
    assert scan_images(files, n_workers=1) == ([good, odd], []) and decoded.count('odd.png') == 3
    monkeypatch.setattr(FL, 'MAX_PIXELS', 100)                                                # a lower limit: a new verdict
    assert [f for f, _ in scan_images(files, n_workers=1)[1]] == [str(good), str(odd)]
    monkeypatch.undo(); monkeypatch.setattr(FL, '_why_not_image', lambda fn: decoded.append(Path(fn).name) or real(fn))
    fresh = tmp_path/'fresh.png'; shutil.copy(good, fresh)                                  # just written: decoded at every scan
    for _ in range(2): assert scan_images([fresh], n_workers=1) == ([fresh], [])
    assert decoded.count('fresh.png') == 2

def test_scan_never_raises(tmp_path):
    (tmp_path/'dir.jpg').mkdir()
    (tmp_path/'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'\0'*40)     # a PNG header and nothing sane after it
    ok, sk = scan_images([tmp_path/'dir.jpg', tmp_path/'broken.png', tmp_path/'gone.jpg'])
    assert ok == [] and len(sk) == 3 and all(r for _, r in sk)


@pytest.fixture(scope='module')
def hostile(tmp_path_factory):
    "A class folder with a link to itself, a 16-bit ramp and a decompression bomb (the chapter's tree, less its float TIFF: tests/test_hostile.py reads those)."
    root = tmp_path_factory.mktemp('files')/'hostile'; (root/'cats').mkdir(parents=True)
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (28, 28, 3), dtype=np.uint8)).save(root/'cats'/'tabby.png')
    os.symlink('.', root/'cats'/'again')
    Image.fromarray(np.linspace(0, 65535, 28*28).reshape(28, 28).astype(np.uint16)).save(root/'cats'/'deep.png')
    Image.new('L', (12000, 12000)).save(root/'cats'/'bomb.png')
    return root

def test_walk_and_scan_refuse_loops_and_bombs(hostile):
    files, walk_skipped = walk_files(hostile)
    imgs, scan_skipped = scan_images(files)
    assert [f.name for f in imgs] == ['deep.png', 'tabby.png']
    why = dict(walk_skipped + scan_skipped)
    assert why[str(hostile/'cats'/'again')].startswith('link loop')
    bomb = why[str(hostile/'cats'/'bomb.png')]
    assert bomb.startswith('too large: 12,000 x 12,000') and 'MAX_PIXELS' in bomb
    assert scan_folder(hostile) == (imgs, sorted(walk_skipped + scan_skipped))

def test_16_bit_images_are_scaled_not_clipped(hostile):
    ours, clipped = np.array(open_image(hostile/'cats'/'deep.png')), np.array(PILImage.create(hostile/'cats'/'deep.png'))
    assert (ours == 255).mean() < 0.01 and (clipped == 255).mean() > 0.9 and len(np.unique(ours)) > 200
    np.testing.assert_array_equal(np.array(CVLImage.create(hostile/'cats'/'deep.png')), ours)   # the DataBlock's decoder is the same

def test_one_file_under_two_classes_is_dropped_from_both(hostile, tmp_path):
    root = tmp_path/'two'; shutil.copytree(hostile/'cats', root/'cats', ignore=shutil.ignore_patterns('bomb.png'), symlinks=True)
    (root/'dogs').mkdir(); os.symlink(root/'cats'/'tabby.png', root/'dogs'/'tabby.png')
    files = walk_files(root)[0]
    keep, skipped = dedupe_files(files, [f.relative_to(root).parts[0] for f in files])
    assert len(skipped) == 2 and all('several classes (cats, dogs)' in r for _, r in skipped)
    assert sorted(files[i].name for i in keep) == ['deep.png']


def _notes(calls):
    def write(tmp):
        calls.append(tmp)
        for i in range(3): (tmp/f'{i}.txt').write_text(f'note {i}')
    return write

def test_write_once_writes_once_and_leaves_no_temporary_folder(tmp_path):
    calls = []
    d = write_once(tmp_path/'notes', 3, '*.txt', _notes(calls))
    assert write_once(tmp_path/'notes', 3, '*.txt', _notes(calls)) == d == tmp_path/'notes'
    assert len(calls) == 1 and sorted(f.name for f in d.iterdir()) == ['0.txt', '1.txt', '2.txt']
    assert [p.name for p in tmp_path.iterdir()] == ['notes']

def test_write_once_replaces_an_unfinished_folder_and_refuses_a_foreign_one(tmp_path):
    (tmp_path/'half').mkdir(); (tmp_path/'half'/'0.txt').write_text('note 0')      # an attempt stopped after one file
    calls = []
    assert sorted(f.name for f in write_once(tmp_path/'half', 3, '*.txt', _notes(calls)).iterdir()) == ['0.txt', '1.txt', '2.txt']
    (tmp_path/'mine').mkdir(); (tmp_path/'mine'/'thesis.tex').write_text('x')
    with pytest.raises(ValueError, match='already holds other files'): write_once(tmp_path/'mine', 3, '*.txt', _notes(calls))
    assert (tmp_path/'mine'/'thesis.tex').exists() and len(calls) == 1

def test_write_once_cleans_up_when_writing_fails(tmp_path):
    def fail(tmp): (tmp/'0.txt').write_text('x'); raise OSError('disk full')
    with pytest.raises(OSError, match='disk full'): write_once(tmp_path/'notes', 3, '*.txt', fail)
    assert list(tmp_path.iterdir()) == []


def test_fingerprint_names_the_part_that_changed(tmp_path):
    from classification_vs_labeling.data import folder_set
    tree = tmp_path/'ill'
    for i, c in enumerate(['building']*4 + ['coat']*3):
        (tree/c).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(tree/c/f'{i}.jpg')
    before = fingerprint(folder_set(tree))
    assert set(before) == set(FINGERPRINT_PARTS) - {'hashes'} and set(fingerprint(folder_set(tree), hashes=True)) == set(FINGERPRINT_PARTS)
    f = sorted((tree/'coat').iterdir())[0]
    Image.new('RGB', (48, 32), 'red').save(f)                                       # same name, new content
    after = fingerprint(folder_set(tree))
    assert [k for k in before if before[k] != after[k]] == ['contents']
    shutil.copytree(tree, tmp_path/'moved', symlinks=True, copy_function=shutil.copy2)   # moved, times kept: same fingerprint
    assert fingerprint(folder_set(tmp_path/'moved')) == after
    os.rename(tmp_path/'moved'/'coat'/f.name, tmp_path/'moved'/'building'/f.name)       # a file moved between classes
    assert [k for k, v in fingerprint(folder_set(tmp_path/'moved')).items() if v != after[k]] == ['items', 'split']


BAD = {'nan': float('nan'), 'text': 'abc', 'a bool': True, 'zero or less': -1, 'a fraction': 2.5}

@pytest.mark.parametrize('bad', BAD)
@pytest.mark.parametrize('call,param', [(lambda tmp, **kw: open_image(tmp/'a.png', **kw), 'max_pixels'),
                                        (lambda tmp, **kw: scan_images([], **kw), 'n_workers'),
                                        (lambda tmp, **kw: write_once(tmp/'x', pattern='*', write=None, **kw), 'n')], ids=['open_image', 'scan_images', 'write_once'])
def test_scalars_refused_at_the_door_naming_the_parameter(tmp_path, call, param, bad):
    with pytest.raises(ValueError) as e: call(tmp_path, **{param: BAD[bad]})
    assert str(e.value).startswith(f'{param}: expected') and '\n' not in str(e.value), str(e.value)

def test_a_generated_set_written_again_fingerprints_the_same(tmp_path):
    "The offline digits written twice (a new runtime): same names, bytes and times, so a resume's fingerprint matches."
    import os
    from classification_vs_labeling.data import mnist_sample, folder_set
    from classification_vs_labeling.files import fingerprint, GENERATED_MTIME_NS
    a, b = mnist_sample(tmp_path/'a'/'mnist5k'), mnist_sample(tmp_path/'b'/'mnist5k')
    stat = lambda d: sorted((str(f.relative_to(d)), f.stat().st_size, f.stat().st_mtime_ns) for f in d.rglob('*.png'))
    sa = stat(a)
    assert sa == stat(b) and len(sa) == 5000 and {t for *_, t in sa} == {GENERATED_MTIME_NS}
    fa, fb = fingerprint(folder_set(a, seed=0)), fingerprint(folder_set(b, seed=0))
    assert fa == fb
    os.utime(next(b.rglob('*.png')))                    # a file touched after it was written: the fingerprint sees it
    assert fingerprint(folder_set(b, seed=0))['contents'] != fa['contents']
