"""What users of other tools expect of ELENA (issue 27): a bare Hugging Face id as a model name, evaluation outputs that
carry their provenance with a per-item table, `--json` output for machines, the response records as one DataFrame,
and an export to lmms-eval's files. The `elena` console script runs in a subprocess, as a user runs it."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib import cbook

BIN = Path(sys.executable).parent
ELENA = shutil.which('elena', path=str(BIN)) or 'elena'
PHOTO = Path(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))


def elena(*args, env=None, cwd=None, timeout=120):
    return subprocess.run([ELENA, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def test_bare_hub_id_reaches_the_weights_check(tmp_path):
    """`--model org/name` (transformers' and lmms-eval's spelling) is `hf:org/name`: offline and without the weights, the
    run stops at the weights check naming the repository, not at the model name"""
    (tmp_path / 'imgs').mkdir()
    shutil.copy(PHOTO, tmp_path / 'imgs' / 'a.jpg')
    env = {**os.environ, 'HF_HOME': str(tmp_path / 'hf'), 'HF_HUB_OFFLINE': '1'}
    repo = 'meta-llama/Llama-3.2-11B-Vision-Instruct'
    r = elena('run', '--model', repo, '--dataset', 'folder', '--data-dir', tmp_path / 'imgs', '--out-dir',
              tmp_path / 'out', env=env, cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr[-2000:]
    assert 'Unknown model' not in lines[0] and f'hf download {repo}' in lines[0] and 'HF_HUB_OFFLINE' in lines[0], lines[0]


BESST_IDS = ['070mU_45.jpg', '051wW_45.jpg', '017wA_90_2.jpg', '024wF_90.jpg', '003wH_45.jpg']  # gold from the names:
# surprise, anger, fear, happiness (German initials: Überraschung, Wut, Angst, Freude), and H: no gold


def besst_run(path, answers, model='gemini-2.5-flash'):
    "A response file as `elena run` writes it (the store's own writer), BESST ids, one answer per id (None: failed)"
    from elena.prompts import get_prompt
    from elena.store import make_record, write_records
    p = get_prompt('elena')
    write_records(path, [make_record(id=i, model=model, dataset='besst', condition='original', prompt_id=p.id,
                                     prompt_sha256=p.sha256, model_revision='001', gen={'temperature': 0.0},
                                     emotion=e, raw=f'{{"emotion": "{e}"}}' if e else '',
                                     error=None if e else {'type': 'unparsed', 'message': 'no label'})
                         for i, e in zip(BESST_IDS, answers)])
    return path


def test_evaluate_writes_provenance_and_items(tmp_path):
    "evaluation.json names its provenance (contract keys); items.csv alone gives each run's accuracy again"
    a = besst_run(tmp_path / 'a.jsonl', ['surprise', 'anger', 'fear', 'sadness', None])
    b = besst_run(tmp_path / 'b.jsonl', ['surprise', 'sadness', 'anger', 'fear', 'happiness'], model='meta-llama/Llama-3.2-11B-Vision-Instruct')
    r = elena('evaluate', a, b, '--dataset', 'besst', '--out', tmp_path / 'ev', '--n-boot', '50')
    assert r.returncode == 0, r.stderr
    ev = json.loads((tmp_path / 'ev' / 'evaluation.json').read_text())
    assert {'elena_version', 'git_commit', 'created_at', 'command'} <= set(ev)
    root = Path(__file__).resolve().parent.parent
    head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=root, capture_output=True, text=True)
    assert ev['git_commit'] == (head.stdout.strip() if head.returncode == 0 else None)  # None outside a checkout
    assert ev['command'] == f'elena evaluate {a} {b} --dataset besst --out {tmp_path / "ev"} --n-boot 50'
    from elena.prompts import get_prompt
    run_a = ev['runs'][str(a)]
    assert {k: run_a[k] for k in ('prompt_id', 'prompt_sha256', 'model', 'model_revision', 'gen')} == dict(
        prompt_id='elena-v2', prompt_sha256=get_prompt('elena').sha256, model='gemini-2.5-flash', model_revision='001',
        gen={'temperature': 0.0})
    items = pd.read_csv(tmp_path / 'ev' / 'items.csv')
    assert set(items.columns) >= {'run', 'id', 'gold', 'gold_set', 'answer', 'correct'}
    scored = items[items.gold.notna()]
    acc = scored.groupby('run').correct.mean()
    assert acc.to_dict() == pytest.approx({'a.jsonl': ev['runs'][str(a)]['accuracy'], 'b.jsonl': ev['runs'][str(b)]['accuracy']})
    assert acc['a.jsonl'] == pytest.approx(3 / 4) and acc['b.jsonl'] == pytest.approx(1 / 4)  # by hand from the names


def test_evaluate_json(tmp_path):
    a = besst_run(tmp_path / 'a.jsonl', ['surprise', 'anger', 'fear', 'sadness', None])
    r = elena('evaluate', a, '--dataset', 'besst', '--out', tmp_path / 'ev', '--json', '--n-boot', '0')
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)  # stdout holds the JSON alone
    assert ev == json.loads((tmp_path / 'ev' / 'evaluation.json').read_text())
    assert ev['runs'][str(a)]['n_scored'] == 4 and 'written:' in r.stderr


def test_status_json(tmp_path):
    besst_run(tmp_path / 'responses' / 'gemini-2.5-flash' / 'besst' / 'original-elena.jsonl', ['surprise', None, 'fear', 'anger', 'fear'])
    r = elena('status', tmp_path / 'responses', '--json')
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x['model'], x['dataset'], x['condition'], x['prompt'], x['answered'], x['failed']) for x in rows] == [
        ('gemini-2.5-flash', 'besst', 'original', 'elena', 4, {'unparsed': 1})]


def test_records_frame(tmp_path):
    from elena.store import records_frame
    f = besst_run(tmp_path / 'a.jsonl', ['surprise', 'anger', 'fear', 'sadness', None])
    df = records_frame(f)
    assert len(df) == 5 and df.id.tolist() == BESST_IDS and df['gen.temperature'].tolist() == [0.0] * 5
    assert df['error.type'].fillna('-').tolist() == ['-'] * 4 + ['unparsed']


WITHOUT_FCNTL = """
import sys
sys.modules['fcntl'] = None  # as on Windows: `import fcntl` fails
from elena.cli import main
from elena.store import ResponseStore, make_record, records_frame
assert len(records_frame(sys.argv[1])) == 5
status = main(['evaluate', sys.argv[1], '--dataset', 'besst', '--out', sys.argv[2], '--n-boot', '0'])
try:
    with ResponseStore(sys.argv[3]) as st: st.append(make_record(id='x.jpg'))
