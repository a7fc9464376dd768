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
    from elena.evaluate import read_responses
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
    from elena.standins import StandIn, openai_handler
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
