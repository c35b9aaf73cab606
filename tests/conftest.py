"""Every test process trains on one CPU thread, and each chapter notebook's execution time is printed at the end of the run.

One thread: the test command runs two pytest workers on this machine's two cores (`-n 2`). With torch's default (a
thread per core) in each, four OpenMP threads fight over two cores and every training step waits on the others: the
same four chapters took 129 s that way and 64 s on one thread each (2026-12-06, 2 cores). It also makes a chapter's
numbers the same however the suite is run (`-n 2` or one process), so its stored outputs compare with what it prints
now. Subprocesses (the `cvl` command, the full-mode rehearsal, sweep workers) inherit it through the environment; a
test that asks for threads (`--threads`, a pool's share of the cores) still gets them.
"""
import os
import pytest
for _k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ[_k] = '1'
import torch
torch.set_num_threads(1)
from helpers import fresh_fastai_home   # after the threads are set: it imports the package


def pytest_terminal_summary(terminalreporter):
    times = [(r.nodeid.split('[')[-1].rstrip(']'), dict(r.user_properties)['notebook_seconds'])
             for r in terminalreporter.stats.get('passed', []) + terminalreporter.stats.get('failed', [])
             if r.when == 'call' and 'notebook_seconds' in dict(r.user_properties)]
    if not times: return
    terminalreporter.write_sep('-', f"{len(times)} notebooks executed once each, {sum(t for _, t in times):.0f} s in all")
    for name, t in sorted(times): terminalreporter.write_line(f"{name:24s} {t:6.1f} s")


@pytest.fixture(autouse=True)
def _torch_threads_back():
    "A test that sets torch's thread count (to make logits repeatable) leaves it as it found it: a run's logits depend on it."
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _fastai_home_back():
    "A test that points FASTAI_HOME elsewhere (monkeypatch, undone after it) leaves no cached fastai home behind for the next test."
    yield
    fresh_fastai_home()


# The test command (README) gives each test file to one worker whole (`--dist loadscope`: a file's module fixtures,
# such as the full-mode rehearsal, run once) and takes the files in this order (`--no-loadscope-reorder`): the longest
# first, so the two workers end together instead of one starting a five-minute file when the other is done.
LONGEST_FIRST = ['test_fullmode.py', 'test_notebooks.py', 'test_cli.py', 'test_workers.py', 'test_hostile.py',
                 'test_reliability.py', 'test_package.py', 'test_frozen.py', 'test_small_folders.py', 'test_files.py']

def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))   # a stable sort: the rest keep pytest's order
