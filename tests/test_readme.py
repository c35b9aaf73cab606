"README.md must carry the two commands CI runs. (That it matches nbs/index.ipynb is checked where index is executed: tests/test_notebooks.py.)"
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_readme_has_exactly_the_two_commands():
    text = (ROOT/'README.md').read_text()
    assert len(re.findall(r'^pip install -e "\.\[dev\]" && cvl compare$', text, re.M)) == 1
    assert len(re.findall(r'^CVL_QUICK=1 pytest -q -n 2 --dist loadscope --no-loadscope-reorder tests$', text, re.M)) == 1
