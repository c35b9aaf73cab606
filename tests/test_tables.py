"""tables: report.md's markdown from metrics.json (chapter 11a): rows only for the numbers present, the interval read in
words, names from the file system escaped (checked by parsing the output with markdown-it, a CommonMark parser), no
training."""
from fastcore import test as fc
from markdown_it import MarkdownIt
from classification_vs_labeling.tables import results_table, interval_line, md_code, md_text, write_report

HOSTILE = 'a`b<img src=x onerror=alert(1)>\n# Heading [link](http://x).png'
TOY = {'metrics': {'ce.accuracy': {'mean': 0.9, 'sd': 0.028, 'per_seed': [0.88, 0.92]},
                   'bce.exact_match': {'mean': 0.85, 'sd': 0.014, 'per_seed': [0.84, 0.86]},
                   'diff.gap_total': {'mean': 0.05, 'sd': 0.014, 'ci95': [0.01, 0.09], 'per_seed': [0.04, 0.06]}},
       'items': {'tune': 400, 'held': 400}}

def with_ci(m, ci):
    "`m` with another interval on the paired difference."
    return {**m, 'metrics': {**m['metrics'], 'diff.gap_total': {**m['metrics']['diff.gap_total'], 'ci95': ci}}}
SETTINGS = dict(data='d`<b>x', ood='none', n_items=90, classes=['a', 'b', 'c'], n_valid=18, n_ood=0, arch='small', pretrained=False,
                epochs=1, size=28, bs=16, lr=0.01, seeds=[3, 5], device='cpu', mode='quick')

def test_md_code_fences_and_escapes():
    fc.test_eq(md_code('plain.png'), '`plain.png`')
    fc.test_eq(md_code('a`b'), '``a`b``')                  # a fence longer than any run of backticks inside
    fc.test_eq(md_code('`x'), '`` `x ``')                  # a backtick at an end: padded, as CommonMark strips one space
    s = md_code(HOSTILE)
    assert '\n' not in s and s.startswith('``') and '\\n# Heading' in s

def test_md_text_escapes_what_markdown_and_html_act_on():
    fc.test_eq(md_text('<b>'), '\\<b\\>')
    fc.test_eq(md_text('line\nbreak'), 'line\\\\nbreak')   # the newline as the escape \n, its backslash escaped: it shows as \n

def test_results_table_rows_only_for_numbers_present():
    t = results_table(TOY).splitlines()
    fc.test_eq(t[2], '| Classifier accuracy (argmax) | 0.900 | 0.880, 0.920 |')
    fc.test_eq(t[-1], '| Classifier accuracy - labeler exact match | +0.050 | 95% CI [+0.010, +0.090] |')
    fc.test_eq(len(t), 5)
    toks = MarkdownIt().enable('table').parse(results_table(TOY))
    fc.test_eq(sum(k.type == 'tr_open' for k in toks), 4)  # header and three rows: a well-formed table

def test_interval_line_says_which_case_holds():
    assert 'excludes 0' in interval_line({'ci95': [0.01, 0.09], 'n_held': 400})
    assert 'excludes 0' in interval_line({'ci95': [-0.09, -0.01]})
    assert 'too few items' in interval_line({'ci95': [-0.14, 0.43], 'n_held': 7})
    s = interval_line({'ci95': [-0.012, 0.02], 'n_held': 2000})
    assert s.startswith('With 2000 held-out items') and 'equally accurate to within 0.020' in s
    assert interval_line({'ci95': [-0.05, 0.05]}).startswith('The 95% interval')   # no item count: not invented

def test_write_report_shows_hostile_names_as_text(tmp_path):
    m = with_ci(TOY, [-0.01, 0.02])
    f = write_report(tmp_path, m, SETTINGS, plots={'reliability': tmp_path/'reliability.png'},
                     skipped=[(HOSTILE, 'cannot decode (x.png: <b>bold</b> *not* _this_)'), ('ok.png', 'empty file')])
    fc.test_eq(f, tmp_path/'report.md')
    tokens = MarkdownIt().parse(f.read_text())
    inline = [c for t in tokens if t.type == 'inline' for c in t.children]
    assert not [t for t in tokens + inline if t.type.startswith(('html', 'link'))]          # no raw HTML, no links
    fc.test_eq([c.attrs['src'] for c in inline if c.type == 'image'], ['reliability.png'])  # a section for each plot given
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == 'heading_open']
    fc.test_eq(headings, ['Classify or label: report', 'Reliability diagrams', 'Skipped files'])
    codes = [c.content for c in inline if c.type == 'code_inline']
    assert 'd`<b>x' in codes and HOSTILE.replace('\n', '\\n') in codes
    fc.test_eq(sum(t.type == 'list_item_open' for t in tokens), 2)
    text = f.read_text()
    assert 'Seeds: 3, 5.' in text and 'equally accurate to within 0.020' in text

def test_write_report_with_nothing_skipped(tmp_path):
    text = write_report(tmp_path, TOY, SETTINGS, plots={}).read_text()
    assert text.endswith('## Skipped files\n\nNone: every file found was a readable image.\n')

def test_write_report_names_both_out_of_domain_kinds(tmp_path):
    "The header names the held-out classes (near) beside the probes (far); a hostile class name stays code."
    m = {**TOY, 'held_out': ['8', HOSTILE]}
    text = write_report(tmp_path, m, {**SETTINGS, 'ood': 'letters+photos'}, plots={}).read_text()
    assert "out-of-domain: classes `8`, " in text and "held out (near) + `letters+photos` (far). Model:" in text
    tokens = MarkdownIt().parse(text)
    assert not [t for t in tokens if t.type.startswith('html')]
    fc.test_eq([tokens[i + 1].content for i, t in enumerate(tokens) if t.type == 'heading_open'], ['Classify or label: report', 'Skipped files'])
    assert 'out-of-domain: none. Model:' in write_report(tmp_path, TOY, SETTINGS, plots={}).read_text()
