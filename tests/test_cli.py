"""`cvl compare`: the faults and bad inputs it must survive, resuming after a kill, and metrics.json recomputed
independently (scikit-learn, torchmetrics) from predictions.npz alone."""
import json, os, re, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

from helpers import ENV, cvl, digits_tree, one_line, assert_one_line_error, standins, fresh_fastai_home
from classification_vs_labeling.cli import main

def cvl_here(capsys, *args):
    "`cvl` run in this process (a subprocess costs seconds of imports): (exit status, stdout, stderr); argparse's refusals exit, as `cvl` does."
    try: code = main([str(a) for a in args])
    except SystemExit as e: code = e.code
    c = capsys.readouterr()
    return code, c.out, c.err

@pytest.mark.parametrize('args,words', [
    (['--data', 'no/such/folder'], ['no/such/folder']),
    (['--arch', 'resnet35'], ['unknown architecture']),
    (['--epochs', '0'], ['--epochs', 'expected a value in [1, inf], got 0']),
    (['--seeds', '-1'], ['--seeds']),
    (['--seeds', '1', '1'], ['distinct']),
    (['--size', 'big'], ['--size']),
    (['--tune-frac', '1.5'], ['--tune-frac']),
    (['--tune-frac', 'nan'], ['--tune-frac', 'finite']),
    (['--lr', 'inf'], ['--lr', 'finite']),
    (['--alpha', '0'], ['--alpha', 'strictly between 0 and 1']),
    (['--alpha', '1'], ['--alpha']),
    (['--alpha', 'nan'], ['--alpha']),
    (['--alpha', 'ten percent'], ['--alpha']),
    (['--device', 'tpu'], ['--device']),
    (['--colour', 'red'], ['unrecognized']),
    (['--recipe', 'focal'], ['--recipe', 'expected one of default, prior-bias', "'focal'"]),
    (['--label-noise', '1'], ['--label-noise', '[0, 1)']),
    (['--label-noise', '-0.1'], ['--label-noise', '[0, 1)']),
    (['--label-noise', 'lots'], ['--label-noise', 'expected a number', "'lots'"]),
    (['--classes', '1'], ['--classes']),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, args, words):
    "In this process, through `main` (what `cvl` runs); the real process's exit status is checked once, below."
    out = tmp_path/'out'
    one_line(*cvl_here(capsys, 'compare', *args, '--out', out), *words)
    assert not out.exists()

def test_the_cvl_process_itself_exits_2_with_one_line():
    "The command as a shell runs it: a refused flag is exit status 2 and one line on stderr."
    assert_one_line_error(cvl('compare', '--colour', 'red'), 'unrecognized')

def test_cvl_alone_answers_from_the_top_parser_as_the_full_one_would(capsys):
    "`cvl --version`, `cvl --help` and no command are answered by `top_parser`, which imports nothing heavy: the same text and status as `parser`'s."
    import subprocess, time
    from classification_vs_labeling.flags import parser, top_parser
    full, top = parser(), top_parser()
    assert top.format_help() == full.format_help()
    for argv in (['--version'], ['--help'], [], ['--colour', 'red'], ['-h', '--version']):
        got = []
        for prs in (top, full):
            with pytest.raises(SystemExit) as e: prs.parse_args(argv)
            got.append((e.value.code, capsys.readouterr()))
        assert got[0] == got[1], (argv, got)
    code = "import sys; from classification_vs_labeling.cli import main\ntry: main(['--version'])\nexcept SystemExit: pass\nprint(sorted(m for m in ('torch', 'fastai') if m in sys.modules))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=ENV, timeout=120)
    assert r.stdout.splitlines() == [f'cvl {__import__("classification_vs_labeling").__version__}', '[]'], r.stdout + r.stderr

def test_refused_in_process_before_any_work(tmp_path, capsys):
    "`main` itself (as a notebook calls it) answers exit status 2 and one line, and writes nothing."
    from classification_vs_labeling.cli import main
    assert main(['compare', '--arch', 'resnet35', '--out', str(tmp_path/'never')]) == 2
    err = capsys.readouterr().err
    assert 'unknown architecture' in err and len(err.splitlines()) == 1 and not (tmp_path/'never').exists()
    assert main(['bench', '--n', '74', '--out', str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert 'is a folder' in err and len(err.splitlines()) == 1

def test_a_warning_on_the_way_is_a_progress_line_and_stderr_keeps_the_error(tmp_path, capsys, monkeypatch):
    "A warning during a command (the analyses' temperature at a bound, say) is one 'warning:' line where the progress goes; stderr has only the error."
    import functools, warnings
    import classification_vs_labeling.report as R
    from classification_vs_labeling.cli import main
    @functools.wraps(R.compare)              # the flags' defaults are read from its signature
    def compare(**kw):
        warnings.warn("fit_temperature: the fitted temperature 100 lies at an end\nof the search range", UserWarning)
        raise ValueError("data: something after the warning")
    monkeypatch.setattr(R, 'compare', compare)
    shown = warnings.showwarning
    assert main(['compare', '--out', str(tmp_path/'o')]) == 2
    c = capsys.readouterr()
    assert c.err == "cvl compare: error: --data: something after the warning\n", c.err
    assert c.out.splitlines() == ['warning: fit_temperature: the fitted temperature 100 lies at an end\\nof the search range']   # never cut
    assert warnings.showwarning is shown                      # the caller's own display is back

def test_empty_folder_and_single_class(tmp_path, capsys):
    (tmp_path/'empty').mkdir()
    one_line(*cvl_here(capsys, 'compare', '--data', tmp_path/'empty', '--out', tmp_path/'o1')); assert not (tmp_path/'o1').exists()
    digits_tree(tmp_path/'one', classes=(3,), n=10)
    one_line(*cvl_here(capsys, 'compare', '--data', tmp_path/'one', '--out', tmp_path/'o2'), 'class'); assert not (tmp_path/'o2').exists()

def test_failed_download_is_one_line(tmp_path, capsys, monkeypatch):
    "Pretrained weights that cannot be downloaded: one line, not a traceback (a dead proxy makes every download fail; `main` in this process)."
    root = digits_tree(tmp_path/'data', n=10)
    dead = 'http://127.0.0.1:9'
    for k, v in {'TORCH_HOME': str(tmp_path/'torch'), 'HTTPS_PROXY': dead, 'https_proxy': dead, 'HTTP_PROXY': dead, 'http_proxy': dead}.items():
        monkeypatch.setenv(k, v)
    one_line(*cvl_here(capsys, 'compare', '--data', root, '--ood', 'none', '--arch', 'resnet18', '--pretrained', '--size', '32',
                       '--seeds', '0', '--out', tmp_path/'out', '--no-progress'), 'download')

def test_help_documents_the_flags_and_outputs(capsys):
    code, out, _ = cvl_here(capsys, 'compare', '--help')
    assert code == 0
    for w in ['--data', '--ood', '--arch', '--epochs', '--seeds', '--size', '--pretrained', '--no-pretrained', '--out',
              'predictions.npz', 'metrics.json', 'report.md', 'resume']:
        assert w in out, w

def _help(*cmd) -> str:
    "`cvl CMD --help`, in this process, with its lines joined."
    import contextlib, io
    from classification_vs_labeling.flags import parser
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit): parser().parse_args([*cmd, '--help'])
    return ' '.join(out.getvalue().split())

def test_help_is_written_from_the_registry_and_the_functions_defaults(monkeypatch):
    "Every data set and default the help shows is read from where it is decided: change the row, BUDGETS or LR_FACTORS and the help follows."
    import dataclasses, inspect
    from classification_vs_labeling import cli, flags, datasets as DS, sweep as SW
    from classification_vs_labeling.report import compare
    h = _help('compare')
    for n in DS.data_choices():
        d = DS.DATA_SETS[n]
        assert f"{n} {d.help}" in h and f"{d.settings()}, batch size {d.bs}, lr {d.lr:g}" in h, n
    assert f"(default: {DS.default_data(mode='quick')})" in h and f"(default: {' '.join(map(str, inspect.signature(compare).parameters['seeds'].default))})" in h
    monkeypatch.setitem(DS.DATA_SETS, 'mnist', dataclasses.replace(DS.DATA_SETS['mnist'], epochs=7, size=40))
    monkeypatch.setattr(SW, 'BUDGETS', {'quick': (2, 5), 'full': (1, 9)}); monkeypatch.setattr(SW, 'LR_FACTORS', (0.25, 1))
    h, hs = _help('compare'), _help('sweep')
    assert 'epochs per model (default: 7 for mnist; 4 for pets, illustrations, PATH; 5 for glyphs; 3 for clipart, photos)' in h and '40 for mnist' in h and '40px, 7 epoch(s)' in h
    assert 'training budgets in epochs (default: 2 5 for mnist, glyphs, clipart, photos; 1 9 for pets, illustrations, PATH' in hs and '(default: 0.25 1)' in hs
    from classification_vs_labeling.recipes import RECIPES
    for r in RECIPES.values():                                                   # the recipes' help is RECIPES in words
        assert f"{r.name}: {r.describe()}" in h and f"{r.name}: {r.describe()}" in hs, r.name
    src = inspect.getsource(cli) + inspect.getsource(flags)
    for stale in ['224', '28px', '1 3 10', '0.5 1 2 4', "default='mnist'", '2e-3', '1e-2', 'RUN_DEFAULTS']:   # nothing restated by hand
        assert stale not in src, stale

def test_bad_files_are_skipped_and_reported(tmp_path, capsys):
    root = digits_tree(tmp_path/'data', n=30)
    (root/'digit0'/'zero.png').write_bytes(b'')
    good = (root/'digit1'/'0.png').read_bytes(); (root/'digit1'/'cut.png').write_bytes(good[:len(good)//2])
    (root/'digit7'/'notes.png').write_text('not an image')
    Image.fromarray(np.full((28, 28), 200, np.uint8), 'L').save(root/'digit7'/'gray.png')
    Image.new('CMYK', (28, 28), (0, 50, 100, 0)).save(root/'digit0'/'cmyk.jpg')
    out = tmp_path/'out'
    code, stdout, stderr = cvl_here(capsys, 'compare', '--data', root, '--ood', 'none', '--arch', 'small', '--size', '28', '--seeds', '0', '--out', out)   # progress bars left on
    assert code == 0, stderr[-3000:]
    assert '\r' not in stdout and '\r' not in stderr and 'train_loss' not in stdout   # not a terminal: no progress bars, without --no-progress
    report = (out/'report.md').read_text()
    assert "Run: your folder, its defaults from the registry's `folder` row, on cpu" in report and 'Mode:' not in report
    for name in ['zero.png', 'cut.png', 'notes.png']: assert name in report, name
    for name in ['gray.png', 'cmyk.jpg']: assert name not in report.split('## Skipped files')[1], name
    m = json.loads((out/'metrics.json').read_text())
    assert len(m['skipped']) == 3 and m['settings']['n_items'] == 3*30 + 2

@pytest.fixture(scope='module')
def resumed_run(tmp_path_factory):
    "Start a 2-seed run, kill it once seed 0 is saved, run the same command again."
    out = tmp_path_factory.mktemp('run')/'out'
    cmd = [sys.executable, '-m', 'classification_vs_labeling.cli', 'compare', '--seeds', '0', '1', '--out', str(out), '--no-progress']
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    t0 = time.time()
    while not list(out.glob('runs/*_seed0_*/run.npz')):
        assert p.poll() is None, p.stdout.read()[-3000:]
        assert time.time() - t0 < 600, 'seed 0 never finished'
        time.sleep(0.2)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    assert not (out/'metrics.json').exists(), 'the kill came too late to test resuming'
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=900)
    return out, r

def test_kill_and_resume_reuses_finished_seed(resumed_run):
    out, r = resumed_run
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'seed 0: reusing' in r.stdout and 'seed 1: training' in r.stdout
    # a run on the default data warns of nothing: the dry run that checks the split can be scored (random logits) keeps its warnings
    assert r.stderr == '' and 'warning:' not in r.stdout, (r.stderr[-2000:], [l for l in r.stdout.splitlines() if 'warning' in l])
    for f in ['predictions.npz', 'metrics.json', 'report.md', 'accuracy_vs_threshold.png', 'reliability.png',
              'risk_coverage.png', 'ood_histograms.png']:
        assert (out/f).stat().st_size > 0, f
    assert not list(out.rglob('*.tmp*')), 'temporary files left behind'

def test_metrics_json_recomputed_from_predictions_npz(resumed_run):
    "Every number in metrics.json, recomputed from predictions.npz with scikit-learn and torchmetrics."
    import torch
    from sklearn.metrics import accuracy_score, roc_auc_score
    from torchmetrics.functional.classification import multiclass_calibration_error
    out, _ = resumed_run
    m = json.loads((out/'metrics.json').read_text())
    ms, d = m['metrics'], np.load(out/'predictions.npz')
    S, N, K = d['ce_probs'].shape
    assert d['bce_probs'].shape == (S, N, K) and d['ood_ce_probs'].shape[0] == S and d['ood_ce_probs'].shape[2] == K
    assert len(d['classes']) == K and list(d['seeds']) == [0, 1] and d['valid_targets'].shape == (N,)
    held, y = ~d['tune_mask'], d['valid_targets']
    assert 0.3 < held.mean() < 0.7
    onehot = np.eye(K, dtype=int)[y[held]]
    def ece(conf, correct, n_bins=15):   # top-label ECE, equal-width bins, written independently
        bins = np.clip(np.ceil(conf*n_bins).astype(int) - 1, 0, n_bins - 1)
        return sum(abs(correct[bins == b].mean() - conf[bins == b].mean())*(bins == b).mean() for b in range(n_bins) if (bins == b).any())
    per = {k: [] for k in ['ce.accuracy', 'ce.ece', 'bce.exact_match', 'bce.per_label_accuracy', 'bce.argmax_accuracy',
                           'bce.none_rate', 'bce.several_rate', 'bce.ece', 'ce.auroc.ood', 'bce.auroc.ood', 'bce.none_rate.ood',
                           'ce.ece_after_temperature']}
    for s in range(S):
        ce, bce, t = d['ce_probs'][s][held], d['bce_probs'][s][held], d['bce_threshold'][s]
        sets = (bce > t).astype(int)
        per['ce.accuracy'].append(accuracy_score(y[held], ce.argmax(1)))
        per['ce.ece'].append(multiclass_calibration_error(torch.tensor(ce), torch.tensor(y[held]), num_classes=K, n_bins=15, norm='l1').item())
        per['bce.exact_match'].append(accuracy_score(onehot, sets))          # subset accuracy on indicator arrays
        per['bce.per_label_accuracy'].append((onehot == sets).mean())
        per['bce.argmax_accuracy'].append(accuracy_score(y[held], bce.argmax(1)))
        per['bce.none_rate'].append((sets.sum(1) == 0).mean()); per['bce.several_rate'].append((sets.sum(1) >= 2).mean())
        per['bce.ece'].append(ece(bce.max(1), onehot[np.arange(len(bce)), bce.argmax(1)].astype(float)))
        ood_ce, ood_bce = d['ood_ce_probs'][s], d['ood_bce_probs'][s]
        lab = np.r_[np.ones(held.sum()), np.zeros(len(ood_ce))]
        per['ce.auroc.ood'].append(roc_auc_score(lab, np.r_[ce.max(1), ood_ce.max(1)]))
        per['bce.auroc.ood'].append(roc_auc_score(lab, np.r_[bce.max(1), ood_bce.max(1)]))
        per['bce.none_rate.ood'].append(((ood_bce > t).sum(1) == 0).mean())
        T = ms['ce.temperature']['per_seed'][s]
        scaled = torch.tensor(d['ce_logits'][s][held]/T).softmax(1)
        per['ce.ece_after_temperature'].append(multiclass_calibration_error(scaled, torch.tensor(y[held]), num_classes=K, n_bins=15, norm='l1').item())
        # the temperature minimises the tuning items' NLL: nudging it either way does not help
        nll = lambda T_: torch.nn.functional.cross_entropy(torch.tensor(d['ce_logits'][s][~held]/T_), torch.tensor(y[~held])).item()
        assert nll(T) <= min(nll(T*1.1), nll(T/1.1)) + 1e-6
        assert ms['bce.threshold']['per_seed'][s] == pytest.approx(t)
    for key, vals in per.items():
        assert ms[key]['per_seed'] == pytest.approx(vals, abs=2e-5), key
        assert ms[key]['mean'] == pytest.approx(np.mean(vals), abs=2e-5), key
    diff = np.mean(per['ce.accuracy']) - np.mean(per['bce.exact_match'])
    assert ms['diff.gap_total']['mean'] == pytest.approx(diff, abs=1e-9)
    lo, hi = ms['diff.gap_total']['ci95']
    assert lo <= diff <= hi and hi - lo < 0.5
    for k in ['data', 'arch', 'epochs', 'size', 'device', 'versions', 'mode']: assert k in m['settings'], k
    # chapters 05-08's numbers (recomputed one by one in tests/test_summary.py) follow from the file too; near and far are marked
    from classification_vs_labeling.datasets import data_set
    from classification_vs_labeling.summary import metrics_from_arrays
    assert list(d['held_out']) == list(data_set('mnist').held_out) and set(d['ood_kind']) == {'near', 'far'}
    assert all(Path(f).parent.name in d['held_out'] for f, k in zip(d['ood_items'], d['ood_kind']) if k == 'near')
    again = metrics_from_arrays({k: d[k] for k in d.files})
    assert again['metrics'] == ms and again['items'] == m['items']    # JSON floats read back exactly

def test_bench_prints_one_record_side_by_side(tmp_path, capsys):
    "`cvl bench` on the CPU at toy size, two seeds: (a), (b) and (c) measured in one run, one JSON record (`cvl`'s `main`, in this process)."
    code, stdout, stderr = cvl_here(capsys, 'bench', '--device', 'cpu', '--n', '148', '--arch', 'small', '--size', '32', '--bs', '16',
                                    '--seeds', '3', '5', '--out', tmp_path/'bench.jsonl')
    assert code == 0, stderr[-3000:]
    rec = json.loads(stdout.strip().splitlines()[-1])
    assert rec == json.loads((tmp_path/'bench.jsonl').read_text().splitlines()[-1])
    for k in ['a_ce_img_s', 'a_bce_img_s', 'a_pair_img_s', 'b_pair_img_s', 'c_pair_img_s', 'ratio_b_over_a', 'b_pct_of_c']:
        assert rec[k] > 0, k
    assert rec['ratio_b_over_a'] == pytest.approx(rec['b_pair_img_s']/rec['a_pair_img_s'])
    assert rec['b_total_s'] == pytest.approx(rec['b_cache_s'] + rec['b_train_s'])
    assert rec['device'] == 'cpu' and rec['n'] == 148 and rec['arch'] == 'small' and rec['seeds'] == [3, 5]
    assert 'seed 3' in stderr and 'seed 5' in stderr
    for m in ['ce_acc', 'bce_exact_match', 'bce_argmax_acc']:          # per-seed accuracies, and their summary recomputed
        a, b = rec[f'a_{m}_per_seed'], rec[f'b_{m}_per_seed']
        assert len(a) == len(b) == 2 and all(0 <= v <= 1 for v in a + b), m
        assert rec[m]['diff'] == pytest.approx(np.mean(b) - np.mean(a))
        assert rec[m]['seed_sd'] == pytest.approx(np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1))/2))

