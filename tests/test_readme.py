"README.md is generated from nbs/index.ipynb and must carry the two commands CI runs."
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_readme_matches_index_notebook():
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout

def test_readme_has_exactly_the_two_commands():
    text = (ROOT/'README.md').read_text()
    assert len(re.findall(r'^pip install -e "\.\[dev\]" && cvl compare$', text, re.M)) == 1
    assert len(re.findall(r'^CVL_QUICK=1 nbdev-test && pytest -q tests$', text, re.M)) == 1
