"""Files and folders a hostile user gives us (issue 26): every image is decoded correctly or skipped with a reason,
every name from the file system is shown on one line that any UTF-8 output takes, and a folder that cannot be labelled
is refused in one line before anything is written.

Pixels are checked against what was encoded (lossless formats), against independent decoders (tifffile, imageio)
and against scikit-image's rules for turning 16-bit and float images into 8 bits."""
import json, math, os, shutil, sys, tempfile, unicodedata
from collections import Counter
from pathlib import Path
import numpy as np
import pytest
import tifffile
import imageio.v3 as iio
from PIL import Image
from hypothesis import given, settings, strategies as st
from skimage.util import img_as_ubyte
from sklearn.model_selection import train_test_split
import classification_vs_labeling.files as F
from classification_vs_labeling.files import show_name, open_image, scan_images, class_folders, dedupe_contents, walk_files
from classification_vs_labeling.data import folder_set, pets, valid_split, matched_dls
from classification_vs_labeling.tables import md_code, md_text
from classification_vs_labeling.train import fit_config, check_build
from classification_vs_labeling.spec import RunSpec
from classification_vs_labeling.fastpath import cached_dls

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tools'))
import standins
from helpers import ENV, one_line


def printable_line(s) -> str:
    "`s` is one line that a strict UTF-8 output takes (no surrogates, no line breaks of any kind)."
    s = str(s)
    s.encode('utf-8')                                   # raises on a lone surrogate
    assert len(s.splitlines()) <= 1 and s.isprintable(), repr(s)
    return s

def png(path, seed, size=(6, 5)):
    "A small RGB PNG of random pixels, different for each seed."
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path, format='PNG')
    return path


# ---- images: decoded right, or skipped with a reason ----

def test_a_float_tiff_in_0_1_is_scaled_not_black(tmp_path):
    "The issue's case: Pillow's convert('RGB') rounds [0, 1] floats to 0 or 1; open_image scales them as scikit-image does."
    a = np.random.default_rng(0).random((12, 9)).astype(np.float32)
    tifffile.imwrite(tmp_path/'f.tif', a)
    ours = np.array(open_image(tmp_path/'f.tif'))
    ref = img_as_ubyte(tifffile.imread(tmp_path/'f.tif'))               # another decoder, scikit-image's float -> uint8 rule
    assert ours.shape == (12, 9, 3) and (ours == ours[..., :1]).all()
    assert np.abs(ours[..., 0].astype(int) - ref).max() <= 1 and ours.max() > 200
    assert np.array(Image.open(tmp_path/'f.tif').convert('RGB')).max() <= 1   # what training saw before: black
    assert scan_images([tmp_path/'f.tif']) == ([tmp_path/'f.tif'], [])


RANGES = {   # name: (array written with tifffile, what the skip reason says, or None when it must load)
    'float [0, 255]': (np.linspace(0, 255, 20, dtype=np.float32).reshape(4, 5), None),
    'int32 [0, 65535]': (np.linspace(0, 65535, 20).astype(np.int32).reshape(4, 5), None),
    'float negative': (np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5), 'no known scale'),
    'float above 255': (np.linspace(0, 1000, 20, dtype=np.float32).reshape(4, 5), 'no known scale'),
    'float NaN': (np.array([[np.nan, 0.5], [0.1, 0.2]], np.float32), 'NaN'),
    'uint32 above 65535': (np.linspace(0, 2**31, 20).astype(np.uint32).reshape(4, 5), 'no known scale'),
    'int8 signed': (np.linspace(-128, 127, 20).astype(np.int8).reshape(4, 5), 'signed'),
    'int16 negative': (np.linspace(-300, 300, 20).astype(np.int16).reshape(4, 5), 'no known scale'),
}

@pytest.mark.parametrize('case', RANGES)
def test_a_range_with_no_known_scale_is_skipped_with_its_reason(tmp_path, case):
    a, why = RANGES[case]
    tifffile.imwrite(tmp_path/'x.tif', a)
    ok, skipped = scan_images([tmp_path/'x.tif'])
    if why is None:
        k = 255/65535 if a.max() > 255 else 1
        assert ok and np.abs(np.array(open_image(tmp_path/'x.tif'))[..., 0] - np.round(a.astype(float)*k)).max() == 0
    else:
        assert not ok and why in skipped[0][1], skipped
        printable_line(skipped[0][1])


def _cmyk_rgb(a): return (255 - a[..., :3].astype(float))*(255 - a[..., 3:].astype(float))/255   # Pillow's rule, to within 1