def test_bench_bad_input(tmp_path, capsys):
    one_line(*cvl_here(capsys, 'bench', '--n', '5'), '--n')
    one_line(*cvl_here(capsys, 'bench', '--arch', 'nope', '--n', '74'), 'unknown architecture')
    one_line(*cvl_here(capsys, 'bench', '--seeds', '1', '1', '--n', '74'), '--seeds')

def test_compare_fast_path_writes_the_same_report(tmp_path, capsys):
    "`--fast` (tensor loader) runs the same comparison: same items, same report files (`cvl`'s `main`, in this process)."
    root = digits_tree(tmp_path/'data', n=30)
    outs = {}
    for name, extra in [('plain', []), ('fast', ['--fast'])]:
        out = tmp_path/name
        code, _, err = cvl_here(capsys, 'compare', '--data', root, '--ood', 'none', '--arch', 'small', '--size', '28', '--seeds', '0',
                                '--out', out, '--no-progress', *extra)
        assert code == 0, err[-3000:]
        outs[name] = np.load(out/'predictions.npz')
    for k in ['classes', 'valid_targets', 'tune_mask', 'valid_items']:
        assert (outs['plain'][k] == outs['fast'][k]).all(), k
    assert outs['fast']['ce_probs'].shape == outs['plain']['ce_probs'].shape

