"""Every lesson reads as a lesson: question, toy example, real data, picture, meaning, limits.

The lessons are the chapters in the sidebar's Lessons section (nbs/sidebar.yml). Each one:
- has its level-2 headings in the course's order: "The question ...", "A toy ...", "Real data ...", "What it means ...",
  "Limits ..." (other headings may sit between them);
- reaches real data within its first third, and shows a picture (a stored image output) within its first 40%;
- is at most about half code (lines of code cells over all lines);
- keeps only a few visible checks (`assert`, `test_eq`, `test_fail`, ...): the checks of its prose's numbers live in
  tests that read its stored outputs (`helpers.stored_outputs`), and machinery that is not the lesson lives in a
  reference notebook of the Internals section.

Positions are measured in source lines, the way a reader scrolls.
"""
import json, re
import pytest, yaml
from helpers import ROOT

NBS = ROOT/'nbs'
SIDEBAR = yaml.safe_load((NBS/'sidebar.yml').read_text())['website']['sidebar']['contents']
LESSONS = [Path_ for s in SIDEBAR if isinstance(s, dict) and s.get('section') == 'Lessons' for Path_ in s['contents']]
INTERNALS = [p for s in SIDEBAR if isinstance(s, dict) and s.get('section') == 'Internals' for p in s['contents']]
ORDER = ['The question', 'A toy', 'Real data', 'What it means', 'Limits']
CHECK = re.compile(r'^\s*(assert\b|test_(eq|ne|fail|close|is|warns|eq_type|stdout)\b)')
HIDDEN = re.compile(r'^#\|\s*(hide|echo:\s*false)\s*$', re.M)
MAX_CODE, MAX_REAL, MAX_PICTURE, MAX_CHECKS = 0.55, 1/3, 0.40, 6


def layout(name):
    "Per cell: (kind, source lines, start line); total lines; and the stored outputs' kinds per cell."
    cells = json.loads((NBS/name).read_text())['cells']
    rows, at = [], 0
    for c in cells:
        src = ''.join(c['source']).splitlines()
        kinds = [k for o in c.get('outputs', []) for k in ([o['output_type']] + list(o.get('data', {})))]
        rows.append((c['cell_type'], src, at, kinds)); at += len(src)
    return rows, at


def headings(rows):
    "(level-2 heading text, its line) in order."
    return [(l[3:].strip(), at + i) for kind, src, at, _ in rows if kind == 'markdown' for i, l in enumerate(src) if l.startswith('## ')]


def test_the_sidebar_lists_lessons_and_internals_and_every_notebook_once():
    listed = LESSONS + INTERNALS + ['index.ipynb']
    assert sorted(listed) == sorted(p.name for p in NBS.glob('*.ipynb')), "nbs/sidebar.yml must list each notebook once"
    assert len(LESSONS) >= 10


@pytest.mark.parametrize('name', LESSONS)
def test_a_lesson_follows_question_toy_real_data_meaning_limits(name):
    rows, total = layout(name)
    hs = headings(rows)
    found = [next((at for h, at in hs if h.lower().startswith(w.lower())), None) for w in ORDER]
    missing = [w for w, at in zip(ORDER, found) if at is None]
    assert not missing, f"{name}: no '## {missing[0]} ...' heading; its level-2 headings are {[h for h, _ in hs]}"
    assert found == sorted(found), f"{name}: the headings {ORDER} should come in that order, not at lines {found}"
    real = found[ORDER.index('Real data')]
    assert real <= MAX_REAL*total, f"{name}: real data starts at {real/total:.0%} of the page; it should come within the first third"


@pytest.mark.parametrize('name', LESSONS)
def test_a_lesson_shows_a_picture_early(name):
    rows, total = layout(name)
    first = next((at for kind, _, at, kinds in rows if kind == 'code' and any(k.startswith('image/') for k in kinds)), None)
    assert first is not None, f"{name}: no stored picture (commit it with its quick-mode outputs)"
    assert first <= MAX_PICTURE*total, f"{name}: its first picture comes at {first/total:.0%} of the page; a lesson leads with one"


@pytest.mark.parametrize('name', LESSONS)
def test_a_lesson_is_at_most_about_half_code_with_few_visible_checks(name):
    rows, total = layout(name)
    code = sum(len(src) for kind, src, _, _ in rows if kind == 'code')
    assert code <= MAX_CODE*total, f"{name}: {code/total:.0%} of its lines are code; move machinery to its Internals notebook"
    checks = [l for kind, src, _, _ in rows if kind == 'code' and not HIDDEN.search('\n'.join(src[:3])) for l in src if CHECK.match(l)]
    assert len(checks) <= MAX_CHECKS, f"{name}: {len(checks)} visible checks; keep a few that teach, test the rest from its stored outputs"