def make_image(kind:str, rng, w:int, h:int, d:Path):
    "Write one image of `kind`; return (its path, the RGB it must decode to or None when it must be skipped, tolerance)."
    u8 = lambda *s: rng.integers(0, 256, s).astype(np.uint8)
    f = d/f'{kind}.png'
    if kind == 'L': a = u8(h, w); Image.fromarray(a).save(f); return f, np.stack([a]*3, -1), 0
    if kind == '1':
        a = rng.random((h, w)) > 0.5; Image.fromarray(a).save(f)
        return f, np.stack([(iio.imread(f) > 0)*255]*3, -1), 0          # imageio's read of the same PNG
    if kind in ('P', 'P+alpha', 'gif'):
        pal, idx = u8(256, 3), u8(h, w)
        im = Image.fromarray(idx, 'P'); im.putpalette(pal.reshape(-1).tolist())
        if kind == 'gif': f = d/'p.gif'; im.save(f)
        else: im.save(f, **({'transparency': int(idx[0, 0])} if kind == 'P+alpha' else {}))
        return f, pal[idx], 0
    if kind in ('RGBA', 'LA'):
        a = u8(h, w, 4 if kind == 'RGBA' else 2); Image.fromarray(a, kind).save(f)
        return f, a[..., :3] if kind == 'RGBA' else np.stack([a[..., 0]]*3, -1), 0
    if kind == 'CMYK': a = u8(h, w, 4); f = d/'c.tif'; Image.fromarray(a, 'CMYK').save(f); return f, _cmyk_rgb(a), 1
    if kind == 'webp': a = u8(h, w, 3); f = d/'x.webp'; Image.fromarray(a).save(f, lossless=True); return f, a, 0
    if kind == 'multipage':
        a, b = u8(h, w), u8(h, w); f = d/'m.tif'; Image.fromarray(a).save(f, save_all=True, append_images=[Image.fromarray(b)])
        assert len(tifffile.TiffFile(f).pages) == 2
        return f, np.stack([tifffile.imread(f, key=0)]*3, -1), 0        # the first page, as tifffile reads it
    if kind == 'tall': a = u8(10_000, 1); Image.fromarray(a).save(f); return f, np.stack([a]*3, -1), 0
    if kind == '16-bit gray':
        a = rng.integers(0, 65536, (h, w)).astype(np.uint16); Image.fromarray(a).save(f)
        return f, np.stack([img_as_ubyte(iio.imread(f))]*3, -1), 1       # imageio's decode, scikit-image's 16 -> 8 bits
    if kind == '16-bit RGB':
        a = rng.integers(0, 65536, (h, w, 3)).astype(np.uint16); f = d/'rgb16.tif'; tifffile.imwrite(f, a, photometric='rgb')
        return f, img_as_ubyte(tifffile.imread(f)), 1
    if kind == 'int32': a = rng.integers(0, 65536, (h, w)).astype(np.int32); f = d/'i.tif'; tifffile.imwrite(f, a); return f, np.stack([np.round(a*255/65535)]*3, -1), 0
    if kind == 'float [0, 1]':
        a = rng.random((h, w)).astype(np.float32); f = d/'f.tif'; tifffile.imwrite(f, a)
        return f, np.stack([img_as_ubyte(tifffile.imread(f))]*3, -1), 1
    if kind == 'float out of range': a = rng.normal(0, 100, (h, w)).astype(np.float32) - 1000; f = d/'f.tif'; tifffile.imwrite(f, a); return f, None, 0
    if kind == 'signed': a = rng.integers(-128, 128, (h, w)).astype(np.int8); f = d/'s.tif'; tifffile.imwrite(f, a); return f, None, 0
    raise KeyError(kind)

KINDS = ['L', '1', 'P', 'P+alpha', 'gif', 'RGBA', 'LA', 'CMYK', 'webp', 'multipage', 'tall', '16-bit gray', '16-bit RGB',
         'int32', 'float [0, 1]', 'float out of range', 'signed']

@given(st.sampled_from(KINDS), st.integers(0, 2**16), st.integers(1, 12), st.integers(1, 12))
@settings(max_examples=80, deadline=None)
def test_every_image_mode_decodes_to_its_reference_or_is_skipped_with_a_reason(kind, seed, w, h):
    with tempfile.TemporaryDirectory() as d:
        f, want, tol = make_image(kind, np.random.default_rng(seed), w, h, Path(d))
        ok, skipped = scan_images([f])
        if want is None:
            assert ok == [] and len(skipped) == 1, (kind, skipped)
            printable_line(skipped[0][1])
        else:
            assert ok == [f], (kind, skipped)
            got = np.array(open_image(f)).astype(float)
            assert got.shape == want.shape and np.abs(got - want).max() <= tol, (kind, np.abs(got - want).max())


# ---- names from the file system ----

@pytest.mark.parametrize('name,shown', [
    (os.fsdecode(b'caf\xe9.png'), 'caf\\xe9.png'),            # Latin-1 bytes, as os.listdir hands them over
    (b'caf\xe9.png', 'caf\\xe9.png'),                          # the bytes themselves
    ('two\nlines.png', 'two\\nlines.png'), ('tab\there', 'tab\\there'), ('ls\u2028ps', 'ls\\u2028ps'),
    ('esc\x1b[31mred', 'esc\\x1b[31mred'), ('nbsp\xa0', 'nbsp\\xa0'), ('rtl\u202eexe.png', 'rtl\\u202eexe.png'),
    ('café', 'café'), (unicodedata.normalize('NFD', 'café'), unicodedata.normalize('NFD', 'café')), ('猫 🐈.png', '猫 🐈.png'),
    (Path('/a/b c.png'), '/a/b c.png')])
def test_show_name_escapes_what_cannot_be_printed_and_nothing_else(name, shown):
    assert printable_line(show_name(name)) == shown

@given(st.binary(min_size=1, max_size=30))
def test_show_name_of_any_bytes_is_one_printable_line(b):
    s = printable_line(show_name(b))
    try: t = b.decode('utf-8')
    except UnicodeDecodeError: t = None
    if t is not None and t.isprintable(): assert s == t                       # a printable UTF-8 name is shown as it is
    printable_line(md_code(os.fsdecode(b))); printable_line(md_text(os.fsdecode(b)))


NAME = st.binary(min_size=1, max_size=14).filter(lambda b: b'/' not in b and b'\0' not in b and b not in (b'.', b'..'))

