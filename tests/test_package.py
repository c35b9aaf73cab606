"""The package as it would be released, and the docs config that nbdev-docs reads.

`python -m build` makes the sdist, then the wheel from the sdist; both must pass `twine check --strict`. The
wheel, installed alone into a fresh virtual environment (dependencies borrowed from this interpreter, never this
checkout), must give a working `cvl` and importable modules. nbs/sidebar.yml and nbs/nbdev.yml must be what
nbdev-docs would write, so renaming a chapter cannot leave the site's table of contents stale."""
import configparser, email, hashlib, json, os, re, shutil, subprocess, sys, sysconfig, tarfile, zipfile
from pathlib import Path
import pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
PKG, NBS = 'classification_vs_labeling', ROOT/'nbs'

def _version():
    "`__version__` as the source states it (read, not imported, so no installed copy can answer instead)."
    return re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', (ROOT/PKG/'__init__.py').read_text(), re.M).group(1)

def _run(*args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, args))} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r

def _source_modules(): return {f'{PKG}/{p.name}' for p in (ROOT/PKG).glob('*.py')}

@pytest.fixture(scope='module')
def dists(tmp_path_factory):
    "(wheel, sdist), built the way a release is: sdist first, wheel from the unpacked sdist; no build env download."
    out = tmp_path_factory.mktemp('dist')
    _run(sys.executable, '-m', 'build', '--no-isolation', '--outdir', out, ROOT, cwd=out)
    (whl,), (sdist,) = out.glob('*.whl'), out.glob('*.tar.gz')
    return whl, sdist

def _wheel_file(whl, name):
    with zipfile.ZipFile(whl) as z: return z.read(f'{PKG}-{_version()}.dist-info/{name}').decode()

def test_twine_check_strict_passes(dists):
    r = _run(sys.executable, '-m', 'twine', 'check', '--strict', *dists)
    assert r.stdout.count('PASSED') == 2 and 'WARNING' not in r.stdout + r.stderr, r.stdout + r.stderr

def test_metadata_license_and_long_description(dists):
    whl, _ = dists
    m = email.message_from_string(_wheel_file(whl, 'METADATA'))
    assert m['Name'] == PKG and m['Version'] == _version() and whl.name == f'{PKG}-{_version()}-py3-none-any.whl'
    assert m['License-Expression'] == 'Apache-2.0' and m.get_all('License-File') == ['LICENSE']
    # the Apache 2.0 text verbatim (sha256 of apache.org's LICENSE-2.0.txt), its appendix's copyright line filled in
    lic = (ROOT/'LICENSE').read_text()
    filled = re.findall(r'^   Copyright \d{4} .+$', lic, re.M)
    assert filled == ['   Copyright 2026 classification_vs_labeling contributors'], filled
    canonical = lic.replace(filled[0], '   Copyright [yyyy] [name of copyright owner]')
    assert hashlib.sha256(canonical.encode()).hexdigest() == 'cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30'
    assert _wheel_file(whl, 'licenses/LICENSE') == lic
    # PyPI shows README.md, rendered as markdown (twine check above rendered it the way PyPI does)
    assert m['Description-Content-Type'] == 'text/markdown'
    assert m.get_payload().strip() == (ROOT/'README.md').read_text().strip()

def test_classifiers_are_real_and_python_versions_are_the_ci_matrix(dists):
    from trove_classifiers import classifiers as known
    m = email.message_from_string(_wheel_file(dists[0], 'METADATA'))
    cls = m.get_all('Classifier')
    assert [c for c in cls if c not in known] == [] and len(cls) >= 10
    assert not [c for c in cls if c.startswith('License ::')]      # PEP 639: License-Expression says it
    claimed = [c.rsplit(' ', 1)[1] for c in cls if re.fullmatch(r'Programming Language :: Python :: 3\.\d+', c)]
    assert m['Requires-Python'] == f'>={claimed[0]}'
    wf = yaml.safe_load((ROOT/'.github'/'workflows'/'test.yaml').read_text())
    assert wf['jobs']['test']['strategy']['matrix']['version'] == claimed   # every version claimed is tested

def test_sdist_holds_what_a_build_needs(dists):
    with tarfile.open(dists[1]) as t: names = {n.split('/', 1)[1] for n in t.getnames() if '/' in n}
    need = {'pyproject.toml', 'README.md', 'LICENSE', 'PKG-INFO'} | _source_modules()
    assert need <= names, sorted(need - names)

def test_wheel_holds_every_module_and_both_entry_points(dists):
    with zipfile.ZipFile(dists[0]) as z: py = {n for n in z.namelist() if n.endswith('.py')}
    assert py == _source_modules() and f'{PKG}/_modidx.py' in py
    eps = configparser.ConfigParser(); eps.read_string(_wheel_file(dists[0], 'entry_points.txt'))
    assert eps['console_scripts']['cvl'] == f'{PKG}.cli:main'
    assert eps['nbdev'][PKG] == f'{PKG}._modidx:d'     # nbdev's doc links find our symbols through this

