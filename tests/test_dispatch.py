"""Dispatch by capacity: what is sent is what the limits allow (requests and tokens per window, requests per day),
under a high ceiling on requests in flight; backoff holds no slot; a 429 pauses the whole run. Checks are on order
and counts (of requests in a window of the limiter's own clock), never on wall-clock seconds."""
import asyncio
import json
import time
from pathlib import Path
import matplotlib.cbook
import pytest
from elena.api import APIBackend
from elena.backends import Reply, Request, Retryable, StopRun, get_backend
from elena.prompts import get_prompt
from elena.standin_server import StandIn, openai_handler
from elena.standins import gemini_handler

PHOTO = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

class Fake(APIBackend):
    "Answers after `latency` seconds; `fail(req, n)` may raise for the n-th try of a request; usage reports `tokens` input tokens"
    def __init__(self, latency=0.0, fail=None, tokens=300, estimate=None, **kw):
        super().__init__('fake', 'fake-1', backoff_base=0.01, **kw)
        self.latency, self.fail, self.tokens, self.est = latency, fail, tokens, estimate
        self.live = self.peak = 0; self.starts, self.ends, self.tries = [], [], {}
    def estimate_tokens(self, req, prepared): return self.est if self.est is not None else super().estimate_tokens(req, prepared)
    async def call(self, req, prepared):
        n = self.tries[req.id] = self.tries.get(req.id, 0) + 1
        self.starts.append((time.monotonic(), req.id)); self.live += 1; self.peak = max(self.peak, self.live)
        try:
            if self.fail: self.fail(req, n)
            await asyncio.sleep(self.latency)
        finally: self.live -= 1
        self.ends.append(req.id)
        return Reply(text='{"emotion": "fear"}', finish_reason='stop', usage={'input': self.tokens, 'output': 20})

def reqs(n): return [Request(f'{i:03d}', PHOTO, get_prompt()) for i in range(n)]

def most_in_window(ts, w): return max(sum(1 for u in ts if t <= u < t + w) for t in ts)

def test_backoff_holds_no_slot():
    def fail(req, n):
        if req.id == '000' and n == 1: raise Retryable('ServerError', 'HTTP 503', retry_after=0.4)
    be = Fake(latency=0.05, fail=fail, concurrency=1)
    got = {r.id: rep for r, rep in be.answer(reqs(4))}
    assert got['000'].tries == 2 and got['000'].error is None
    assert be.ends[-1] == '000', be.ends  # the others used the one slot while 000 waited

def test_rate_limited_pauses_everyone():
    def fail(req, n):
        if req.id == '003' and n == 1: raise Retryable('RateLimited', 'HTTP 429', retry_after=0.5, pause=True)
    be = Fake(latency=0.02, fail=fail, concurrency=1)
    list(be.answer(reqs(8)))
    order = [i for _, i in be.starts]
    assert order == ['000', '001', '002', '003', '003', '004', '005', '006', '007'], order  # nothing went during the pause
    assert be.dispatch.pauses == 1

def test_tokens_per_window_with_the_estimate_corrected():
    "estimated 400, reported 300: the first window sends 2 (800 of 1000), later ones 3 (900)"
    be = Fake(latency=0.01, tokens=300, estimate=400, tpm=1000, rate_window_s=0.5, headroom=0)
    list(be.answer(reqs(14)))
    ts = be.limiter.sent  # the limiter's own clock
    assert most_in_window(ts, 0.5) == 3 and most_in_window(ts[:2], 0.5) == 2
    assert be.limiter.tokens_sent == 14 * 300  # corrected from the usage each reply reported

def test_gemini_tiers_and_options(monkeypatch):
    monkeypatch.setenv('GOOGLE_API_KEY', 'AIza-x')
    f = get_backend('gemini-2.5-flash', tier='free')
    t1 = get_backend('gemini-2.5-flash')
    assert (f.limits.rpm, f.limits.tpm, f.limits.rpd) == (10, 250_000, 250) and (t1.limits.rpm, t1.limits.tpm, t1.limits.rpd) == (1000, 1_000_000, 10_000)
    assert get_backend('gemini-2.5-flash', tier='free', rpm=5).limits.rpm == 5
    with pytest.raises(ValueError, match='free, tier1'): get_backend('gemini-2.5-flash', tier='tier9')
    with pytest.raises(ValueError, match='--tier'): get_backend('openai:x', base_url='http://x/v1', tier='free')

