"""`save_figure` given a plotting function of `elena.plots` and its arguments draws the figure only when no PNG and PDF
carrying the same key are there: the key covers the function, elena's source, matplotlib's and seaborn's versions and
every value, label, order, dtype and attrs of the arguments. The tables here are hand-written fixtures, not results."""
import functools
import os
import warnings

import pandas as pd
import pytest

from elena import plots
from elena.figures import REDRAW_ENV, save_figure


def counted(func):
    "`func` (a real plotting function of elena.plots) with each call it gets recorded in `calls`"
    calls = []
    @functools.wraps(func)  # keeps its module and name: the key is the function's
    def drawn(*args):
        calls.append(args)
        return func(*args)
    return drawn, calls


def cm() -> pd.DataFrame:
    return pd.DataFrame([[3, 1, 0], [0, 2, 2]], index=pd.Index(['fear', 'anger'], name='gold'),
                        columns=pd.Index(['fear', 'anger', '(none)'], name='predicted'))


def state(paths) -> list:
    return [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]


def test_drawn_once_for_the_same_function_and_arguments(tmp_path, monkeypatch):
    monkeypatch.delenv(REDRAW_ENV, raising=False)
    draw, calls = counted(plots.confusion_figure)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # matplotlib takes the key in both files without a word
        paths = save_figure(draw, 'cm', tmp_path, args=(cm(), 'run a'))
    assert [p.name for p in paths] == ['cm.png', 'cm.pdf'] and len(calls) == 1
    before = state(paths)
    again = save_figure(draw, 'cm', tmp_path, args=(cm(), 'run a'))  # an equal table, built anew
    assert again == paths and len(calls) == 1
    assert state(paths) == before  # not written again: same bytes, same modification time
    monkeypatch.setenv(REDRAW_ENV, '1')  # drawn again on request: the very same bytes (no dates in the files)
    save_figure(draw, 'cm', tmp_path, args=(cm(), 'run a'))
    assert len(calls) == 2 and [s[0] for s in state(paths)] == [s[0] for s in before]


def changed_cell(t): return t.mask((t.index == 'anger')[:, None] & (t.columns == '(none)'), 3)
def changed_row_label(t): return t.rename(index={'anger': 'angry'})
def changed_column_label(t): return t.rename(columns={'(none)': 'none'})
def changed_index_name(t): return t.rename_axis(index='true')
def changed_dtype(t): return t.astype('int32')
def changed_order(t): return t.sort_index()
def changed_attrs(t):
    t.attrs['n'] = {'fear': 4}
    return t


@pytest.mark.parametrize('change', [changed_cell, changed_row_label, changed_column_label, changed_index_name,
                                    changed_dtype, changed_order, changed_attrs, 'title'])
def test_any_change_of_the_arguments_draws_again(tmp_path, monkeypatch, change):
    monkeypatch.delenv(REDRAW_ENV, raising=False)
    draw, calls = counted(plots.confusion_figure)
    save_figure(draw, 'cm', tmp_path, args=(cm(), 'run a'))
    t, title = (cm(), 'run b') if change == 'title' else (change(cm()), 'run a')
    save_figure(draw, 'cm', tmp_path, args=(t, title))
    assert len(calls) == 2, change
    save_figure(draw, 'cm', tmp_path, args=(t, title))  # and then kept
    assert len(calls) == 2, change


def no_key(path):
    "`path` written again from a figure passed as such: the same kind of file, without a key"
    import matplotlib.pyplot as plt
    fig = plots.confusion_figure(cm(), 'run a')
    fig.savefig(path)
    plt.close(fig)