_IMPORT_ALL = """
import contextlib, importlib, io, json, sys
from importlib.metadata import entry_points
pkg, mods = sys.argv[1], sys.argv[2:]
files = {m: importlib.import_module(m).__file__ for m in mods}
idx = [ep.load()['settings']['lib_path'] for ep in entry_points(group='nbdev') if ep.name == pkg]
helptext = io.StringIO()
with contextlib.redirect_stdout(helptext), contextlib.suppress(SystemExit): importlib.import_module(pkg + '.cli').main(['compare', '--help'])
print(json.dumps(dict(files=files, path=sys.path, idx=idx, finders=[repr(f) for f in sys.meta_path],
                      editable=[k for k in sys.modules if 'editable' in k], help=helptext.getvalue())))
"""

def test_wheel_alone_in_a_fresh_venv(dists, tmp_path):
    whl = dists[0]
    env_dir, bin_ = tmp_path/'venv', tmp_path/'venv'/'bin'
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP')}
    env.update(PATH=f"{bin_}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(env_dir))
    def run(*a): return _run(*a, cwd=tmp_path, env=env)     # cwd outside the checkout: it is not on sys.path
    run(sys.executable, '-m', 'venv', '--without-pip', env_dir)
    r = run(sys.executable, '-m', 'pip', '--python', bin_/'python', 'install', '--no-deps', '--no-index', whl)
    assert 'Successfully installed' in r.stdout, r.stdout      # not "already satisfied" by some other copy
    # Dependencies (torch, fastai, ...) come from this interpreter's site-packages through one .pth line each.
    # Python puts such a path on sys.path but reads no .pth file inside it, so the editable install of this
    # checkout (a .pth that installs a finder) stays out: the asserts below check that it did.
    outer = dict.fromkeys(sysconfig.get_paths()[k] for k in ('purelib', 'platlib'))
    site = Path(run(bin_/'python', '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').stdout.strip())
    (site/'_borrowed_deps.pth').write_text(''.join(f'{p}\n' for p in outer))
    assert run(bin_/'cvl', '--version').stdout == f'cvl {_version()}\n'   # the console script; `cvl compare --help` below, in the same Python as the imports (each costs seconds)
    with zipfile.ZipFile(whl) as z:
        mods = sorted(n[:-3].replace('/', '.').removesuffix('.__init__') for n in z.namelist()
                      if n.startswith(f'{PKG}/') and n.endswith('.py'))
    assert PKG in mods and f'{PKG}.cli' in mods and len(mods) == len(_source_modules())
    got = json.loads(run(bin_/'python', '-c', _IMPORT_ALL, PKG, *mods).stdout.splitlines()[-1])
    assert sorted(got['files']) == mods
    for m, f in got['files'].items(): assert Path(f).resolve().is_relative_to(env_dir.resolve()), (m, f)
    assert got['editable'] == [] and not [f for f in got['finders'] if 'editable' in f], got['finders']
    assert str(ROOT) not in got['path'] and any(p in got['path'] for p in outer)
    assert got['idx'] and set(got['idx']) == {PKG}
    assert '--data' in got['help'] and '--out' in got['help'] and got['help'].startswith('usage: cvl compare')

def test_version_flag_in_process(capsys):
    from classification_vs_labeling import __version__
    from classification_vs_labeling.cli import main
    with pytest.raises(SystemExit) as e: main(['--version'])
    assert e.value.code == 0 and capsys.readouterr().out == f'cvl {__version__}\n' and __version__ == _version()

def _sidebar_entries(node):
    "Every page a Quarto sidebar's `contents` names: plain entries, `href`s and nested sections."
    if isinstance(node, str): yield node
    elif isinstance(node, list):
        for x in node: yield from _sidebar_entries(x)
    elif isinstance(node, dict):
        if 'href' in node: yield node['href']
        yield from _sidebar_entries(node.get('contents', []))

def test_sidebar_lists_every_notebook_and_only_existing_ones():
    q = yaml.safe_load((NBS/'_quarto.yml').read_text())
    assert 'sidebar.yml' in q['metadata-files'] and [f for f in q['metadata-files'] if not (NBS/f).exists()] == []
    entries = list(_sidebar_entries(yaml.safe_load((NBS/'sidebar.yml').read_text())['website']['sidebar']['contents']))
    pages = sorted(p.name for p in NBS.iterdir() if p.suffix in ('.ipynb', '.qmd') and not p.name.startswith(('_', '.')))
    assert 'index.ipynb' in pages and entries[0] == 'index.ipynb'
    missing, gone = sorted(set(pages) - set(entries)), sorted(set(entries) - set(pages))
    assert missing == [] and gone == [] and len(entries) == len(set(entries)), \
        f'nbs/sidebar.yml is stale (not listed: {missing}, no such page: {gone}): run `nbdev-sidebar`'

def test_sidebar_groups_lessons_apart_from_internals():
    "The sidebar shows the lessons, then the internals (machinery a lesson imports); nbdev keeps it (custom_sidebar)."
    import tomllib
    assert tomllib.loads((ROOT/'pyproject.toml').read_text())['tool']['nbdev']['custom_sidebar'] is True
    side = yaml.safe_load((NBS/'sidebar.yml').read_text())['website']['sidebar']['contents']
    sections = {x['section']: x['contents'] for x in side if isinstance(x, dict)}
    assert list(sections) == ['Lessons', 'Internals'], list(sections)
    lessons = sections['Lessons']
    assert '05_metrics.ipynb' in lessons and '04c_runs.ipynb' in sections['Internals'] and not set(lessons) & set(sections['Internals'])

def test_docs_config_is_what_nbdev_docs_writes(tmp_path):
    "nbdev-docs rewrites nbdev.yml and sidebar.yml before rendering: the committed ones must already be its output."
    shutil.copy(ROOT/'pyproject.toml', tmp_path)
    shutil.copytree(NBS, tmp_path/'nbs', ignore=shutil.ignore_patterns('.*', '_proc', '_docs'))
    code = ('from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar\n'
            'refresh_quarto_yml(); nbdev_sidebar.__wrapped__()')   # custom_sidebar: nbdev leaves our grouped sidebar alone
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    _run(sys.executable, '-c', code, cwd=tmp_path, env=env)
    for f in ('nbdev.yml', 'sidebar.yml'):      # (_quarto.yml is ours to edit: nbdev writes it only when missing)
        assert (tmp_path/'nbs'/f).read_text() == (NBS/f).read_text(), f'nbdev would rewrite nbs/{f}'
    q = yaml.safe_load((NBS/'_quarto.yml').read_text())
    assert q['project']['type'] == 'website' and (NBS/q['format']['html']['css']).exists()

def test_ci_workflow_runs_the_readme_test_command():
    cmd = re.search(r'^CVL_QUICK=1 pytest.*$', (ROOT/'README.md').read_text(), re.M).group(0)
    wf = yaml.safe_load((ROOT/'.github'/'workflows'/'test.yaml').read_text())
    runs = [s.get('run', '').strip() for j in wf['jobs'].values() for s in j['steps']]
    assert cmd in runs, runs


# ---------- the top level: main names re-exported, parameter notes in help() (issue 23)

def test_main_names_resolve_at_the_top_level_to_their_modules_objects():
    import importlib
    import classification_vs_labeling as pkg
    assert len(pkg.__all__) >= 35 and set(pkg.__all__) <= set(dir(pkg))
    for name, mod in pkg._WHERE.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(f'{PKG}.{mod}'), name), name
    from classification_vs_labeling import ExactMatch, LabelerInterpretation, PairInterpretation, fit_temperature, compare
    assert ExactMatch.__module__ == f'{PKG}.learners' and fit_temperature.__module__ == f'{PKG}.calibration'
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"): pkg.nothing_here

