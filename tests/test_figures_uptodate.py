"""`elena figures` runs a paper notebook again only when what it reads changed: its inputs (each run's size and
modification time, gold and reference files), its own bytes, elena's source or its parameters, or when a file it made
is missing or edited; `--force` runs them all. One real paper notebook (accuracy) on canned fixture answers (no model
wrote them) keeps it short."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from elena.figures import run_figures
from elena.store import make_record, store_path
from test_figures import IDS, fixture

ROOT = Path(__file__).resolve().parent.parent


def test_only_what_changed_is_drawn_again(tmp_path):
    nbs, resp, figs, out = tmp_path / 'paper', tmp_path / 'responses', tmp_path / 'figures', tmp_path / 'runs'
    nbs.mkdir()
    shutil.copy(ROOT / 'nbs' / 'paper' / 'accuracy.ipynb', nbs)
    fixture(resp, 'fixture-model', 'original', 'elena', ['fear', 'happiness', 'sadness', 'fear', 'anger', 'neutral'])
    fixture(resp, 'fixture-model', 'original', 'naive', ['fear', 'happiness', 'fear', 'anger', 'anger', 'happiness'])
    go = lambda **kw: run_figures(resp, figs, out, notebooks=nbs, n_boot=50, **kw)
    executed, table, png = out / 'accuracy.ipynb', figs / 'tables' / 'accuracy.csv', figs / 'accuracy.png'

    first = go()
    assert first.status.tolist() == ['ok'], first.status.tolist()
    made, stamp = table.read_bytes(), executed.stat().st_mtime_ns

    again = go()  # nothing changed: not executed, the same report
    assert again.status.tolist() == ['up to date']
    assert executed.stat().st_mtime_ns == stamp
    assert again.drop(columns='status').to_dict('list') == first.drop(columns='status').to_dict('list')

    run = store_path(resp, 'fixture-model', 'besst', 'original', 'naive')  # one record appended to one run
    with open(run, 'a') as f:
        f.write(json.dumps(make_record(id=IDS[2], dataset='besst', condition='original', model='fixture-model',
                                       prompt_id='naive-v1', emotion='sadness', parsed=dict(emotion='sadness'))) + '\n')
    third = go()
    assert third.status.tolist() == ['ok']
    assert table.read_bytes() != made  # the new answer is in the table
    made = table.read_bytes()

    png.unlink()  # a made file deleted: drawn again
    assert go().status.tolist() == ['ok'] and png.is_file()
    table.write_text('edited by hand\n')  # a made file edited: made again
    assert go().status.tolist() == ['ok'] and table.read_bytes() == made
    assert go().status.tolist() == ['up to date']
    assert go(force=True).status.tolist() == ['ok']  # --force: run whatever changed


def test_elena_figures_has_force():
    r = subprocess.run([str(Path(sys.executable).parent / 'elena'), 'figures', '--help'], capture_output=True, text=True)
    assert '--force' in r.stdout, r.stdout


def test_each_input_is_listed_once_for_all_notebooks(tmp_path, monkeypatch):
    """The fingerprints of the seven paper notebooks share their inputs: each run file and each dataset folder is
    listed (every file under it stat'ed: 23,571 images for EMOTIC) once per `elena figures`, not once per notebook."""
    import collections
    import elena.figures as F
    resp, data = tmp_path / 'responses', tmp_path / 'heco'
    fixture(resp, 'fixture-model', 'original', 'elena', ['fear', 'happiness', 'sadness', 'fear', 'anger', 'neutral'])
    (data / 'Data').mkdir(parents=True)
    (data / 'HECO_Labels.csv').write_text('Image,Category\n')
    calls, real = collections.Counter(), F._keys
    monkeypatch.setattr(F, '_keys', lambda p: calls.update([str(p)]) or real(p))
    monkeypatch.setattr(F, '_up_to_date', lambda out, nb, fp: dict(figures=[], tables=[], skipped=[]))  # none to run
    rep = run_figures(resp, tmp_path / 'figures', tmp_path / 'runs', data_dirs=f'heco={data}')
    assert set(rep.status) == {'up to date'} and len(rep) == 7, rep
    assert str(data) in calls and any(k.endswith('.jsonl') for k in calls), calls
    assert max(calls.values()) == 1, calls


def test_run_caches_made_in_parallel_are_those_made_one_by_one(tmp_path, monkeypatch):
    """With `jobs=2` the run caches are made by two processes before any notebook runs (none needs running here):
    each cache holds exactly what one process reading the runs one by one writes."""
    import elena.figures as F
    from elena.runcache import cache_path, run_rows
    monkeypatch.setattr(F, '_up_to_date', lambda out, nb, fp: None)  # every notebook to run...
    monkeypatch.setattr(F, '_execute', lambda nb, dest, given: 'ok')  # ...but only the caches are looked at
    monkeypatch.setattr(F, '_keep', lambda *a: None)
    resp = tmp_path / 'responses'
    for model in ('m1', 'm2', 'm3'):
        fixture(resp, model, 'original', 'elena', ['fear', 'happiness', 'sadness', 'fear', 'anger', 'neutral'])
        fixture(resp, model, 'masked', 'naive', ['fear', 'happiness', 'fear', 'anger', 'anger', 'happiness'])
    runs = sorted(resp.glob('*/*/*.jsonl'))
    run_figures(resp, tmp_path / 'figures', tmp_path / 'runs', jobs=2)
    assert len(runs) == 6 and all(cache_path(p).is_file() for p in runs), runs
    parallel = [cache_path(p).read_bytes() for p in runs]
    for p in runs:
        cache_path(p).unlink()
        run_rows(p)  # made here, one by one
    assert [cache_path(p).read_bytes() for p in runs] == parallel


def test_the_notebook_that_ran_longest_starts_first(tmp_path, monkeypatch):
    """Notebooks start longest first (by how long each ran the last time), so that two at a time finish together
    rather than the longest starting last."""
    import time
    import elena.figures as F
    nbs = tmp_path / 'paper'
    nbs.mkdir()
    for name in ('a', 'b', 'c'):
        shutil.copy(ROOT / 'nbs' / 'paper' / 'attention.ipynb', nbs / f'{name}.ipynb')
    took, order = {'a': 0.0, 'b': 0.3, 'c': 0.1}, []
    monkeypatch.setattr(F, '_execute', lambda nb, dest, given: order.append(nb.stem) or time.sleep(took[nb.stem]) or 'ok')
    go = lambda: run_figures(tmp_path / 'responses', tmp_path / 'figures', tmp_path / 'runs', notebooks=nbs, jobs=1,
                             force=True)
    assert go().status.tolist() == ['ok'] * 3 and order == ['a', 'b', 'c']  # nothing known yet: in name order
    order.clear()
    go()
    assert order == ['b', 'c', 'a'], order


def test_a_runs_figures_are_drawn_again_only_when_its_data_changed(tmp_path, monkeypatch):
    """Every paper notebook reads every run, so appending to one run executes the confusion notebook again; only that
    run's confusion figure is drawn again, the other run's files are kept (same bytes and modification time)."""
    from elena.figures import REDRAW_ENV
    monkeypatch.delenv(REDRAW_ENV, raising=False)
    nbs, resp, figs, out = tmp_path / 'paper', tmp_path / 'responses', tmp_path / 'figures', tmp_path / 'runs'
    nbs.mkdir()
    shutil.copy(ROOT / 'nbs' / 'paper' / 'confusion.ipynb', nbs)
    fixture(resp, 'fixture-model', 'original', 'elena', ['fear', 'happiness', 'sadness', 'fear', 'anger', 'neutral'])
    fixture(resp, 'fixture-model', 'original', 'naive', ['fear', 'happiness', 'fear', 'anger', 'anger', 'happiness'])
    go = lambda: run_figures(resp, figs, out, notebooks=nbs)
    kept = [figs / f'confusion-fixture-model-besst-original-elena{s}' for s in ('.png', '.pdf')]
    changed = figs / 'confusion-fixture-model-besst-original-naive.png'
    assert go().status.tolist() == ['ok']
    state = lambda: [(p.read_bytes(), p.stat().st_mtime_ns) for p in kept]
    before, drawn = state(), changed.read_bytes()

    run = store_path(resp, 'fixture-model', 'besst', 'original', 'naive')  # one answer of one run changed
    with open(run, 'a') as f:
        f.write(json.dumps(make_record(id=IDS[2], dataset='besst', condition='original', model='fixture-model',
                                       prompt_id='naive-v1', emotion='sadness', parsed=dict(emotion='sadness'))) + '\n')
    again = go()
    assert again.status.tolist() == ['ok']  # the notebook ran again...
    assert changed.read_bytes() != drawn  # ...drew the changed run's matrix again...
    assert state() == before  # ...and left the other run's files as they were
    assert str(kept[0]) in again.figures[0]  # still reported as made
    forced = run_figures(resp, figs, out, notebooks=nbs, force=True)  # --force: every figure drawn again
    assert forced.status.tolist() == ['ok']
    assert [p.stat().st_mtime_ns for p in kept] != [t for _, t in before]
    assert [p.read_bytes() for p in kept] == [b for b, _ in before]  # the same bytes: drawing is deterministic
    assert REDRAW_ENV not in os.environ  # set for the notebooks only


def test_notebooks_run_two_at_a_time_each_in_its_folder(tmp_path):
    """With `jobs=2` two kernels run at once, each in its notebook's folder (where the paper notebooks' relative
    defaults point), and the caller's working folder is never changed."""
    import os
    import nbformat
    nbs = tmp_path / 'paper'
    nbs.mkdir()
    for name in ('a', 'b', 'c'):
        cell = nbformat.v4.new_code_cell("import os, time; time.sleep(1); print('ran in', os.getcwd())")
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), nbs / f'{name}.ipynb')
    here = os.getcwd()
    rep = run_figures(tmp_path / 'responses', tmp_path / 'figures', tmp_path / 'runs', notebooks=nbs, jobs=2)
    assert rep.status.tolist() == ['ok'] * 3, rep
    assert os.getcwd() == here
    for name in ('a', 'b', 'c'):
        out = nbformat.read(tmp_path / 'runs' / f'{name}.ipynb', 4).cells[0].outputs[0]['text']
        assert out.strip() == f'ran in {nbs}', out