def offline(monkeypatch, **env):
    """This process as a reader's offline: `env` set (FASTAI_HOME, TORCH_HOME...) and every proxy dead. In this process,
    not a new one: fastai, torch and urllib read these when they are called, and a new interpreter's imports cost seconds."""
    for k in ('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'): monkeypatch.setenv(k, 'http://127.0.0.1:9')
    for k, v in env.items(): monkeypatch.setenv(k, str(v))
    fresh_fastai_home()                                               # conftest forgets it again after the test


def test_compare_pets_through_the_real_download_code_offline(tmp_path, capsys, monkeypatch):
    """`--data pets` goes through fastai's `untar_data(URLs.PETS)`: on a fastai home that already holds the extracted
    folder it must find it without a download (every proxy is dead), skip the odd files, and both training paths must
    use the same items, including the out-of-domain letters and photos that full mode adds."""
    from classification_vs_labeling.pets_standin import PETS_BREEDS
    standins.pets(tmp_path/'home', n_per_class=2, size=(120, 90))       # PETS' layout and odd files, where untar_data looks
    offline(monkeypatch, FASTAI_HOME=tmp_path/'home', CVL_QUICK='0')
    preds = {}
    for name, extra in [('plain', []), ('fast', ['--fast'])]:
        out = tmp_path/name
        code, _, err = cvl_here(capsys, 'compare', '--data', 'pets', '--arch', 'small', '--no-pretrained', '--size', '32', '--seeds', '0',
                                '--out', out, '--no-progress', *extra)
        assert code == 0, err[-3000:]
        m = json.loads((out/'metrics.json').read_text())
        from classification_vs_labeling.datasets import PETS_HELD_OUT
        assert m['settings']['data'] == 'pets' and m['settings']['classes'] == sorted(set(PETS_BREEDS) - set(PETS_HELD_OUT))   # 33 breeds trained
        assert m['settings']['n_items'] == 2*(37 - len(PETS_HELD_OUT)) + 2     # + the CMYK and grayscale JPEGs; held-out breeds are out-of-domain
        assert {Path(p).name for p, _ in m['skipped']} == {'Abyssinian_4.jpg', 'Abyssinian_5.mat'}   # empty, and not an image
        report = (out/'report.md').read_text()
        assert 'Abyssinian_4.jpg' in report and 'Abyssinian_5.mat' in report
        preds[name] = np.load(out/'predictions.npz')
    for k in ['classes', 'valid_items', 'valid_targets', 'tune_mask']:
        assert (preds['plain'][k] == preds['fast'][k]).all(), k
    assert len(preds['plain']['ood_ce_probs']) == len(preds['fast']['ood_ce_probs']) > 0


