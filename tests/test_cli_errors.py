"""Every mistake a newcomer makes gets one line on stderr and a non-zero exit, never a traceback, and stored answers stay
byte-for-byte as they were. The `elena` console script runs in a subprocess, as a user runs it."""
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
import pytest
from matplotlib import cbook

ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
PHOTO = Path(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

@pytest.fixture(scope='module')
def place(tmp_path_factory):
    "A working folder as a user has it: photos, answers already stored, masked copies with faces.jsonl, an attention summary"
    from elena.store import ResponseStore, make_record, store_path
    d = tmp_path_factory.mktemp('newcomer')
    (d / 'photos').mkdir(); shutil.copy(PHOTO, d / 'photos' / 'hopper.jpg')
    (d / 'empty').mkdir(); (d / 'empty' / 'notes.txt').write_text('no images here')
    with ResponseStore(store_path(d / 'responses', 'tiny-gemma3', 'samples', 'original', 'elena')) as st:
        st.append(make_record(id='astronaut.jpg', model='tiny-gemma3', emotion='happiness', raw='{"emotion": "happiness"}'))
    (d / 'masked').mkdir(); (d / 'masked' / 'faces.jsonl').write_text('{"id": "hopper.jpg", "status": "ok", "faces": []}\n')
    (d / 'att').mkdir(); (d / 'att' / 'attention.json').write_text('{"model": "tiny-gemma3", "images": []}')
    (d / 'attlist').mkdir(); (d / 'attlist' / 'attention.json').write_text('[]')  # a JSON list, not a summary
    (d / 'badfaces').mkdir(); (d / 'badfaces' / 'faces.jsonl').write_text('{"id": ["hopper.jpg"], "status": "ok", "faces": []}\n')
    bad = d / 'badstore' / 'm' / 'samples' / 'original-elena.jsonl'; bad.parent.mkdir(parents=True)
    bad.write_text('{"id": "a.jpg", "emotion": "fear"}\n{"id": {"file": "b.jpg"}, "emotion": "fear"}\n')
    if os.geteuid() == 0: ro = Path('/sys/elena-newcomer')  # root writes anywhere but under sysfs
    else: ro = d / 'readonly'; ro.mkdir(); ro.chmod(0o500)
    return d, ro

def snapshot(d):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.rglob('*') if p.is_file() and not p.name.endswith('.lock')}

