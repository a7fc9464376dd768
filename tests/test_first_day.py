"""A researcher's first day, as they meet it: the `elena` console script in a subprocess, on small folders written here.
Random-weight runs are marked wherever they are scored, `elena evaluate` writes beside the response store and never
inside it, and a dataset name is a name whatever its case."""
import json
import shutil
import subprocess
import sys
from pathlib import Path
import pandas as pd
from elena.store import make_record, store_path

ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
IDS = ['001mA_0.jpg', '002wF_0.jpg', '003mT_0.jpg']  # BESST names carry their gold label (A anger, F fear, T sad)


def elena(*args, cwd=None):
    return subprocess.run([ELENA, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def files(folder: Path) -> dict:
    "The files of `folder` and their times; the run cache and kept evaluations beside each run (issue 29) are no output"
    return {p.relative_to(folder): p.stat().st_mtime_ns for p in folder.rglob('*') if p.is_file() and not p.name.endswith('.runcache') and '.jsonl.eval-' not in p.name}


def test_evaluate_marks_a_random_weight_run_and_writes_beside_the_store(tmp_path):
    run = store_path(tmp_path / 'responses', 'tiny-gemma3', 'besst', 'original', 'elena')
    run.parent.mkdir(parents=True)
    recs = [make_record(id=i, dataset='besst', model='tiny-gemma3', emotion=e, random_weights=True)
            for i, e in zip(IDS, ['anger', 'happiness', 'sadness'])]
    run.write_text(''.join(json.dumps(r) + '\n' for r in recs))
    before = files(tmp_path / 'responses')
    r = elena('evaluate', run.relative_to(tmp_path), '--dataset', 'besst', '--n-boot', '10', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'RANDOM WEIGHTS' in r.stdout and 'noise, not a result' in r.stdout, r.stdout
    assert files(tmp_path / 'responses') == before  # nothing written into the response store
    out = tmp_path / 'evaluation' / 'tiny-gemma3' / 'besst' / 'original-elena'
    assert 'beside the response store' in r.stdout and str(out) in r.stdout, r.stdout
    assert pd.read_csv(out / 'summary.csv').random_weights.tolist() == [True]
    assert [v['random_weights'] for v in json.loads((out / 'evaluation.json').read_text())['runs'].values()] == [True]


def test_dataset_names_whatever_their_case(tmp_path):
    r = elena('run', '--model', 'tiny-gemma3', '--dataset', 'SAMPLES', '--limit', '1', '--out-dir', tmp_path / 'r',
              '--no-progress')
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'r' / 'tiny-gemma3' / 'samples' / 'original-elena.jsonl').is_file()


ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PHOTO = ROOT / 'elena' / 'samples' / 'grace_hopper.jpg'


def test_papermill_takes_a_folder_named_by_a_number_and_a_dataset_in_capitals(tmp_path):
    "`papermill -p data_dir 2024` is the folder 2024 (papermill reads it as a number), `-p dataset FOLDER` is folder"
    (tmp_path / '2024').mkdir(); shutil.copy(PHOTO, tmp_path / '2024' / 'hopper.jpg')
    r = subprocess.run([str(BIN / 'papermill'), str(ROOT / 'nbs' / '03_run.ipynb'), 'run.ipynb', '-k', 'python3',
                        '--no-progress-bar', '-p', 'dataset', 'FOLDER', '-p', 'data_dir', '2024',
                        '-p', 'out_dir', 'resp', '-p', 'show', '0'],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / 'resp' / 'tiny-gemma3' / 'folder' / 'original-elena.jsonl').is_file()


def test_make_run_prints_the_summary_or_one_error_line(tmp_path):
    "`make run` runs tools/run_notebook.py: the run's summary on the console; a mistake is one line, no notebook left"
    tool = ROOT / 'tools' / 'run_notebook.py'
    r = subprocess.run([sys.executable, str(tool), str(ROOT / 'nbs' / '03_run.ipynb'), str(tmp_path / 'bad.ipynb'),
                        '-p', 'dataset', 'hecko'], capture_output=True, text=True, timeout=600, cwd=ROOT)
    lines = [l for l in r.stderr.splitlines() if l.startswith('make run')]
    assert r.returncode == 2 and len(lines) == 1 and "Unknown dataset 'hecko'" in lines[0], r.stderr[-3000:]
    assert 'Traceback' not in r.stderr and not (tmp_path / 'bad.ipynb').exists()
    r = subprocess.run([sys.executable, str(tool), str(ROOT / 'nbs' / '03_run.ipynb'), str(tmp_path / 'run.ipynb'),
                        '-p', 'out_dir', str(tmp_path / 'resp'), '-p', 'limit', '1', '-p', 'show', '0'],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    assert f"tiny-gemma3 on samples (original, elena-v2) -> {tmp_path / 'resp'}" in out, out
    assert 'answered 1' in out and 'RANDOM WEIGHTS' in out and str(tmp_path / 'run.ipynb') in out, out


def test_status_from_nbs_reads_the_projects_store_and_labels_random_weights(tmp_path):
    "After `make run`, `elena status` from nbs/ (where `make lab` starts) shows that run, labelled random-weight"
    (tmp_path / 'settings.ini').write_text('[DEFAULT]\n'); (tmp_path / 'nbs').mkdir()
    run = store_path(tmp_path / 'responses', 'tiny-gemma3', 'samples', 'original', 'elena')
    run.parent.mkdir(parents=True)
    run.write_text(json.dumps(make_record(id='astronaut.jpg', dataset='samples', model='tiny-gemma3', emotion='fear',
                                          random_weights=True)) + '\n')
    r = elena('status', cwd=tmp_path / 'nbs')
    assert r.returncode == 0, r.stderr
    assert 'tiny-gemma3 (random weights)' in r.stdout, r.stdout


def test_settings_load_without_deprecation_warnings():
    "settings.ini holds no setting nbdev has deprecated (`cell_number` warned on every config load)"
    import warnings
    from nbdev.config import get_config
    with warnings.catch_warnings():
        warnings.simplefilter('error', DeprecationWarning)
        get_config.cache_clear() if hasattr(get_config, 'cache_clear') else None
        get_config(path=str(ROOT))
