"""Nothing lost, nothing hangs (issue 24): "latest" is latest in time in every reader and in `elena merge`; a second run
on one store is refused before anything heavy happens; odd replies, odd servers and odd names end as an answer, a
recorded error or one clear line."""
import json
import shutil
import subprocess
import sys
from pathlib import Path
import pytest

ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
DEC, JAN = '2025-12-01T10:00:00.000+00:00', '2025-01-05T10:00:00.000+00:00'

def _rec(i, t, **kw):
    from elena.store import make_record
    return make_record(id=i, model='m', dataset='samples', condition='original', created_at=t, **kw)

@pytest.fixture
def stale_after_new(tmp_path):
    "A run's file whose December answers are followed by January failures of the same images (a stale shard appended)"
    from elena.store import store_path, write_records
    p = store_path(tmp_path / 'responses', 'm', 'samples', 'original', 'elena')
    good = [_rec(f'{k}.jpg', DEC, emotion='fear', raw='{"emotion": "fear"}') for k in range(3)]
    stale = [_rec(f'{k}.jpg', JAN, error={'type': 'Timeout', 'message': 'old'}) for k in range(3)]
    write_records(p, good + stale)
    return p

def test_merge_out_of_order_shards(tmp_path):
    "`elena merge` with a stale shard (January failures) given after a newer one, into a file holding December answers"
    from elena.store import latest_records, read_records, store_path, write_records
    out = store_path(tmp_path, 'm', 'samples', 'original', 'elena')
    write_records(out, [_rec('a.jpg', DEC, emotion='fear')])
    new = store_path(tmp_path, 'm', 'samples', 'original', 'elena', (0, 2))
    old = store_path(tmp_path, 'm', 'samples', 'original', 'elena', (1, 2))
    write_records(new, [_rec('b.jpg', DEC, emotion='joy')])
    write_records(old, [_rec('a.jpg', JAN, error={'type': 'Timeout'}), _rec('b.jpg', JAN, error={'type': 'Timeout'})])
    r = subprocess.run([ELENA, 'merge', str(new), str(old)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    latest = latest_records(read_records(out))
    assert {i: (x['emotion'], x['error']) for i, x in latest.items()} == {'a.jpg': ('fear', None), 'b.jpg': ('joy', None)}
    assert len(read_records(out)) == 2  # the stale January records were not appended

def test_readers_take_latest_in_time(stale_after_new):
    "evaluate's reader, the paper notebooks' `answers`, `elena status` and resuming all see the December answers"
    from elena.answers import read_responses
    from elena.results import answers, find_runs
    from elena.status import run_status
    from elena.store import done_ids, read_records
    p = stale_after_new
    df = read_responses(p)
    assert sorted(df.id) == ['0.jpg', '1.jpg', '2.jpg'] and not df.failed.any() and set(df.emotion) == {'fear'}
    a = answers(find_runs(p.parents[2]))
    assert len(a) == 3 and not a.failed.any()
    [row] = run_status(p.parents[2])
    assert row['answered'] == 3 and not row['failed'], row
    recs = read_records(p)
    assert done_ids(recs, 'm', None, None, {f'{k}.jpg': None for k in range(3)}) == {'0.jpg', '1.jpg', '2.jpg'}

PHOTO = Path(__import__('matplotlib').cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

def _images(d, n):
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n): (d / f'img{i:04d}.jpg').write_bytes(PHOTO.read_bytes() + i.to_bytes(2, 'big'))  # distinct bytes
    return d

def test_second_run_refused_before_model_load(tmp_path):
    "With the store held by another writer, a run is refused at once: it never gets to loading the model (whose weights are missing here)"
    import fcntl, os
    from elena.store import store_path
    model = 'hf:nobody/no-such-model'
    f = store_path(tmp_path / 'out', model, 'folder', 'original', 'elena')
    f.parent.mkdir(parents=True)
    env = {**os.environ, 'HF_HOME': str(tmp_path / 'hf'), 'HF_HUB_OFFLINE': '1'}
    with open(f.with_name(f.name + '.lock'), 'a+') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = subprocess.run([ELENA, 'run', '--model', model, '--dataset', 'folder', '--data-dir', str(_images(tmp_path / 'imgs', 2)),
                            '--out-dir', str(tmp_path / 'out'), '--no-progress'], capture_output=True, text=True, env=env, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and 'is being written by another process' in lines[0], r.stderr[-2000:]

def test_run_finishing_while_another_loads_is_not_asked_twice(tmp_path, monkeypatch):
    """Run B is loading its model when run A (another process, same output) starts: A is refused, B asks every image once.
    Before, B decided what to ask before taking the lock, A answered everything meanwhile, and B asked it all again."""
    from elena.openai_compat import OpenAIBackend
    from elena.run import run_elena
    from elena.standin_server import StandIn, openai_handler
    from elena.store import read_records
    imgs, out = _images(tmp_path / 'imgs', 4), tmp_path / 'responses'
    other = []
    with StandIn(openai_handler) as si:
        url = si.url + '/v1'
        def slow_load(self):  # the model loading of run B, during which run A comes and goes
            other.append(subprocess.run([ELENA, 'run', '--model', 'openai:standin', '--base-url', url, '--dataset', 'folder',
                                         '--data-dir', str(imgs), '--out-dir', str(out), '--no-progress'],
                                        capture_output=True, text=True, timeout=120))
            return self
        monkeypatch.setattr(OpenAIBackend, 'load', slow_load, raising=False)
        s = run_elena('openai:standin', 'folder', imgs, out_dir=out, base_url=url, progress=False)
    recs = read_records(s.path)
    assert sorted(r['id'] for r in recs) == [f'img{i:04d}.jpg' for i in range(4)], [r['id'] for r in recs]  # once each
    assert len(si.requests) == 4
    assert other[0].returncode == 1 and 'is being written by another process' in other[0].stderr, other[0].stderr[-2000:]

def _run_with(faults, tmp_path, n=3, timeout=60, **opts):
    "run_elena over `n` photos against an OpenAI stand-in injecting `faults`; (summary, records, stand-in); fails, not hangs"
    import threading
    from elena.run import run_elena
    from elena.standin_server import StandIn, openai_handler
    from elena.store import read_records
    imgs, got = _images(tmp_path / 'imgs', n), {}
    with StandIn(openai_handler, faults=faults, slow_s=opts.pop('slow_s', 5.0)) as si:
        def go():
            try: got['s'] = run_elena('openai:standin', 'folder', imgs, out_dir=tmp_path / 'responses', base_url=si.url + '/v1',
                                      progress=False, concurrency=1, backend_options={'backoff_base': 0.01, **opts})
            except BaseException as e: got['e'] = e
        t = threading.Thread(target=go, daemon=True); t.start(); t.join(timeout)
        assert not t.is_alive(), f"the run still waits after {timeout} s"
    if 'e' in got: raise got['e']
    return got['s'], read_records(got['s'].path), si

def test_content_parts_number_and_usage_words(tmp_path):
    "content as text parts is the answer; a number is retried, then answered; a usage count in words costs nothing"
    s, recs, si = _run_with({0: 'content_parts', 1: 'content_number', 3: 'usage_text'}, tmp_path)
    assert (s.done, sum(s.failed.values()), s.parsed_ok) == (3, 0, 3), str(s)
    assert [r['emotion'] for r in recs] == ['fear'] * 3 and all(r['error'] is None for r in recs)
    assert len(si.requests) == 4  # the number was asked again
    assert [r['usage'] for r in recs][2] == {'input': None, 'output': len(recs[2]['raw']) // 4}

def test_drip_feeding_server_meets_a_deadline(tmp_path):
    "A server sending one byte every 0.3 s never trips the 1 s read timeout; the whole request has a deadline"
    s, recs, si = _run_with({0: 'drip', 1: 'drip'}, tmp_path, n=1, slow_s=3.0, timeout_s=1.0, max_tries=2)
    assert [r['error']['type'] for r in recs] == ['Timeout'] and 'no complete answer within 2 s' in recs[0]['error']['message']

def test_body_cut_short_is_not_a_silent_server(tmp_path):
    "Every body cut short: each image's error says the server answered and cut it, the run is not stopped as 'not answering'"
    s, recs, si = _run_with(lambda n, body: 'cut_body', tmp_path, n=3, max_tries=3, gone_after=2, gone_after_s=0)
    assert {r['error']['type'] for r in recs} == {'BodyCutShort'} and len(recs) == 3, [r['error'] for r in recs]
    assert 'answered but cut the body short' in recs[0]['error']['message']

def test_retry_after_of_28_hours_stops_in_one_line(tmp_path):
    "A 429 asking to wait 100000 s: `elena run` stops at once with one line saying what the server asked and what ELENA does"
    from elena.standins import standin_process
    with standin_process('openai', faults={0: 'retry_after_huge'}) as url:
        r = subprocess.run([ELENA, 'run', '--model', 'openai:standin', '--base-url', url + '/v1', '--dataset', 'folder',
                            '--data-dir', str(_images(tmp_path / 'imgs', 2)), '--out-dir', str(tmp_path / 'out'),
                            '--no-progress'], capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'asked to wait 27.8 h' in lines[0] and 'waits at most 600 s' in lines[0], r.stderr[-2000:]
    assert 'run the same command again later to resume' in lines[0]

def test_mask_output_is_input_through_a_bind_mount(tmp_path):
    "The input folder mounted again elsewhere (same device and inode, another path): refused, the originals untouched"
    import os
    src, mnt = _images(tmp_path / 'photos', 1), tmp_path / 'mnt'
    mnt.mkdir()
    if subprocess.run(['mount', '--bind', str(src), str(mnt)], capture_output=True).returncode:
        pytest.skip('mount --bind is not permitted here')
    try:
        before = (src / 'img0000.jpg').read_bytes()
        r = subprocess.run([ELENA, 'mask', '--input', str(src), '--output', str(mnt)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and 'is the input folder or holds it' in r.stderr, r.stderr[-2000:]
        assert (src / 'img0000.jpg').read_bytes() == before and not (src / 'faces.jsonl').exists()
    finally:
        subprocess.run(['umount', str(mnt)])

def _yunet_or_skip():
    from conftest import yunet_missing
    if yunet_missing(): pytest.skip(str(yunet_missing()))

def test_names_that_are_not_utf8_are_masked_and_asked(tmp_path):
    "`caf\\xe9.jpg` (Latin-1 bytes): masked and answered with the other images, its id kept to the byte, nothing asked twice"
    import os
    from elena.faces import read_faces
    from elena.standins import standin_process
    from elena.store import read_records
    _yunet_or_skip()
    imgs = _images(tmp_path / 'imgs', 3)
    os.rename(imgs / 'img0001.jpg', os.fsencode(imgs) + b'/caf\xe9.jpg')
    r = subprocess.run([ELENA, 'mask', '--input', str(imgs), '--output', str(tmp_path / 'masked')], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    faces, summary = read_faces(tmp_path / 'masked')
    assert {os.fsencode(i): f['status'] for i, f in faces.items()} == {b'img0000.jpg': 'ok', b'caf\xe9.jpg': 'ok', b'img0002.jpg': 'ok'}
    assert os.path.isfile(os.fsencode(tmp_path / 'masked') + b'/caf\xe9.jpg')
    with standin_process('openai') as url:
        for _ in range(2):
            r = subprocess.run([ELENA, 'run', '--model', 'openai:standin', '--base-url', url + '/v1', '--dataset', 'folder',
                                '--data-dir', str(imgs), '--out-dir', str(tmp_path / 'out'), '--no-progress'],
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stderr[-2000:]
    assert 'skipped 3 already answered' in r.stdout, r.stdout
    recs = read_records(next((tmp_path / 'out').rglob('original-elena.jsonl')))
    assert sorted(os.fsencode(x['id']) for x in recs) == [b'caf\xe9.jpg', b'img0000.jpg', b'img0002.jpg']
    assert all(x['emotion'] == 'fear' and x['error'] is None for x in recs)

def test_names_of_250_bytes_can_be_masked(tmp_path):
    "An image name of 250 bytes (the longest a file name gets is 255): masked, its temporary name short enough"
    from elena.faces import read_faces
    _yunet_or_skip()
    imgs = _images(tmp_path / 'imgs', 1)
    name = 'é' * 123 + '.jpg'  # 250 bytes in UTF-8
    (imgs / 'img0000.jpg').rename(imgs / name)
    r = subprocess.run([ELENA, 'mask', '--input', str(imgs), '--output', str(tmp_path / 'masked')], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert read_faces(tmp_path / 'masked')[0][name]['status'] == 'ok' and (tmp_path / 'masked' / name).is_file()

def test_atomic_write_syncs_file_and_folder(tmp_path, monkeypatch):
    "The bytes are synced before the rename and the folder after it (a crash leaves the old file or the whole new one)"
    import os
    from elena.files import atomic_write
    synced, real = [], os.fsync
    def fsync(fd):  # the real fsync, noting what it synced
        synced.append(os.readlink(f'/proc/self/fd/{fd}'))
        return real(fd)
    monkeypatch.setattr(os, 'fsync', fsync)
    atomic_write(tmp_path / 'x.json', '{}')
    assert len(synced) == 2 and synced[0].endswith('.part') and synced[1] == str(tmp_path), synced

@pytest.fixture
def tiny_disk(tmp_path):
    "A 96 KiB tmpfs: a disk that fills up"
    d = tmp_path / 'disk'
    d.mkdir()
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', str(d)], capture_output=True).returncode:
        pytest.skip('mounting a tmpfs is not permitted here')
    yield d
    subprocess.run(['umount', str(d)])

def test_full_disk_names_the_folder_and_what_was_kept(tmp_path, tiny_disk):
    "The disk fills during a run: one line naming the folder and the answers kept, which are all readable; a rerun resumes"
    import warnings
    from elena.standins import standin_process
    from elena.store import read_records
    with standin_process('openai') as url:
        cmd = [ELENA, 'run', '--model', 'openai:standin', '--base-url', url + '/v1', '--dataset', 'folder', '--data-dir',
               str(_images(tmp_path / 'imgs', 200)), '--out-dir', str(tiny_disk / 'out'), '--no-progress']
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and 'no space left on the device holding' in lines[0], r.stderr[-2000:]
    f = next((tiny_disk / 'out').rglob('original-elena.jsonl'))
    assert str(f.parent) in lines[0]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the record cut off by the full disk
        kept = [x for x in read_records(f) if x['error'] is None]
    assert 0 < len(kept) < 200 and f'the {len(kept)} answers stored now in {f} are kept' in lines[0], lines[0]

def test_full_disk_while_masking_says_so(tmp_path, tiny_disk):
    "Masked copies that no longer fit: each such image's record names the folder that is full, not an unreadable image"
    from elena.faces import read_faces
    _yunet_or_skip()
    r = subprocess.run([ELENA, 'mask', '--input', str(_images(tmp_path / 'imgs', 6)), '--output', str(tiny_disk / 'masked')],
                       capture_output=True, text=True, timeout=300)
    faces = read_faces(tiny_disk / 'masked')[0]
    full = [f['message'] for f in faces.values() if f['status'] == 'error']
    assert full and all(m.startswith(f"no space left on the device holding {tiny_disk / 'masked'}") for m in full), full
    assert all((tiny_disk / 'masked' / i).is_file() for i, f in faces.items() if f['status'] == 'ok')  # those are kept