def test_environment_never_changes_an_explicit_pets_run(tmp_path, capsys, monkeypatch):
    """`cvl compare --data pets` runs with the same settings, items and out-of-domain probes whether or not CVL_QUICK and
    CVL_SCALE are set (the CLI's own --scale decides), and run.json records the augmentation and the scale it used.
    Full mode's defaults (a pretrained resnet34, augmentation), offline: stand-in PETS and weights where the downloads land."""
    standins.pets(tmp_path/'home', n_per_class=2, size=(96, 72)); standins.weights(tmp_path/'torch')
    offline(monkeypatch, FASTAI_HOME=tmp_path/'home', TORCH_HOME=tmp_path/'torch')
    runs = {}
    for name, extra in [('plain', {}), ('env', {'CVL_QUICK': '1', 'CVL_SCALE': '0.5'})]:
        for k in ('CVL_QUICK', 'CVL_SCALE'): monkeypatch.delenv(k, raising=False)
        for k, v in extra.items(): monkeypatch.setenv(k, v)
        out = tmp_path/name
        code, _, err = cvl_here(capsys, 'compare', '--data', 'pets', '--scale', '0.02', '--seeds', '0', '--out', out, '--no-progress')
        assert code == 0, err[-3000:]
        runs[name] = json.loads((out/'run.json').read_text()), np.load(out/'predictions.npz')
    (a, pa), (b, pb) = runs['plain'], runs['env']
    assert a == b
    assert a['augment'] is True and a['scale'] == 0.02 and a['pretrained'] is True and a['arch'] == 'resnet34'
    from classification_vs_labeling.datasets import PETS_HELD_OUT
    assert a['size'] == 32 and a['epochs'] == 1 and a['mode'] == 'full'
    assert a['n_ood'] == 20 + 2*len(PETS_HELD_OUT)      # 10 letters and 10 photos at scale 0.02, and the held-out breeds' 2 images each
    for k in ['classes', 'valid_items', 'ood_items', 'tune_mask']: assert (pa[k] == pb[k]).all(), k

