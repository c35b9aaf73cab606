"""Tests for classification_vs_labeling.paramdocs: the parameter notes it reads are fastcore's docments (what nbdev's
show_doc tables), for every public function, class and method; help() shows them once the package imports a module."""
import dataclasses, importlib, inspect, subprocess, sys, types
from pathlib import Path
import pytest
from fastcore.docments import docments
from classification_vs_labeling.paramdocs import param_notes, document_params, _comment
from helpers import own_params, public_symbols, public_methods

ROOT = Path(__file__).resolve().parents[1]

def _everything():
    "(module, qualified name, object) for every public function, class and public method the package defines."
    for m, _, obj in public_symbols():
        if inspect.isfunction(obj): yield m, obj.__qualname__, obj
        else:
            yield m, obj.__qualname__ if dataclasses.is_dataclass(obj) else obj.__qualname__ + '.__init__', obj
            for f, _ in public_methods(obj): yield m, f.__qualname__, f

def test_param_notes_are_fastcores_docments_everywhere():
    notes, checked = {}, 0
    for m, qual, obj in _everything():
        if m not in notes: notes[m] = param_notes(m)
        own = own_params(obj)                                  # not the parameters `@delegates` copies in
        ref = {k: v for k, v in docments(obj, returns=False).items() if k in own and v}
        key = obj.__init__.__qualname__ if qual.endswith('.__init__') else qual   # an inherited __init__: where it is defined
        got = {k: v for k, v in notes[m].get(key, {}).items() if k in own}
        assert got == ref, f"{m.__name__}.{qual}"
        checked += bool(ref)
    assert checked > 90

@pytest.mark.parametrize('line,want', [('    thresh=0.5,   # a threshold\n', 'a threshold'), ("    sep='#',\n", None),
                                       ("    sep='#', # the '#' in it\n", "the '#' in it"), ('    x):  #\n', ''),
                                       ('  """an open string # not a comment\n', None), ('a = f(b,  # open paren\n', 'open paren')])
def test_comment_is_read_by_the_tokenizer(line, want):
    assert _comment(line) == want

def test_document_params_appends_once_and_a_second_call_changes_nothing(tmp_path):
    src = ('"A module."\n__all__ = ["f", "g", "C"]\n'
           'def f(a,       # the first\n      b:int=2,  # the second\n      c=3):\n    "Add."\n    return a + b + c\n'
           'def g(a, b): return a\n'
           'class C:\n    "A class."\n    def __init__(self, x,  # an x\n                 y=0): self.x = x\n'
           '    def run(self, n:int=1,  # how many\n            ): "Run."\n')
    path = tmp_path/'_paramdocs_sample.py'
    path.write_text(src)
    try:
        sys.path.insert(0, str(path.parent))
        m = importlib.import_module('_paramdocs_sample')
        assert document_params(m) == 3                                     # f, C, C.run; g has no notes
        assert m.f.__doc__ == 'Add.\n\nParameters\n----------\na\n    the first\nb : int\n    the second'
        assert m.C.__doc__.endswith('Parameters\n----------\nx\n    an x') and m.C.run.__doc__.endswith('n : int\n    how many')
        assert m.g.__doc__ is None and document_params(m) == 0 and m.f.__doc__.count('Parameters') == 1
    finally:
        sys.path.remove(str(path.parent)); sys.modules.pop('_paramdocs_sample', None)

def test_the_package_documents_each_module_as_it_is_imported():
    "In a fresh Python: help() of a package function shows its notes; a function defined outside the package is left alone."
    code = ("import classification_vs_labeling.thresholds as m, pydoc\n"
            "t = pydoc.render_doc(m.best_threshold, renderer=pydoc.plaintext)\n"
            "assert 'Parameters' in t and 'the grid to choose from' in t, t\n"
            "def mine(x,  # a note\n         ): 'Mine.'\n"
            "assert mine.__doc__ == 'Mine.'\nprint('ok')")
    r = subprocess.run([sys.executable, '-W', 'error::RuntimeWarning', '-c', code], capture_output=True, text=True, cwd=ROOT,
                       env={'PYTHONPATH': str(ROOT), 'PATH': '/usr/bin:/bin'}, timeout=120)
    assert r.stdout.strip() == 'ok', r.stderr[-2000:]
