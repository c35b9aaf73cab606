"Print each chapter notebook's execution time at the end of the run (they run once, in tests/test_notebooks.py, on any worker)."

def pytest_terminal_summary(terminalreporter):
    times = [(r.nodeid.split('[')[-1].rstrip(']'), dict(r.user_properties)['notebook_seconds'])
             for r in terminalreporter.stats.get('passed', []) + terminalreporter.stats.get('failed', [])
             if r.when == 'call' and 'notebook_seconds' in dict(r.user_properties)]
    if not times: return
    terminalreporter.write_sep('-', f"{len(times)} notebooks executed once each, {sum(t for _, t in times):.0f} s in all")
    for name, t in sorted(times): terminalreporter.write_line(f"{name:24s} {t:6.1f} s")


import pytest

@pytest.fixture(autouse=True)
def _torch_threads_back():
    "A test that sets torch's thread count (to make logits repeatable) leaves it as it found it: a run's logits depend on it."
    import torch
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)
