"""The Gemini backend against the Gemini REST stand-in: the real google-genai SDK makes real HTTP requests to 127.0.0.1."""
import base64
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
import matplotlib.cbook
import pytest
from elena.backends import Reply, Request, StopRun, get_backend
from elena.prompts import get_prompt
from elena.standin_server import FAULTS, StandIn
from elena.standins import gemini_handler

from conftest import GEMINI_KEY as KEY
PHOTO = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

pytestmark = pytest.mark.usefixtures('gemini_env')

def reqs(n, kind='elena', image=PHOTO):
    return [Request(f'img{i}.jpg', image, get_prompt(kind), {'temperature': 0, 'max_new_tokens': 512}) for i in range(n)]

def backend(si, **kw):
    return get_backend('gemini-2.5-flash', base_url=si.url, backoff_base=0.01, **{'max_tries': 3, 'timeout_s': 0.3, **kw})

def no_key_anywhere(pairs, be):
    assert KEY not in json.dumps([dataclasses.asdict(rep) for _, rep in pairs]) and KEY not in repr(be)

EXPECTED = {'ok': (None, 'STOP', 1), 'rate_limit': (None, 'STOP', 2), 'server_error': (None, 'STOP', 2),
            'slow': ('Timeout', None, 3), 'fenced': (None, 'STOP', 1), 'truncated': ('MaxTokens', 'MAX_TOKENS', 1),
            'empty': ('EmptyResponse', None, 1), 'safety': ('Safety', 'SAFETY', 1), 'bad_image': ('InvalidArgument', None, 1),
            'permission': ('StopRun', None, 1), 'daily_quota': ('StopRun', None, 1)}

@pytest.mark.parametrize('fault', FAULTS)
def test_each_fault(fault):
    assert set(EXPECTED) == set(FAULTS)
    with StandIn(gemini_handler, faults=(lambda n, b: 'slow') if fault == 'slow' else {0: fault}, slow_s=1.0) as si:
        be = backend(si)
        try: pairs = list(be.answer(reqs(1)))
        except StopRun as e: pairs = [(None, Reply(error={'type': 'StopRun', 'message': str(e)}))]
        n = len(si.requests)
    (_, rep), = pairs
    assert ((rep.error or {}).get('type'), rep.finish_reason, rep.tries) == EXPECTED[fault]
    assert n == rep.tries  # every try reached the server; retried faults hit the first try only
    if fault in ('ok', 'rate_limit', 'server_error'): assert json.loads(rep.text)['emotion'] == 'fear'
    if fault == 'fenced': assert rep.text.startswith('Here is') and '```json' in rep.text  # kept for the parser
    if fault == 'truncated': assert rep.text.startswith('{') and 'finish reason MAX_TOKENS' in rep.error['message']
    no_key_anywhere(pairs, be)

def test_schema_mismatch_still_gives_text():
    "JSON that fails the schema leaves the SDK's .parsed None: the text is kept for our parser"
    def wrong(si, n, path, body):
        status, h, out = gemini_handler(si, n, path, body)
        out['candidates'][0]['content']['parts'][0]['text'] = '{"emotion": "joy", "valence": "high"'
        return status, h, out
    with StandIn(wrong) as si:
        (_, rep), = backend(si).answer(reqs(1))
    assert rep.error is None and rep.text == '{"emotion": "joy", "valence": "high"'

def test_blocked_prompt_recorded():
    def blocked(si, n, path, body):
        return 200, {}, {'promptFeedback': {'blockReason': 'PROHIBITED_CONTENT'}, 'usageMetadata': {'promptTokenCount': 1290}}
    with StandIn(blocked) as si:
        (_, rep), = backend(si).answer(reqs(1))
    assert rep.error == {'type': 'Blocked', 'message': 'the prompt was blocked (PROHIBITED_CONTENT)'} and rep.usage['input'] == 1290

