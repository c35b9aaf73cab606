"""Chapter 14's benchmark, in process at toy size on the CPU: the record's numbers recomputed from its own timings, the
two paths doing the same arithmetic where nothing is augmented, the ceiling, and what `bench` refuses. (`cvl bench`'s
flags, output and one-line errors are tests/test_cli.py's.)"""
import inspect
import numpy as np
import pytest
from classification_vs_labeling.bench import bench, ceiling, _seed_noise

TOY = dict(device='cpu', n=148, arch='small', size=32, bs=16, epochs=1)      # 37 breeds x 4 images; 32px: no augmentation


@pytest.fixture(scope='module')
def rec(tmp_path_factory):
    said = []
    r = bench(**TOY, seeds=[0, 1], data_dir=tmp_path_factory.mktemp('pets'), log=said.append)
    return r, said


def test_record_is_its_own_timings(rec):
    r, said = rec
    assert (r['device'], r['n'], r['arch'], r['size'], r['seeds'], r['presize']) == ('cpu', 148, 'small', 32, [0, 1], 32)
    seen = (r['n_train']//r['bs'])*r['bs']*r['epochs']*2                    # training images each model sees, both seeds
    assert r['n_train'] == 148 - int(np.ceil(0.2*148))
    assert r['a_total_s'] == pytest.approx(seen/r['a_ce_img_s'] + seen/r['a_bce_img_s'])
    assert r['a_pair_img_s'] == pytest.approx(seen/r['a_total_s']) and r['b_pair_img_s'] == pytest.approx(seen/r['b_total_s'])
    assert r['b_total_s'] == pytest.approx(r['b_cache_s'] + r['b_train_s']) and r['b_pair_img_s_excl_cache'] == pytest.approx(seen/r['b_train_s'])
    assert r['ratio_b_over_a'] == pytest.approx(r['b_pair_img_s']/r['a_pair_img_s'])
    assert r['b_pct_of_c'] == pytest.approx(100*r['b_pair_img_s_excl_cache']/r['c_pair_img_s'])
    for k in ['a_pair_img_s', 'b_pair_img_s', 'c_pair_img_s', 'ratio_b_over_a', 'b_pct_of_c']: assert r[k] > 0, k
    assert sum(('seed 0' in s) + ('seed 1' in s) for s in said) == 4 and any(s.startswith('(c)') for s in said)


def test_unaugmented_paths_do_the_same_arithmetic(rec):
    "On the CPU, below 64px (no augmentation), plain fastai and the fast path train on the same batches in full precision: the same accuracies."
    r, _ = rec
    for m in ['ce_acc', 'bce_argmax_acc', 'bce_exact_match']:
        a, b = r[f'a_{m}_per_seed'], r[f'b_{m}_per_seed']
        assert len(a) == len(b) == 2 and all(0 <= v <= 1 for v in a + b), m
        assert a == b, m
        assert r[m] == _seed_noise(a, b)


def test_seed_noise_by_hand():
    a, b = [0.5, 0.7, 0.6], [0.55, 0.65, 0.75]
    r = _seed_noise(a, b)
    assert r['a'] == pytest.approx(0.6) and r['b'] == pytest.approx(0.65) and r['diff'] == pytest.approx(0.05)
    assert r['seed_sd'] == pytest.approx(np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1))/2))
    assert _seed_noise([0.5], [0.6])['seed_sd'] is None                       # one seed: no spread to compare with


def test_ceiling_counts_images_per_second():
    v = ceiling('small', 5, size=28, bs=8, device='cpu', steps=2, warmup=1, repeats=2)
    assert np.isfinite(v) and v > 0


def test_options_are_keyword_only():
    for f, first in ((bench, ['device']), (ceiling, ['arch', 'n_classes'])):
        ps = inspect.signature(f).parameters.values()
        assert [p.name for p in ps if p.kind == p.POSITIONAL_OR_KEYWORD] == first, f.__name__
    with pytest.raises(TypeError): bench('cpu', 148)


@pytest.mark.parametrize('kw,msg', [(dict(seeds=[1, 1]), 'seeds: expected one or more distinct'), (dict(seeds=[]), 'seeds'),
                                    (dict(n=20, bs=64), 'fewer than one batch of 64')])
def test_bad_input_is_refused_before_any_work(tmp_path, kw, msg):
    with pytest.raises(ValueError, match=msg): bench(**{**TOY, **kw}, data_dir=tmp_path/'pets')
    assert not (tmp_path/'pets').exists()
