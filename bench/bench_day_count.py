"""A Gemini run's start-up against the size of the store: today's request count (the daily quota spans runs).

Side by side in one run: `run_elena('gemini-2.5-flash', ...)` of 2 images against the Gemini stand-in
(`elena.standins`, in its own process) on an empty store, then on a store holding `--records` records of another
Gemini run sent today; and the count as shipped before issue 30 (every record of the store read, `as_shipped` below,
the old `elena.run._requests_today`) against the per-day counter files (`elena.limits.requests_today`).
Run: PYTHONPATH=. .venv/bin/python bench/bench_day_count.py [--records 200000]"""
import argparse
import os
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

import matplotlib.cbook

from elena.backends import resolve_model
from elena.limits import day_start, requests_today
from elena.run import run_elena
from elena.standins import standin_process
from elena.store import make_record, read_records, store_path, write_records


def as_shipped(out, model_id, backend):
    "The count before issue 30: every record of every run in the store read"
    since, ids, n = day_start(), {}, 0
    for f in Path(out).rglob('*.jsonl'):
        for r in read_records(f):
            if r.get('backend') != backend or (r.get('error') or {}).get('type') in ('ImageMissing', 'UnreadableImage', 'DailyQuota'): continue
            if not r.get('created_at'): continue
            m = r.get('model')
            if m not in ids:
                ids[m] = resolve_model(m)[1].get('model_id')
            n += ids[m] == model_id and datetime.fromisoformat(r['created_at']) >= since
    return n


def run(url, data, out):
    t0 = time.monotonic()
    s = run_elena('gemini-2.5-flash', 'folder', data, out_dir=out, base_url=url, progress=False, force=True)
    assert s.done == 2, str(s)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--records', type=int, default=200_000)
    a = ap.parse_args()
    os.environ.setdefault('GOOGLE_API_KEY', 'AIza-bench')
    tmp = Path(tempfile.mkdtemp())
    photo = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)).read_bytes()
    data = tmp / 'imgs'
    data.mkdir()
    for i in range(2):
        (data / f'i{i}.jpg').write_bytes(photo + bytes([i]))
    empty, big = tmp / 'empty', tmp / 'big'
    now, raw = make_record(id='x')['created_at'], '{"emotion": "fear", "narrative": "' + 'x' * 400 + '"}'
    for k in range(0, a.records, 50_000):  # several runs' files, as a study's store holds
        write_records(store_path(big, 'gemini-2.5-flash', f'heco{k}', 'original', 'elena'),
                      (make_record(id=f'{i}.jpg', model='gemini-2.5-flash', backend='gemini', emotion='fear', raw=raw,
                                   created_at=now) for i in range(k, min(a.records, k + 50_000))))
    size = sum(f.stat().st_size for f in big.rglob('*.jsonl')) / 1e6
    with standin_process('gemini', 0.0) as url:
        run(url, data, tmp / 'warm')
        t_empty, t_big = run(url, data, empty), run(url, data, big)
        t_empty2 = run(url, data, empty)
    t0 = time.monotonic(); n_old = as_shipped(big, 'gemini-2.5-flash', 'gemini'); t_old = time.monotonic() - t0
    t0 = time.monotonic(); n_new = requests_today(big, 'gemini-2.5-flash', 'gemini'); t_new = time.monotonic() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"store: {a.records} records of another run sent today ({size:.0f} MB)")
    print(f"| what | seconds |\n|---|---|")
    print(f"| 2-image Gemini run, empty store | {min(t_empty, t_empty2):.2f} |")
    print(f"| 2-image Gemini run, {a.records} records in the store | {t_big:.2f} |")
    print(f"| today's count as shipped (every record read; {n_old} today) | {t_old:.2f} |")
    print(f"| today's count from the day's counter files ({n_new} today: only this bench's runs counted) | {t_new:.4f} |")
    print(f"run on the big store minus the empty store: {t_big - min(t_empty, t_empty2):+.2f} s (goal: within 2 s)")


if __name__ == '__main__':
    main()
