"""The run cache (`elena.runcache`) as the readers use it: records appended to a run reach every reader (`elena status`,
`elena evaluate`, `elena.results` and so the paper notebooks, with the scores and text summaries kept beside a run, the
explorer's `Browser`); a stale, corrupt or foreign cache is rebuilt from the response file; what the readers give is
the same with the cache and without it.

The runs are written as `elena run` writes them: `elena.store.ResponseStore` appending `make_record` records (canned
answers: fixtures, not any model's output). The reference "without the cache" is computed here from
`elena.store.read_records` and `latest_records` alone, the way `read_responses` read a run before the cache existed."""
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from elena.answers import ANSWER_FIELDS, match_key, read_responses
from elena.evaluate import evaluate
from elena.results import answers, find_runs, paired_deltas, score_runs, text_summary
from elena.runcache import cache_path, run_rows
from elena.status import run_status
from elena.store import ResponseStore, latest_records, make_record, read_records, store_path

BIN = Path(sys.executable).parent
LETTERS = {'A': 'fear', 'F': 'happiness', 'T': 'sadness', 'W': 'anger'}


def rec(i, emotion, t, model='fixture-model', condition='original', prompt='elena', error=None):
    "One record as `elena run` stores it (besst ids: the gold label is coded in the file name)"
    parsed = None if error else dict(emotion=emotion, narrative=f'Fixture: the {emotion} shows in the clenched hands.',
                                     explicit_description='fixture: hands clenched', implicit_description='fixture',
                                     body_parts=['hands', 'shoulders'][:1 + i % 2], valence=i % 9 + 1, arousal=5,
                                     dominance=3.5)
    return make_record(id=f'{i:03d}m{"AFTW"[i % 4]}_0.jpg', dataset='besst', condition=condition, model=model,
                       prompt_id=f'{prompt}-v2', emotion=None if error else emotion, parsed=parsed, error=error,
                       labels=['happiness', 'sadness', 'fear', 'anger', 'surprise', 'disgust', 'neutral'],
                       created_at=f'2026-03-02T{8 + t // 60:02d}:{t % 60:02d}:00.000+00:00')


def append(path, recs):
    with ResponseStore(path) as st:
        for r in recs:
            st.append(r)


def old_read_responses(path):
    "What `read_responses` gave before the run cache: every record parsed, the latest of each id kept in file order"
    recs = read_records(path)
    keep = {id(r) for r in latest_records(recs).values()}
    recs = [r for r in recs if id(r) in keep]
    P = [r.get('parsed') if isinstance(r.get('parsed'), dict) else {} for r in recs]
    stored = ('model', 'condition', 'prompt_id', 'dataset', 'created_at', 'labels', 'prompt_sha256', 'model_revision', 'gen',
              'random_weights')
    df = pd.DataFrame({'id': [str(r['id']) for r in recs], 'emotion': [r.get('emotion') for r in recs],
                       'failed': [r.get('error') is not None for r in recs],
                       **{k: [r.get(k) for r in recs] for k in stored},
                       **{k: [p.get(k) for p in P] for k in ANSWER_FIELDS}})
    df.insert(1, 'key', match_key(df.id))
    return df


@pytest.fixture
def store(tmp_path):
    root = tmp_path / 'responses'
    p = store_path(root, 'fixture-model', 'besst', 'original', 'elena')
    append(p, [rec(i, LETTERS['AFTW'[i % 4]] if i % 3 else 'neutral', i) for i in range(12)])
    q = store_path(root, 'fixture-model', 'besst', 'original', 'naive')
    append(q, [rec(i, 'fear', i, prompt='naive') for i in range(12)])
    return root, p, q