# ---------- the command line on your own folder: --no-augment, --held-out, --valid-pct (issue 23)

@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    return digits_tree(tmp_path_factory.mktemp('own')/'data', n=20)

def test_folder_flags_reach_the_run_spec_and_the_split(folder):
    from classification_vs_labeling.cli import _spec
    from classification_vs_labeling.flags import parser
    from classification_vs_labeling.runs import load_data
    parse = lambda *flags: _spec(parser().parse_args(['compare', '--data', str(folder), '--ood', 'none', *flags]))
    s = parse()                                                                    # the folder row's defaults
    assert (s.augment, s.held_out, s.valid_pct) == (True, (), 0.2)
    s = parse('--no-augment', '--held-out', 'digit7', '--valid-pct', '0.3')
    assert (s.augment, s.held_out, s.valid_pct) == (False, ('digit7',), 0.3)
    iset = load_data(s)
    assert iset.classes == ['digit0', 'digit1'] and len(iset.valid_idx) == 12 and len(iset.items) == 40   # 30% of 40 validate
    assert [Path(f).parent.name for f in iset.ood_items] == ['digit7']*20                                # held out: near unseen images
    assert parse('--held-out', 'none').held_out == () and parse('--augment').augment is True

@pytest.mark.parametrize('flags,words', [
    (['--held-out', 'digit9'], ['--held-out: digit9 is not a class of', 'its classes: digit0, digit1, digit7']),
    (['--held-out', 'digit0', 'digit1'], ['--held-out: holding out', 'expected 2 or more classes']),
    (['--valid-pct', '1'], ['--valid-pct', 'got 1']),
    (['--valid-pct', '0'], ['--valid-pct', 'got 0']),
])
def test_folder_flags_refused_in_one_line(folder, tmp_path, capsys, flags, words):
    from classification_vs_labeling.cli import main
    assert main(['compare', '--data', str(folder), '--ood', 'none', '--arch', 'small', *flags, '--out', str(tmp_path/'never')]) == 2
    one_line(2, '', capsys.readouterr().err, *words)
    assert not (tmp_path/'never').exists()

def test_a_resume_with_other_folder_settings_is_refused(folder, tmp_path):
    "The three settings are in the run's record: the same --out with other values is refused before any work."
    from classification_vs_labeling.runs import load_data
    from classification_vs_labeling.record import run_settings, start_out, check_out
    from classification_vs_labeling.spec import RunSpec
    spec = RunSpec(str(folder), ood='none', arch='small', held_out=('digit7',))
    start_out(tmp_path, run_settings(load_data(spec), spec, [0]))
    check_out(tmp_path, run_settings(load_data(spec), spec, [0, 1]))              # the same settings, another seed: resumes
    for change, what in [(dict(augment=False), 'other settings (augment)'), (dict(valid_pct=0.3), 'other data'),
                         (dict(held_out=()), 'other data')]:
        other = spec.replace(**change)
        with pytest.raises(ValueError, match=re.escape(what)): check_out(tmp_path, run_settings(load_data(other), other, [0]))
