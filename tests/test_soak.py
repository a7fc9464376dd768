"""The soak (issue 24): 2,000 images through `elena run` against an OpenAI-compatible stand-in (elena.standins, canned
answers, not a model) that injects a fault into a seeded 10 % of its requests: 429s (Retry-After 0, in milliseconds,
and of 28 hours), 500s, slow answers, answers dripped a byte at a time, bodies cut short, fenced, truncated, empty and
refused answers, an unsupported image, content as text parts or as a number, usage counts in words; two images
have odd names (Latin-1 bytes, 250 bytes long). `elena run` is
run again until nothing is left to ask; then every image has exactly one answer, and its latest record is that answer."""
import collections
import io
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
import pytest

ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
PHOTO = Path(__import__('matplotlib').cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
N = 2000
FAULTY = ('rate_limit', 'server_error', 'slow', 'fenced', 'truncated', 'empty', 'safety', 'bad_image', 'content_parts',
          'content_number', 'usage_text', 'retry_after_huge', 'retry_after_ms', 'drip', 'cut_body')

def test_soak_2000_items_with_faults(tmp_path):
    from PIL import Image
    from elena.standins import standin_process
    from elena.store import latest_records, read_records
    buf = io.BytesIO()
    Image.open(PHOTO).convert('RGB').resize((64, 75)).save(buf, 'JPEG')  # a small real photo: the requests stay light
    imgs = tmp_path / 'imgs'
    for i in range(N):
        p = imgs / f'g{i // 100:02d}' / f'img{i:04d}.jpg'
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(buf.getvalue() + i.to_bytes(2, 'big'))  # distinct bytes, still a valid JPEG
    odd = [b'caf\xe9.jpg', ('é' * 123 + '.jpg').encode()]  # a Latin-1 name, not UTF-8; a name of 250 bytes
    for i, name in enumerate(odd):
        os.rename(imgs / 'g00' / f'img{i:04d}.jpg', os.fsencode(imgs / 'g00') + b'/' + name)
    rng = random.Random(24)
    faults = {n: rng.choice(FAULTY) for n in range(4 * N) if rng.random() < 0.10}  # the n-th request's fault
    seen, runs = collections.Counter(), []
    with standin_process('openai', faults=faults, slow_s=3.0) as url:  # 'slow': 3 s; 'drip': a byte every 0.3 s
        for k in range(60):
            r = subprocess.run([ELENA, 'run', '--model', 'openai:standin', '--base-url', url + '/v1', '--dataset', 'folder',
                                '--data-dir', str(imgs), '--out-dir', str(tmp_path / 'out'), '--timeout', '1', '--no-progress'],
                               capture_output=True, text=True, timeout=600)
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            runs.append((r.returncode, r.stdout[-400:], lines))
            assert r.returncode in (0, 1) and 'Traceback' not in r.stderr, r.stderr[-3000:]
            if r.returncode == 1:  # only the 28-hour Retry-After stops a run, in one line saying so
                assert len(lines) == 1 and 'asked to wait 27.8 h' in lines[0], lines
                seen['stopped'] += 1
            if f'skipped {N} already answered' in r.stdout:
                break
        else:
            pytest.fail(f"still not done after {len(runs)} runs: {runs[-3:]}")
    recs = read_records(next((tmp_path / 'out').rglob('original-elena.jsonl')))
    latest = latest_records(recs)
    answers = collections.Counter(x['id'] for x in recs if x['error'] is None)
    assert len(latest) == N and set(answers) == set(latest)  # nothing lost
    assert {b'g00/' + name for name in odd} <= {os.fsencode(i) for i in latest}  # the odd names, to the byte
    assert set(answers.values()) == {1}  # exactly one answer per image, never asked again once answered
    assert all(x['error'] is None and x['emotion'] == 'fear' for x in latest.values())  # the latest record is the answer
    errors = collections.Counter(x['error']['type'] for x in recs if x['error'])
    assert {'MaxTokens', 'EmptyResponse', 'BadRequest'} <= set(errors), errors  # recorded, then asked again
    assert seen['stopped'] >= 1 and len(faults) > 0.08 * 4 * N
    print(f"{len(runs)} runs ({seen['stopped']} stopped by a 28-hour Retry-After), {len(recs)} records, errors recorded {dict(errors)}")
