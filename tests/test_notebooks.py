"""Every chapter notebook runs top to bottom in quick mode, once, and renders to HTML with its title, its Colab badge
and its plots.

This is the only place the test command executes the notebooks: `nbrun.run` calls nbdev's own `test_nb` (what
`nbdev-test` runs: in-process, matplotlib's inline backend, the project's skip flags) and keeps the outputs, so the
HTML a reader gets is checked from the same execution. Each notebook's time is printed (`pytest -s` shows it, and
the `durations` report lists the slowest).
"""
import base64, html, json, os, re, shutil, struct, time
import nbformat, pytest
from nbconvert import HTMLExporter
from nbrun import MODE_FREE, NOTEBOOKS, ROOT, work_copy, run

BADGE = 'https://colab.research.google.com/github/cvl-course/classification_vs_labeling/blob/main/nbs/{}'
NO_BADGE = {'index.ipynb'}   # the landing page is the README: it links to the chapters instead

# Which notebooks must show a plot? Those whose code draws one: a call to one of our plot_*/show_* functions, a
# fastai show_batch/show_results, or a matplotlib drawing call. We read that from the notebook itself rather than
# keep a list, so a chapter that gains a plot is checked at once; a chapter that draws nothing (00_core, 04_train,
# 15_cli, index today) is not asked for an image it has no reason to have.
DRAWS = re.compile(r'\b(plot_\w+|show_(images|set|batch|results|multi)|plt\.(subplots|figure|plot|hist|imshow|bar|scatter))\(|'
                   r'\.(plot|hist|imshow|bar|barh|scatter|show_batch|show_results)\(')
IMG = re.compile(r'<img\b[^>]*\bsrc="data:image/(png|jpeg);base64,')   # an output image embedded in the page (not the badge)
WARN = re.compile(r'\b\w*Warning\b:')                                    # a library warning printed in a cell


def draws(nb) -> bool: return any(DRAWS.search(c.source) for c in nb.cells if c.cell_type == 'code')


