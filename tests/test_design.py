"""The layers of DESIGN.md hold: a module imports only from its own layer or the layers below, never from above, not
even inside a function, and no two modules import each other (directly or round a longer loop)."""
import ast
from helpers import PKG, modules, own_params, public_symbols

LAYERS = [   # lowest first, as in DESIGN.md
    {'core', 'paramdocs', 'result', 'activations', 'losses', 'recipes'},
    {'data', 'files', 'probes', 'offline', 'glyphs', 'datasets', 'pets_standin'},
    {'fastpath', 'frozen', 'spec', 'train', 'predictions'},
    {'runs', 'costs', 'workers', 'record'},   # the one engine (and its workers), the record of a comparison and the guard of its folder, the saved run the analyses' chapters share, what full mode costs (above training, below them)
    {'metrics', 'thresholds', 'calibration', 'ood', 'conformal', 'coverage', 'multilabel', 'count', 'seedview', 'analysis', 'summary'},
    {'learners'},              # fastai-shaped pieces for one's own learners (a metric, Interpretations), built on the analyses
    {'tables', 'report', 'sweep', 'sweep_plots', 'findings', 'sweep_markdown', 'bench'},
    {'cli', 'flags'},
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}

def imports(mod) -> set[str]:
    "Our modules that `mod` imports anywhere in its file (top level or inside functions)."
    out = set()
    for node in ast.walk(ast.parse((PKG/f'{mod}.py').read_text())):
        if isinstance(node, ast.ImportFrom):
            name = node.module or ''
            if node.level == 1 and name: out.add(name.split('.')[0])
            elif node.level == 1: out.update(a.name for a in node.names)            # from . import metrics
            elif name.startswith('classification_vs_labeling.'): out.add(name.split('.')[1])
            elif name == 'classification_vs_labeling': out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name.split('.')[1] for a in node.names if a.name.startswith('classification_vs_labeling.'))
    return {m for m in out if m in RANK or (PKG/f'{m}.py').exists()} - {mod, '__init__', '_modidx'}

def test_every_module_has_a_layer():
    assert set(modules()) - {'_modidx'} <= set(RANK), f"modules missing from LAYERS: {set(modules()) - {'_modidx'} - set(RANK)}"

def test_no_module_imports_from_a_layer_above():
    bad = [(m, d) for m in modules() if m in RANK for d in imports(m) if RANK.get(d, -1) > RANK[m]]
    assert not bad, f"imports from a higher layer: {bad}"

def chapters() -> dict[str, str]:
    "Module -> the notebook it is exported from (its `default_exp`), e.g. 'fastpath' -> '03f_fastpath'."
    import json, re
    out = {}
    for nb in sorted((PKG.parent/'nbs').glob('[0-9]*.ipynb')):
        src = ''.join(c['source'] if isinstance(c['source'], str) else ''.join(c['source']) for c in json.loads(nb.read_text())['cells'])
        m = re.search(r'#\|\s*default_exp\s+(\w+)', src)
        if m: out[m.group(1)] = nb.stem
    return out

def test_no_module_imports_a_later_chapter():
    "A chapter uses only what earlier chapters taught: a module never imports one whose chapter number is higher (a chapter and its lettered sub-chapters are one)."
    ch = chapters()
    assert set(modules()) - {'_modidx'} <= set(ch), f"modules without a chapter: {set(modules()) - {'_modidx'} - set(ch)}"
    num = lambda m: int(ch[m][:2])
    bad = [(f"{m} ({ch[m]})", f"{d} ({ch[d]})") for m in ch for d in imports(m) if d in ch and num(d) > num(m)]
    assert not bad, f"imports from a later chapter: {bad}"

def test_no_import_cycle():
    graph = {m: imports(m) for m in modules() if m in RANK}
    state = {}
    def visit(m, path):
        if state.get(m) == 'done': return
        assert state.get(m) != 'open', f"import cycle: {' -> '.join(path + [m])}"
        state[m] = 'open'
        for d in graph.get(m, ()): visit(d, path + [m])
        state[m] = 'done'
    for m in graph: visit(m, [])

def test_no_unused_or_undefined_names():
    "Exported modules import nothing they do not use and use nothing they do not define (ruff's pyflakes rules F401, F821)."
    import subprocess, sys
    r = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--select', 'F401,F811,F821', '--output-format', 'concise',
                        '--exclude', '_modidx.py', str(PKG)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

def test_public_functions_with_more_than_three_parameters_document_each_one():
    "Docments (fastai's inline parameter comments) on every parameter of a public function or class with more than three."
    from fastcore.docments import docments
    missing, checked = [], 0
    for mod, name, obj in public_symbols():
        ps = own_params(obj)
        if len(ps) <= 3: continue
        docs, checked = docments(obj, full=False), checked + 1
        missing += [f"{mod.__name__}.{name}({p})" for p in ps if not docs.get(p)]
    assert checked > 50 and not missing, f"{len(missing)} parameters without a docment: {', '.join(missing)}"

def test_every_public_symbol_renders_with_show_doc():
    "nbdev's `show_doc` (what the docs site shows) renders each public function and class with its parameter table."
    import warnings
    from nbdev.showdoc import show_doc
    symbols = list(public_symbols())
    assert len(symbols) > 100                                   # the walk found the package's public API
    for mod, name, obj in symbols:
        with warnings.catch_warnings():
            warnings.filterwarnings('error', message='docments unavailable')   # fastcore's note when it cannot read them
            assert name in show_doc(obj)._repr_markdown_(), f"{mod.__name__}.{name}"

def test_every_write_goes_through_the_one_attribute_core_atomic_path():
    "No module keeps a copy of `atomic_path` (imported by name, or `core.atomic_path` held anywhere but in a call): each calls `core.atomic_path`, so one monkeypatch of it reaches every write (tests/test_reliability.py)."
    bad, calls = [], 0
    for m in modules():
        tree = ast.parse((PKG/f'{m}.py').read_text())
        called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(a.name in ('atomic_path', '*') for a in node.names): bad.append((m, node.lineno))
            if isinstance(node, ast.Attribute) and node.attr == 'atomic_path':
                if id(node) in called: calls += 1
                else: bad.append((m, node.lineno))
    assert not bad, f"import core and call core.atomic_path(...) instead: {bad}"
    assert calls >= 9, calls           # the writes of runs, predictions, report, summary, tables and sweep are seen

def test_no_test_file_imports_another():
    "What two test files share lives in tests/helpers.py or conftest.py, so moving or renaming one test file breaks no other."
    tests = PKG.parent/'tests'
    names = {p.stem for p in tests.glob('*.py')}
    bad = []
    for p in tests.glob('*.py'):
        for node in ast.walk(ast.parse(p.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                    [node.module or ''] if isinstance(node, ast.ImportFrom) else [])
            bad += [(p.name, m) for m in mods if m.split('.')[0] in names and m.split('.')[0].startswith(('test_', 'conftest'))]
    assert not bad, bad
