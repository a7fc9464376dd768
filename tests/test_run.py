"""The main job end to end: `elena run` killed with SIGKILL halfway and started again, and the run notebook
executed by papermill. The model is a stand-in server (canned answers) in its own process, or a tiny random-weight
model built in-process; neither output is a result."""
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.cbook
import pytest
from conftest import yunet_missing

from elena.standins import standin_process

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PHOTO = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
@pytest.fixture
def standin():
    with standin_process('openai', latency_s=0.15) as url: yield url + '/v1'


def images(d, n):
    for i in range(n):
        p = d / f'g{i // 10}' / f'img{i:03d}.jpg'
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(PHOTO.read_bytes() + i.to_bytes(2, 'big'))  # distinct bytes, still a valid JPEG
    return d


def elena_run(*args, timeout=120, **kw):
    "`elena run ARGS` in a subprocess, its output captured"
    cmd = [str(BIN / 'elena'), 'run', *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def records(path):
    out = []
    for line in path.read_text().splitlines():
        try: out.append(json.loads(line))
        except json.JSONDecodeError: pass  # the line cut off by the kill
    return out


def test_sigkill_halfway_then_resume(tmp_path, standin):
    data, out = images(tmp_path / 'imgs', 40), tmp_path / 'responses'
    cmd = [str(BIN / 'elena'), 'run', '--model', 'openai:standin', '--base-url', standin, '--dataset', 'folder',
           '--data-dir', str(data), '--out-dir', str(out), '--concurrency', '2', '--no-progress']
    f = out / 'openai_standin' / 'folder' / 'original-elena.jsonl'
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while (not f.exists() or len(f.read_text().splitlines()) < 8) and time.monotonic() < deadline: time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait()
    first = len(records(f))
    assert 8 <= first < 40, first
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'skipped {first} already answered' in r.stdout, r.stdout
    recs = records(f)
    counts = collections.Counter(x['id'] for x in recs)
    assert len(counts) == 40 and set(counts.values()) == {1}, counts.most_common(3)
    assert not any(x['error'] for x in recs)
    assert all(x['emotion'] == 'fear' and x['image_sha256'] for x in recs)


def test_lock_stops_a_second_writer(tmp_path, standin):
    from elena.store import ResponseStore
    data, out = images(tmp_path / 'imgs', 2), tmp_path / 'responses'
    f = out / 'openai_standin' / 'folder' / 'original-elena.jsonl'
    with ResponseStore(f):
        r = elena_run('--model', 'openai:standin', '--base-url', standin, '--dataset', 'folder', '--data-dir', data,
                      '--out-dir', out, timeout=60)
    assert r.returncode != 0 and 'is being written by another process' in r.stderr


def test_unknown_names_fail_at_once():
    r = elena_run('--model', 'gpt5-vision', timeout=60)
    assert r.returncode == 2, r.stderr
    assert "Unknown model 'gpt5-vision'. Valid names: gemini-2.5-flash, gemma3-12b, llama11b" in r.stderr


def papermill(tmp_path, *params):
    out_nb = tmp_path / 'run.ipynb'
    args = [str(BIN / 'papermill'), str(ROOT / 'nbs' / '03_run.ipynb'), str(out_nb), '-k', 'python3',
            '--cwd', str(ROOT)]
    for k, v in params: args += ['-p', k, str(v)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    nb = json.loads(out_nb.read_text())
    outputs = (o for c in nb['cells'] if c['cell_type'] == 'code' for o in c.get('outputs', []))
    return '\n'.join(''.join(o.get('text', '')) for o in outputs)


def test_papermill_run_notebook_against_standin(tmp_path, standin):
    data = images(tmp_path / 'imgs', 3)
    (data / 'labels.csv').write_text('image,label\ng0/img000.jpg,fear\ng0/img001.jpg,anger\ng0/img002.jpg,fear\n')
    text = papermill(tmp_path, ('model', 'openai:standin'), ('base_url', standin), ('dataset', 'folder'),
                     ('data_dir', data), ('out_dir', tmp_path / 'responses'))
    assert 'items 3: skipped 0 already answered, answered 3, failed 0' in text, text
    assert len(records(tmp_path / 'responses' / 'openai_standin' / 'folder' / 'original-elena.jsonl')) == 3
    assert 'accuracy 0.667' in text, text  # the stand-in always says fear: 2 of 3 gold labels are fear


def test_masked_condition_masks_then_asks(tmp_path, standin, monkeypatch):
    if (why := yunet_missing()): pytest.skip(why)
    from elena.run import run_elena
    from elena.files import image_sha256
    monkeypatch.setenv('ELENA_CACHE', str(tmp_path / 'cache'))
    data = tmp_path / 'imgs'; data.mkdir()
    shutil.copy(PHOTO, data / 'hopper.jpg')
    s = run_elena('openai:standin', 'folder', data, condition='masked', out_dir=tmp_path / 'responses',
                  base_url=standin, progress=False)
    assert (s.done, s.condition, s.prompt_id) == (1, 'masked', 'elena-masked-v2')
    rec = records(s.path)[0]
    masked = next((tmp_path / 'cache' / 'masked').glob('folder-*/hopper.jpg'))
    assert rec['image_sha256'] == image_sha256(masked) != image_sha256(PHOTO)
    faces = [json.loads(l) for l in (masked.parent / 'faces.jsonl').read_text().splitlines() if '"id"' in l]
    assert faces[0]['status'] == 'ok' and len(faces[0]['faces']) >= 1
    assert s.path.name == 'masked-elena.jsonl'


def test_papermill_smoke_tiny_model_on_samples(tmp_path):
    text = papermill(tmp_path, ('model', 'tiny-gemma3'), ('dataset', 'samples'), ('out_dir', tmp_path / 'responses'),
                     ('max_new_tokens', 16))
    assert 'RANDOM WEIGHTS' in text and 'Not scored' not in text, text
    recs = records(tmp_path / 'responses' / 'tiny-gemma3' / 'samples' / 'original-elena.jsonl')
    assert sorted(r['id'] for r in recs) == ['astronaut.jpg', 'grace_hopper.jpg']
    assert all(r['random_weights'] and r['backend'] == 'transformers' and r['raw'] for r in recs)
    # random weights never produce an end token: every answer runs to the limit, which is recorded with its reason
    assert all(r['finish_reason'] == 'length' and r['error']['type'] == 'MaxTokens' for r in recs)
    assert all(r['usage']['output'] == 16 for r in recs)


@pytest.mark.parametrize('batch', [False, True], ids=['live', 'batch'])
def test_run_gemini_through_the_sdk(tmp_path, batch):
    key = 'AIza-test-key-never-to-be-written'
    with standin_process('gemini', latency_s=0.05) as url:
        env = {**os.environ, 'GOOGLE_API_KEY': key, 'ELENA_BATCH_POLL_S': '0.05'}
        args = ['--model', 'gemini-2.5-flash', '--base-url', url, '--dataset', 'folder',
                '--data-dir', images(tmp_path / 'imgs', 5), '--out-dir', tmp_path / 'responses', '--no-progress']
        args += ['--batch'] if batch else []
        r = elena_run(*args, env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr[-3000:]
        f = tmp_path / 'responses' / 'gemini-2.5-flash' / 'folder' / 'original-elena.jsonl'
        recs = records(f)
        assert len(recs) == 5
        assert all(x['emotion'] == 'fear' and x['backend'] == 'gemini' and not x['error'] for x in recs)
        assert 'estimated cost $' in r.stdout
        written = f.read_text() + r.stdout + r.stderr + ''.join(p.read_text() for p in f.parent.rglob('*.json'))
        assert key not in written
        r2 = elena_run(*args, env=env, cwd=tmp_path)
        assert 'skipped 5 already answered' in r2.stdout, r2.stdout + r2.stderr[-2000:]


def test_batch_refused_before_anything_is_written(tmp_path):
    "--batch with a model that has no batch API fails at once, naming the fix, before a response file is opened"
    r = elena_run('--model', 'tiny-gemma3', '--batch', '--out-dir', tmp_path / 'responses', '--no-progress',
                  cwd=tmp_path)
    assert r.returncode == 2 and 'tiny-gemma3 has none: leave out --batch' in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / 'responses').exists()


def test_cost_estimate_by_model_id(tmp_path):
    "'gemini:gemini-2.5-flash' is priced as gemini-2.5-flash: the price is looked up by the backend's model id"
    with standin_process('gemini') as url:
        env = {**os.environ, 'GOOGLE_API_KEY': 'AIza-test-not-a-real-key'}
        r = elena_run('--model', 'gemini:gemini-2.5-flash', '--base-url', url, '--dataset', 'folder',
                      '--data-dir', images(tmp_path / 'imgs', 2), '--out-dir', tmp_path / 'responses', '--no-progress',
                      env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    recs = records(tmp_path / 'responses' / 'gemini_gemini-2.5-flash' / 'folder' / 'original-elena.jsonl')
    cost = sum(x['usage']['input'] * 0.30 + x['usage']['output'] * 2.50 for x in recs) / 1e6
    assert len(recs) == 2 and f'estimated cost ${cost:.4f}' in r.stdout, r.stdout


def test_recorded_errors_exit_0_so_array_jobs_succeed(tmp_path):
    "An item that ended as a recorded error (asked again next time) is work done: exit 0 (a SLURM merge job's afterok)"
    from elena.standin_server import StandIn, openai_handler
    with StandIn(openai_handler, faults={0: 'truncated'}) as si:
        r = elena_run('--model', 'openai:standin', '--base-url', si.url + '/v1', '--dataset', 'folder',
                      '--data-dir', images(tmp_path / 'imgs', 3), '--out-dir', tmp_path / 'responses',
                      '--concurrency', '1', '--no-progress', cwd=tmp_path)
    assert 'answered 2, failed 1 (MaxTokens 1)' in r.stdout, r.stdout + r.stderr[-2000:]
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]


def test_local_model_memory_options_reach_the_backend(tmp_path):
    "--max-memory and --quantize reach the transformers backend (90B on two GPUs, or 4-bit on one); a bad one: one line"
    r = elena_run('--model', 'tiny-gemma3', '--max-memory', '0', '--out-dir', tmp_path / 'responses', '--no-progress',
                  cwd=tmp_path)
    assert r.returncode == 2 and "max_memory: '0' is not DEVICE=SIZE (e.g. 0=70GiB)" in r.stderr, r.stderr[-2000:]
    r = elena_run('--model', 'tiny-gemma3', '--quantize', '3bit')
    assert r.returncode == 2 and "invalid choice: '3bit'" in r.stderr, r.stderr[-2000:]


def test_nothing_left_to_ask_loads_no_model(tmp_path):
    "A resubmitted array task whose shard is all answered loads no weights (minutes of GPU time for the 90B model)"
    from elena.data import load_dataset
    from elena.prompts import get_prompt
    from elena.run import run_elena
    from elena.files import image_sha256
    from elena.store import ResponseStore, make_record, store_path
    model = f"hf:{tmp_path / 'no-such-model'}"  # loading it would fail: there is nothing there
    gen = {'temperature': 0.0, 'max_new_tokens': 512, 'seed': None}  # what run_elena asks by default
    with ResponseStore(store_path(tmp_path / 'responses', model, 'samples', 'original', 'elena')) as st:
        for it in load_dataset('samples').items:
            st.append(make_record(id=it.id, image_sha256=image_sha256(it.image), model=model,
                                  prompt_sha256=get_prompt('elena', 'elena').sha256, gen=gen, raw='{}', emotion='fear'))
    s = run_elena(model, 'samples', out_dir=tmp_path / 'responses', progress=False)
    assert (s.items, s.skipped, s.done, sum(s.failed.values())) == (2, 2, 0, 0)


def test_stopped_run_exits_1_with_one_line(tmp_path):
    "An error no retry can fix (a model the server lacks) stops the run: exit 1, one line saying what to do"
    from elena.standin_server import StandIn, openai_handler
    with StandIn(openai_handler, models={'gemma-3-12b'}) as si:
        r = elena_run('--model', 'openai:gemma3', '--base-url', si.url + '/v1', '--dataset', 'folder',
                      '--data-dir', images(tmp_path / 'imgs', 3), '--out-dir', tmp_path / 'responses', '--no-progress',
                      cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('elena run: stopped:'), r.stderr
    assert "does not serve the model 'gemma3'" in lines[0], r.stderr


def test_offline_without_weights_stops_in_one_line(tmp_path):
    """Without the weights and without the Hub, `elena run --model llama11b` stops at once with one line that names the
    repository, its licence gate and the command that fetches it, leaving neither a response file nor a lock behind"""
    env = {**os.environ, 'HF_HOME': str(tmp_path / 'hf'), 'HF_HUB_OFFLINE': '1'}
    r = elena_run('--model', 'llama11b', '--dataset', 'folder', '--data-dir', images(tmp_path / 'imgs', 2),
                  '--out-dir', tmp_path / 'offline', env=env, cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]  # a stop (the name was right, the weights cannot be had), as no key is
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    repo = 'meta-llama/Llama-3.2-11B-Vision-Instruct'
    for part in (repo, 'licence', f'hf download {repo}', 'HF_HOME='): assert part in lines[0], (part, lines[0])
    assert not (tmp_path / 'offline').exists() or not any(p.is_file() for p in (tmp_path / 'offline').rglob('*'))


def test_sigkill_loses_no_reported_answer_with_batched_syncs(tmp_path):
    "records are synced in batches (issue 30): every answer the progress bar counted as stored before a SIGKILL is in the file, and the resumed run asks only the rest, once each"
    import re
    data, out, n = images(tmp_path / 'imgs', 150), tmp_path / 'responses', 150
    f = out / 'openai_standin' / 'folder' / 'original-elena.jsonl'
    with standin_process('openai', latency_s=0.05) as url:
        cmd = [str(BIN / 'elena'), 'run', '--model', 'openai:standin', '--base-url', url + '/v1', '--dataset', 'folder',
               '--data-dir', str(data), '--out-dir', str(out), '--concurrency', '8']
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.set_blocking(p.stderr.fileno(), False)
        seen, deadline = b'', time.monotonic() + 60
        while time.monotonic() < deadline:
            seen += p.stderr.read() or b''
            counts = [int(c) for c in re.findall(rb'standin folder:\s+\d+%\S*\s+(\d+)/150', seen)]
            if counts and counts[-1] >= 40: break
            time.sleep(0.01)
        p.send_signal(signal.SIGKILL); p.wait()
        seen += p.stderr.read() or b''
        reported = max(int(c) for c in re.findall(rb'standin folder:\s+\d+%\S*\s+(\d+)/150', seen))
        first = {x['id'] for x in records(f)}
        assert reported <= len(first) < n, (reported, len(first))
        r = subprocess.run(cmd + ['--no-progress'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'skipped {len(first)} already answered' in r.stdout, r.stdout
    counts = collections.Counter(x['id'] for x in records(f))
    assert len(counts) == n and set(counts.values()) == {1}, counts.most_common(3)


def test_second_start_hashes_no_unchanged_image(tmp_path, monkeypatch, standin):
    "image hashes are remembered by size and modification time in the cache folder (issue 30): a resumed run hashes only what changed"
    import elena.files
    from elena.run import run_elena
    monkeypatch.setenv('ELENA_CACHE', str(tmp_path / 'cache'))
    data, out = images(tmp_path / 'imgs', 3), tmp_path / 'responses'
    hashed, real = [], elena.files.image_sha256
    monkeypatch.setattr(elena.files, 'image_sha256', lambda p, *a: hashed.append(Path(p).name) or real(p, *a))
    go = lambda: run_elena('openai:standin', 'folder', data, out_dir=out, base_url=standin, progress=False)
    assert go().done == 3 and len(hashed) == 3
    hashed.clear()
    s = go()
    assert hashed == [] and s.skipped == 3 and s.done == 0
    changed = data / 'g0' / 'img001.jpg'
    import cv2
    cv2.imwrite(str(changed), cv2.imread(str(changed))[::-1])  # a new version of one image (other pixels): hashed and asked again
    s = go()
    assert hashed == ['img001.jpg'] and s.skipped == 2 and s.done == 1