def test_run_keeps_the_contract_and_prints_limits(tmp_path, monkeypatch):
    """backend_options rpm N per rate_window_s W: at most N arrive in any W at the server (in its own process); the
    summary states the limits and the share used that the run's own limiter recorded (not a share of wall time)"""
    import httpx
    import elena.run
    from elena.run import run_elena
    from elena.standin_server import ARRIVALS
    from elena.standins import standin_process
    made = []
    def keep(*a, **kw):
        made.append(get_backend(*a, **kw))
        return made[-1]
    monkeypatch.setattr(elena.run, 'get_backend', keep)
    d = tmp_path / 'imgs'
    d.mkdir()
    for i in range(30):
        (d / f'i{i:02d}.jpg').write_bytes(PHOTO.read_bytes() + bytes([i]))
    with standin_process('openai', latency_s=0.05) as url:
        s = run_elena('openai:standin', 'folder', d, out_dir=tmp_path / 'out', base_url=url + '/v1', progress=False,
                      backend_options={'rpm': 10, 'rate_window_s': 2.0})
        arrive = sorted(httpx.get(url + ARRIVALS).json()['t'])
    assert s.done == 30 and len(arrive) == 30  # the window: on the limiter's clock, below
    lim = made[0].limiter
    assert len(lim.sent) == 30 and most_in_window(lim.sent, 2.0) <= 10
    assert f'limits: 10 requests per 2 s (used {100 * lim.used("rpm"):.0f}%)' in str(s), str(s)
    assert 0 < lim.used('rpm') <= 1  # never above the limit: the limiter lets at most 10 through per window

def test_requests_today_read_from_the_store(tmp_path, monkeypatch):
    "the day's count survives across runs: read from the stored records' times"
    from elena.run import run_elena
    monkeypatch.setenv('GOOGLE_API_KEY', 'AIza-x'); monkeypatch.chdir(tmp_path)
    d = tmp_path / 'imgs'; d.mkdir()
    for i in range(6): (d / f'i{i}.jpg').write_bytes(PHOTO.read_bytes() + bytes([i]))
    opts = {'rpd': 4, 'backoff_base': 0.01}
    with StandIn(gemini_handler) as si:
        s = run_elena('gemini-2.5-flash', 'folder', d, limit=3, out_dir=tmp_path / 'out', base_url=si.url, progress=False, backend_options=opts)
        with pytest.raises(StopRun) as e:
            run_elena('gemini-2.5-flash', 'folder', d, out_dir=tmp_path / 'out', base_url=si.url, progress=False, backend_options=opts)
        assert len(si.requests) == 4
    assert s.done == 3 and 'daily quota used: 4 of 4 requests today' in str(e.value) and e.value.summary.done == 1

def test_cli_limit_flags(monkeypatch):
    "the limit flags of `elena run` reach the backend; left out, the tier's published limits hold"
    from elena.cli import build_parser, _spec
    from elena.run import run_backend
    monkeypatch.setenv('GOOGLE_API_KEY', 'AIza-test-not-a-real-key')
    a = build_parser('run').parse_args(['run', '--model', 'gemini-2.5-flash', '--rpm', '500', '--tpm', '400000', '--rpd', '9000', '--tier', 'free'])
    be = run_backend(_spec(a))
    assert (be.limits.rpm, be.limits.tpm, be.limits.rpd, be.limits.tier) == (500, 400_000, 9000, 'free')
    be = run_backend(_spec(build_parser('run').parse_args(['run', '--model', 'gemini-2.5-flash'])))
    assert (be.limits.rpm, be.limits.tpm, be.limits.rpd, be.limits.tier) == (1000, 1_000_000, 10_000, 'tier1')


def test_overstated_limit_earns_429s_that_pause_the_run():
    "the client told 50 per 2 s, the server allows 5: its 429s (RetryInfo until there is room) pause all sending, and every item is answered"
    import httpx
    from elena.standin_server import ARRIVALS
    from elena.standins import standin_process
    with standin_process('gemini', quota={'rpm': 5, 'window_s': 2.0}) as url:
        import os; os.environ.setdefault('GOOGLE_API_KEY', 'AIza-x')
        be = get_backend('gemini-2.5-flash', base_url=url, rpm=50, rate_window_s=2.0, backoff_base=0.05, max_tries=10)
        got = [rep for _, rep in be.answer(reqs(12))]
        srv = httpx.get(url + ARRIVALS).json()
    assert all(r.error is None for r in got) and len(srv['accepted']) == 12
    assert srv['refused'] >= 1 and be.dispatch.pauses >= 1
    assert srv['refused'] <= 12  # about one refusal per request over the quota, not one per retry

