"""Errors no retry can fix stop the run at once; per-item refusals stay per item. Against the stand-ins (real google-genai
SDK and httpx over HTTP), whose error bodies follow the shapes the real APIs send (see nbs/explain/standins.ipynb)."""
import json
import socket
from pathlib import Path
import matplotlib.cbook
import pytest
from elena.backends import Request, StopRun, get_backend
from elena.prompts import get_prompt
from elena.standin_server import StandIn, openai_handler
from elena.standins import gemini_handler

from conftest import GEMINI_KEY as KEY
PHOTO = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

pytestmark = pytest.mark.usefixtures('gemini_env')

def reqs(n):
    return [Request(f'img{i}.jpg', PHOTO, get_prompt(), {'temperature': 0, 'max_new_tokens': 512}) for i in range(n)]

def gemini(si, model='gemini-2.5-flash', **kw):
    return get_backend(model if model in ('gemini-2.5-flash',) else f'gemini:{model}',
                       **{'base_url': si.url if si else None, 'backoff_base': 0.01, 'max_tries': 3, 'timeout_s': 5, **kw})

def openai(url, model='standin', **kw):
    return get_backend(f'openai:{model}', base_url=url, backoff_base=0.01, **{'max_tries': 3, 'timeout_s': 5, **kw})

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]  # closed again: nothing listens there

def test_gemini_unknown_model_stops_after_first():
    "with the default ceiling (256 in flight) too: the first request goes alone"
    with StandIn(gemini_handler, models={'gemini-2.5-flash'}) as si:
        with pytest.raises(StopRun) as e: list(gemini(si, 'gemini-1.0-pro').answer(reqs(50)))
        assert len(si.requests) == 1
    assert e.value.kind == 'ModelNotFound'
    assert "'gemini-1.0-pro'" in str(e.value) and '--model gemini:<id>' in str(e.value) and 'is not found for API version' in str(e.value)

def test_gemini_invalid_key_is_400_with_error_info_and_stops():
    with StandIn(gemini_handler, keys={'AIza-the-right-one'}) as si:
        with pytest.raises(StopRun) as e: list(gemini(si).answer(reqs(50)))
        assert len(si.requests) == 1
    assert e.value.kind == 'KeyRefused' and 'check GOOGLE_API_KEY / GEMINI_API_KEY' in str(e.value)
    assert 'API_KEY_INVALID' in str(e.value) and KEY not in str(e.value)

def test_gemini_permission_denied_stops():
    with StandIn(gemini_handler, faults=lambda n, b: 'permission') as si:
        with pytest.raises(StopRun) as e: list(gemini(si, concurrency=1).answer(reqs(5)))
        assert len(si.requests) == 1
    assert 'PERMISSION_DENIED' in str(e.value) and 'check GOOGLE_API_KEY / GEMINI_API_KEY' in str(e.value)

def test_gemini_bad_image_stays_per_item_with_its_type():
    with StandIn(gemini_handler, faults={1: 'bad_image'}) as si:
        got = [rep for _, rep in gemini(si, concurrency=1).answer(reqs(3))]
    bad = [rep for rep in got if rep.error]
    assert len(bad) == 1 and bad[0].error['type'] == 'InvalidArgument' and 'Unable to process input image' in bad[0].error['message']
    assert bad[0].tries == 1 and len(got) == 3

@pytest.mark.parametrize('which', ['gemini', 'openai'])
def test_server_gone_stops(which):
    url = f'http://127.0.0.1:{free_port()}'
    be = gemini(None, base_url=url, gone_after=4, gone_after_s=0.2) if which == 'gemini' else openai(url + '/v1', gone_after=4, gone_after_s=0.2)
    be.retries.max_tries, be.retries.backoff_base = 50, 0.05
    with pytest.raises(StopRun) as e: list(be.answer(reqs(30)))
    assert e.value.kind == 'ServerGone' and f'the server at {url}' in str(e.value) and 'is not answering' in str(e.value)

def test_openai_vllm_style_404_stops():
    def vllm(si, n, path, body):  # vLLM answers an unknown model with a top-level error object (vllm-project/vllm#3485)
        return 404, {}, {'object': 'error', 'message': f"The model `{body['model']}` does not exist.", 'type': 'NotFoundError', 'param': None, 'code': 404}
    with StandIn(vllm) as si:
        with pytest.raises(StopRun) as e: list(openai(si.url + '/v1', 'qwen', concurrency=1).answer(reqs(4)))
    assert e.value.kind == 'ModelNotFound' and 'The model `qwen` does not exist.' in str(e.value)

def test_openai_bad_key_stops(monkeypatch):
    monkeypatch.setenv('OPENAI_API_KEY', 'sk-wrong')
    with StandIn(openai_handler, keys={'sk-right'}) as si:
        with pytest.raises(StopRun) as e: list(openai(si.url + '/v1', concurrency=1).answer(reqs(10)))
        assert len(si.requests) == 1
    assert e.value.kind == 'KeyRefused' and 'check OPENAI_API_KEY' in str(e.value) and 'sk-wrong' not in str(e.value)

def test_openai_bad_request_stays_per_item():
    with StandIn(openai_handler, faults={0: 'bad_image'}) as si:
        got = [rep for _, rep in openai(si.url + '/v1', concurrency=1).answer(reqs(2))]
    assert sorted((rep.error or {}).get('type', 'ok') for rep in got) == ['BadRequest', 'ok']

def test_run_stops_and_resumes(tmp_path):
    "A server that drops every connection after the third request: the run stops, keeps what it stored, and the next run asks only the rest"
    from elena.run import run_elena
    data = tmp_path / 'imgs'; data.mkdir()
    for i in range(12): (data / f'img{i:02d}.jpg').write_bytes(PHOTO.read_bytes() + bytes([i]))
    def dying(si, n, path, body):
        if n >= 3: raise ConnectionAbortedError('gone')  # the handler dies: the connection closes with no answer
        return openai_handler(si, n, path, body)
    opts = dict(backoff_base=0.01, gone_after=4, gone_after_s=0.1, max_tries=50)
    with StandIn(dying) as si:
        with pytest.raises(StopRun) as e:
            run_elena('openai:standin', 'folder', data, out_dir=tmp_path / 'out', concurrency=1, base_url=si.url + '/v1', progress=False, backend_options=opts)
    assert 'is not answering' in str(e.value) and '3 answers stored' in str(e.value) and 'run the same command again' in str(e.value)
    f = next((tmp_path / 'out').rglob('*.jsonl'))
    assert [json.loads(l)['error'] for l in f.read_text().splitlines()] == [None] * 3
    with StandIn(openai_handler) as si:
        s = run_elena('openai:standin', 'folder', data, out_dir=tmp_path / 'out', base_url=si.url + '/v1', progress=False, backend_options=opts)
        assert len(si.requests) == 9
    assert (s.skipped, s.done) == (3, 9)
