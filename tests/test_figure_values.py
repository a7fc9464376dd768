"""Every paper figure shows its table's numbers. Each committed figure is drawn as its paper notebook draws it (the same
`elena.plots` function on the same data, read back from the committed table in figures/tables/), the plotted values
are read back from the matplotlib artists (bar widths and error bars, heat-map cells and their annotations, the colours
of the silhouettes, the n of each row) and compared with the table's numbers computed here with plain pandas."""
import re
from pathlib import Path
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib.container import BarContainer
import numpy as np
import pandas as pd
import pytest
from elena.plots import _SHAPES, confusion_figure, region_shares, score_bars, share_heatmap, silhouettes

ROOT = Path(__file__).resolve().parent.parent
TABLES = ROOT / 'figures' / 'tables'
ROW = re.compile(r'^(?P<label>.+?) \(n=(?P<n>\d+)\)$')


def heat(ax) -> tuple[pd.DataFrame, pd.DataFrame]:
    "The values a seaborn heat map colours and the texts it writes in its cells, labelled as the axes show them"
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    values = np.ma.filled(ax.collections[0].get_array(), np.nan).reshape(len(rows), len(cols))
    texts = np.array([t.get_text() for t in ax.texts]).reshape(len(rows), len(cols))
    return pd.DataFrame(values, rows, cols), pd.DataFrame(texts, rows, cols)


def by_row(labels) -> dict:
    "Row label 'emotion (n=N)' -> (emotion, N)"
    out = {}
    for label in labels:
        m = ROW.match(label)
        assert m, f"row {label!r} does not show its n"
        out[label] = (m['label'], int(m['n']))
    return out


@pytest.fixture(scope='module')
def anatomy():
    bp = pd.read_csv(TABLES / 'legacy_besst-anatomy.csv')
    return bp, bp.groupby('emotion')['count'].sum()


@pytest.mark.parametrize('by,top,name', [('part', 15, 'legacy_besst-anatomy-parts'),
                                         ('region', None, 'legacy_besst-anatomy-regions')])
def test_anatomy_heatmaps_show_shares_of_all_mentions(anatomy, by, top, name):
    "Each cell is that emotion's mentions of the part (region) over all its mentions, whatever columns are kept"
    bp, total = anatomy
    assert (ROOT / 'figures' / f'{name}.png').is_file()
    fig = share_heatmap(region_shares(bp, by, top), 'test')
    values, texts = heat(fig.axes[0])
    counts = bp.groupby(['emotion', by])['count'].sum()
    rows = by_row(values.index)
    assert sorted(e for e, _ in rows.values()) == sorted(total.index)
    for label, (emotion, n) in rows.items():
        assert n == total[emotion], (emotion, n)
        for col in values.columns:
            want = counts.get((emotion, col), 0) / n
            assert values.loc[label, col] == pytest.approx(want), (emotion, col)
            assert texts.loc[label, col] == f'{want:.2f}', (emotion, col)
    if by == 'part':  # the numbers the issue found wrong: disgust -> mouth 2 of 6, anger -> fist 102 of 149
        assert (counts['disgust', 'mouth'], total['disgust'], counts['anger', 'fist'], total['anger']) == (2, 6, 102, 149)
        at = {e: label for label, (e, _) in rows.items()}
        assert values.loc[at['disgust'], 'mouth'] == pytest.approx(2 / 6)
        assert values.loc[at['anger'], 'fist'] == pytest.approx(102 / 149)
    plt.close(fig)


def test_anatomy_silhouettes_colour_each_region_by_its_share(anatomy):
    bp, total = anatomy
    want = bp.groupby(['emotion', 'region'])['count'].sum() / bp.groupby('emotion')['count'].sum()
    fig = silhouettes(region_shares(bp, 'region'), 'test')
    *bodies, bar = fig.axes
    vmax = bar.get_ylim()[1]  # the colour bar runs from 0 to the share drawn darkest
    cmap = plt.get_cmap('magma_r')
    assert vmax == pytest.approx(want.max())
    for ax, (label, (emotion, n)) in zip(bodies, by_row(ax.get_title() for ax in bodies).items()):
        assert n == total[emotion]
        faces = iter(ax.patches)
        for region, shapes in _SHAPES.items():
            share = want.get((emotion, region), 0.0)
            for _ in shapes:
                assert np.allclose(next(faces).get_facecolor(), cmap(share / vmax)), (emotion, region)
    plt.close(fig)


def test_accuracy_bars_are_the_accuracy_table():
    table = pd.read_csv(TABLES / 'legacy_besst-accuracy.csv')
    fig = score_bars(table)
    for ax, (m, lo, hi) in zip(fig.axes, [('accuracy', 'acc_lo', 'acc_hi'), ('macro_f1', 'f1_lo', 'f1_hi')]):
        bars = next(c for c in ax.containers if isinstance(c, BarContainer))
        assert [p.get_width() for p in bars.patches] == pytest.approx(table[m].tolist())
        segments = bars.errorbar.lines[2][0].get_segments()  # one horizontal segment per bar: (lo, y) to (hi, y)
        assert [s[0][0] for s in segments] == pytest.approx(table[lo].tolist())
        assert [s[1][0] for s in segments] == pytest.approx(table[hi].tolist())
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == (table.model + ' / ' + table.dataset + ' / ' + table.condition + ' / ' + table.prompt).tolist()
    plt.close(fig)


def test_confusion_cells_are_the_confusion_table():
    cm = pd.read_csv(TABLES / 'legacy_besst-confusion.csv').set_index('gold')
    fig = confusion_figure(cm, 'test')
    values, texts = heat(fig.axes[0])
    rows = by_row(values.index)
    for label, (gold, n) in rows.items():
        assert n == cm.loc[gold].sum()
        for col in cm.columns:
            assert texts.loc[label, col] == str(cm.loc[gold, col])
            assert values.loc[label, col] == pytest.approx(cm.loc[gold, col] / n)
    plt.close(fig)