def test_retries_exhausted_on_rate_limit():
    with StandIn(gemini_handler, faults=lambda n, b: 'rate_limit') as si:
        (_, rep), = backend(si).answer(reqs(1))
        assert len(si.requests) == 3
    assert rep.error['type'] == 'RateLimited' and 'RESOURCE_EXHAUSTED' in rep.error['message'] and rep.tries == 3

def test_quota_per_day():
    "the day's quota used: the run stops after the answers it got, instead of recording an error for every item left"
    got = []
    with StandIn(gemini_handler) as si:
        with pytest.raises(StopRun, match='daily quota used: 2 of 2 requests today') as e:
            for pair in backend(si, rpd=2).answer(reqs(4)): got.append(pair)
        assert len(si.requests) == 2
    assert [rep.error for _, rep in got] == [None, None]
    assert e.value.kind == 'DailyQuota' and 'or use --batch' in str(e.value) and 'midnight Pacific' in str(e.value)

def test_key_from_gemini_var_and_dotenv(monkeypatch, tmp_path):
    monkeypatch.delenv('GOOGLE_API_KEY')
    with StandIn(gemini_handler) as si:
        monkeypatch.setenv('GEMINI_API_KEY', 'from-env')
        list(backend(si).answer(reqs(1)))
        monkeypatch.delenv('GEMINI_API_KEY')
        (tmp_path / '.env').write_text('GOOGLE_API_KEY=from-dotenv\n')
        list(backend(si).answer(reqs(1)))
        (tmp_path / '.env').unlink()
        with pytest.raises(RuntimeError, match='GOOGLE_API_KEY or GEMINI_API_KEY'): backend(si)
        keys = [{k.lower(): v for k, v in q['headers'].items()}['x-goog-api-key'] for q in si.requests]
    assert keys == ['from-env', 'from-dotenv']

def test_key_scrubbed_from_echoing_server():
    def echo(si, n, path, body):
        k = {a.lower(): v for a, v in si.requests[n]['headers'].items()}['x-goog-api-key']
        code = 429 if n == 0 else 403
        return code, {}, {'error': {'code': code, 'status': 'X', 'message': f'key={k} https://x/y?key={k}'}}
    with StandIn(echo) as si:
        be = backend(si)
        with pytest.raises(StopRun) as e: list(be.answer(reqs(1)))  # the 429 is retried; the 403 stops the run
    assert e.value.kind == 'KeyRefused' and 'key=***' in str(e.value) and KEY not in str(e.value) and KEY not in repr(be)

def test_batch_interrupted_then_resumed(tmp_path):
    from elena.gemini import BatchPending
    lines = []
    def interrupt(line): raise KeyboardInterrupt(line)  # as Ctrl-C during the first wait
    with StandIn(gemini_handler, faults={1: 'truncated', 2: 'rate_limit'}) as si:
        si.batch_polls = 4
        be = backend(si)
        with pytest.raises(KeyboardInterrupt): list(be.answer_with_batch_api(reqs(3), tmp_path, poll_s=0.01, progress=interrupt))
        with pytest.raises(BatchPending, match='run again'): list(be.answer_with_batch_api(reqs(3), tmp_path, poll_s=0.01, wait_s=0, progress=lines.append))
        got = dict((r.id, rep) for r, rep in be.answer_with_batch_api(reqs(3), tmp_path, poll_s=0.01, progress=lines.append))
        routes = [q['path'].split('/', 2)[2] for q in si.requests]
    assert routes == ['models/gemini-2.5-flash:batchGenerateContent'] + ['batches/standin-0'] * 4  # created once, then only polled
    assert (got['img0.jpg'].error, got['img1.jpg'].error['type'], got['img2.jpg'].error['type']) == (None, 'MaxTokens', 'BatchItemError')
    assert '"code": 429' in got['img2.jpg'].error['message'] and json.loads(got['img0.jpg'].text)['emotion'] == 'fear'
    saved = json.loads(next(tmp_path.glob('gemini-batch-*.json')).read_text())
    assert saved['state'] == 'JOB_STATE_SUCCEEDED' and saved['ids'] == ['img0.jpg', 'img1.jpg', 'img2.jpg']
    assert any('JOB_STATE_RUNNING' in l for l in lines) and KEY not in ''.join(lines)

