"""Does a Gemini run use the whole quota at real latencies? The real google-genai SDK against the Gemini
stand-in (`elena.standins`, in its own process) that enforces a quota over a sliding window of arrivals and refuses
what is over it with the real 429 body (QuotaFailure + RetryInfo), answering in 0.3, 3 and 8 s.

Side by side, for a binding request limit and for a binding token limit, at each latency:
- 'ceiling 16': the dispatcher held to 16 requests in flight, as a fixed semaphore would allow;
- 'elena': the defaults (requests sent as the limits allow, 256 in flight at most).
Measured at the server: the share of the binding limit used, as the time average over the run (after its first window)
of what the server's own sliding window held, divided by the limit; and the share of requests refused with a 429.
The window is shortened from 60 s to `--window` seconds so the run takes minutes; the arithmetic is the same.
Run: PYTHONPATH=. .venv/bin/python bench/bench_quota.py [--window 10] [--latencies 0.3 3 8] [--bindings rpm tpm]"""
import argparse
import os
import time
from pathlib import Path

import httpx
import matplotlib.cbook

from elena.backends import Request, get_backend
from elena.prompts import get_prompt
from elena.standin_server import ARRIVALS
from elena.standins import prompt_tokens, standin_process


def fill(accepted, limit, window, tokens=False, step=0.05):
    "Time average, over [first arrival + window, last arrival], of what the server's sliding window held, over the limit"
    ts = sorted(accepted)
    t0, t1 = ts[0][0] + window, ts[-1][0]
    if t1 <= t0: return float('nan')
    vals, t, lo, hi, held = [], t0, 0, 0, 0
    while t <= t1:
        while hi < len(ts) and ts[hi][0] < t: held += ts[hi][1] if tokens else 1; hi += 1
        while ts[lo][0] < t - window: held -= ts[lo][1] if tokens else 1; lo += 1
        vals.append(held / limit); t += step
    return sum(vals) / len(vals)


def case(binding, latency, ceiling, n, a, photo):
    per_req = None
    if binding == 'rpm': quota, opts = {'rpm': a.rpm, 'window_s': a.window}, {'rpm': a.rpm, 'tpm': 10 ** 9}
    else: quota, opts = {'tpm': a.tpm, 'window_s': a.window}, {'rpm': 10 ** 6, 'tpm': a.tpm}
    reqs = [Request(f'img{i:04d}.jpg', photo, get_prompt(), {'temperature': 0}) for i in range(n)]
    with standin_process('gemini', latency_s=latency, quota=quota) as url:
        kw = {'concurrency': ceiling} if ceiling else {}
        be = get_backend('gemini-2.5-flash', base_url=url, rate_window_s=a.window, rpd=None, timeout_s=60, **opts, **kw)
        t = time.monotonic()
        reps = [rep for _, rep in be.answer(reqs)]
        el = time.monotonic() - t
        srv = httpx.get(url + ARRIVALS).json()
    errors = sum(1 for r in reps if r.error)
    limit = a.rpm if binding == 'rpm' else a.tpm
    share = fill(srv['accepted'], limit, a.window, tokens=binding == 'tpm')
    refused = srv['refused'] / max(1, len(srv['t']))
    return dict(binding=binding, latency=latency, who=f'ceiling {ceiling}' if ceiling else 'elena', n=n, seconds=el, share=share,
                refused=refused, errors=errors, peak=be.dispatch.peak, report=be.limits_report())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--window', type=float, default=10.0, help='seconds of the rate window (60 in real use)')
    ap.add_argument('--rpm', type=int, default=100, help='requests the quota allows per window (binding rpm case)')
    ap.add_argument('--tpm', type=int, default=56_000, help='input tokens the quota allows per window (binding tpm case)')
    ap.add_argument('--windows', type=float, default=4, help='windows of work per elena case')
    ap.add_argument('--old-seconds', type=float, default=50, help='about how long each ceiling-16 case runs')
    ap.add_argument('--latencies', type=float, nargs='+', default=[0.3, 3.0, 8.0])
    ap.add_argument('--bindings', nargs='+', default=['rpm', 'tpm'])
    a = ap.parse_args()
    os.environ.setdefault('GOOGLE_API_KEY', 'AIza-bench-not-a-real-key')
    photo = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    tok = prompt_tokens({'systemInstruction': {'parts': [{'text': get_prompt().system}]},
                         'contents': [{'parts': [{'text': get_prompt().user}]}]}) + 258
    print(f"window {a.window:g} s; binding rpm {a.rpm} per window; binding tpm {a.tpm} per window (about {a.tpm / tok:.0f} requests of ~{tok} tokens)")
    print(f"{'binding':7} {'latency':>7} {'who':11} {'n':>4} {'s':>6} {'share':>6} {'refused':>7} {'errors':>6} {'peak':>5}")
    for binding in a.bindings:
        per_window = a.rpm if binding == 'rpm' else a.tpm / tok
        for latency in a.latencies:
            for ceiling in (16, None):
                n = int(per_window * a.windows) if not ceiling else min(int(per_window * a.windows), max(int(a.window), int(16 / latency * a.old_seconds)))
                r = case(binding, latency, ceiling, n, a, photo)
                print(f"{r['binding']:7} {r['latency']:7g} {r['who']:11} {r['n']:4d} {r['seconds']:6.1f} {100 * r['share']:5.1f}% {100 * r['refused']:6.2f}% "
                      f"{r['errors']:6d} {r['peak']:5d}", flush=True)
                print(f"    summary line: {r['report']}", flush=True)

if __name__ == '__main__':
    main()
