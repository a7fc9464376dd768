"""Client cost against concurrency: `elena run` (in-process `run_elena`) of the OpenAI-compatible backend against the
stand-in server (`elena.standins`, in its own process) answering valid ELENA JSON after 20 ms.

Side by side in one run, for each concurrency (default 16, 256, 1024; each run twice, in the order 16 256 1024 1024 256 16,
the better of the two kept): images per second while asking (the run summary's rate) and ELENA's own CPU per image
(this process's CPU time over the whole `run_elena`, every thread; the stand-in's CPU is not counted). Prints the
ratios the issue asks for: the rate at the highest concurrency against the best, and CPU/image at the highest against
the lowest. Also the advice each run's summary ends with.
Run: PYTHONPATH=. .venv/bin/python bench/bench_concurrency.py [--n 2000] [--latency 0.02] [--concurrency 16 256 1024]"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.cbook

from elena.run import run_elena
from elena.standins import standin_process


def images(d:Path, n:int) -> Path:
    photo = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)).read_bytes()
    for i in range(n):
        p = d / f'g{i // 500}' / f'img{i:05d}.jpg'
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(photo + i.to_bytes(3, 'big'))  # distinct bytes, still a valid JPEG
    return d


def one(url, data, out, c):
    shutil.rmtree(out, ignore_errors=True)
    cpu0, t0 = time.process_time(), time.monotonic()
    s = run_elena('openai:standin', 'folder', data, out_dir=out, base_url=url, concurrency=c, progress=False)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    assert s.done == s.items and not s.failed, str(s)
    return {'rate': s.done / s.seconds, 'wall_rate': s.done / wall, 'cpu_ms': 1000 * cpu / s.done,
            'advice': s.limits}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=2000)
    ap.add_argument('--latency', type=float, default=0.02)
    ap.add_argument('--concurrency', type=int, nargs='+', default=[16, 256, 1024])
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    data = images(tmp / 'imgs', a.n)
    best = {}
    with standin_process('openai', a.latency) as base:
        url = base + '/v1'
        one(url, data, tmp / 'warm', 16)  # warm-up: imports, first connections
        for c in [*a.concurrency, *reversed(a.concurrency)]:
            r = one(url, data, tmp / f'out{c}', c)
            print(f"concurrency {c:5d}: {r['rate']:7.1f} images/s asking ({r['wall_rate']:6.1f} with start-up), "
                  f"ELENA CPU {r['cpu_ms']:5.2f} ms/image", flush=True)
            if c not in best or r['rate'] > best[c]['rate']:
                best[c] = r
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{a.n} images, stand-in latency {1000 * a.latency:g} ms, {os.cpu_count()} CPUs; better of two runs each")
    print("| concurrency | images/s | ELENA CPU ms/image | advice |\n|---|---|---|---|")
    for c in a.concurrency:
        print(f"| {c} | {best[c]['rate']:.1f} | {best[c]['cpu_ms']:.2f} | {best[c]['advice']} |")
    top, lo, hi = max(r['rate'] for r in best.values()), min(a.concurrency), max(a.concurrency)
    print(f"rate at {hi} / best: {best[hi]['rate'] / top:.2f} (goal >= 0.85); "
          f"CPU/image at {hi} / at {lo}: {best[hi]['cpu_ms'] / best[lo]['cpu_ms']:.2f} (goal <= 1.5)")


if __name__ == '__main__':
    main()