def test_batch_new_requests_new_job(tmp_path):
    with StandIn(gemini_handler) as si:
        be = backend(si)
        list(be.answer_with_batch_api(reqs(2), tmp_path, poll_s=0.01, progress=None))
        list(be.answer_with_batch_api(reqs(2, 'stepwise'), tmp_path, poll_s=0.01, progress=None))
        list(be.answer_with_batch_api(reqs(2), tmp_path, poll_s=0.01, progress=None))  # already done: polled, not resubmitted
        creates = [q for q in si.requests if q['path'].endswith(':batchGenerateContent')]
    assert len(creates) == 2 and len(list(tmp_path.glob('*.json'))) == 2

def test_batch_split_by_size(tmp_path):
    with StandIn(gemini_handler) as si:
        got = list(backend(si).answer_with_batch_api(reqs(3), tmp_path, poll_s=0.01, max_bytes=PHOTO.stat().st_size * 2, progress=None))
        creates = [q for q in si.requests if q['path'].endswith(':batchGenerateContent')]
    assert [len(q['body']['batch']['inputConfig']['requests']['requests']) for q in creates] == [2, 1]
    assert sorted(r.id for r, rep in got if rep.error is None) == ['img0.jpg', 'img1.jpg', 'img2.jpg']

def test_import_loads_no_torch():
    "the API backends and their machinery import neither torch nor transformers"
    mods = 'elena.backends, elena.limits, elena.api, elena.openai_compat, elena.gemini, elena.standins'
    code = f"import sys, {mods}; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ['False', 'False']

def test_batch_reads_each_image_once_and_keys_on_its_content(tmp_path, monkeypatch):
    "An image read once per batch call (size, job and job name); a changed image is a new job, an unchanged one resumes the saved job"
    import elena.gemini as g
    imgs = tmp_path / 'imgs'; imgs.mkdir()
    from elena.files import encode_image, read_image, still_bytes
    pixels = read_image(PHOTO)
    for i in range(3): (imgs / f'img{i}.jpg').write_bytes(encode_image(pixels[:, i:], jpeg=True))  # distinct pictures
    reads, real = [], g.image_part
    monkeypatch.setattr(g, 'image_part', lambda path, *a: reads.append(Path(path).name) or real(path, *a))  # counts, then reads for real
    rs = lambda: [Request(f'img{i}.jpg', imgs / f'img{i}.jpg', get_prompt(), {'temperature': 0, 'max_new_tokens': 512}) for i in range(3)]
    jobs = tmp_path / 'jobs'
    with StandIn(gemini_handler) as si:
        be = backend(si)
        first = list(be.answer_with_batch_api(rs(), jobs, poll_s=0.01, progress=None))
        assert sorted(reads) == ['img0.jpg', 'img1.jpg', 'img2.jpg']  # once each
        list(be.answer_with_batch_api(rs(), jobs, poll_s=0.01, progress=None))  # the same images: the saved job
        (imgs / 'img1.jpg').write_bytes(encode_image(pixels[:, ::-1], jpeg=True))  # another picture under the same name
        again = list(be.answer_with_batch_api(rs(), jobs, poll_s=0.01, progress=None))  # one image changed: a new job
        creates = [q for q in si.requests if q['path'].endswith(':batchGenerateContent')]
    assert len(creates) == 2 and len(list(jobs.glob('gemini-batch-*.json'))) == 2
    sent = [p['request']['contents'][0]['parts'][0]['inlineData']['data'] for p in creates[1]['body']['batch']['inputConfig']['requests']['requests']]
    assert base64.urlsafe_b64decode(sent[1]) == still_bytes(imgs / 'img1.jpg')[0]
    assert all(rep.error is None for _, rep in first + again)

def test_only_gemini_has_a_batch_api():
    with StandIn(gemini_handler) as si:
        assert backend(si).batch_api
    assert not get_backend('tiny-gemma3').batch_api and not get_backend('openai:m', base_url='http://127.0.0.1:9/v1').batch_api
