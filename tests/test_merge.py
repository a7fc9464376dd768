"""`elena merge` at the speed of the disk (issue 30): the shards' lines copied byte for byte (never written again), only
what deciding needs read from them, the same choice as every reader makes, one durable sync, an atomic replacement."""
import importlib
import json
import os
import random
import warnings
from pathlib import Path

import pytest

from elena.store import latest_records, make_record, read_records, store_path


def merge_shards(paths, out):
    "`merge_shards` where it lives now (`elena.shards`), else where it lived before issue 30's second pass"
    try: mod = importlib.import_module('elena.shards')
    except ImportError: mod = importlib.import_module('elena.store')
    return mod.merge_shards(paths, out)


def forms(rec):
    "The same record as three writers write it: ELENA (compact, orjson), json.dumps with spaces, and keys in another order"
    from elena.store import _line
    return [_line(rec), json.dumps(rec) + '\n', json.dumps(dict(reversed(list(rec.items()))), ensure_ascii=False) + '\n']


def test_merge_copies_the_shards_lines_byte_for_byte(tmp_path, monkeypatch):
    "every merged line is a shard's line as it was written: other writers' spacing, key order and escapes kept"
    shards = [store_path(tmp_path, 'm', 'ds', 'original', 'elena', (k, 3)) for k in range(3)]
    lines = []
    for k, sp in enumerate(shards):
        sp.parent.mkdir(parents=True, exist_ok=True)
        recs = [make_record(id=f'{k}/café {i}.jpg', emotion='fear', raw='quoting "id": "x"',
                            usage={'id': 'resp-1'} if i == 2 else None) for i in range(4)]
        mine = [forms(r)[(k + i) % 3] for i, r in enumerate(recs)]
        sp.write_text(''.join(mine), encoding='utf-8')
        lines += mine
    out = store_path(tmp_path, 'm', 'ds', 'original', 'elena')
    assert merge_shards(shards, out) == 12
    assert sorted(out.read_text(encoding='utf-8').splitlines(keepends=True)) == sorted(lines)
    assert merge_shards(shards, out) == 0  # merging again adds nothing, whatever the form


def test_merge_parses_no_line_in_elenas_own_form(tmp_path, monkeypatch):
    "a line as `make_record` writes it gives its id (and created_at) without being parsed; other lines are parsed whole"
    shards = elena_shards = [store_path(tmp_path, 'm', 'ds', 'original', 'elena', (k, 2)) for k in range(2)]
    from elena.store import write_records
    for k, sp in enumerate(shards):
        write_records(sp, [make_record(id=f'{k}-{i}.jpg', emotion='fear') for i in range(50)])
    out = store_path(tmp_path, 'm', 'ds', 'original', 'elena')
    write_records(out, [make_record(id='0-1.jpg', emotion='anger', created_at='2020-01-01T00:00:00.000+00:00')])
    import elena.shards
    parsed = []
    real = elena.shards._record
    monkeypatch.setattr(elena.shards, '_record', lambda l, *a: parsed.append(l) or real(l, *a))
    assert merge_shards(elena_shards, out) == 100
    assert parsed == []  # one item in the file already and in a shard: decided by id and created_at alone
    with open(shards[1], 'a') as f:
        f.write(json.dumps(make_record(id='x.jpg')) + '\n')
    assert merge_shards(shards, out) == 1 and len(parsed) == 1


def test_merge_chooses_as_every_reader_does(tmp_path):
    "random shards (items in several shards, equal times, stale records, other forms, cut-off lines) merged into a file "
    "that holds records already: afterwards each item's latest record is the one `latest_records` picks from all of them"
    rng = random.Random(30)
    times = [f'2026-12-0{d}T10:00:00.000+00:00' for d in range(1, 5)]
    for trial in range(20):
        d = tmp_path / str(trial)
        shards = [store_path(d, 'm', 'ds', 'original', 'elena', (k, 4)) for k in range(4)]
        out = store_path(d, 'm', 'ds', 'original', 'elena')
        everything = []
        for f in [out] + shards:
            f.parent.mkdir(parents=True, exist_ok=True)
            text = ''
            for _ in range(rng.randint(0, 12)):
                rec = make_record(id=f'{rng.randint(0, 9)}.jpg', emotion=rng.choice(['fear', 'anger', None]),
                                  created_at=rng.choice(times))
                text += rng.choice(forms(rec))
                everything.append((f, rec))
            if rng.random() < 0.2:
                text += '{"id": "cut-off'  # a killed writer's last line
            f.write_text(text, encoding='utf-8')
        before = out.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            expected = latest_records([r for f in [out] + shards for g, r in everything if g == f])
            held = latest_records(read_records(out))
            n = merge_shards(shards, out)
            got = latest_records(read_records(out))
            assert merge_shards(shards, out) == 0, trial
        assert {i: (r["emotion"], r["created_at"]) for i, r in got.items()} == {i: (r["emotion"], r["created_at"]) for i, r in expected.items()}, trial
        assert n == sum(held.get(i) != r for i, r in expected.items()), trial
        assert out.read_bytes().startswith(before), trial  # appended after what the file held, never rewritten


def test_a_failed_merge_leaves_the_old_file(tmp_path, monkeypatch):
    "a merge that fails while writing (here: the disk full at the sync) leaves the file as it was and no temporary file"
    from elena.store import write_records
    shard = store_path(tmp_path, 'm', 'ds', 'original', 'elena', (0, 2))
    write_records(shard, [make_record(id=f'{i}.jpg', emotion='fear') for i in range(5)])
    out = store_path(tmp_path, 'm', 'ds', 'original', 'elena')
    write_records(out, [make_record(id='old.jpg', emotion='joy')])
    before = out.read_bytes()
    def full(fd):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', full)
    with pytest.raises(OSError):
        merge_shards([shard], out)
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir() if p.name.endswith('.part')) == []


def test_one_durable_sync(tmp_path, monkeypatch):
    "the merged file is synced once (and its folder once, for the rename), however many records it gains"
    from elena.store import write_records
    shards = [store_path(tmp_path, 'm', 'ds', 'original', 'elena', (k, 2)) for k in range(2)]
    for k, sp in enumerate(shards):
        write_records(sp, [make_record(id=f'{k}-{i}.jpg', emotion='fear') for i in range(200)])
    synced, real = [], os.fsync
    monkeypatch.setattr(os, 'fsync', lambda fd: synced.append(fd) or real(fd))
    assert merge_shards(shards, store_path(tmp_path, 'm', 'ds', 'original', 'elena')) == 400
    assert len(synced) == 2