def test_each_run_is_scored_before_the_notebooks_run(tmp_path, monkeypatch):
    """The warm-up keeps each real-model run's evaluation, with the settings the notebooks ask for, two processes at
    a time; random-weight runs are left out, as every notebook leaves them out."""
    import elena.figures as F
    from elena.evalcache import evaluation_path
    from elena.results import N_BOOT
    resp = tmp_path / 'responses'
    fixture(resp, 'fixture-model', 'original', 'elena', ['fear', 'happiness', 'sadness', 'fear', 'anger', 'neutral'])
    fixture(resp, 'fixture-model', 'masked', 'elena', ['fear', 'sadness', 'sadness', 'anger', 'anger', 'neutral'])
    fixture(resp, 'tiny-gemma3', 'original', 'elena', ['disgust'] * 6, random_weights=True)
    kept = lambda model, cond: evaluation_path(store_path(resp, model, 'besst', cond, 'elena'),
                                               dict(dataset='besst', data_dir=None, n_boot=N_BOOT, texts=False)).is_file()
    seen = {}
    monkeypatch.setattr(F, '_execute', lambda nb, dest, given: seen.update(
        given=given, kept=[kept('fixture-model', 'original'), kept('fixture-model', 'masked'), kept('tiny-gemma3', 'original')])
                        or 'ok')
    nbs = tmp_path / 'paper'
    nbs.mkdir()
    shutil.copy(ROOT / 'nbs' / 'paper' / 'accuracy.ipynb', nbs)
    run_figures(resp, tmp_path / 'figures', tmp_path / 'runs', notebooks=nbs, jobs=2)
    assert seen['kept'] == [True, True, False], seen
    assert seen['given']['n_boot'] == N_BOOT  # what the notebooks are given is what was kept
