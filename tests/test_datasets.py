"""datasets (chapter 03e): the registry of data sets, one row each, and the loader and defaults that read it; a data set
added with one `register_data` call is seen by the command line, by `run_defaults` and by a real run."""
import contextlib, io, json, zlib
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from fastai.vision.core import PILImage
from classification_vs_labeling.core import LR, scale, scaled_size, ood_words
from classification_vs_labeling.data import folder_set, hold_out
from classification_vs_labeling.datasets import *

def tree(root, counts):
    "Class folders of small random PNGs: counts = {class: n}; each tree its own pixels (a copy of a data image is not out-of-domain)."
    rng = np.random.default_rng(zlib.crc32(str(root).encode()))
    for c, n in counts.items():
        (root/c).mkdir(parents=True)
        for i in range(n): Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(root/c/f'{i}.png')
    return root

def test_run_defaults(monkeypatch):
    assert run_defaults('no/such/folder')['arch'] == 'resnet34' and data_key(Path('mnist')) == 'folder'   # any path: the 'folder' row
    assert run_defaults('mnist', s=0.1)['size'] == 28                        # quick-mode sets are never scaled
    assert (scaled_size(224, 0.5), scaled_size(224, 0.01), scaled_size(28, 0.5)) == (112, 32, 28)
    assert run_defaults('pets', s=0.5)['epochs'] == 2 and run_defaults('pets', s=0.15)['epochs'] == 1
    monkeypatch.setenv('CVL_QUICK', '1'); assert (default_data(), default_data(multi=True)) == ('mnist', 'digits')
    monkeypatch.setenv('CVL_QUICK', '');  assert (default_data(), default_data(multi=True)) == ('pets', 'pascal')
    assert default_data(mode='quick') == 'mnist'                             # what the command line asks for: never the environment
    monkeypatch.setenv('CVL_SCALE', '0.5'); assert scale() == 0.5 and run_defaults('pets')['size'] == 112
    for bad in ('0', '1.5', 'half', 'nan'):
        monkeypatch.setenv('CVL_SCALE', bad)
        with pytest.raises(ValueError, match='CVL_SCALE'): scale()
    assert {run_defaults(n, 1)['lr'] for n in DATA_SETS} == set(LR.values())  # each row's rate is chapter 00's for its weights
    assert set(run_defaults('mnist', 1)) == set(run_defaults('pets', 1))       # every row names every setting

def test_held_out_classes_are_one_setting():
    rows = {n: run_defaults(n, 1) for n in DATA_SETS}
    assert {k for k, d in rows.items() if d['held_out']} == {'mnist', 'pets', 'illustrations', 'clipart'}   # the sets with a near kind
    assert ood_words(rows['mnist']['held_out'], rows['mnist']['ood']) == 'classes 8, 9 held out (near) + letters+photos (far)'
    assert ood_words(rows['illustrations']['held_out'], rows['illustrations']['ood']) == 'classes people held out (near)'
    assert ood_words(rows['folder']['held_out'], rows['folder']['ood']) == 'none'

def test_rows_are_checked_and_frozen():
    row = data_set('pets')
    with pytest.raises(Exception): row.epochs = 9                            # a row never changes under a run
    for kw, words in [(dict(mode='slow'), "mode: expected 'quick' or 'full'"), (dict(ood='faces'), 'ood: expected one of'),
                      (dict(epochs=0), 'epochs: expected'), (dict(pretrained='yes'), 'pretrained: expected True or False'),
                      (dict(held_out=['a', 'a']), 'held_out: expected distinct')]:
        base = dict(mode='quick', arch='small', pretrained=False, epochs=1, size=28, augment=False)
        with pytest.raises(ValueError, match=words): DataSet('x', None, 'x', **{**base, **kw})
    with pytest.raises(ValueError, match="classes: \\['b'\\] are also held out"): DataSet('x', None, 'x', **base, classes=('a', 'b'), held_out=('b',))
    with pytest.raises(ValueError, match='train_bn: expected True or False'): DataSet('x', None, 'x', **base, train_bn=0)
    assert data_choices() == ('mnist', 'pets', 'illustrations', 'glyphs', 'clipart', 'photos')   # 'folder' is PATH; digits, pascal, clipart_tags have several labels

