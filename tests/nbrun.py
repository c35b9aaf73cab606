"""Run a chapter notebook once, the way `nbdev-test` runs it, and keep what it printed and drew.

`nbdev-test` executes every notebook in-process with execnb's `CaptureShell` (matplotlib's inline backend on, the
project's `tst_flags` skipped) and throws the outputs away. The tests need those outputs, to check that what a
reader sees in Colab is there: a title, a badge, the plots. So we call nbdev's own `test_nb` on a copy of the
notebook with `save=True`, and read the executed copy back: one execution per notebook, by nbdev's own engine.

`python tests/nbrun.py RESULTS NB... [NAME=VALUE NB...]` runs several notebooks in order in one fresh Python, in the
environment it is given (a NAME=VALUE argument sets a variable for the notebooks after it), and appends one JSON line
per notebook to RESULTS (name, passed, seconds); before each, a line `=== <name>` on stderr marks where its
traceback, if any, begins. The full-mode rehearsal runs the chapters so.
"""
import json, os, shutil, sys, time
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
NOTEBOOKS = sorted(NBS.glob('[0-9][0-9]*_*.ipynb')) + [NBS/'index.ipynb']   # with split chapters: 03a_files sorts after 03_data


def work_copy(dest:Path) -> Path:
    "Copy nbs/ (and results/, which index reads) under `dest`, so files a notebook writes beside itself stay out of the repo."
    work = Path(dest)/'nbs'
    shutil.copytree(NBS, work, ignore=shutil.ignore_patterns('.*'))
    shutil.copytree(ROOT/'results', Path(dest)/'results', ignore=shutil.ignore_patterns('*.npz'))
    shutil.copy(ROOT/'pyproject.toml', Path(dest)/'pyproject.toml')   # nbdev finds its config (tst_flags) from here
    return work


# Which chapters never ask for the mode? Their code reads neither CVL_QUICK nor CVL_SCALE, directly or through the
# package (`core.quick_mode`, `core.scale` and all that call them), except to print the mode line (`datasets.mode_line`,
# which every lesson's `start()` prints: text, not a branch), so full mode runs exactly their quick-mode code:
# the full-mode rehearsal (tests/test_fullmode.py) leaves them out, and tests/test_notebooks.py checks, on every quick
# execution, that this list is exactly the chapters that did not ask.
MODE_VARS = ('CVL_QUICK', 'CVL_SCALE')
MODE_FREE = {'00_core', '00a_paramdocs', '00b_result', '01_activations_internals', '02_losses_internals', '02a_recipes',
             '02a_recipes_internals', '03a_files', '03b_probes', '03c_offline', '03c_offline_internals', '03d_glyphs',
             '03g_frozen', '03i_pets_standin', '04_train_internals', '04a_predictions', '04b_costs',
             '05_metrics_internals', '05a_thresholds', '06_calibration_internals', '07_ood_internals',
             '08_conformal_internals', '08a_coverage', '09_multilabel', '10_count_internals', '10a_seedview',
             '10b_analysis', '10c_summary', '11a_tables', '12b_recipes', '12a_sweep_plots', '12b_recipes_internals',
             '12c_sweep_markdown', '15_cli', '15a_flags', '16_learners_internals', 'index'}

TEXT_ONLY = {'mode_line'}   # functions of the package whose reads of the mode only word a line of text

def _for_text() -> bool:
    "Whether the mode is being read by one of `TEXT_ONLY` (of this package), to word a line rather than to choose what runs."
    f = sys._getframe(2)
    while f is not None:
        if f.f_code.co_name in TEXT_ONLY and 'classification_vs_labeling' in f.f_code.co_filename: return True
        f = f.f_back
    return False

class _Watched(type(os.environ)):
    "`os.environ` (the same variables), noting in `asked` each read of a mode variable that can change what runs."
    def __getitem__(self, key):
        if key in MODE_VARS and not _for_text(): self.asked.add(key)
        return super().__getitem__(key)

def run(nb_path:Path, asked:set|None=None) -> tuple[bool, float, nbformat.NotebookNode]:
    """(passed, seconds, executed notebook) of `nb_path`, executed in place by nbdev's `test_nb` with the project's skip
    flags; the mode variables it read (`MODE_VARS`) are added to `asked`."""
    from nbdev.config import get_config
    from nbdev.test import test_nb
    cfg = get_config(Path(nb_path).parent)
    flags = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags or [])
    import classification_vs_labeling.datasets as D
    D._shown = False                     # a chapter runs in a fresh kernel: its mode line prints once, whatever ran before here
    import warnings, pandas as pd, matplotlib.pyplot as plt
    with warnings.catch_warnings():      # nor do its tables take the display options an earlier chapter set (01's width)
        warnings.simplefilter('ignore'); pd.reset_option('all')
    plt.close('all')
    t0 = time.time()
    cwd = os.getcwd()
    env = os.environ
    os.environ = _Watched(env._data, env.encodekey, env.decodekey, env.encodevalue, env.decodevalue)
    os.environ.asked = set() if asked is None else asked
    try: ok, _ = test_nb(nb_path, skip_flags=flags, save=True, basepath=cfg.config_path, cell_timeout=cfg.cell_timeout)
    finally: os.chdir(cwd); os.environ = env
    nb = json.loads(Path(nb_path).read_text())
    for c in nb['cells']: c.get('metadata', {}).pop('execution', None)   # execnb's per-cell timings: not in the notebook schema
    return ok, time.time() - t0, nbformat.reads(json.dumps(nb), as_version=4)


def main(results, *args):
    "Run the notebooks in `args` in order in this process, setting each NAME=VALUE on the way; one JSON line per notebook in `results`."
    for a in args:
        if not a.endswith('.ipynb'):
            k, v = a.split('=', 1); os.environ[k] = v; continue
        nb = Path(a)
        sys.__stderr__.write(f"\n=== {nb.name}\n"); sys.__stderr__.flush()
        ok, secs, _ = run(nb)
        with open(results, 'a') as f: f.write(json.dumps(dict(name=nb.name, passed=bool(ok), seconds=round(secs, 1))) + '\n')


if __name__ == '__main__': main(*sys.argv[1:])
