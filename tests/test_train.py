"""Chapters 03h and 04: the run spec (`spec.RunSpec`: its defaults, its checks, its key), what the paired learner
refuses before training and how the batch size fits a small split (the saved predictions: tests/test_predictions.py)."""
import json, re
import numpy as np
import pytest
from classification_vs_labeling.data import ImageSet
from classification_vs_labeling import __version__
from classification_vs_labeling.spec import RunSpec
from classification_vs_labeling.train import (check_build, fit_batch_size, fit_config, small_cnn, create_model, plain_learners, paired_learner,
                                              train_pair)


def test_check_build_refuses_what_cannot_train():
    check_build('small', 10, 28)
    with pytest.raises(ValueError, match='alexnet cannot train on 28px images') as e: check_build('alexnet', 10, 28)
    assert '\n' not in str(e.value) and '--arch or --size' in str(e.value)


def test_fit_batch_size_says_when_it_shrinks():
    said = []
    assert fit_batch_size(56, 14, 64, log=said.append) == 14 and len(said) == 1 and '56 training images' in said[0]
    assert fit_batch_size(64, 16, 64, log=said.append) == 64 and fit_batch_size(3, 4, 64, log=said.append) == 2
    assert len(said) == 2                                           # a batch size that fits says nothing
    with pytest.raises(ValueError, match='got 1 and 14'): fit_batch_size(1, 14, 64)
    with pytest.raises(ValueError, match='4 validation images'): fit_batch_size(56, 3, 64)

def test_fit_config_on_the_blogs_split():
    "The blog's 44 buildings and 26 coats, every fifth image validated: 56 to train on, so a batch of 14."
    blog = ImageSet('blog', [f'{i}.png' for i in range(70)], ['building']*44 + ['coat']*26, np.arange(0, 70, 5))
    assert fit_config(RunSpec('mnist'), blog, log=lambda s: None).bs == 14
    spec = RunSpec('mnist', bs=8)
    assert fit_config(spec, blog) is spec                           # a batch size that fits: the same spec back


def test_run_spec_fills_its_gaps_from_the_registry_and_checks_each_field():
    s = RunSpec('mnist')
    assert (s.arch, s.pretrained, s.epochs, s.size, s.bs, s.lr_ce, s.lr_bce, s.held_out, s.ood) == \
           ('small', False, 1, 28, 64, 1e-2, 1e-2, ('8', '9'), 'letters+photos')
    assert RunSpec('pets', scale=0.5).size == 112 and RunSpec('pets', pretrained=False).lr == 1e-2   # scaled; from scratch: its rate
    assert RunSpec('pets', arch='small').pretrained is False                                           # 'small' has no weights
    assert RunSpec('mnist', classes=['3', '1']).classes == ('1', '3')                                  # a set of classes, in one order
    c = RunSpec('clipart')                                                                              # chapter 03c's row: its classes, BatchNorm frozen
    assert (c.arch, c.classes, c.held_out, c.train_bn, RunSpec('pets').train_bn) == ('efficientnet_lite0', ('building', 'clothing'), ('people',), False, True)
    with pytest.raises(ValueError, match='train_bn: expected True or False'): RunSpec('clipart', train_bn='no')
    assert s.replace(lr=0.02).lr_bce == 0.02 and s.replace(lr_bce=0.02).lr_ce == 0.01
    with pytest.raises(ValueError, match='own learning rates'): s.replace(lr_bce=0.02).lr
    for kw, words in [(dict(arch='resnet35'), 'unknown architecture'), (dict(epochs=0), 'epochs: expected'), (dict(lr_ce=0), 'lr_ce: expected'),
                      (dict(recipe='focal'), 'recipe: expected one of default, prior-bias'),
                      (dict(label_noise=1), 'label_noise: expected a value in [0, 1)'), (dict(fast='yes'), 'fast: expected True or False'),
                      (dict(arch='small', pretrained=True), 'no pretrained weights'), (dict(subset=1), 'subset: expected'),
                      (dict(seed=2**32), 'seed: expected a value in [0, 4294967295]')]:
        with pytest.raises(ValueError, match=re.escape(words)): RunSpec('mnist', **kw)

def test_run_spec_is_one_run_and_its_key_says_so():
    s = RunSpec('pets', scale=0.5)
    assert s == RunSpec('pets', scale=0.5) and len({s, RunSpec('pets', scale=0.5)}) == 1 and RunSpec.from_dict(s.to_dict()) == s
    keys = {s.key} | {s.replace(**kw).key for kw in [dict(seed=1), dict(lr_ce=1e-3), dict(lr_bce=1e-3), dict(augment=False), dict(fast=True),
                                                      dict(held_out=()), dict(ood='none'), dict(subset=100), dict(classes=['pug', 'boxer']), dict(bs=32), dict(train_bn=False)]}
    assert len(keys) == 12                                                  # any field, another run
    assert s.key.startswith('pets_resnet34_pretrained_2ep_112px_seed0_') and RunSpec('/some/my data').key.startswith('my data_resnet34_')
    assert json.loads(s.json())['version'] == __version__ and s.describe() == 'pets, resnet34 pretrained, 2 epoch(s), 112px, seed 0'
    with pytest.raises(ValueError, match='unknown settings'): RunSpec.from_dict({**s.to_dict(), 'colour': 'red'})
    with pytest.raises(Exception): s.epochs = 3                             # frozen: a run's settings never change under it

def test_train_pair_trains_one_rate_and_says_where_two_go():
    iset = ImageSet('toy', [f'{i}.png' for i in range(20)], ['a', 'b']*10, [0, 1, 2, 3])
    with pytest.raises(ValueError, match='runs.run_specs'): train_pair(iset, RunSpec('mnist', lr_bce=0.02))

BAD = {'nan': float('nan'), 'text': 'abc', 'a bool': True, 'negative': -1, 'complex': 1j}
DOOR = [   # each refuses before it builds, loads or trains anything
    (lambda **kw: small_cnn(**{'n_out': 3, **kw}), 'n_out'), (lambda **kw: small_cnn(3, **kw), 'n_in'),
    (lambda **kw: create_model('small', **kw), 'n_out'), (lambda **kw: check_build('small', **{'n_classes': 3, 'size': 28, **kw}), 'n_classes'),
    (lambda **kw: check_build('small', 3, **kw), 'size'), (lambda **kw: plain_learners(None, None, **kw), 'seed'),
    (lambda **kw: plain_learners(None, None, **kw), 'thresh'), (lambda **kw: paired_learner(None, **kw), 'seed'),
    (lambda **kw: RunSpec('mnist', **kw), 'seed')]

@pytest.mark.parametrize('bad', BAD)
@pytest.mark.parametrize('call,param', DOOR, ids=['small_cnn', 'small_cnn-n_in', 'create_model', 'check_build', 'check_build-size',
                                                  'plain_learners', 'plain_learners-thresh', 'paired_learner', 'RunSpec'])
def test_scalars_refused_at_the_door_naming_the_parameter(call, param, bad):
    with pytest.raises(ValueError) as e: call(**{param: BAD[bad]})
    assert str(e.value).startswith(f'{param}: expected') and '\n' not in str(e.value), str(e.value)