def test_offline_rows():
    "The real pictures of chapter 03c: pretrained Lite0, the body frozen completely in the head phase, and the row's own classes."
    for name in ('clipart', 'photos', 'clipart_tags'):
        d = run_defaults(name, 1)
        assert (d['arch'], d['pretrained'], d['train_bn'], d['augment'], d['mode']) == ('efficientnet_lite0', True, False, False, 'quick')
    assert run_defaults('clipart', 1)['classes'] == ('building', 'clothing') and run_defaults('clipart', 1)['held_out'] == ('people',)
    assert data_set('clipart_tags').multi and not data_set('photos').multi
    assert data_set('clipart').settings() == 'efficientnet_lite0 pretrained, 96px, 3 epoch(s), BatchNorm frozen in the head phase'
    assert data_set('pets').settings().endswith('epoch(s)') and run_defaults('pets', 1)['train_bn'] is True   # fastai's default elsewhere

def test_load_set(tmp_path):
    with pytest.raises(ValueError, match='mnist, pets, illustrations, glyphs, clipart, photos'): load_set('cifar10')
    with pytest.raises(ValueError, match='several labels per image'): load_set('pascal')
    root = tree(tmp_path/'d', {'a': 4, 'b': 4})
    assert load_set(root, ood='none').classes == ['a', 'b']
    ood = tree(tmp_path/'o', {'x': 3})
    assert len(load_set(root, ood=str(ood)).ood_items) == 3
    with pytest.raises(ValueError, match='letters\\+photos'): load_set(root, ood='people')

@pytest.fixture
def ill(tmp_path):
    "The chapter's stand-in for the book illustrations, and a folder of other images."
    tree(tmp_path/'other', {'x': 5})
    return tree(tmp_path/'ill', {'building': 11, 'coat': 7, 'people': 9})

def test_load_set_named_sets_and_folders(ill, tmp_path):
    m = load_set('mnist')
    assert sorted({f.parent.name for f in m.ood_items[:-1000]}) == ['8', '9']         # near kind first: the held-out digits
    assert len(m.ood_items[-1000:]) == 1000 and m.classes == list('01234567')         # then the letters and photos
    assert not {'8', '9'} & {Path(f).parent.name for f in m.items}
    assert len(load_set('mnist', ood='photos').ood_items) == len(m.ood_items) - 500
    assert len(load_set('mnist', ood='none').ood_items) == len(m.ood_items) - 1000
    assert load_set(ill).classes == ['building', 'coat', 'people']                     # a plain folder: every folder is a class
    assert load_set(ill, 'none', held_out=['people']).classes == ['building', 'coat']  # held out as the caller says
    assert len(load_set(ill, ood=str(tmp_path/'other'/'x')).ood_items) == 5            # a folder of out-of-domain images
    assert hold_out(load_set(ill, ood='none'), ['people', 'cats']).classes == ['building', 'coat']   # classes it lacks are ignored
    with pytest.raises(ValueError, match='2 or more classes'): hold_out(load_set(ill, ood='none'), ['people', 'coat'])
    with pytest.raises(ValueError, match='letters\\+photos'): load_set('mnist', ood='faces')
    with pytest.raises(ValueError, match='overlap'): load_set(ill, ood=ill)
    with pytest.raises(ValueError, match='overlap'): load_set(ill, ood=ill/'coat')
    (tmp_path/'empty').mkdir()
    with pytest.raises(ValueError, match='no usable image'): load_set(ill, ood=tmp_path/'empty')