@pytest.mark.parametrize('src', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_renders(src, tmp_path, monkeypatch, record_property):
    work = work_copy(tmp_path)
    monkeypatch.setenv('CVL_QUICK', '1')
    asked = set()
    ok, secs, nb = run(work/src.name, asked)
    record_property('notebook_seconds', round(secs, 1))      # conftest.py prints every notebook's time at the end
    assert ok, f"{src.name} failed to run (the traceback is printed above)"
    code = [c for c in nb.cells if c.cell_type == 'code']
    outs = [o for c in code for o in c.get('outputs', [])]
    assert not [o for o in outs if o.output_type == 'error'], f"{src.name}: a cell output is an error"
    warned = [o.get('text', '') for o in outs if o.output_type == 'stream' and o.get('name') == 'stderr' and WARN.search(o.get('text', ''))]
    assert not warned, f"{src.name}: a library warning reaches the reader: {warned[0][:300]}"

    body, _ = HTMLExporter().from_notebook_node(nb)
    (tmp_path/f'{src.stem}.html').write_text(body)
    first = next(c for c in nb.cells if c.cell_type == 'markdown')
    m = re.match(r'#\s+(.+)', first.source)
    assert m, f"{src.name}: the first markdown cell should open with '# Title', got {first.source[:60]!r}"
    title = html.escape(m.group(1).strip(), quote=False)
    assert re.search(r'<h1[^>]*>\s*' + re.escape(title), body), f"{src.name}: title {title!r} is not an <h1> in the HTML"
    if src.name not in NO_BADGE:
        link = BADGE.format(src.name)
        assert f'href="{link}"' in body and 'colab-badge.svg' in body, f"{src.name}: no Colab badge linking to {link}"
    n_img = len(IMG.findall(body))
    if draws(nb): assert n_img >= 1, f"{src.name} draws plots but its HTML shows no image"
    print(f"{src.name}: {n_img} images, {len(body)/1e6:.1f} MB of HTML")
    stored = nbformat.read(src, as_version=4)
    if os.environ.get('CVL_SAVE_OUTPUTS'): save_outputs(work/src.name, src)
    else: compare_outputs(stored, nb, src.name)
    free = src.stem in MODE_FREE     # the chapters the full-mode rehearsal leaves out, because they never ask for the mode
    assert free == (not asked), (f"{src.name} reads {sorted(asked)} now: take it out of nbrun.MODE_FREE, so the full-mode rehearsal runs it" if free
                                 else f"{src.name} never asks for the mode: add it to nbrun.MODE_FREE, so the full-mode rehearsal leaves it out")
    if src.name == 'index.ipynb':   # README.md is index.ipynb written out (tools/make_readme.py): checked on this execution
        import sys; sys.path.insert(0, str(ROOT/'tools'))
        from make_readme import to_markdown
        assert to_markdown(nb) == (ROOT/'README.md').read_text(), "README.md is out of date with nbs/index.ipynb: run `python tools/make_readme.py`"


# The notebooks are committed with the outputs of one quick-mode run, so the docs site, GitHub and Colab show results
# before anything runs. `CVL_SAVE_OUTPUTS=1 CVL_QUICK=1 pytest -n 2 tests/test_notebooks.py` stores this execution's
# outputs in nbs/ (cleaned by nbdev-clean, which keeps outputs); otherwise the test compares them with what the code
# produces now: the same cells print the same text, numbers agree within a small tolerance (training on a CPU is not
# bit-for-bit repeatable across thread counts), and images have the same count and about the same size.
# What legitimately changes from one run to the next is masked: wall times, dates, versions, temporary paths.
VARIES = '# output varies'   # a cell whose output is all timings (the benchmark's): only its kinds of output are compared
MASKS = [(re.compile(p), r) for p, r in [
    (r'/tmp/\S+', '<tmp>'),                                                     # temporary folders
    (r'\b20\d\d-\d\d-\d\d( \d\d:\d\d(:\d\d)?)?', '<date>'),                      # dates (run records)
    (r'\b\d\d:\d\d\b', '<mm:ss>'),                                                # fastai's progress times
    (r'[\d.]+\s*(s|ms|sec|seconds|min|minutes|it/s|MB|MiB|GB|GiB)\b', '<t>'),       # durations and sizes
    (r'\b(torch|fastai|timm|numpy|python) [\w.+]+', r'\1 <v>'),                    # versions
    (r'\bat 0x[0-9a-f]+', ''),                                                # object ids
    (r'_[0-9a-f]{10}\b', '_<key>'),                                            # a run folder's key: a hash of its spec and paths
    (r'[ \t]+', ' '),                                                          # a table's column widths follow its numbers'
]]
# Whether a chapter found its run saved or trained it depends on what ran before on this machine (chapter 04 saves
# it for 05 to 08): the line that says which, and fastai's progress while training, are not results.
TRAINED = re.compile(r'(Using the saved run|No saved run at|Its images are not on this machine|: training the classifier and the labeler|'
                     r': done in \d|: reusing finished predictions|: not reusing it)')
PROGRESS = re.compile(r'█|\|-{3}|Epoch \d+/\d+ :|^\s*epoch\s+train_loss|^\s*\d+\s+[\d.]+\s+[\d.]+.*\d\d:\d\d\s*$')   # fastai's console progress and epoch table
NUM = re.compile(r'(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])')


def _text(o) -> str:
    "The text a reader sees of one output: a stream's text, or a result's text/plain (an HTML table has one beside it)."
    t = o.get('text') if o.output_type == 'stream' else o.get('data', {}).get('text/plain', '')
    return ''.join(t) if isinstance(t, list) else (t or '')


MAX_WIDTH = 800   # stored figures are scaled down to this width and to 256 colours: readable, and notebooks stay small

def _stored_size(w:int, h:int) -> tuple:
    "The size a figure of w x h pixels is stored at."
    return (w, h) if w <= MAX_WIDTH else (MAX_WIDTH, round(h*MAX_WIDTH/w))

def _png_size(o):
    b = base64.b64decode(o['data']['image/png'])
    return struct.unpack('>II', b[16:24])


def shrink_png(data:str) -> str:
    "A base64 PNG at most MAX_WIDTH wide, in 256 colours, optimised."
    import io
    from PIL import Image
    im = Image.open(io.BytesIO(base64.b64decode(data)))
    if im.width > MAX_WIDTH: im = im.convert('RGB').resize(_stored_size(*im.size), Image.LANCZOS)
    buf = io.BytesIO(); im.convert('RGB').quantize(256).save(buf, format='PNG', optimize=True)
    return base64.b64encode(buf.getvalue()).decode()


def _outputs(cell):
    "A code cell's outputs as ('text', masked text, numbers) and ('image', (w, h)), warnings and progress bars left out."
    res = []
    for o in cell.get('outputs', []):
        if o.output_type == 'stream' and o.get('name') == 'stderr': continue          # warnings, progress: not results
        if o.output_type in ('display_data', 'execute_result') and 'image/png' in o.get('data', {}):
            res.append(('image', _png_size(o))); continue
        html_ = ''.join(o.get('data', {}).get('text/html', ''))
        if '<progress' in html_ or 'train_loss' in html_: continue                      # fastai's progress bar and epoch table
        raw = as_terminal(_text(o)) if o.output_type == 'stream' else _text(o)            # as stored (see save_outputs)
        t = ''.join(l for l in re.split(r'(?<=\n)|\r', raw) if not (TRAINED.search(l) or PROGRESS.search(l)))
        if not t.strip(): continue
        for pat, rep in MASKS: t = pat.sub(rep, t)
        res.append(('text', NUM.sub('#', t), [float(n.replace(',', '')) for n in NUM.findall(t)]))
    return res


def compare_outputs(stored, ran, name):
    "Fail when the outputs stored in the notebook are not what the code produces now (see the comment above)."
    code = lambda nb: [c for c in nb.cells if c.cell_type == 'code']
    s_cells, r_cells = code(stored), code(ran)
    fix = f"{name}: its stored outputs are out of date: run `CVL_SAVE_OUTPUTS=1 CVL_QUICK=1 pytest tests/test_notebooks.py -k {name[:-6]}`"
    assert len(s_cells) == len(r_cells), fix
    assert any(c.get('outputs') for c in s_cells) or not any(_outputs(c) for c in r_cells), f"{name}: committed without its outputs. " + fix
    for i, (s, r) in enumerate(zip(s_cells, r_cells)):
        so, ro = _outputs(s), _outputs(r)
        where = f"{fix} (code cell {i}: {s.source.splitlines()[0][:60] if s.source else ''!r})"
        assert [o[0] for o in so] == [o[0] for o in ro], where + ': different outputs'
        if VARIES in s.source: continue
        for a, b in zip(so, ro):
            if a[0] == 'image':
                b1 = _stored_size(*b[1])
                assert all(abs(x - y) <= 0.1*max(x, y) for x, y in zip(a[1], b1)), where + f': image {a[1]} now {b1}'
                continue
            assert a[1] == b[1], where + f': text differs:\n{a[1][:400]}\n---\n{b[1][:400]}'
            bad = [(x, y) for x, y in zip(a[2], b[2]) if abs(x - y) > 0.01 + 0.02*abs(x)]
            assert not bad, where + f': numbers differ (stored, now): {bad[:5]}'


BAR = re.compile(r'█|\|-{3}|Epoch \d+/\d+ :')   # a frame of fastprogress's console bar

def as_terminal(text:str) -> str:
    """`text` as a terminal leaves it: each line as its last carriage return left it, without fastprogress's bars.
    Outside Jupyter, fastai's progress bar prints a frame per step, each over the last with '\r': a terminal shows
    the final one, a stored notebook would show them all, hundreds of lines."""
    lines = []
    for line in text.split('\n'):
        shown = next((seg for seg in reversed(line.split('\r')) if seg.strip()), '') if '\r' in line else line
        if '\r' in line and (not shown.strip() or BAR.search(shown)): continue
        lines.append(shown)
    return '\n'.join(lines)

def save_outputs(executed, src):
    "Store the executed notebook's outputs in `src`, cleaned as nbdev-clean cleans (it keeps outputs), progress bars as a terminal shows them."
    from nbdev.clean import nbdev_clean
    nb = json.loads(executed.read_text())
    for c in nb['cells']:
        c.get('metadata', {}).pop('execution', None)
        for o in c.get('outputs', []):
            if 'image/png' in o.get('data', {}): o['data']['image/png'] = shrink_png(o['data']['image/png'])
            if o.get('output_type') == 'stream':
                t = as_terminal(''.join(o['text']) if isinstance(o['text'], list) else o['text'])
                o['text'] = t.splitlines(True)
        c['outputs'] = [o for o in c.get('outputs', []) if o.get('output_type') != 'stream' or ''.join(o['text']).strip()]
    executed.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    cwd = os.getcwd()
    try: os.chdir(executed.parent); nbdev_clean(fname=str(executed))
    finally: os.chdir(cwd)
    shutil.copy(executed, src)


def test_every_chapter_opens_with_the_same_install_cell():
    """The hidden install cell is the first code cell after `default_exp` in every chapter (the first code cell of a lesson's
    internals notebook, which has no `default_exp`: its cells export into the lesson's module), identical everywhere,
    and the README shows its command."""
    cells = []
    for src in NOTEBOOKS:
        if src.name == 'index.ipynb': continue
        code = [c.source for c in nbformat.read(src, as_version=4).cells if c.cell_type == 'code']
        internals = src.stem.endswith('_internals') and (NOTEBOOKS[0].parent/f"{src.stem.removesuffix('_internals')}.ipynb").exists()
        assert internals or code[0].startswith('#| default_exp'), src.name
        cells.append(code[0] if internals else code[1])
    assert len(set(cells)) == 1, "the install cells differ between chapters"
    cell = cells[0]
    assert cell.startswith('#| hide') and "'google.colab' in sys.modules" in cell and 'check_returncode()' in cell
    specs = re.search(r"for spec in \[(.+?)\]", cell).group(1)
    pypi, git = [s.strip(" '") for s in specs.split(',')]
    readme = (NOTEBOOKS[0].parents[1]/'README.md').read_text()
    assert f"pip install {pypi} || pip install {git}" in readme
    import tomllib
    url = tomllib.loads((NOTEBOOKS[0].parents[1]/'pyproject.toml').read_text())['project']['urls']['Repository']
    assert git == f"git+{url}", (git, url)


def test_no_library_warning_when_a_chapter_starts():
    "A fresh Python that runs the install cell (outside Colab: the import) and then imports fastai and every module prints no warning."
    import subprocess, sys
    cell = next(c.source for c in nbformat.read(NOTEBOOKS[4], as_version=4).cells if 'google.colab' in c.source)
    mods = sorted(p.stem for p in (NOTEBOOKS[0].parents[1]/'classification_vs_labeling').glob('[a-z]*.py'))
    code = cell + '\nfrom fastai.vision.all import *\n' + ''.join(f'import classification_vs_labeling.{m}\n' for m in mods)
    r = subprocess.run([sys.executable, '-W', 'default', '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'Warning' not in r.stderr, r.stderr[-2000:]


def test_colab_starts_on_a_gpu_and_each_lesson_with_its_mode():
    "Every chapter asks Colab for a T4 GPU; a lesson that trains or loads a run first says which mode runs (`runs.start`), and 04 to 08 mount Drive for the saved run."
    import yaml
    side = yaml.safe_load((NOTEBOOKS[0].parent/'sidebar.yml').read_text())['website']['sidebar']['contents']
    lessons = next(x['contents'] for x in side if isinstance(x, dict) and x['section'] == 'Lessons')
    toys = {'01_activations.ipynb', '02_losses.ipynb', '02a_recipes.ipynb', '12b_recipes.ipynb'}   # no run: simulations, toys, committed results
    for src in NOTEBOOKS:
        if src.name == 'index.ipynb': continue
        nb = nbformat.read(src, as_version=4)
        assert nb.metadata.get('accelerator') == 'GPU' and nb.metadata.get('colab', {}).get('gpuType') == 'T4', src.name
        if src.name not in lessons or src.name in toys: continue
        code = [c.source for c in nb.cells if c.cell_type == 'code']
        drive = src.name[:2] in ('04', '05', '06', '07', '08')
        assert code[2].startswith('from classification_vs_labeling.runs import start\nstart(' + ('drive=True' if drive else ')')), (src.name, code[2][:80])