def _visible(b:bytes, folder:bool=False) -> bool: return not b.startswith(b'.') and not (folder and b == b'__MACOSX')

@given(root=NAME, third=NAME, files=st.lists(NAME, min_size=3, max_size=6, unique=True), junk=NAME)
@settings(max_examples=40, deadline=None)
def test_any_byte_names_give_a_set_whose_every_line_prints(root, third, files, junk):
    "Folder and file names of arbitrary bytes (newlines, Latin-1, escapes, hidden names): the set loads, counts every good image, and prints."
    with tempfile.TemporaryDirectory() as d:
        top = os.path.join(os.fsencode(d), root)
        want = Counter()
        for i, (cls, fs) in enumerate([(b'a', files[:1] + [b'a0']), (b'b', files[1:2] + [b'b0']), (third, files[2:])]):
            os.makedirs(os.path.join(top, cls), exist_ok=True)
            for j, fn in enumerate(fs):
                p = os.path.join(top, cls, fn + b'.png')
                if os.path.exists(p): continue
                png(os.fsdecode(p), 100*i + j)
                if _visible(cls, folder=True) and _visible(fn): want[show_name(cls)] += 1
        with open(os.path.join(top, b'a', junk + b'.jpg'), 'w') as fh: fh.write('not a picture')
        if _visible(third, folder=True) and want[show_name(third)] == 0:      # a class folder of hidden files only
            with pytest.raises(ValueError, match='holds no usable image') as e: folder_set(os.fsdecode(top))
            printable_line(e.value); return
        s = folder_set(os.fsdecode(top), valid_pct=0.25)
        assert Counter(s.labels) == want and printable_line(s.name) == show_name(root)
        printable_line(s.summary()); printable_line(repr(s))
        for p, why in s.skipped: printable_line(show_name(p)); printable_line(why); printable_line(md_code(p))
        for f, l in zip(s.items, s.labels): printable_line(l); assert np.array(open_image(f)).shape == (5, 6, 3)

@given(st.text(st.characters(codec='utf-8', exclude_characters='/\0'), min_size=1, max_size=8))
@settings(max_examples=40, deadline=None)
def test_one_name_in_two_unicode_forms_is_refused_in_one_line(t):
    with tempfile.TemporaryDirectory() as d:
        for k, c in enumerate({unicodedata.normalize('NFC', t), unicodedata.normalize('NFD', t), 'zz_other_class'}):
            if c.startswith('.') or c.lower() in F.SPLIT_NAMES or c in F.JUNK_FOLDERS: return
            os.makedirs(os.path.join(d, c)); png(os.path.join(d, c, 'x.png'), k)
        if unicodedata.normalize('NFC', t) == unicodedata.normalize('NFD', t):
            assert len(folder_set(d).classes) == 2
        else:
            with pytest.raises(ValueError, match='look the same') as e: folder_set(d)
            assert ascii(unicodedata.normalize('NFD', t)) in printable_line(e.value)


def test_a_latin1_data_folder_and_file_name_train_report_and_resume(tmp_path):
    """The issue's case, end to end under a strict UTF-8 output: a data folder, a class folder and a skipped file whose
    names are Latin-1 bytes. report.md used to fail to write after training, and every resume failed the same way."""
    data = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b'/d\xe9'))
    standins.digits_folder(data, {'0': (0, 25), os.fsdecode(b'caf\xe9'): (1, 25)})
    with open(os.fsencode(str(data/'0')) + b'/x\xe9\nnote.txt', 'w') as fh: fh.write('x')
    env = {**ENV, 'PYTHONIOENCODING': 'utf-8:strict'}      # as in a usual UTF-8 locale: printing a surrogate raises
    args = ['compare', '--data', data, '--ood', 'none', '--arch', 'small', '--no-pretrained', '--size', '28', '--epochs', '1',
            '--seeds', '0', '--out', tmp_path/'out', '--no-progress']
    import subprocess
    run = lambda: subprocess.run([sys.executable, '-m', 'classification_vs_labeling.cli', *map(os.fsencode, map(str, args))],
                                 capture_output=True, text=True, timeout=600, env=env)
    r = run()
    assert r.returncode == 0, r.stderr[-2000:]
    assert "d\\xe9: 50 images, 2 classes" in r.stdout and "x\\xe9\\nnote.txt: not an image file type" in r.stdout
    report = (tmp_path/'out'/'report.md').read_text(encoding='utf-8')
    assert '/d\\xe9`' in report and '/0/x\\xe9\\nnote.txt`' in report
    text = (tmp_path/'out'/'metrics.json').read_text(encoding='utf-8')      # strict parsers refuse \udcNN escapes: none there
    assert '\\ud' not in text and any(p.endswith('x\\xe9\\nnote.txt') for p, _ in json.loads(text)['skipped'])
    # The resume, in this process (a fresh Python costs seconds of imports), with what that process had: argv's Latin-1
    # bytes as Python's start-up decodes them (os.fsdecode: surrogates), and a stdout and stderr that refuse to encode one.
    import io
    from contextlib import redirect_stderr, redirect_stdout
    out, err = (io.TextIOWrapper(io.BytesIO(), encoding='utf-8', errors='strict', write_through=True) for _ in range(2))
    with redirect_stdout(out), redirect_stderr(err): code = main([os.fsdecode(os.fsencode(str(a))) for a in args])
    said = out.buffer.getvalue().decode('utf-8')                             # the resume reuses the seed and writes the report again
    assert code == 0 and 'reusing finished predictions' in said, err.buffer.getvalue()[-2000:]
    assert "d\\xe9" in said and (tmp_path/'out'/'report.md').read_text(encoding='utf-8') == report