# (name, arguments with {d} the working folder and {ro} a folder that cannot be written, exit status, part of the one line)
CASES = [
    ('unknown flag', 'run --model tiny-gemma3 --bogus --out-dir {d}/responses', 2, 'unrecognized arguments: --bogus; see elena run --help'),
    ('dataset typo', 'run --model tiny-gemma3 --dataset affectnet --out-dir {d}/responses', 2, "invalid choice: 'affectnet'"),
    ('no model named', 'run --dataset samples --out-dir {d}/responses', 2, 'required: --model'),
    ('limit 0', 'run --model tiny-gemma3 --limit 0 --out-dir {d}/responses', 2, '--limit 0: give a number of images of 1 or more'),
    ('limit -1', 'run --model tiny-gemma3 --limit -1 --out-dir {d}/responses', 2, '--limit -1'),
    ('empty data dir', 'run --model tiny-gemma3 --dataset folder --data-dir {d}/empty --out-dir {d}/responses', 2, 'no images'),
    ('data dir too high', 'run --model tiny-gemma3 --dataset besst --data-dir {d}/photos --out-dir {d}/responses', 2, 'are not besst images'),
    ('missing data dir', 'run --model tiny-gemma3 --dataset folder --data-dir {d}/nowhere --out-dir {d}/responses', 2, 'nowhere'),
    ('timeout 0', 'run --model openai:standin --timeout 0 --out-dir {d}/responses', 2, '--timeout 0: give the seconds'),
    ('store locked', 'run --model tiny-gemma3 --limit 1 --out-dir {d}/responses --no-progress', 1, 'is being written by another process'),
    ('read-only out', 'run --model tiny-gemma3 --limit 1 --out-dir {ro}/responses --no-progress', 1, 'make it writable'),
    ('no gemini key', 'run --model gemini-2.5-flash --limit 1 --out-dir {d}/responses --no-progress', 1, 'No Gemini API key'),
    ('mask pad -1', 'mask --input {d}/photos --output {d}/masked --pad -1', 2, 'a negative pad leaves the face visible'),
    ('mask score 2', 'mask --input {d}/photos --output {d}/masked --score 2', 2, 'above 0 and at most 1'),
    ('mask max-side 0', 'mask --input {d}/photos --output {d}/masked --max-side 0', 2, 'at least 32 pixels'),
    ('mask min-face 0', 'mask --input {d}/photos --output {d}/masked --min-face 0', 2, 'at least 1 pixel'),
    ('run mask option typo', 'run --model tiny-gemma3 --dataset folder --data-dir {d}/photos --condition masked --mask fil=blur --out-dir {d}/responses --no-progress', 2, 'unknown masking option(s) fil'),
    ('mask input is output', 'mask --input {d}/photos --output {d}/photos', 2, 'is the input folder or holds it'),
    ('mask pad inf', 'mask --input {d}/photos --output {d}/masked --pad inf', 2, 'pad inf: give a share of the box size'),
    ('mask output is a file', 'mask --input {d}/photos --output {d}/empty/notes.txt', 2, 'is a file: give a folder'),
    ('mask empty input', 'mask --input {d}/empty --output {d}/masked3', 2, 'no images in it'),
    ('yunet not there', 'mask --input {d}/photos --output {d}/masked2 --yunet {d}/nowhere.onnx', 2, 'no such file'),
    ('figures no responses', 'figures --responses {d}/nowhere --figures {d}/fig --out {d}/nbs', 2, '--responses'),
    ('figures jobs 0', 'figures --responses {d}/photos --figures {d}/fig --out {d}/nbs --jobs 0', 2, '--jobs 0'),
    ('parse a folder', 'parse {d}/photos', 2, 'is a folder'),
    ('attention image typo', 'attention --model tiny-gemma3 --image {d}/photos/hoper.jpg --out {d}/att', 2, '--image'),
    ('attention limit 0', 'attention --model tiny-gemma3 --dataset samples --limit 0 --out {d}/att', 2, '--limit 0'),
    ('attention people typo', 'attention --model tiny-gemma3 --image {d}/photos/hopper.jpg --people {d}/people.jsonl --out {d}/att', 2, '--people'),
    ('attention json list', 'attention --model tiny-gemma3 --image {d}/photos/hopper.jpg --out {d}/attlist', 2, 'attention.json: a JSON list, not an attention summary'),
    ('faces line list id', 'mask --input {d}/photos --output {d}/badfaces', 2, "faces.jsonl:1: the line's 'id' is list"),
    ('record dict id', 'status {d}/badstore', 2, "original-elena.jsonl:2: the record's 'id' is dict"),
    ('attention pad inf', 'attention --model tiny-gemma3 --image {d}/photos/hopper.jpg --out {d}/att2 --pad inf', 2, '--pad inf: give the box padding'),
    ('attention read-only', 'attention --model tiny-gemma3 --image {d}/photos/hopper.jpg --out {ro}/att', 1, 'make it writable'),
    ('status json watch', 'status {d}/responses --json --watch 5', 2, '--json prints the runs once: leave out --watch'),
    ('allow-root not a folder', 'run --model tiny-gemma3 --limit 1 --allow-root {d}/nowhere --out-dir {d}/responses --no-progress', 2, '--allow-root'),
    ('check allow-root not a folder', 'datasets check --dataset folder --data-dir {d}/photos --allow-root {d}/photos/hopper.jpg', 2, 'not a folder'),
    ('mask allow-root not a folder', 'mask --input {d}/photos --output {d}/masked --allow-root {d}/nowhere', 2, '--allow-root'),
]

@pytest.mark.parametrize('name,args,status,says', CASES, ids=[c[0] for c in CASES])
def test_one_clear_line(place, name, args, status, says):
    d, ro = place
    env = {k: v for k, v in os.environ.items() if k not in ('GOOGLE_API_KEY', 'GEMINI_API_KEY', 'ELENA_DEBUG')}
    before = snapshot(d)
    lock = None
    if name == 'store locked':  # another process is writing the same response file
        lock = open(next((d / 'responses').rglob('original-elena.jsonl')).with_name('original-elena.jsonl.lock'), 'a+')
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        r = subprocess.run([ELENA, *args.format(d=d, ro=ro).split()], capture_output=True, text=True, env=env, cwd=d, timeout=300)
    finally:
        if lock: lock.close()
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == status, (r.returncode, r.stderr[-3000:])
    assert 'Traceback' not in r.stderr and len(lines) == 1, r.stderr[-3000:]
    assert lines[0].startswith(f"elena {args.split()[0]}: error:") and says in lines[0], lines[0]
    after = snapshot(d)
    assert {p: after.get(p) for p in before} == before  # every file that was there is byte-for-byte the same

def test_debug_shows_the_traceback(place):
    d, _ = place
    r = subprocess.run([ELENA, '--debug', 'parse', str(d / 'photos')], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and 'Traceback' in r.stderr and 'is a folder' in r.stderr
