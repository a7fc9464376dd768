"""What `save_figure` saves by keying a figure: drawing and saving (PNG + PDF) against finding both files carrying the
key, side by side in one run, for confusion matrices (one per run in a study) and the narratives' length box plot over
every answer of a 72-run study (~818k rows). The tables are synthetic (random counts and lengths), never results.
Usage: python bench/bench_figure_keys.py [--runs 12] [--rows 818000]"""
import argparse
import os
import tempfile
import time
from pathlib import Path
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from elena.figures import REDRAW_ENV, _figure_key, save_figure
from elena.plots import confusion_figure, length_boxplot

LABELS = ['anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise', 'contempt', 'pain', 'pride']


def timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def main(runs:int, rows:int):
    rng = np.random.default_rng(0)
    out = Path(tempfile.mkdtemp())
    cms = [pd.DataFrame(rng.integers(0, 60, (len(LABELS), len(LABELS) + 1)), index=pd.Index(LABELS, name='gold'),
                        columns=pd.Index(LABELS + ['(none)'], name='predicted')) for _ in range(runs)]
    names = [(f'cm{i}', cm, f'model · emotic · original · run{i}') for i, cm in enumerate(cms)]
    def passed_as_figure():  # as the paper notebooks did: every figure drawn and saved on every run
        for name, cm, title in names:
            fig = confusion_figure(cm, title)
            save_figure(fig, f'fig-{name}', out)
            plt.close(fig)
    keyed = lambda: [save_figure(confusion_figure, name, out, args=(cm, title)) for name, cm, title in names]
    os.environ.pop(REDRAW_ENV, None)
    t_fig, t_cold, t_kept = timed(passed_as_figure), timed(keyed), timed(keyed)
    t_key = timed(lambda: [_figure_key(confusion_figure, (cm, title)) for _, cm, title in names])
    print(f"confusion, {runs} figures: drawn each time {t_fig / runs * 1000:.0f} ms/figure, keyed and drawn "
          f"{t_cold / runs * 1000:.0f} ms, keyed and kept {t_kept / runs * 1000:.1f} ms (the key alone "
          f"{t_key / runs * 1000:.2f} ms): kept is {t_fig / t_kept:.0f}x cheaper than drawing")
    n_runs = 72
    words = pd.DataFrame({f'{t}_words': rng.integers(5, 90, rows).astype(float)
                          for t in ('narrative', 'explicit_description', 'implicit_description')})
    run_names = np.array([f'model{i % 4} / original / prompt{i}' for i in range(n_runs)])
    words['run'] = run_names[np.sort(rng.integers(0, n_runs, rows))]
    t_draw = timed(lambda: save_figure(length_boxplot, 'lengths', out, args=(words,)))
    t_kept = timed(lambda: save_figure(length_boxplot, 'lengths', out, args=(words,)))
    print(f"narrative lengths, {rows:,} answers of {n_runs} runs: drawn {t_draw:.1f} s, kept {t_kept:.2f} s "
          f"({t_draw / t_kept:.0f}x)")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=12)
    ap.add_argument('--rows', type=int, default=818_000)
    a = ap.parse_args()
    main(a.runs, a.rows)