# ---- class folders ----

@pytest.fixture
def digits(tmp_path):
    "Two classes of 25 real MNIST digits each, in folders 0 and 1."
    return standins.digits_folder(tmp_path/'d', {'0': (0, 25), '1': (1, 25)})

def test_a_class_folder_linked_to_another_is_refused_naming_the_link(digits, tmp_path):
    os.symlink('0', digits/'zero_again')                    # the case
    with pytest.raises(ValueError, match="'zero_again' is a link to") as e: folder_set(digits)
    assert "holds no usable image" not in printable_line(e.value)
    os.remove(digits/'zero_again'); (digits/'0'/'sub').mkdir(); png(digits/'0'/'sub'/'x.png', 0)
    os.symlink(digits/'0'/'sub', digits/'inner')            # a link into a class folder: the same images too
    with pytest.raises(ValueError, match="'inner' is a link to"): folder_set(digits)
    os.remove(digits/'inner')
    other = standins.digits_folder(tmp_path/'elsewhere', {'sevens': (7, 10)})/'sevens'
    os.symlink(other, digits/'seven')                       # a link to images of no other class: a class of its own
    s = folder_set(digits)
    assert s.classes == ['0', '1', 'seven'] and Counter(s.labels)['seven'] == 10

def test_mac_archive_leftovers_are_skipped_and_listed(digits):
    for d in (digits/'__MACOSX'/'0', digits/'0'/'__MACOSX'):
        d.mkdir(parents=True); (d/'._3.png').write_bytes(b'\0\5\26\7 AppleDouble')
    (digits/'0'/'._3.png').write_bytes(b'\0\5\26\7 AppleDouble'); (digits/'.DS_Store').write_bytes(b'\0\0\0\1Bud1')
    s = folder_set(digits)
    assert s.classes == ['0', '1'] and len(s.items) == 50
    assert sorted((os.path.relpath(p, digits), why) for p, why in s.skipped) == [
        ('0/__MACOSX', F.JUNK_FOLDERS['__MACOSX']), ('__MACOSX', F.JUNK_FOLDERS['__MACOSX'])]

@pytest.mark.parametrize('names', [('Train', 'Test'), ('training', 'validation'), ('TRAIN', 'Valid', 'test'), ('train', 'val'),
                                   ('Training', 'Testing'), ('train', 'dev', 'eval')])
def test_a_split_layout_is_refused_in_any_case_and_spelling(tmp_path, names):
    for i, n in enumerate(names): (tmp_path/n/'cat').mkdir(parents=True); png(tmp_path/n/'cat'/'x.png', i)
    with pytest.raises(ValueError, match='the parts of a split: pass the folder whose subfolders are the classes') as e: folder_set(tmp_path)
    printable_line(e.value)

def test_a_class_that_is_only_named_like_a_split_part_is_a_class(tmp_path):
    for i, n in enumerate(['test', 'cats']): (tmp_path/n).mkdir(); png(tmp_path/n/'x.png', i); png(tmp_path/n/'y.png', i + 10)
    assert class_folders(tmp_path) == {'cats': 'cats', 'test': 'test'}


# ---- the same picture twice ----

def test_byte_identical_copies_under_two_classes_are_dropped_from_both(digits):
    shutil.copy(digits/'0'/'3.png', digits/'1'/'copy.png')           # a copy: a new inode, the same bytes
    shutil.copy(digits/'0'/'4.png', digits/'0'/'again.png')          # a copy within one class
    s = folder_set(digits)
    why = {os.path.relpath(p, digits): r for p, r in s.skipped}
    assert why == {'0/3.png': 'the same bytes under several classes (0, 1)', '1/copy.png': 'the same bytes under several classes (0, 1)',
                   '0/again.png': f"same bytes as {digits/'0'/'4.png'}"}
    assert len(s.items) == 49 and Counter(s.labels) == {'0': 24, '1': 25}

def test_the_same_picture_under_two_breed_names_is_dropped_from_both(tmp_path):
    d = tmp_path/'images'; d.mkdir()
    for i, b in enumerate(['Bengal', 'Birman', 'Bombay']*4): png(d/f'{b}_{i}.jpg', i)
    shutil.copy(d/'Bengal_0.jpg', d/'Birman_99.jpg')
    s = pets(d)
    assert {Path(p).name for p, _ in s.skipped} == {'Bengal_0.jpg', 'Birman_99.jpg'} and len(s.items) == 11

def test_only_files_that_share_a_size_are_hashed(tmp_path, monkeypatch):
    "The cost on PETS: 7,390 JPEGs are compared by size first; only files whose size another file has are read again."
    hashed = []
    real = F._digest
    monkeypatch.setattr(F, '_digest', lambda f: hashed.append(f) or real(f))
    files = [png(tmp_path/f'{i}.png', i, size=(8 + i, 8)) for i in range(20)]   # distinct sizes
    files.append(Path(shutil.copy(files[3], tmp_path/'copy.png')))
    keep, skipped = dedupe_contents(files)
    sizes = Counter(f.stat().st_size for f in files)
    assert sorted(hashed) == sorted(f for f in files if sizes[f.stat().st_size] > 1)
    assert len(hashed) >= 2 and len(keep) == 20 and skipped == [(str(tmp_path/'copy.png'), f"same bytes as {files[3]}")]


# ---- the split ----