def test_appended_records_reach_every_reader(store, tmp_path):
    root, p, q = store
    # every reader reads once: the caches are written
    assert find_runs(root).n.tolist() == [12, 12]
    before = evaluate([p], 'besst', n_boot=0)['runs'][str(p)]
    assert before['n_responses'] == 12 and cache_path(p).is_file()
    memo = {}
    assert {r['prompt']: r['answered'] for r in run_status(root, memo=memo)} == {'elena': 12, 'naive': 12}
    elena_run = lambda: find_runs(root).query("prompt == 'elena'")
    assert len(text_summary(elena_run())['lengths']) == 12  # the narratives' summary, kept beside the run
    # the run grows: four new items, one item answered again later (it now counts as correct), one failing
    append(p, [rec(i, LETTERS['AFTW'[i % 4]], 100 + i) for i in range(12, 16)] + [rec(0, 'fear', 200),
               rec(13, None, 201, error={'type': 'ServerError', 'message': '503'})])
    assert find_runs(root).set_index('prompt').n.to_dict() == {'elena': 16, 'naive': 12}
    after = evaluate([p], 'besst', n_boot=0)['runs'][str(p)]
    assert (after['n_responses'], after['n_failed']) == (16, 1)
    assert after['correct'].sum() == before['correct'].sum() + 3 + 1  # 3 new correct answers, item 0 corrected
    a = answers(find_runs(root))
    assert len(a) == 28 and a[a.id == '000mA_0.jpg'].set_index('prompt').emotion.to_dict() == {'elena': 'fear', 'naive': 'fear'}
    table, full = score_runs(find_runs(root), n_boot=0)
    assert len(text_summary(elena_run())['lengths']) == 16
    assert table.set_index('prompt').n_scored.to_dict() == {'elena': 16, 'naive': 12}
    for rows in (run_status(root, memo=memo), run_status(root)):  # following the tail, and from the caches alone
        got = {r['prompt']: (r['answered'], dict(r['failed'])) for r in rows}
        assert got == {'elena': (15, {'ServerError': 1}), 'naive': (12, {})}, got
    r = subprocess.run([str(BIN / 'elena'), 'status', str(root)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and '15' in r.stdout.splitlines()[1] and 'ServerError 1' in r.stdout, r.stdout + r.stderr
    from elena.explorer import Browser
    b = Browser(root)
    b.select('fixture-model', 'besst', 'original', 'elena')
    assert len(b.table) == 16 and b.table.set_index('id').emotion['000mA_0.jpg'] == 'fear'


def test_stale_or_corrupt_cache_is_rebuilt(store):
    root, p, _ = store
    want = old_read_responses(p)
    pd.testing.assert_frame_equal(read_responses(p), want)
    c = cache_path(p)
    good = c.read_bytes()
    head = json.loads(good.split(b'\n', 1)[0])
    other = dict(head, end=head['end'] - 1)
    other_line = json.dumps(other, separators=(',', ':')).encode()
    broken = [b'', b'\x00' * 100, good[:len(good) // 2], good[:-1], b'{"format": "elena-runcache"}\n',
              good.replace(head['rules'].encode(), b'f' * 16),  # written by other code
              other_line + good[good.index(b'\n'):],  # its offsets disagree with the file
              good.replace(b'"fear"', b'"xxxx"')]  # same length, other answers: only its size says nothing
    for bad in broken[:-1]:
        c.write_bytes(bad)
        pd.testing.assert_frame_equal(read_responses(p), want)
        assert c.read_bytes() != bad
    # a cache of another run of the same store copied in its place
    q = store_path(root, 'fixture-model', 'besst', 'original', 'naive')
    read_responses(q)
    c.write_bytes(cache_path(q).read_bytes())
    pd.testing.assert_frame_equal(read_responses(p), want)
    # the response file rewritten (a user's fix, a tool that rewrites): same size, other content
    p.write_text(p.read_text().replace('"fear"', '"anger"'))
    assert (read_responses(p).emotion == 'fear').sum() == 0
    pd.testing.assert_frame_equal(read_responses(p), old_read_responses(p))
    # the response file cut short (a restored backup): the cache holds more than the file
    lines = p.read_text().splitlines(True)
    p.write_text(''.join(lines[:5]))
    pd.testing.assert_frame_equal(read_responses(p), old_read_responses(p))
    assert len(read_responses(p)) == 5


def test_cut_off_line_and_unreadable_lines_as_without_cache(store):
    _, p, _ = store
    with open(p, 'a') as f:
        f.write('not json at all\n{"id": "099mA_0.jpg", "emo')  # a broken line, and a writer killed mid-line
    for _ in range(2):  # built, then read from the cache: the same rows and the same warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            got = read_responses(p)
        said = sorted({m.group(1) for x in w if (m := re.search(r'\.jsonl:(\d+): skipped an unreadable', str(x.message)))})
        assert said == ['13', '14'], [str(x.message) for x in w]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            pd.testing.assert_frame_equal(got, old_read_responses(p))
    append(p, [rec(20, 'fear', 300)])  # the next writer ends the cut-off line first
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        pd.testing.assert_frame_equal(read_responses(p), old_read_responses(p))
        assert '020mA_0.jpg' in set(read_responses(p).id)


def test_results_identical_with_and_without_cache(store, monkeypatch):
    root, p, q = store
    append(p, [rec(3, 'fear', 50), rec(5, None, 51, error={'type': 'Safety', 'message': 'blocked'})])
    runs = find_runs(root)
    cached = [answers(runs), *score_runs(runs, n_boot=200)]
    cached.append(paired_deltas(cached[1], cached[2], n_boot=200))
    cached_again = answers(find_runs(root))  # from the caches alone
    monkeypatch.setenv('ELENA_RUNCACHE', 'off')
    for c in (cache_path(p), cache_path(q)):
        c.unlink()
    runs_off = find_runs(root)
    off = [answers(runs_off), *score_runs(runs_off, n_boot=200)]
    off.append(paired_deltas(off[1], off[2], n_boot=200))
    assert not cache_path(p).exists()  # off: nothing written
    pd.testing.assert_frame_equal(runs, runs_off)
    pd.testing.assert_frame_equal(cached[0], off[0])
    pd.testing.assert_frame_equal(cached_again, off[0])
    pd.testing.assert_frame_equal(cached[1], off[1])
    pd.testing.assert_frame_equal(cached[3], off[3])
    for path in cached[2]:
        pd.testing.assert_frame_equal(cached[2][path]['confusion'], off[2][path]['confusion'])
    for path in (p, q):
        pd.testing.assert_frame_equal(read_responses(path), old_read_responses(path))


def test_cache_that_cannot_be_written(store):
    "A store where the cache cannot be written (here a folder stands in its place) is read from the file each time"
    root, p, _ = store
    cache_path(p).mkdir()
    for _ in range(2):
        pd.testing.assert_frame_equal(read_responses(p), old_read_responses(p))
    assert cache_path(p).is_dir()


def test_status_reads_only_what_was_appended(store, monkeypatch):
    "`elena status` (and `--watch`, which keeps `memo`) parses each response file once, then only its new bytes"
    import elena.runcache as rc
    root, p, q = store
    reads, real = [], rc.read_records_from
    def counted(path, offset=0, line=1):  # the real reader, counting the bytes it is asked to parse
        out = real(path, offset, line)
        reads.append((Path(path).name, offset, out[1]))
        return out
    monkeypatch.setattr(rc, 'read_records_from', counted)
    memo = {}
    run_status(root, memo=memo)
    assert sorted(reads) == [(p.name, 0, p.stat().st_size), (q.name, 0, q.stat().st_size)]
    reads.clear()
    run_status(root, memo=memo)
    run_status(root)  # a new process: from the caches
    assert reads == []
    size = p.stat().st_size
    append(p, [rec(30, 'fear', 400)])
    rows = run_status(root, memo=memo)
    assert reads == [(p.name, size, p.stat().st_size)]  # the appended record alone
    assert {r['prompt']: r['answered'] for r in rows} == {'elena': 13, 'naive': 12}


def test_cache_rules_same_in_every_process():
    "A cache written by one process is current for the next: its rules fingerprint does not vary with hash seeds"
    code = 'from elena.runcache import _rules; print(_rules())'
    seen = {subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, PYTHONHASHSEED=seed)).stdout for seed in ('1', '2', '3')}
    assert len(seen) == 1 and len(seen.pop().strip()) == 16
