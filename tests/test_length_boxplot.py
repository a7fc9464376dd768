"""`length_boxplot` hands seaborn a few values per box with the same quartiles, whiskers and outliers instead of every
answer's length (a 72-run study: 2.4 million lengths; 10 s and 300 MiB less). The figure must be the one seaborn
draws from every length: the same boxes, whiskers and outlier points, in the same order (runs and texts in order of
appearance), the same legend, no box for a run without texts. The reference is seaborn itself on the untouched long
table, compared as PNG and PDF bytes; the lengths are hand-made fixtures."""
import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from elena.plots import length_boxplot


def reference(words: pd.DataFrame) -> plt.Figure:
    "seaborn's box plot of the same answers, drawn from the object columns as they come"
    cols = [c for c in words.columns if c.endswith('_words')]
    long = words.melt(id_vars=['run'], value_vars=cols, var_name='text', value_name='words').dropna()
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.boxplot(data=long, x='text', y='words', hue='run', ax=ax)
    ax.set_xlabel('')
    ax.set_ylabel('length (words)')
    return fig


def files(fig) -> tuple[bytes, bytes]:
    "The figure as PNG and PDF bytes (no dates)"
    png, pdf = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format='png', dpi=80, metadata={'Software': None})
    fig.savefig(pdf, format='pdf', metadata={'CreationDate': None, 'Producer': None, 'Creator': None})
    plt.close(fig)
    return png.getvalue(), pdf.getvalue()


def test_the_same_figure_as_seaborn_on_the_plain_columns():
    rng = np.random.default_rng(3)
    runs = ['zeta / masked / elena', 'alpha / original / naive', 'mid / original / elena', 'empty / masked / naive']
    words = pd.DataFrame({'narrative_words': rng.poisson(60, 400).astype(float),
                          'explicit_description_words': rng.poisson(30, 400).astype(float),
                          'implicit_description_words': rng.poisson(20, 400).astype(float),
                          'run': np.repeat(runs, 100)})
    words.loc[words.run == 'empty / masked / naive', [c for c in words if c.endswith('_words')]] = np.nan  # no texts
    words.loc[words.index % 7 == 0, 'narrative_words'] = np.nan  # some answers without a narrative
    words.loc[:5, 'narrative_words'] = 400.0  # outliers drawn as points
    mine, theirs = length_boxplot(words), reference(words)
    assert [t.get_text() for t in mine.axes[0].get_legend().get_texts()] == runs[:3]  # order of appearance, no 'empty'
    assert files(mine) == files(theirs)
    words = words.assign(narrative_words=np.nan)  # a text no answer has: no group for it
    assert files(length_boxplot(words)) == files(reference(words))
    words = words.assign(explicit_description_words=np.nan, implicit_description_words=np.nan)  # no text at all
    assert files(length_boxplot(words)) == files(reference(words))


def test_odd_boxes_and_orders_are_drawn_as_seaborn_draws_them():
    "Runs first seen in a later text, boxes of one to three answers, fractional lengths, outliers on both sides, ties"
    rng = np.random.default_rng(7)
    rows = []
    for run, n in [('late / masked / naive', 40), ('one / original / elena', 1), ('two / original / naive', 2),
                   ('three / masked / elena', 3), ('wide / masked / elena', 300)]:
        rows += [dict(run=run, narrative_words=v, explicit_description_words=e) for v, e in
                 zip(rng.normal(50, 20, n).round(1), rng.poisson(25, n).astype(float))]
    words = pd.DataFrame(rows)
    words.loc[words.run == 'late / masked / naive', 'narrative_words'] = np.nan  # seen first among explicit texts
    wide = words.index[words.run == 'wide / masked / elena']
    words.loc[wide[:6], 'narrative_words'] = [500.0, 500.0, -80.0, 300.0, 0.0, 500.0]  # outliers, ties, both sides
    words.loc[wide[6:200], 'explicit_description_words'] = 25.0  # most answers one length: IQR 0, every other an outlier
    mine = length_boxplot(words)
    assert [t.get_text() for t in mine.axes[0].get_legend().get_texts()][-1] == 'late / masked / naive'
    assert files(mine) == files(reference(words))