def test_200_classes_of_2_images_each_keep_a_training_image():
    "The issue's case: scikit-learn cannot stratify 80 validation items over 200 classes; before, 8 classes lost every training image."
    labels = [f'c{i//2:03d}' for i in range(400)]
    v = valid_split(labels)
    train = Counter(np.delete(np.array(labels), v))
    assert len(v) == 80 and len(train) == 200 and Counter(np.array(labels)[v]).most_common(1)[0][1] == 1
    np.testing.assert_array_equal(v, valid_split(labels))
    assert not np.array_equal(v, valid_split(labels, seed=1))

def test_a_set_too_small_to_validate_every_class_says_so(tmp_path):
    for i in range(60): (tmp_path/f'c{i//2}').mkdir(exist_ok=True); png(tmp_path/f'c{i//2}'/f'{i}.png', i)
    s = folder_set(tmp_path)
    assert f"12 valid (18 classes too small to validate on)" in printable_line(s.summary())
    assert all(n >= 1 for n in Counter(np.array(s.labels)[s.train_idx]).values()) and len(set(np.array(s.labels)[s.train_idx])) == 30

def test_a_set_that_stratifies_splits_as_scikit_learn_does():
    labels = ['a']*50 + ['b']*10 + ['c']*7
    idx = np.arange(len(labels))
    ref = np.sort(train_test_split(idx, test_size=14, random_state=3, stratify=labels)[1])
    np.testing.assert_array_equal(valid_split(labels, 0.2, seed=3), ref)     # saved runs keep their splits

@given(st.lists(st.integers(0, 30), min_size=2, max_size=300), st.floats(0.01, 0.95), st.integers(0, 2**32 - 1))
@settings(max_examples=150, deadline=None)
def test_every_class_keeps_a_training_item_and_its_share(codes, pct, seed):
    labels = [f'k{c}' for c in codes]
    v = valid_split(labels, pct, seed)
    n, counts = len(labels), Counter(labels)
    assert (np.diff(v) > 0).all() and set(Counter(np.delete(np.array(labels), v))) == set(counts)   # no class without training
    assert len(v) == min(math.ceil(pct*n), n - 1, n - len(counts))
    got = Counter(np.array(labels)[v])
    for c, k in counts.items(): assert got[c] >= min(math.floor(len(v)*k/n), k - 1), (c, k, got[c], len(v))


# ---- batch size and BatchNorm ----

def test_a_batch_of_one_that_batchnorm_cannot_train_on_is_refused_before_training(digits):
    s = folder_set(digits)
    with pytest.raises(ValueError, match='bs: batch size 1 cannot train small on 8px images') as e:
        fit_config(RunSpec('mnist', size=8, bs=1), s, log=lambda _: None)
    printable_line(e.value)
    assert fit_config(RunSpec('mnist', size=28, bs=1), s).bs == 1            # 28px leaves a 2x2 feature map: it trains
    with pytest.raises(ValueError, match='bs: batch size 1'): check_build('resnet18', 2, 64, bs=1)   # fastai's head: BatchNorm1d
    check_build('resnet18', 2, 64, bs=4)

def test_a_batch_of_one_is_refused_by_the_cli_with_nothing_written(digits, tmp_path, capsys):
    "Through `cvl`'s `main` in this process (a subprocess costs seconds of imports)."
    from classification_vs_labeling.cli import main
    code = main(['compare', '--data', str(digits), '--ood', 'none', '--arch', 'small', '--no-pretrained', '--size', '8', '--bs', '1',
                 '--seeds', '0', '--out', str(tmp_path/'out')])
    c = capsys.readouterr()
    one_line(code, c.out, c.err, 'bs: batch size 1 cannot train small on 8px images')
    assert not (tmp_path/'out').exists()