def test_classes_and_subset(ill):
    two = load_set(ill, 'none', classes=['coat', 'people'])
    assert two.classes == ['coat', 'people'] and len(two.items) == 16 and not two.ood_items   # the others are left out
    assert sorted(set(np.array(two.labels)[two.valid_idx])) == ['coat', 'people']             # split anew, stratified
    with pytest.raises(ValueError, match=r"classes: \['cats'\] are not among"): load_set(ill, 'none', classes=['coat', 'cats'])
    with pytest.raises(ValueError, match='2 or more classes'): load_set(ill, 'none', classes=['coat'])
    s = load_set(ill, 'none')
    sub = subset(s, 10)
    assert len(sub.items) == 10 and set(sub.items) <= set(s.items) and not sub.ood_items
    valid = {s.items[i] for i in s.valid_idx}
    assert all((f in valid) == (i in set(sub.valid_idx)) for i, f in enumerate(sub.items))   # each item keeps its side of the split
    assert subset(s, 10).items == sub.items                                                   # the same draw every time

def test_load_set_reads_the_row(monkeypatch):
    "load_set's out-of-domain default and probe size come from the data set's row, whatever the mode."
    row = data_set('mnist')
    for q in ('1', ''):
        monkeypatch.setenv('CVL_QUICK', q)
        s = load_set('mnist')
        near = [f for f in s.ood_items if f.parent.name in row.held_out]
        assert row.ood == 'letters+photos' and len(s.ood_items) - len(near) == 1000
        assert s.classes == sorted(set(map(str, range(10))) - set(row.held_out)) and len(near) == 1000
        assert np.array(PILImage.create(s.ood_items[-1])).shape[:2] == (28, 28)

@pytest.mark.parametrize('param', ['valid_pct', 'seed'])
@pytest.mark.parametrize('bad', [float('nan'), 'abc', True, -1, 1j])
def test_scalars_refused_at_the_door_naming_the_parameter(param, bad):
    with pytest.raises(ValueError) as e: load_set('mnist', **{param: bad})
    assert str(e.value).startswith(f'{param}: expected') and '\n' not in str(e.value), str(e.value)

# ---------------------------------------------------------------- one change in one place: a new data set

def test_a_data_set_added_in_one_place_is_everywhere(tmp_path, monkeypatch, capsys):
    "One `register_data` call: the command line lists it with its settings and takes it, `run_defaults` and a spec read its row, a run trains on it."
    from classification_vs_labeling.cli import main
    from classification_vs_labeling.flags import parser
    from classification_vs_labeling.spec import RunSpec
    root = tree(tmp_path/'greys', {'dark': 30, 'light': 30})
    monkeypatch.setitem(DATA_SETS, 'greys', None)                    # removed again after the test
    register_data('greys', lambda path, **split: folder_set(root, name='greys', **split), 'two shades of grey, 30 squares each',
                  mode='quick', arch='small', pretrained=False, epochs=1, size=16, bs=16, augment=False, held_out=())
    assert 'greys' in data_choices() and run_defaults('greys')['size'] == 16
    spec = RunSpec('greys')
    assert (spec.arch, spec.size, spec.bs, spec.ood) == ('small', 16, 16, 'none')
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit): parser().parse_args(['compare', '--help'])
    help_text = ' '.join(out.getvalue().split())
    assert 'mnist | pets | illustrations | glyphs | clipart | photos | greys | PATH' in help_text
    assert 'greys two shades of grey, 30 squares each small from scratch, 16px, 1 epoch(s), batch size 16' in help_text
    assert '16 for greys' in help_text                                   # --size's default, read from the row
    code = main(['compare', '--data', 'greys', '--seeds', '0', '--out', str(tmp_path/'out'), '--no-progress'])
    assert code == 0, capsys.readouterr().err
    settings = json.loads((tmp_path/'out'/'run.json').read_text())
    assert (settings['data'], settings['size'], settings['bs'], settings['classes']) == ('greys', 16, 16, ['dark', 'light'])
    assert (tmp_path/'out'/'report.md').exists() and len(list((tmp_path/'out'/'runs').glob('greys_small_scratch_1ep_16px_seed0_*/run.npz'))) == 1
