"""Every chapter notebook runs top to bottom in a Jupyter kernel, as a learner runs it, and renders to HTML with its
title, its Colab badge and its plots.

nbdev-test runs the notebooks too, but in-process and with MPLBACKEND=Agg (set by CI), so it never checks that a
figure reaches the page. Here each notebook runs in a real kernel with matplotlib's inline backend, as in Jupyter or
Colab, and we look at the HTML a reader gets.
"""
import html, json, os, re, shutil, sys, time
from pathlib import Path
import nbformat, pytest
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor, CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
NOTEBOOKS = sorted(NBS.glob('[0-9][0-9]_*.ipynb')) + [NBS/'index.ipynb']
BADGE = 'https://colab.research.google.com/github/cvl-course/classification_vs_labeling/blob/main/nbs/{}'
NO_BADGE = {'index.ipynb'}   # the landing page is the README: it links to the chapters instead

# Which notebooks must show a plot? Those whose code draws one: a call to one of our plot_*/show_* functions, a
# fastai show_batch/show_results, or a matplotlib drawing call. We read that from the notebook itself rather than
# keep a list, so a chapter that gains a plot is checked at once; a chapter that draws nothing (00_core, 04_train,
# 11_cli, index today) is not asked for an image it has no reason to have.
DRAWS = re.compile(r'\b(plot_\w+|show_(images|set|batch|results)|plt\.(subplots|figure|plot|hist|imshow|bar|scatter))\(|'
                   r'\.(plot|hist|imshow|bar|barh|scatter|show_batch|show_results)\(')
IMG = re.compile(r'<img\b[^>]*\bsrc="data:image/(png|jpeg);base64,')   # an output image embedded in the page (not the badge)


@pytest.fixture(scope='session')
def jupyter_path(tmp_path_factory):
    "A folder holding a 'python3' kernel spec that runs this interpreter; put first on JUPYTER_PATH it wins over any other."
    d = tmp_path_factory.mktemp('jupyter')
    (d/'kernels'/'python3').mkdir(parents=True)
    spec = dict(argv=[sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                display_name='Python 3 (this interpreter)', language='python')
    (d/'kernels'/'python3'/'kernel.json').write_text(json.dumps(spec))
    return d


def draws(nb) -> bool: return any(DRAWS.search(c.source) for c in nb.cells if c.cell_type == 'code')


@pytest.mark.parametrize('src', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_renders(src, tmp_path, monkeypatch, jupyter_path):
    work = tmp_path/'nbs'                     # a copy, so files a notebook writes beside itself stay out of the repo
    shutil.copytree(NBS, work, ignore=shutil.ignore_patterns('.*'))
    shutil.copytree(NBS.parent/'results', tmp_path/'results')   # index reads the committed run's metrics.json
    monkeypatch.setenv('CVL_QUICK', '1')
    monkeypatch.delenv('MPLBACKEND', raising=False)   # CI sets Agg; a kernel needs the inline backend to show plots
    monkeypatch.setenv('JUPYTER_PATH', os.pathsep.join(p for p in [str(jupyter_path), os.environ.get('JUPYTER_PATH')] if p))
    nb = nbformat.read(work/src.name, as_version=4)
    t = time.time()
    try: ExecutePreprocessor(timeout=900, kernel_name='python3').preprocess(nb, {'metadata': {'path': str(work)}})
    except CellExecutionError as e: pytest.fail(f"{src.name} failed to run:\n{str(e)[-3000:]}", pytrace=False)
    print(f"{src.name}: executed in {time.time() - t:.1f} s")
    code = [c for c in nb.cells if c.cell_type == 'code']
    assert all(c.execution_count for c in code if c.source.strip()), f"{src.name}: some code cells did not run"
    assert not [o for c in code for o in c.outputs if o.output_type == 'error'], f"{src.name}: a cell output is an error"

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