except RuntimeError as e: print('refused:', e)
sys.exit(status)
"""


def test_reading_works_without_fcntl(tmp_path):
    "Where `fcntl` cannot be imported (Windows), reading and evaluating stored responses work; writing stops in one line"
    f = besst_run(tmp_path / 'a.jsonl', ['surprise', 'anger', 'fear', 'sadness', None])
    r = subprocess.run([sys.executable, '-c', WITHOUT_FCNTL, str(f), str(tmp_path / 'ev'), str(tmp_path / 'new.jsonl')],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'accuracy 0.750' in r.stdout and (tmp_path / 'ev' / 'items.csv').is_file(), r.stdout
    assert 'refused: writing a response file takes a POSIX file lock (fcntl)' in r.stdout, r.stdout


READ_BACK = """
import json, sys
from lmms_eval.baselines.loader import load_baseline  # lmms-eval's own reader of a samples file and its results file
scores, results = load_baseline(sys.argv[1], sys.argv[2])
print(json.dumps({'scores': {str(k): v for k, v in scores.items()}, 'results': results}))
"""


def lmms_eval_path() -> str|None:
    "Where lmms-eval can be imported from: this interpreter, or ELENA_LMMS_EVAL_PATH (a `pip install --target` folder)"
    import importlib.util
    if importlib.util.find_spec('lmms_eval'): return ''
    d = os.environ.get('ELENA_LMMS_EVAL_PATH')
    return d if d and (Path(d) / 'lmms_eval').is_dir() else None


def test_export_lmms_eval(tmp_path):
    """`elena export --format lmms-eval` writes lmms-eval's samples JSONL and results JSON; lmms-eval's own loader
    (`lmms_eval.baselines.load_baseline`, which finds the results file beside the samples by lmms-eval's naming) reads
    them back, and its own comparison of filtered_resps with target gives ELENA's per-item scores"""
    a = besst_run(tmp_path / 'a.jsonl', ['surprise', 'anger', 'sadness', 'happiness', None])
    r = elena('export', a, '--format', 'lmms-eval', '--dataset', 'besst', '--out', tmp_path / 'logs')
    assert r.returncode == 0, r.stderr
    folder = tmp_path / 'logs' / 'gemini-2.5-flash'
    samples_file = next(folder.glob('*_samples_*.jsonl'))
    results_file = next(folder.glob('*_results.json'))
    task = 'elena_besst_original_elena_v2'
    assert samples_file.name == results_file.name.replace('results.json', f'samples_{task}.jsonl')
    samples = [json.loads(l) for l in samples_file.read_text().splitlines()]
    assert [(s['doc_id'], s['target'], s['filtered_resps'], s['exact_match']) for s in samples] == [
        (0, 'surprise', 'surprise', 1.0), (1, 'anger', 'anger', 1.0), (2, 'fear', 'sadness', 0.0), (3, 'happiness', 'happiness', 1.0)]
    results = json.loads(results_file.read_text())
    assert results['results'][task]['exact_match,none'] == pytest.approx(0.75)
    assert results['config']['elena_command'].startswith('elena export') and 'git_hash' in results
    if (where := lmms_eval_path()) is None:
        pytest.skip("lmms-eval is not importable: pip install lmms-eval (or, its loaders needing only the standard library, "
                    "pip install --no-deps --target DIR lmms-eval and set ELENA_LMMS_EVAL_PATH=DIR)")
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(x for x in (where, os.environ.get('PYTHONPATH', '')) if x)}
    back = subprocess.run([sys.executable, '-c', READ_BACK, str(samples_file), task], capture_output=True, text=True,
                          env=env, timeout=120)
    assert back.returncode == 0, back.stderr[-2000:]
    got = json.loads(back.stdout.splitlines()[-1])
    assert got['results'] == results
    assert got['scores'] == {str(s['doc_id']): s['exact_match'] for s in samples}
