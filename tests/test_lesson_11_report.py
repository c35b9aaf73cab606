"""Chapter 11's prose quotes the numbers its run prints: the toy's bootstrap and the report's headline line (mean of two
seeds, held-out items). They are read here from the chapter's stored outputs (tests/test_notebooks.py fails when those
are not what the code prints now), and each number the prose quotes must be one of them, as printed."""
import re
from functools import partial
from helpers import stored_output, stored_prose

prose = partial(stored_prose, '11_report')

def printed() -> dict:
    "The run's printed line, as {name: number as printed}."
    out = stored_output('11_report', 'm = compare(')
    pat = {'ce': r'classifier accuracy (\d\.\d{3})', 'argmax': r'labeler argmax accuracy (\d\.\d{3})', 'exact': r', exact match (\d\.\d{3})',
           'gap': r'gap ([+-]\d\.\d{3}) \[', 'low': r'gap [+-]\d\.\d{3} \[([+-]\d\.\d{3}),', 'high': r'gap [+-]\d\.\d{3} \[[+-]\d\.\d{3}, ([+-]\d\.\d{3})\]',
           'ranking': r'ranking ([+-]\d\.\d{3})', 'decoding': r'decoding ([+-]\d\.\d{3})', 'none': r'no label (\d\.\d{3})', 'several': r'several (\d\.\d{3})',
           'fallback': r'argmax fallback (\d\.\d{3})', 'ece_ce': r'ECE: classifier (\d\.\d{3})', 'ece_t': r'temperature scaling (\d\.\d{3})',
           'ece_bce': r'; labeler (\d\.\d{3})', 'seeds': r'mean of (\d+) seeds'}
    got = {k: re.search(p, out) for k, p in pat.items()}
    assert all(got.values()), f"chapter 11's run no longer prints {[k for k, m in got.items() if not m]}: {out[-600:]}"
    return {k: m.group(1) for k, m in got.items()}

def test_the_toys_lead_is_not_a_lead():
    out = stored_output('11_report', 'M.paired_bootstrap(ce_right')
    diff = float(re.search(r'diff=([-\d.e]+)', out).group(1))
    low = float(re.search(r'ci=\(([-\d.e]+)', out).group(1))
    assert abs(diff - 0.1) < 1e-9 and low <= 0, out
    assert 'A lead of 0.1' in prose() or "lead of 0.1" in prose()

def test_the_prose_quotes_the_runs_numbers():
    n, p = printed(), prose()
    assert n['seeds'] == '2' and 'two seeds' in p
    assert float(n['low']) > 0 and 'stays above 0' in p                                   # the gap's interval excludes 0
    assert abs(float(n['ranking'])) < 0.25*float(n['gap']) and float(n['decoding']) > 0.75*float(n['gap'])   # "nearly all of the gap is decoding"
    assert abs(float(n['fallback']) - float(n['ce'])) <= 0.005                            # "close to the classifier's accuracy"
    quoted = [f"{n['gap']} [{n['low']}, {n['high']}]", n['ranking'], n['decoding'], n['none'], n['several'], n['fallback'],
              n['ece_ce'], n['ece_t'], n['ece_bce']]
    missing = [q for q in quoted if q not in p]
    assert not missing, f"chapter 11's prose no longer quotes {missing} (its run printed {n})"
