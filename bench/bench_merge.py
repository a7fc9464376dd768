"""`elena merge` of 8 shards of a 23.5k-image run against copying the same bytes.

Side by side in one run: (1) the shards' bytes concatenated into one new file and fsynced once (what the disk allows);
(2) `merge_shards` as it is now (`elena.shards`: the shards' lines copied as they are, only id and created_at read
from each, one fsync, an atomic rename); (3) the merge of issue 30's first pass (every record parsed and written again
with orjson, then the same one fsync and rename); with `--shipped`, (4) the merge as shipped before issue 30 (the same
records appended through `ResponseStore` with an fsync after every record, `sync_every=1`; about a minute).
Records look like real ones (a ~1.4 kB answer each).
Run: PYTHONPATH=. .venv/bin/python bench/bench_merge.py [--n 23571] [--shards 8] [--shipped]"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from elena.shards import append_records, in_shard, merge_shards
from elena.store import ResponseStore, latest_records, make_record, read_records, store_path, write_records

ANSWER = ('{"explicit_description": "' + 'A person stands with arms crossed, shoulders raised. ' * 6 + '", '
          '"implicit_description": "' + 'The posture suggests tension. ' * 8 + '", "narrative": "' + 'x' * 300 +
          '", "body_parts": ["arms", "shoulders"], "emotion": "fear", "valence": 3, "arousal": 7, "dominance": 3}')


def as_shipped(paths, out):
    "merge_shards before issue 30: the latest record of each item appended with one fsync per record"
    have = latest_records(read_records(out))
    new = latest_records(sorted((r for p in paths for r in read_records(p)), key=lambda r: r.get('created_at') or ''))
    todo = [r for i, r in sorted(new.items()) if have.get(i) != r]
    with ResponseStore(out, sync_every=1) as st:
        for r in todo:
            st.append(r)
    return len(todo)


def parsed_and_written(paths, out):
    "merge_shards of issue 30's first pass: every record parsed, the new ones written again (orjson) in one go"
    have = latest_records(read_records(out))
    new = latest_records(r for p in paths for r in read_records(p))
    todo = [r for i, r in sorted(new.items()) if have.get(i) != r and latest_records([have.get(i, r), r])[i] is r]
    return append_records(out, todo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=23571)
    ap.add_argument('--shards', type=int, default=8)
    ap.add_argument('--shipped', action='store_true', help='also the merge as shipped (an fsync per record)')
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(dir=os.environ.get('BENCH_DIR')))
    ids = [f'mscoco/images/{i:06d}.jpg' for i in range(a.n)]
    shards = [store_path(tmp, 'gemini-2.5-flash', 'emotic', 'original', 'elena', (k, a.shards)) for k in range(a.shards)]
    for k, sp in enumerate(shards):
        write_records(sp, (make_record(id=i, model='gemini-2.5-flash', backend='gemini', raw=ANSWER, emotion='fear',
                                       gen={'temperature': 0}, latency_s=3.1) for i in ids if in_shard(i, (k, a.shards))))
    size = sum(p.stat().st_size for p in shards) / 1e6
    times = {}
    for rep in range(2):
        for what in ('copy the bytes', 'merge now', 'records parsed and written again') + ('merge as shipped',) * a.shipped:
            out = tmp / f'{what.replace(" ", "_")}{rep}.jsonl'
            t0 = time.monotonic()
            if what == 'copy the bytes':
                with open(out, 'wb') as f:
                    for p in shards:
                        with open(p, 'rb') as src:
                            shutil.copyfileobj(src, f, 1 << 20)
                    f.flush()
                    os.fsync(f.fileno())
            else:
                n = {'merge now': merge_shards, 'merge as shipped': as_shipped}.get(what, parsed_and_written)(shards, out)
                assert n == a.n, n
            t = time.monotonic() - t0
            times[what] = min(times.get(what, t), t)
            out.unlink()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{a.shards} shards, {a.n} records, {size:.0f} MB; better of two runs each")
    print("| what | seconds | × copying |\n|---|---|---|")
    for what, t in times.items():
        print(f"| {what} | {t:.2f} | {t / times['copy the bytes']:.1f} |")


if __name__ == '__main__':
    main()
