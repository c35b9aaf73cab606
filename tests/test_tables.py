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
    fc.test_eq(headings, ['Classify or label: report', 'Reliability diagrams (seed 3; the tables above average both seeds)', 'Skipped files'])
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

# ---------- what ran, unknown settings, a run without held-out classes (issue 23)

def test_the_run_line_says_what_ran_never_a_folder_as_full_mode(tmp_path):
    from classification_vs_labeling.tables import run_words
    folder = {**SETTINGS, 'data': str(tmp_path), 'mode': 'full', 'device': 'cpu', 'machine': 'x86_64, 2 CPU cores'}
    assert run_words(folder) == "your folder, its defaults from the registry's `folder` row, on cpu (x86_64, 2 CPU cores)"
    assert run_words({**SETTINGS, 'data': 'mnist'}) == "`mnist` in quick mode, its defaults from its row of the registry, on cpu"
    assert run_words({'mode': 'learners', 'data': None}).startswith('your own learners')
    text = write_report(tmp_path, TOY, folder, plots={}).read_text()
    assert 'Mode:' not in text and 'full' not in text.split('\n')[2] and 'Run: your folder' in text

def test_unknown_settings_are_left_out_and_listed(tmp_path):
    s = {**{k: None for k in ('data', 'n_items', 'arch', 'pretrained', 'epochs', 'size', 'bs', 'lr', 'device')}, 'ood': 'none',
         'classes': ['a', 'b', 'c'], 'n_valid': 18, 'n_ood': 0, 'seeds': [0], 'mode': 'learners', 'unknown': ['data', 'arch']}
    head = write_report(tmp_path, TOY, {**s, 'epochs': 3}, plots={}, skipped=None).read_text().split('\n')
    fc.test_eq(head[2], 'Data: 3 classes, 18 validation items, 0 out-of-domain items; out-of-domain: none. Model: 3 epoch(s). Seeds: 0. '
                        'Run: your own learners, trained outside cvl (the report read their predictions).')
    fc.test_eq(head[4], 'Not recorded (the models were trained outside cvl): data, arch.')
    assert head[6].startswith('Thresholds and temperatures were fitted on 400 of the validation items')
    assert head[-2] == 'Not recorded: your own loaders read the images.'

def test_no_near_row_and_no_empty_class_list_without_held_out_classes():
    from classification_vs_labeling.analysis import METRICS
    ood = {k: {'label': d.label, 'mean': 0.5, 'sd': None, 'per_seed': [0.5]} for k, d in METRICS.items() if k.endswith(('.far', '.ood'))}
    m = {**TOY, 'metrics': {**TOY['metrics'], **ood}, 'items': {**TOY['items'], 'far': 10, 'ood': 10}, 'held_out': []}
    t = results_table(m)
    assert 'No classes were held out of training, so no unseen image is near' in t and '()' not in t
    assert '| near |' not in t and '| far | 10 |' in t
    t = results_table({**m, 'held_out': ['8', '9']})
    assert 'Near: images of the classes held out of training (8, 9); far: the other unseen images.' in t