def test_daily_quota_429_stops_keeping_the_answers(monkeypatch):
    monkeypatch.setenv('GOOGLE_API_KEY', 'AIza-x')
    got = []
    with StandIn(gemini_handler, faults={3: 'daily_quota'}) as si:
        with pytest.raises(StopRun) as e:
            for pair in get_backend('gemini-2.5-flash', base_url=si.url, concurrency=1, backoff_base=0.01).answer(reqs(8)): got.append(pair)
        n = len(si.requests)
    assert e.value.kind == 'DailyQuota' and 'GenerateRequestsPerDayPerProjectPerModel' in str(e.value) and 'or use --batch' in str(e.value)
    assert n == 4 and len(got) == 3 and all(r.error is None for _, r in got)

def test_requests_today_does_not_read_the_store(tmp_path, monkeypatch):
    "issue 30: a Gemini run's start-up reads no other run's records to count today's requests (a per-day counter beside the store)"
    import elena.run
    from elena.run import run_elena
    from elena.store import make_record, store_path, write_records
    monkeypatch.setenv('GOOGLE_API_KEY', 'AIza-x'); monkeypatch.chdir(tmp_path)
    d = tmp_path / 'imgs'; d.mkdir()
    for i in range(2): (d / f'i{i}.jpg').write_bytes(PHOTO.read_bytes() + bytes([i]))
    out = tmp_path / 'out'
    now = make_record(id='x')['created_at']  # sent today, by another run (a big one)
    write_records(store_path(out, 'gemini-2.5-flash', 'heco', 'original', 'elena'),
                  [make_record(id=f'{i}.jpg', model='gemini-2.5-flash', backend='gemini', emotion='fear', created_at=now)
                   for i in range(3000)])
    read, real = [], elena.run.read_records
    monkeypatch.setattr(elena.run, 'read_records', lambda p: read.append(len(r := real(p))) or r)
    opts = {'rpd': 10_000, 'backoff_base': 0.01}
    with StandIn(gemini_handler) as si:
        s = run_elena('gemini-2.5-flash', 'folder', d, out_dir=out, base_url=si.url, progress=False, backend_options=opts)
        assert s.done == 2 and sum(read) == 0, read  # the run's own file was empty; the big one was not read
        s = run_elena('gemini-2.5-flash', 'folder', d, out_dir=out, base_url=si.url, progress=False, force=True,
                      backend_options=opts)
    assert sum(read) == 0 and '10000 requests per day (4 today' in s.limits, (read, s.limits)  # counted from the day's files

def test_flat_options_map_onto_the_settings_objects():
    "get_backend's flat options (as runs, tests and benchmarks pass them) land in the backend's Limits and Retries"
    from elena.limits import Limits, Retries
    be = get_backend('openai:x', base_url='http://x/v1', rpm=10, rate_window_s=2.0, max_tries=3, timeout_s=5, concurrency=4)
    assert be.limits == Limits(rpm=10, rate_window_s=2.0) and be.retries == Retries(max_tries=3, timeout_s=5)
    assert be.concurrency == 4 and not {'rpm', 'rate_window_s', 'max_tries', 'timeout_s'} & set(be.opts)
    given = get_backend('openai:x', base_url='http://x/v1', limits=Limits(rpm=7, tpm=900), retries=Retries(max_tries=2), tpm=1000)
    assert (given.limits.rpm, given.limits.tpm, given.retries.max_tries) == (7, 1000, 2)  # a flat option wins over the object

def test_methods_are_named_where_they_are_defined():
    "Methods carry their class in __qualname__ (tracebacks, show_doc) and nbdev's index lists them under it"
    from elena._modidx import d
    from elena.gemini import GeminiBackend
    from elena.limits import RateLimiter
    from elena.openai_compat import OpenAIBackend
    for cls, name in [(APIBackend, 'estimate_tokens'), (APIBackend, 'limits_report'), (APIBackend, 'bottleneck'),
                      (RateLimiter, 'wait'), (OpenAIBackend, 'refused'), (GeminiBackend, 'call'), (GeminiBackend, 'client')]:
        f = getattr(cls, name)
        assert f.__qualname__ == f'{cls.__name__}.{name}', f.__qualname__
        assert f'{cls.__module__}.{cls.__name__}.{name}' in d['syms'][cls.__module__], name
