"""API path throughput: the OpenAI-compatible backend against a local stand-in server answering in 300 ms.

Measured side by side in one run:
1. one request at a time (concurrency 1) vs. concurrent requests (default concurrency 16), images per second;
2. with a requests-per-minute limit that binds, the share of the limit actually used.
The limiter's window is shortened (rpm per `window` seconds) so the run takes seconds; the arithmetic is the same.
Run: .venv/bin/python bench/bench_api.py [--n 200] [--latency 0.3]"""
import argparse
import math
import time
from pathlib import Path

import httpx

import matplotlib.cbook

from elena.backends import Request
from elena.openai_compat import OpenAIBackend
from elena.prompts import get_prompt
from elena.standin_server import ARRIVALS
from elena.standins import standin_process
from bench_quota import fill


def run(url, reqs, **kw):
    be = OpenAIBackend('openai:standin', 'standin', base_url=url, max_tries=3, **kw)
    t0 = time.monotonic()
    replies = [rep for _, rep in be.answer(reqs)]
    el = time.monotonic() - t0
    assert all(r.error is None for r in replies), [r.error for r in replies if r.error][:3]
    assert sum(r.tries for r in replies) == len(replies), "a retry happened: the timing is not clean"
    return el


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=200)
    ap.add_argument('--n-sequential', type=int, default=30, help='images for the one-at-a-time baseline (its rate is what counts)')
    ap.add_argument('--latency', type=float, default=0.3)
    ap.add_argument('--concurrency', type=int, default=16)
    ap.add_argument('--rpm', type=int, default=40, help='requests allowed per window')
    ap.add_argument('--window', type=float, default=4.0, help='seconds of the rate window (60 in real use)')
    a = ap.parse_args()
    photo = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    reqs = [Request(f'img{i:04d}.jpg', photo, get_prompt(), {'temperature': 0, 'max_new_tokens': 512}) for i in range(a.n)]
    # the stand-in runs in its own process, as a real server would: arrival times are not skewed by the client's work
    with standin_process('openai', a.latency) as base:
        url = base + '/v1'
        seq = run(url, reqs[:a.n_sequential], concurrency=1)
        conc = run(url, reqs, concurrency=a.concurrency)
        seq_rate, conc_rate = a.n_sequential / seq, a.n / conc
        print(f"one at a time : {a.n_sequential} images in {seq:.2f} s = {seq_rate:.2f} images/s")
        print(f"concurrent {a.concurrency:2d} : {a.n} images in {conc:.2f} s = {conc_rate:.2f} images/s")
        print(f"speed-up      : {conc_rate / seq_rate:.1f}x")
        n0 = len(httpx.get(base + ARRIVALS).json()['t'])
        be = OpenAIBackend('openai:standin', 'standin', base_url=url, max_tries=3, concurrency=a.concurrency, rpm=a.rpm, rate_window_s=a.window)
        reps = [rep for _, rep in be.answer(reqs)]
        assert not any(r.error for r in reps), [r.error for r in reps if r.error][:3]
        print(f"retries needed: {sum(r.tries - 1 for r in reps)}")
        sent = be.limiter.sent
        arrive = sorted(httpx.get(base + ARRIVALS).json()['t'][n0:])
        # share of the limit used: the time average, after the first window, of what the last window held, over the limit
        # (requests are spread evenly within the window, so "last one sent after ceil(n/rpm)-1 windows" does not fit)
        print(f"rate limit    : {a.rpm} per {a.window:g} s ({a.rpm / a.window:.1f}/s); {a.n} requests in {sent[-1] - sent[0]:.2f} s: "
              f"{100 * be.limiter.used('rpm'):.1f}% of the limit used as sent, {100 * fill([[t, 1] for t in arrive], a.rpm, a.window):.1f}% as they arrived")
        most = max(sum(1 for u in sent if t <= u < t + a.window) for t in sent)
        most_srv = max(sum(1 for u in arrive if t <= u < t + a.window) for t in arrive)
        print(f"most requests in any {a.window:g} s window: {most} as sent by the limiter (limit {a.rpm}); {most_srv} as they arrived at the server")
        assert most <= a.rpm, "the limiter let more through than the limit"

if __name__ == '__main__':
    main()