def test_importing_the_package_is_quick_and_loads_neither_fastai_nor_torch():
    code = ("import sys, time; t = time.perf_counter(); import classification_vs_labeling as c; dt = time.perf_counter() - t\n"
            "print(dt, 'fastai' in sys.modules, 'torch' in sys.modules)")
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    dt, fastai, torch = _run(sys.executable, '-W', 'error', '-c', code, env=env).stdout.split()
    assert (fastai, torch) == ('False', 'False') and float(dt) < 1.0

def _symbols_and_methods():
    "Every public function, class and public method the package's modules define, with its module."
    from helpers import public_symbols, public_methods
    for m, _, obj in public_symbols():
        yield m, obj, obj
        if isinstance(obj, type):
            for f, attr in public_methods(obj): yield m, f, attr

def test_help_shows_every_parameter_note_that_show_doc_shows():
    "For each public function, class and method: the docments fastcore reads (what show_doc tables) are in help()'s text."
    import pydoc
    from fastcore.docments import docments
    from helpers import own_params        # a function's own parameters, not those `@delegates` adds to its signature
    checked = 0
    for m, obj, attr in _symbols_and_methods():
        own = own_params(obj)
        ref = {k: v for k, v in docments(obj, returns=False).items() if k in own and v}
        if not ref: continue
        checked += 1
        text = pydoc.getdoc(attr)                 # the docstring help() prints (indented by it under a class)
        flat = lambda t: '\n'.join(l.strip(' |') for l in t.splitlines())
        assert flat(text) in flat(pydoc.render_doc(attr, renderer=pydoc.plaintext)) and 'Parameters\n' in text, f"{m.__name__}.{obj.__qualname__}"
        for k, v in ref.items():
            assert f"\n{k}" in text and v.splitlines()[0] in text, f"{m.__name__}.{obj.__qualname__}({k})"
    assert checked > 90

def test_show_doc_drops_the_section_when_every_parameter_has_its_type():
    "fastcore's show_doc leaves out a NumPy 'Parameters' section whose types match the signature's: no note is shown twice."
    from nbdev.showdoc import show_doc
    from classification_vs_labeling.spec import RunSpec
    assert 'Parameters\n----------' in RunSpec.__doc__ and 'epochs : int\n    epochs per model' in RunSpec.__doc__
    md = show_doc(RunSpec)._repr_markdown_()
    assert 'epochs per model' in md and 'Parameters\n---' not in md and md.count('epochs per model') == 1
