"""Write README.md from nbs/index.ipynb.

nbdev-readme needs Quarto, which cannot be installed everywhere (not on our CI machine), so this does
the same job with nbformat and nbclient: it executes the notebook, then writes markdown cells as they
are, code cells as fenced Python with their text or markdown outputs, cells marked `#| hide` left out
(`#| echo: false` keeps the output and drops the code); a cell with a line `# readme image: PATH` becomes that
image, the committed copy of the figure it draws. `python tools/make_readme.py --check` fails when
README.md has drifted from the notebook (the test suite runs it).
"""
import sys
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parents[1]

def _directives(src):
    return [l.strip() for l in src.splitlines() if l.strip().startswith('#|')]

def _strip_directives(src):
    return '\n'.join(l for l in src.splitlines() if not l.strip().startswith('#|')).strip()

def _outputs(cell):
    out = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream': out.append(''.join(o.get('text', '')))
        elif 'data' in o and 'text/markdown' in o['data']: out.append(('MD', ''.join(o['data']['text/markdown'])))
        elif 'data' in o and 'text/plain' in o['data']: out.append(''.join(o['data']['text/plain']))
    return out

def execute(nb, cwd):
    "Run the notebook (index reads the committed results and trains nothing), so the README shows real outputs."
    from nbclient import NotebookClient
    NotebookClient(nb, timeout=300, kernel_name='python3', resources={'metadata': {'path': str(cwd)}}).execute()
    return nb

def render(nb_path=ROOT/'nbs'/'index.ipynb'):
    "README.md's text: `nb_path` executed, then written out as markdown."
    return to_markdown(execute(nbformat.read(nb_path, as_version=4), Path(nb_path).parent))

def to_markdown(nb):
    "README.md's text from an executed index notebook (the test suite passes the one it executed)."
    parts = []
    for c in nb.cells:
        d = _directives(c.source)
        if any(x.startswith('#| hide') for x in d): continue
        if c.cell_type == 'markdown': parts.append(c.source.strip())
        elif c.cell_type == 'code':
            img = next((l.split(':', 1)[1].strip() for l in c.source.splitlines() if l.startswith('# readme image:')), None)
            if img: parts.append(f'![{img}]({img})'); continue   # a figure the notebook draws: the README shows its committed copy
            src = _strip_directives(c.source)
            if src and not any(x.startswith('#| echo: false') for x in d): parts.append(f'```python\n{src}\n```')
            for o in _outputs(c):
                if isinstance(o, tuple): parts.append(o[1].strip())
                elif o.strip(): parts.append(f'```\n{o.rstrip()}\n```')
    head = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->'
    return head + '\n\n' + '\n\n'.join(p for p in parts if p) + '\n'

if __name__ == '__main__':
    text, readme = render(), ROOT/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `python tools/make_readme.py`')
        print('README.md is up to date')
    else:
        readme.write_text(text); print(f'wrote {readme}')
