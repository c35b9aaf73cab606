"""Chapter 12b's prose quotes the committed sweeps under results/: each number it quotes, as it quotes it, is in those
tables (read through the package, as the chapter reads them) and still in the chapter's prose, so a new sweep or an
edit of the text that leaves the other behind fails here. The chapter itself keeps only its toy's two checks."""
import pandas as pd
from functools import partial
from helpers import ROOT, stored_prose
from classification_vs_labeling.findings import load_results, ci_text

prose = partial(stored_prose, '12b_recipes')

def row(df, **by):
    "The one row of `df` matching `by`."
    m = df[pd.concat([df[k] == v for k, v in by.items()], axis=1).all(axis=1)]
    assert len(m) == 1, (by, len(m))
    return m.iloc[0].to_dict()

def ci(r, key): return ci_text({k: v for k, v in r.items() if not k.endswith('_sd')}, key)   # as the prose writes it: without the sd

R, D, FB = 'diff.gap_ranking', 'diff.gap_decoding', 'diff.gap_fallback'
def quoted(texts):
    "Each of `texts` is in the chapter's prose (line breaks read as spaces)."
    p = ' '.join(prose().split())
    for t in texts: assert ' '.join(t.split()) in p, f"chapter 12b no longer says {t!r}"

def test_classes():
    gk = load_results('classes_quick')
    d1 = lambda K, rec='default', e=1: row(gk, n_classes=K, recipe=rec, epochs=e)
    got = [ci(d1(2), R), ci(d1(8), R), ci(d1(20), R), ci(d1(49), R), ci(d1(49, 'prior-bias'), R), ci(d1(49, e=3), R),
           ci(d1(49, 'prior-bias', 3), R), ci(d1(49, 'prior-bias'), D), ci(d1(49, 'prior-bias', 3), D)]
    assert got == ['+0.020 [-0.007, +0.047]', '+0.082 [+0.056, +0.108]', '+0.278 [+0.257, +0.300]', '+0.433 [+0.418, +0.448]',
                   '+0.027 [+0.019, +0.035]', '+0.037 [+0.030, +0.045]', '+0.002 [-0.003, +0.008]', '+0.327 [+0.313, +0.339]',
                   '+0.122 [+0.113, +0.131]']
    quoted(got)
    assert round(d1(49)[R + '_sd'], 3) == 0.020 and round(d1(2)[R + '_sd'], 2) == 0.06 and round(d1(2)[D], 3) == 0.013
    assert (round(d1(49)['bce.argmax_accuracy'], 3), round(d1(49)['ce.accuracy'], 3), round(d1(49, 'prior-bias')['bce.argmax_accuracy'], 3)) == (0.279, 0.712, 0.685)
    one = gk[(gk.epochs == 1) & (gk.recipe == 'default')].sort_values('n_classes')
    assert one[R].is_monotonic_increasing                                                  # ranking grows with K after one epoch
    quoted(['(sd 0.020 over\nseeds)', '(argmax 0.685)', '(+0.013 at K = 2', '(sd 0.06)', '(+0.43 at K = 49)', 'small after three (+0.04)'])

def test_recipes_on_the_digits():
    gr = load_results('recipes_quick')
    r = lambda rec, e: row(gr, recipe=rec, epochs=e)
    assert (gr[R + '_low'] <= 0).all() and (gr[R + '_high'] >= 0).all()                    # every ranking interval holds 0
    quoted([ci(r('default', 1), R), ci(r('mixup', 1), R), ci(r('default', 1), FB), ci(r('mixup', 1), FB), ci(r('mixup', 1), D), ci(r('mixup', 3), D)])
    for e, lo, hi in ((1, 0.018, 0.026), (3, 0.004, 0.016)):
        d = gr[gr.epochs == e][D].round(3)
        assert (d.min(), d.max()) == (lo, hi), (e, d.tolist())
    for e in (1, 3): assert gr.loc[gr[gr.epochs == e][D].idxmax(), 'recipe'] == 'mixup'     # mixup's decoding gap is the largest at both budgets
    fb = gr[~((gr.recipe == 'mixup') & (gr.epochs == 1))][FB]
    assert fb.abs().max() < 0.01 and ci(r('mixup', 1), FB) == '+0.009 [+0.001, +0.018]'
    quoted(['+0.018 to +0.026 after one epoch and +0.004 to +0.016 after three', '(K = 8; 400 held-out items, 3 seeds)'])

def test_label_noise():
    gr, gn = load_results('recipes_quick'), load_results('noise_quick')
    clean = lambda rec: row(gr, recipe=rec, epochs=3)
    noisy = lambda rec: row(gn, recipe=rec, epochs=3)
    assert (round(clean('default')['ce.accuracy'], 3), round(noisy('default')['ce.accuracy'], 3)) == (0.973, 0.958)
    quoted([ci(noisy('default'), R), ci(noisy('mixup'), R), f"{ci(clean('default'), D)} -> {ci(noisy('default'), D)}",
            f"{ci(clean('prior-bias'), D)} -> {ci(noisy('prior-bias'), D)}", f"+{clean('mixup')[D]:.3f} -> +{noisy('mixup')[D]:.3f}"])
    assert (gn[FB + '_low'] <= 0).all() and (gn[FB + '_high'] >= -1e-9).all()               # every fallback interval holds 0

def test_unseen_images():
    go = load_results('recipes_quick', 'ood')
    k = 'diff.auroc_msp_joint_energy.ood'
    r = lambda rec, e: row(go, recipe=rec, epochs=e)
    quoted([ci(r('default', 1), k), ci(r('default', 3), k), ci(r('prior-bias', 1), k), ci(r('prior-bias', 3), k)])
    m = r('mixup', 1)
    quoted([f"+{m[k]:.3f}\n[{m[k + '_low']:+.3f}, {m[k + '_high']:+.3f}]"])

def test_the_37_class_bench():
    b = pd.read_csv(ROOT/'results'/'bench37_lr'/'gaps.csv')
    r = lambda lr, rec: row(b, lr=lr, recipe=rec)
    d, p, d2 = r(0.001, 'default'), r(0.001, 'prior-bias'), r(0.01, 'default')
    assert f"{d[R]:.3f} [{d[R + '_low']:.3f}, {d[R + '_high']:.3f}]" == '0.223 [0.135, 0.304]' and set(b.n_seeds) == {1}
    quoted(['0.223 [0.135, 0.304]', f"{p[R]:.3f}\n  [{p[R + '_low']:+.3f}, {p[R + '_high']:+.3f}]", ci(d2, R), '(one seed, 148 held-out items)'])