def test_a_last_training_batch_of_one_image_is_dropped(digits):
    "41 training images in batches of 4: the 41st would train alone, and BatchNorm would fail on it; both paths drop it."
    s = folder_set(digits, valid_pct=0.18)
    assert len(s.train_idx) % 4 == 1, len(s.train_idx)
    for dl in (matched_dls(s, size=8, bs=4)[0].train, cached_dls(s, 8, bs=4, device='cpu').train):
        assert [len(y) for _, y in dl] == [4]*(len(s.train_idx)//4)

@pytest.mark.parametrize('text,want', [('16', 16), ('16.0', 16), ('1e2', 100)])
def test_integer_flags_take_whole_numbers_written_as_floats(text, want):
    from classification_vs_labeling.flags import parser
    assert parser().parse_args(['compare', '--bs', text]).bs == want

@pytest.mark.parametrize('text,words', [('16.5', 'expected a whole number, got 16.5'), ('nan', 'expected a finite number'),
                                        ('sixteen', "expected a number, got 'sixteen'"), ('0.0', 'expected a value in [1, inf], got 0')])
def test_integer_flags_refuse_what_is_not_a_whole_number(text, words, capsys):
    from classification_vs_labeling.flags import parser
    with pytest.raises(SystemExit) as e: parser().parse_args(['compare', '--bs', text])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and words in err[-1] and '--bs' in err[-1]


# ---- phase 2: a run's identity, paths and names, checks before writing, output that survives its reader ----

from classification_vs_labeling.cli import main
from classification_vs_labeling.datasets import as_data, load_set
from classification_vs_labeling import record as RC

def _compare_args(data, out, *more):
    return ['compare', '--data', str(data), '--ood', 'none', '--arch', 'small', '--no-pretrained', '--size', '8', '--bs', '4',
            '--epochs', '1', '--seeds', '0', '--out', str(out), '--no-progress', *more]

def _one_err(capsys, *words):
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    for w in words: assert w in err, err
    return printable_line(err.strip())

SPELLINGS = st.lists(st.sampled_from(['.', 'x/..', '']), max_size=4)   # each leaves the folder it starts in (d/x and x exist)

@given(before=SPELLINGS, after=SPELLINGS, slash=st.booleans())
@settings(max_examples=40, deadline=None)
def test_a_folder_however_written_is_one_run(before, after, slash):
    "d/, ./d, ./x/../d, $PWD/d: one folder, so one spec, one run folder and one resume."
    root = Path(tempfile.mkdtemp()); (root/'d'/'x').mkdir(parents=True); (root/'x').mkdir()
    cwd = os.getcwd(); os.chdir(root)
    try:
        typed = '/'.join([p for p in before if p] + ['d'] + [p for p in after if p]) + ('/' if slash else '')
        want = str((root/'d').resolve())
        assert as_data(typed) == want and as_data(Path(typed)) == want and as_data(str(root/'d')) == want
        assert RunSpec(typed).key == RunSpec(str(root/'d')).key
    finally: os.chdir(cwd); shutil.rmtree(root)

@pytest.mark.parametrize('flag', ['--data', '--ood'])
def test_an_empty_data_or_ood_name_is_refused_in_one_line(tmp_path, capsys, flag):
    args = _compare_args('mnist', tmp_path/'out'); args[args.index(flag) + 1] = ''
    assert main(args) == 2
    _one_err(capsys, flag.lstrip('-') + ': expected one of', 'got an empty name')
    assert not (tmp_path/'out').exists()
    with pytest.raises(ValueError, match='empty name'): RunSpec('')
    with pytest.raises(ValueError, match='ood: expected one of letters'): RunSpec('mnist', ood='')

@pytest.mark.parametrize('flag,name', [('--data', 'pets'), ('--data', 'mnist'), ('--ood', 'letters')])
def test_a_folder_named_like_a_built_in_set_never_silently_means_it(tmp_path, capsys, monkeypatch, flag, name):
    monkeypatch.chdir(tmp_path); (tmp_path/name).mkdir()
    args = _compare_args('mnist', tmp_path/'out'); args[args.index(flag) + 1] = name
    assert main(args) == 2
    _one_err(capsys, f"{flag}: '{name}' is a built-in name", f'pass ./{name} for the folder')
    assert not (tmp_path/'out').exists()
    assert as_data(f'./{name}') == str(tmp_path/name)               # ./NAME: the folder, recorded resolved

def test_fast_and_scale_are_part_of_a_runs_identity():
    a = RunSpec('mnist')
    assert len({a.key, a.replace(fast=True).key, a.replace(scale=0.5).key}) == 3

def test_the_runs_scale_not_the_environments_draws_the_probes(digits, monkeypatch):
    "CVL_SCALE never changes how many probes a run draws: the spec's scale does, and the spec records it."
    n = lambda: len(load_set(str(digits), ood='letters', held_out=(), scale=0.2).ood_items)
    monkeypatch.setenv('CVL_SCALE', '1'); a = n()
    monkeypatch.setenv('CVL_SCALE', '0.05'); assert n() == a == 100

def _swap_same_size_and_time(f):
    "Rewrite image `f` with other pixels of the same byte count, then put its modification time back."
    st_ = os.stat(f)
    a = np.array(Image.open(f)); b = 255 - a
    Image.fromarray(b).save(f, compress_level=0)
    assert os.stat(f).st_size == st_.st_size, 'the inverted digit should compress to the same size'
    os.utime(f, ns=(st_.st_atime_ns, st_.st_mtime_ns))

def test_verify_hash_sees_a_file_swapped_under_the_same_size_and_time(tmp_path, capsys):
    data = standins.digits_folder(tmp_path/'d', {'0': (0, 12), '1': (1, 12)})
    for f in data.rglob('*.png'): Image.open(f).save(f, compress_level=0)     # stored, not deflated: any 28px digit has one size
    assert main(_compare_args(data, tmp_path/'out', '--verify', 'hash')) == 0
    assert json.loads((tmp_path/'out'/'run.json').read_text())['verify'] == 'hash'
    assert main(_compare_args(data, tmp_path/'out')) == 2                    # a resume asks for the same check
    _one_err(capsys, 'other settings (verify)')
    f = sorted((data/'1').iterdir())[0]
    before = F.fingerprint(folder_set(data))
    _swap_same_size_and_time(f)
    assert F.fingerprint(folder_set(data)) == before                         # sizes and times: blind to it
    assert main(_compare_args(data, tmp_path/'out', '--verify', 'hash')) == 2
    _one_err(capsys, 'on other data', 'file contents (their SHA-256 hashes) changed')

def test_out_holding_only_hidden_files_is_accepted_and_anything_else_refused(tmp_path, capsys):
    out = tmp_path/'out'; out.mkdir(); (out/'.gitkeep').touch(); (out/'.DS_Store').write_bytes(b'\0\0\0\1Bud1')
    RC.check_out(out, {'fingerprint': {}})
    (out/'notes.txt').write_text('mine')
    with pytest.raises(ValueError, match='is not empty and holds no cvl run'): RC.check_out(out, {'fingerprint': {}})

def test_a_second_run_on_the_same_out_is_refused_in_one_line(tmp_path, capsys):
    "Another process holding out's lock (flock) is refused before any work; the lock goes with the process that held it."
    import fcntl, subprocess
    out = tmp_path/'out'; out.mkdir()
    holder = subprocess.Popen([sys.executable, '-c', 'import fcntl, sys, time\nf = open(sys.argv[1], "a")\n'
                               'fcntl.flock(f, fcntl.LOCK_EX)\nprint("held", flush=True)\ntime.sleep(60)', str(out/RC.LOCK)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        assert main(_compare_args(standins.digits_folder(tmp_path/'d', {'0': (0, 12), '1': (1, 12)}), out)) == 2
        _one_err(capsys, 'another cvl run is writing to', 'choose another --out')
        assert sorted(p.name for p in out.iterdir()) == [RC.LOCK]
    finally: holder.kill(); holder.wait()
    RC.lock_out(out); RC.lock_out(out)                      # free again; this process may take it twice
    RC.release_out(out)

def test_an_out_that_cannot_hold_the_results_is_refused_before_training(tmp_path, capsys):
    data = standins.digits_folder(tmp_path/'d', {'0': (0, 12), '1': (1, 12)})
    os.symlink(tmp_path/'gone', tmp_path/'link')                           # a link that leads nowhere
    assert main(_compare_args(data, tmp_path/'link')) == 2
    _one_err(capsys, 'which does not exist: expected a folder')
    assert main(_compare_args(data, tmp_path/'out')) == 0
    shutil.rmtree(tmp_path/'out'/'runs'); (tmp_path/'out'/'runs').write_text('x')   # out/runs: a file
    assert main(_compare_args(data, tmp_path/'out')) == 2
    _one_err(capsys, 'runs: expected a folder, found a file')
    (tmp_path/'out'/'runs').unlink(); (tmp_path/'out'/'metrics.json').unlink(); (tmp_path/'out'/'metrics.json').mkdir()
    assert main(_compare_args(data, tmp_path/'out')) == 2
    _one_err(capsys, 'metrics.json: a folder where the run writes a file')

def test_a_message_is_never_cut_at_a_line_break(tmp_path, capsys, monkeypatch):
    "A refusal whose text holds a line break (a library's message, a raw name) is shown whole, the break escaped: cli.main used to keep only its first line."
    import functools
    import classification_vs_labeling.report as R
    assert main(_compare_args(tmp_path/'no\nsuch', tmp_path/'out')) == 2
    assert 'no\\nsuch' in _one_err(capsys)
    def compare(**kw): raise ValueError(f"data: {tmp_path/'a'}\nb: expected a folder of class folders")
    monkeypatch.setattr(R, 'compare', functools.wraps(R.compare)(compare))   # the flags' defaults are read from its signature
    assert main(['compare', '--out', str(tmp_path/'o')]) == 2
    assert _one_err(capsys).endswith("a\\nb: expected a folder of class folders")

def test_metrics_json_holds_names_as_shown_so_strict_parsers_read_it():
    latin1 = os.fsdecode(b'caf\xe9.jpg')
    text = json.dumps(F.show_names({'skipped': [[latin1, 'why']], 'n': 2}))
    text.encode('utf-8'); assert '\\ud' not in text and json.loads(text)['skipped'][0][0] == 'caf\\xe9.jpg'

def test_a_full_or_closed_stdout_never_stops_the_run(tmp_path, capsys, monkeypatch):
    "`cvl compare > /dev/full` and `| head -1`: the results are written and the exit status is 0 (the usual one)."
    import subprocess
    data = standins.digits_folder(tmp_path/'d', {'0': (0, 12), '1': (1, 12)})
    with open('/dev/full', 'w') as full:                                     # in-process: main's own stdout is full
        monkeypatch.setattr(sys, 'stdout', full)
        assert main(_compare_args(data, tmp_path/'full')) == 0
        monkeypatch.undo()
    assert (tmp_path/'full'/'report.md').exists()
    assert capsys.readouterr().err.splitlines() == ['cvl compare: note: the output stopped taking lines (No space left on device); the run went on without them']
    cmd = [sys.executable, '-m', 'classification_vs_labeling.cli', *_compare_args(data, tmp_path/'pipe')]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)   # a real process, to its exit's last flush
    p.stdout.readline(); p.stdout.close()                                    # `| head -1`
    assert p.wait(timeout=600) == 0 and (tmp_path/'pipe'/'report.md').exists()
    assert p.stderr.read() == b''                                            # a reader that left wanted nothing more

def test_bench_builds_its_architecture_before_any_image(tmp_path, capsys):
    for arch, size, words in (('googlenet', 8, 'arch: googlenet cannot train on 8px images'), ('vit_b_16', 32, 'arch: vit_b_16 cannot train on 32px')):
        assert main(['bench', '--arch', arch, '--size', str(size), '--out', str(tmp_path/'b.json')]) == 2
        _one_err(capsys, words)
    assert list(tmp_path.iterdir()) == []

def test_out_of_domain_arrays_of_unequal_length_are_refused(tmp_path):
    from classification_vs_labeling.predictions import Predictions
    z = np.zeros((4, 2), np.float32)
    kw = dict(ce_logits=z, bce_logits=z, targs=np.array([0, 1, 0, 1]), classes=['a', 'b'])
    with pytest.raises(ValueError, match=r'ood_bce_logits: expected 3 rows .* got 2'):
        Predictions(**kw, ood_ce_logits=np.zeros((3, 2), np.float32), ood_bce_logits=np.zeros((2, 2), np.float32))

@pytest.mark.parametrize('arch', ['shufflenet_v2_x0_5', 'mobilenet_v3_small', 'efficientnet_b0'])
def test_torchvision_models_fastai_does_not_list_build_without_deprecation_warnings(arch):
    "fastai calls them with torchvision's old `pretrained=`, which warns twice on stderr: ours passes `weights=`."
    import warnings
    from classification_vs_labeling.train import create_model
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); create_model(arch, 3, pretrained=False)
    assert [str(x.message) for x in w if 'pretrained' in str(x.message) or 'weights' in str(x.message)] == []

def test_sweep_alpha_is_checked_and_used(tmp_path, capsys, monkeypatch):
    import classification_vs_labeling.sweep as SW
    assert main(['sweep', '--alpha', '2', '--out', str(tmp_path/'s')]) == 2
    _one_err(capsys, '--alpha', 'strictly between 0 and 1')
    got = {}
    import functools
    monkeypatch.setattr(SW, 'sweep', functools.wraps(SW.sweep)(lambda **kw: got.update(kw)))   # the parser reads its defaults
    assert main(['sweep', '--alpha', '0.2', '--verify', 'hash', '--out', str(tmp_path/'s')]) == 0
    assert got['alpha'] == 0.2 and got['verify'] == 'hash'
    rng = np.random.default_rng(0); z = rng.normal(size=(200, 4)); t = rng.integers(0, 4, 200); m = np.arange(200) < 100
    a, b = (SW.snapshot_metrics(z, z + rng.normal(size=z.shape), t, m, alpha=al)[0] for al in (0.1, 0.4))
    assert any(a[k] != b[k] for k in a if 'set' in k), 'alpha changes the conformal sets'

def test_out_of_domain_copies_of_data_images_are_skipped_or_refused(digits, tmp_path):
    ood = tmp_path/'ood'; ood.mkdir()
    shutil.copy(digits/'0'/'3.png', ood/'copy.png'); png(ood/'other.png', 1, size=(28, 28))
    s = load_set(str(digits), ood=str(ood), held_out=())
    assert [Path(f).name for f in s.ood_items] == ['other.png']
    assert [why for p, why in s.skipped if Path(p).name == 'copy.png'] == [f"the same bytes as {show_name(digits/'0'/'3.png')}, an image of the data: not out-of-domain"]
    (ood/'other.png').unlink()
    with pytest.raises(ValueError, match='ood: all 1 out-of-domain images have the bytes of images of the data'):
        load_set(str(digits), ood=str(ood), held_out=())

@pytest.mark.parametrize('cmd', ['compare', 'sweep', 'bench'])
def test_a_seed_past_numpys_range_is_refused_by_every_command(tmp_path, capsys, cmd):
    "numpy seeds stop at 2**32 - 1: every command checks its seeds in one place (check_seeds) before any work."
    assert main([cmd, '--seeds', str(2**32), '--out', str(tmp_path/'o')]) == 2
    _one_err(capsys, '--seeds' if cmd != 'bench' else 'seeds', str(2**32))
    assert not (tmp_path/'o').exists()

@given(st.lists(st.binary(min_size=1, max_size=12), min_size=1, max_size=4))
def test_any_names_in_metrics_json_are_valid_utf8_json(names):
    "Whatever bytes the skipped files' names hold, the JSON has no lone surrogate (which strict parsers refuse)."
    shown = F.show_names({'skipped': [[os.fsdecode(b), 'why'] for b in names]})
    text = json.dumps(shown)                          # as write_json writes it: a character past U+FFFF is a valid \\ud8..\\udc.. pair
    json.dumps(shown, ensure_ascii=False).encode('utf-8', 'strict')   # no lone surrogate anywhere (a name's raw byte)
    for (s, _), b in zip(json.loads(text)['skipped'], names): assert s == show_name(os.fsdecode(b)) or s == os.fsdecode(b)

def test_a_latin1_out_folder_prints_its_last_line(tmp_path, capsys):
    "The results are written, then the 'wrote ...' line names --out in its shown form (a strict UTF-8 stdout takes it)."
    out = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b'/r\xe9sultats'))
    assert main(_compare_args(standins.digits_folder(tmp_path/'d', {'0': (0, 12), '1': (1, 12)}), out)) == 0
    last = printable_line(capsys.readouterr().out.splitlines()[-1])
    assert last.startswith('wrote ') and 'r\\xe9sultats/report.md' in last and (out/'report.md').exists()

@pytest.mark.parametrize('arch', ['mobilenet_v2', 'regnet_y_400mf', 'efficientnet_b0'])
def test_pretrained_torchvision_models_keep_the_weights_pretrained_true_gave(arch, monkeypatch):
    "weights= replaces pretrained=True with the same ImageNet weights (IMAGENET1K_V1; DEFAULT is V2 for some), so a run means what it did: checked offline, stopping at the download."
    import warnings, torchvision
    from torchvision.models._api import WeightsEnum
    from classification_vs_labeling.train import _tv_model
    class Asked(Exception): pass
    def stop(self, *a, **k): raise Asked(self)
    monkeypatch.setattr(WeightsEnum, 'get_state_dict', stop)
    got = []
    for make in (lambda: _tv_model(arch)(pretrained=True), lambda: getattr(torchvision.models, arch)(pretrained=True)):
        with warnings.catch_warnings(), pytest.raises(Asked) as e:
            warnings.simplefilter('ignore'); make()
        got.append(e.value.args[0])
    assert got[0] == got[1] and got[0].name == 'IMAGENET1K_V1'
