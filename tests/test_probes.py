"Chapter 03b: the letters and photos drawn offline as out-of-domain probes."
import numpy as np
import pytest
from PIL import Image
from classification_vs_labeling.probes import *


@pytest.mark.parametrize('probe', [letters, photos])
def test_probes_deterministic(tmp_path, probe):
    a, b, c = probe(tmp_path/'a', n=12, size=24), probe(tmp_path/'b', n=12, size=24), probe(tmp_path/'c', n=12, size=24, seed=1)
    read = lambda d: [f.read_bytes() for f in sorted(d.glob('*.png'))]
    assert len(read(a)) == 12 and read(a) == read(b) and read(a) != read(c)
    assert {(Image.open(f).size, Image.open(f).mode) for f in a.glob('*.png')} == {((24, 24), 'L')}
    assert len({np.array(Image.open(f)).tobytes() for f in a.glob('*.png')}) == 12         # not all the same picture

def test_probes_at_their_default_size(tmp_path):
    a, b = letters(tmp_path/'a', n=20), letters(tmp_path/'b', n=20)
    assert [f.read_bytes() for f in sorted(a.glob('*.png'))] == [f.read_bytes() for f in sorted(b.glob('*.png'))]
    assert {(Image.open(f).size, Image.open(f).mode) for f in a.glob('*.png')} == {((28, 28), 'L')}
    p = photos(tmp_path/'p', n=10, size=32)
    assert {(Image.open(f).size, Image.open(f).mode) for f in p.glob('*.png')} == {((32, 32), 'L')}

def test_probe_sources():
    assert len(font_files()) >= 4
    arrs = photo_arrays()
    assert len(arrs) >= 5 and 'chelsea' not in arrs and all(a.ndim == 2 and a.dtype == np.uint8 for a in arrs.values())

def test_letters_look_like_mnist(tmp_path):
    a = np.stack([np.array(Image.open(f)) for f in letters(tmp_path/'l', n=30).glob('*.png')]).astype(float)
    assert a[:, 0, :].mean() < 10 and a.max() > 200            # black border, white strokes

def test_probe_items_choices(tmp_path):
    with pytest.raises(ValueError, match="'letters', 'photos', 'letters\\+photos', 'none'"): probe_items('digits')
    with pytest.raises(ValueError, match="'letters\\+photos'"): probe_items('lettres')
    assert probe_items('none') == probe_items(None) == ([], [])
    with pytest.raises(ValueError, match='no usable image'): probe_items(tmp_path)        # an empty folder
    Image.new('RGB', (8, 8)).save(tmp_path/'a.png'); (tmp_path/'b.png').write_text('no')
    imgs, skipped = probe_items(str(tmp_path))
    assert [f.name for f in imgs] == ['a.png'] and [p for p, _ in skipped] == [str(tmp_path/'b.png')]

def test_probe_items_names_draw_n_of_each(tmp_path, monkeypatch):
    "A name draws `n` images of each kind at `size`, from the folders `letters` and `photos` write (here under tmp_path)."
    monkeypatch.setitem(PROBES, 'letters', lambda size, n: letters(tmp_path/'l', n=n, size=size))
    monkeypatch.setitem(PROBES, 'photos', lambda size, n: photos(tmp_path/'p', n=n, size=size))
    both, _ = probe_items('letters+photos', size=20, n=7)
    assert len(both) == 14 and {Image.open(f).size for f in both} == {(20, 20)}
    assert probe_items(['photos'], size=20, n=7)[0] == sorted((tmp_path/'p').glob('*.png'))


BAD = {'nan': float('nan'), 'text': 'abc', 'a bool': True, 'negative': -1, 'a fraction': 2.5}

@pytest.mark.parametrize('bad', BAD)
@pytest.mark.parametrize('call,param', [(letters, 'n'), (letters, 'size'), (photos, 'seed'), (photos, 'n'),
                                        (lambda dest, **kw: probe_items('none', **kw), 'size'), (lambda dest, **kw: probe_items('letters', **kw), 'n')])
def test_scalars_refused_at_the_door_naming_the_parameter(tmp_path, call, param, bad):
    with pytest.raises(ValueError) as e: call(tmp_path/'p', **{param: BAD[bad]})
    assert str(e.value).startswith(f'{param}: expected') and '\n' not in str(e.value), str(e.value)
    assert not (tmp_path/'p').exists()                               # refused before anything is written