@pytest.mark.parametrize('suffix', ['.png', '.pdf'])
@pytest.mark.parametrize('harm', ['deleted', 'without the key', 'cut short', 'tail cut', 'another key', 'not a figure'])
def test_a_file_not_carrying_the_key_is_drawn_again(tmp_path, monkeypatch, suffix, harm):
    monkeypatch.delenv(REDRAW_ENV, raising=False)
    draw, calls = counted(plots.confusion_figure)
    p = next(q for q in save_figure(draw, 'cm', tmp_path, args=(cm(), 'run a')) if q.suffix == suffix)
    made = p.read_bytes()
    if harm == 'deleted': p.unlink()
    elif harm == 'without the key': no_key(p)
    elif harm == 'cut short': p.write_bytes(made[:len(made) // 2])
    elif harm == 'tail cut': p.write_bytes(made[:-8])
    elif harm == 'not a figure': p.write_text('not a figure')
    else: save_figure(plots.confusion_figure, 'cm', tmp_path, args=(cm(), 'run b'))  # both files, the other key
    save_figure(draw, 'cm', tmp_path, args=(cm(), 'run a'))
    assert len(calls) == 2, harm
    assert p.read_bytes() == made, harm


def test_figures_passed_as_such_are_always_saved(tmp_path):
    import matplotlib.pyplot as plt
    fig = plots.confusion_figure(cm(), 'run a')
    paths = save_figure(fig, 'cm', tmp_path)
    for p in paths: os.utime(p, ns=(0, 0))  # dated 1970: a file written again has a new date
    save_figure(fig, 'cm', tmp_path)
    assert all(p.stat().st_mtime_ns > 0 for p in paths)
    plt.close(fig)


@pytest.mark.parametrize('arg', [object(), {1, 2}, plots])
def test_arguments_without_a_stable_encoding_are_refused(tmp_path, arg):
    with pytest.raises(TypeError, match=type(arg).__name__):
        save_figure(plots.confusion_figure, 'cm', tmp_path, args=(cm(), arg))
    assert not list(tmp_path.iterdir())


def test_mixed_object_columns_are_keyed_by_type():
    "1 and '1' in an object column, None and NaN: each a different key (pandas' own hash would take them as equal)"
    from elena.figures import _figure_key
    keys = {_figure_key(plots.share_heatmap, (pd.DataFrame({'a': pd.Series(v, dtype=object)}),))
            for v in (['x', 1], ['x', '1'], ['x', None], ['x', float('nan')], ['x', 1.0], ['x', True])}
    assert len(keys) == 6


def test_only_elenas_plotting_functions_are_keyed(tmp_path):
    "A function of elsewhere is refused: its code would not be in the key, so a changed function would be trusted"
    with pytest.raises(TypeError, match='plotting function of elena'):
        save_figure(lambda t: plots.confusion_figure(t), 'cm', tmp_path, args=(cm(),))


def test_category_order_and_levels_are_in_the_key():
    "Reordered categories (seaborn's drawing order) change the key; a MultiIndex is keyed level by level"
    from elena.figures import _figure_key
    key = lambda t: _figure_key(plots.share_heatmap, (t,))
    cats = lambda order: pd.DataFrame({'a': pd.Categorical(['x', 'y'], categories=order)})
    assert key(cats(['x', 'y'])) != key(cats(['y', 'x']))
    two = pd.DataFrame({'v': [1, 2]}, index=pd.MultiIndex.from_tuples([('a', 1), ('b', 2)], names=['k', 'n']))
    assert key(two) == key(two.copy()) != key(two.rename_axis(index=['k', 'm']))
    assert key(two) != key(two.set_axis(pd.MultiIndex.from_tuples([('a', 1), ('b', 3)], names=['k', 'n'])))


def test_a_saved_figure_is_not_kept_alive_by_the_notebook_backend(tmp_path, monkeypatch):
    """In a kernel, matplotlib's inline backend queues every figure pyplot makes for display at the end of the cell,
    closed or not: a paper notebook saving 72 confusion matrices in one loop held them all (the confusion kernel
    peaked at 779 MiB against 357 MiB for the same code outside a kernel). `save_figure` draws its own figures with
    interactive mode off, so each is freed once saved."""
    import gc, weakref
    import matplotlib
    import matplotlib.pyplot as plt
    monkeypatch.delenv(REDRAW_ENV, raising=False)
    drawn = []
    @functools.wraps(plots.confusion_figure)
    def draw(*args):
        fig = plots.confusion_figure(*args)
        drawn.append(weakref.ref(fig))
        return fig
    was = matplotlib.get_backend()
    plt.switch_backend('module://matplotlib_inline.backend_inline')  # as ipykernel sets it
    try:
        with plt.ion():  # the inline backend's mode in a kernel
            for i in range(3):
                save_figure(draw, f'cm{i}', tmp_path, args=(cm(), f'run {i}'))
            gc.collect()
            assert len(drawn) == 3 and [r() for r in drawn] == [None] * 3
            from matplotlib_inline.backend_inline import flush_figures
            flush_figures()  # the end of the cell: nothing left to show, and the user's own figures still work
    finally:
        plt.switch_backend(was)
