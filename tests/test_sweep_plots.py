"""Chapter 12a's figures: what each line, band and error bar shows, recomputed from the table it was drawn from, and
the tables they refuse."""
import matplotlib
matplotlib.use('Agg')
import numpy as np, pandas as pd
import pytest
from matplotlib.colors import to_rgba
from classification_vs_labeling.sweep_plots import plot_curves, plot_mechanism, plot_gaps

CURVES = ['ce.accuracy', 'bce.argmax_accuracy', 'bce.exact_match', 'bce.none_rate', 'bce.several_rate', 'ce.loss', 'bce.loss']
MECH = ['bce.sigmoid_sum_q90', 'bce.sigmoid_sum_q50', 'bce.sigmoid_sum_q10', 'bce.true_sigmoid', 'bce.top_other_sigmoid', 'bce.threshold',
        'bce.none_rate', 'bce.several_rate']


def epochs_table(seeds=(0, 1, 2), budgets=(2, 4), settings=('shared', 'own'), seed=0) -> pd.DataFrame:
    "An epoch_table of random numbers: one row per budget, setting, seed and epoch."
    rng = np.random.default_rng(seed)
    rows = [{'epochs': b, 'setting': st, 'seed': s, 'epoch': e, **{c: rng.uniform(0.01, 1) for c in set(CURVES + MECH)}}
            for b in budgets for st in settings for s in seeds for e in range(1, b + 1)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize('plot,cols', [(plot_curves, CURVES), (plot_mechanism, MECH)], ids=['curves', 'mechanism'])
@pytest.mark.parametrize('budget,setting', [(None, 'shared'), (2, 'own')])
def test_lines_are_means_over_seeds_and_bands_their_range(plot, cols, budget, setting):
    ep = epochs_table()
    fig = plot(ep, budget=budget, setting=setting)
    d = ep[(ep.epochs == (budget or 4)) & (ep.setting == setting)]
    lines = [l for ax in fig.axes for l in ax.lines if l.get_label() in {t.get_text() for t in ax.get_legend().get_texts()} and len(l.get_xdata()) > 0]
    data_lines = [l for l in lines if not l.get_label().startswith('classifier: softmax')]
    assert len(data_lines) == len(cols)
    for l, c in zip(data_lines, cols):
        m = d.groupby('epoch')[c]
        np.testing.assert_allclose(l.get_xdata(), m.mean().index); np.testing.assert_allclose(l.get_ydata(), m.mean().values)
    bands = [p for ax in fig.axes for p in ax.collections]
    assert len(bands) == len(cols)                                     # one band per line: three seeds
    for band, c in zip(bands, cols):                                   # the band runs from the lowest seed to the highest
        ys = band.get_paths()[0].vertices[:, 1]
        g = d.groupby('epoch')[c]
        assert np.isclose(ys.min(), g.min().min()) and np.isclose(ys.max(), g.max().max())
    assert f"{budget or 4}-epoch runs, {setting} learning rate" in fig._suptitle.get_text() and '3 seeds (mean; range shaded)' in fig._suptitle.get_text()


def test_one_seed_draws_no_band():
    fig = plot_curves(epochs_table(seeds=(5,)))
    assert not [p for ax in fig.axes for p in ax.collections] and 'range shaded' not in fig._suptitle.get_text()
    assert fig._suptitle.get_text().endswith('one seed (5)')                  # a single-seed figure says so, and which seed


def test_loss_panel_is_log_scale_and_mechanism_marks_one():
    assert plot_curves(epochs_table()).axes[2].get_yscale() == 'log'
    ax = plot_mechanism(epochs_table()).axes[0]
    one = [l for l in ax.lines if l.get_label().startswith('classifier: softmax sums to 1')]
    assert len(one) == 1 and set(one[0].get_ydata()) == {1}


@pytest.mark.parametrize('kw,msg', [(dict(budget=7), r'budget 7.*budgets \[2, 4\]'), (dict(setting='tuned'), r"setting 'tuned'.*settings \['own', 'shared'\]")])
def test_missing_rows_are_refused_with_what_there_is(kw, msg):
    for plot in (plot_curves, plot_mechanism):
        with pytest.raises(ValueError, match=msg): plot(epochs_table(), **kw)


@pytest.mark.parametrize('bad', [epochs_table().drop(columns='epoch'), np.zeros((3, 3)), None])
def test_a_table_without_epochs_is_refused(bad):
    with pytest.raises(ValueError, match='epoch_table'): plot_curves(bad)


def gaps_table(settings=('shared', 'own'), budgets=(1, 3, 10), seed=0) -> pd.DataFrame:
    rng, rows = np.random.default_rng(seed), []
    for st in settings:
        for b in budgets[::-1]:                                          # unsorted: the plot sorts by budget
            r = {'epochs': b, 'setting': st, 'n_seeds': 3}
            for g in ('diff.gap_total', 'diff.gap_ranking', 'diff.gap_decoding'):
                v = rng.normal(0, 0.02); r.update({g: v, f'{g}_low': v - rng.uniform(0, 0.01), f'{g}_high': v + rng.uniform(0, 0.01)})
            rows.append(r)
    return pd.DataFrame(rows)


def test_gap_error_bars_are_the_intervals():
    gaps = gaps_table()
    fig = plot_gaps(gaps)
    assert [ax.get_title().split()[0] for ax in fig.axes] == ['shared', 'own']
    for ax, st in zip(fig.axes, ['shared', 'own']):
        d = gaps[gaps.setting == st].sort_values('epochs')
        assert [t.get_text() for t in ax.get_xticklabels()] == ['1 epoch', '3 epochs', '10 epochs']
        for cont, g in zip(ax.containers, ('diff.gap_total', 'diff.gap_ranking', 'diff.gap_decoding')):
            np.testing.assert_allclose(np.asarray(cont.lines[0].get_ydata(), float), d[g])
            segs = cont.lines[2][0].get_segments()                     # one vertical bar per budget: from low to high
            np.testing.assert_allclose([s[:, 1].min() for s in segs], d[f'{g}_low']); np.testing.assert_allclose([s[:, 1].max() for s in segs], d[f'{g}_high'])
        assert any(list(l.get_ydata()) == [0, 0] and to_rgba(l.get_color()) == to_rgba('gray') for l in ax.lines)   # the line at 0


@pytest.mark.parametrize('plot', [plot_curves, plot_mechanism], ids=['curves', 'mechanism'])
def test_panel_legends_sit_under_their_panels_and_labels_do_not_collide(plot):
    "Each panel's legend lies under it, and no two panels' labels, ticks or legends overlap (chapter 12's collisions)."
    fig = plot(epochs_table())
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    for ax in fig.axes:
        assert ax.get_legend().get_window_extent().y1 < ax.xaxis.label.get_window_extent().y0   # under the x label
    boxes = [ax.get_tightbbox(r) for ax in fig.axes]                          # each panel with its labels, ticks and legend
    for a, b in zip(boxes, boxes[1:]): assert a.x1 <= b.x0 + 1, (a, b)
    for ax in fig.axes:                                                       # the y label clear of its own tick labels
        lo, hi = ax.get_ylim()
        ticks = [t.get_window_extent(r) for t in ax.get_yticklabels(minor=False) + ax.get_yticklabels(minor=True)
                 if t.get_text() and lo <= t.get_position()[1] <= hi]                  # the tick labels drawn
        assert ticks
        assert all(ax.yaxis.label.get_window_extent(r).x1 <= t.x0 + 1 for t in ticks)


def test_loss_ticks_are_plain_numbers_and_dashed_lines_run_on_top():
    fig = plot_curves(epochs_table())
    fig.canvas.draw()
    lo, hi = fig.axes[2].get_ylim()
    labels = [t.get_text() for t in fig.axes[2].get_yticklabels() + fig.axes[2].get_yticklabels(minor=True) if t.get_text() and lo <= t.get_position()[1] <= hi]
    assert labels and all(float(t) > 0 for t in labels)                        # 0.2, 0.5, 1: no 2x10^-1
    line = {l.get_label(): l for l in fig.axes[0].lines}
    assert line['labeler argmax accuracy'].get_zorder() > line['classifier accuracy'].get_zorder()   # the dashed line over the solid one


def test_gaps_share_one_y_axis_and_one_legend_below():
    fig = plot_gaps(gaps_table())
    fig.canvas.draw()
    a, b = fig.axes
    assert a.get_ylim() == b.get_ylim() and 'fraction' in a.get_ylabel()
    (leg,) = fig.legends
    assert leg.get_window_extent().y1 <= min(ax.get_tightbbox().y0 for ax in fig.axes) + 1
    assert [t.get_text().split(':')[0] for t in leg.get_texts()] == ['total', 'ranking', 'decoding']
    assert 'one seed' not in a.get_title() and '3 seeds' in a.get_title()
