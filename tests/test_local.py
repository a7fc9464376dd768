"""The local-model path on the tiny random-weight models (real transformers classes, CPU), beyond the checks of
nbs/12_local.ipynb: one BOS token through the backend and the attention capture, per-item errors on both models,
registry options, a gated repository. Their text is noise and is only ever compared with itself."""
import http.server
import importlib.util
import os
import subprocess
import sys
import threading
from pathlib import Path
import matplotlib.cbook
import pytest
from elena.backends import Request, get_backend
from elena.local import load_image
from elena.prompts import get_prompt

PHOTO = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))  # U.S. Navy photograph
GEN = {'max_new_tokens': 8}

def requests(missing=False):
    kinds = [('elena', False), ('naive', False), ('stepwise', True)]
    reqs = [Request(f'r{i}', PHOTO, get_prompt(k, masked=m), GEN) for i, (k, m) in enumerate(kinds)]
    if missing: reqs[1].image = PHOTO.parent / 'no-such-image.jpg'
    return reqs

def first_input_ids(be, run):
    "The input ids of the first forward pass (the prompt) while `run()` runs, seen by a hook that changes nothing"
    seen = []
    def look(module, args, kwargs):
        if not seen: seen.append(kwargs['input_ids'][0].tolist())
    hook = be.model.register_forward_pre_hook(look, with_kwargs=True)
    try: run()
    finally: hook.remove()
    return seen[0]

@pytest.mark.parametrize('name', ['tiny-gemma3', 'tiny-llama'])
def test_one_bos_token(name):
    "The chat template writes the BOS token and the tokenizer adds one (as the real ones do): the model reads one"
    be = get_backend(name).load()
    ids = first_input_ids(be, lambda: list(be.answer(requests()[:1])))
    bos = be.processor.tokenizer.bos_token_id
    assert ids[0] == bos and ids.count(bos) == 1, ids[:4]

@pytest.mark.parametrize('name', ['tiny-gemma3', 'tiny-llama'])
def test_attention_capture_reads_one_bos(name):
    "The attention capture tokenizes the prompt as generation does: one BOS token"
    from elena.attention_maps import attention_maps
    be = get_backend(name).load()
    ids = first_input_ids(be, lambda: attention_maps(be.model, be.processor, load_image(PHOTO), get_prompt('elena'),
                                                     query=':prompt'))
    bos = be.processor.tokenizer.bos_token_id
    assert ids[0] == bos and ids.count(bos) == 1, ids[:4]

@pytest.mark.parametrize('name', ['tiny-gemma3', 'tiny-llama'])
def test_missing_image_fails_only_its_request(name):
    got = {r.id: rep for r, rep in get_backend(name, batch_size=2).answer(requests(missing=True))}
    bad = got['r1']
    assert bad.error['type'] == 'ImageError' and 'no-such-image.jpg' in bad.error['message'] and bad.text is None
    alone = {r.id: rep for r, rep in get_backend(name, batch_size=1).answer(requests())}
    for i in ('r0', 'r2'):
        assert got[i].text == alone[i].text and (got[i].error or {}).get('type') in (None, 'MaxTokens')

def test_registry_and_options():
    be = get_backend('llama90b', batch_size=4, max_memory='0=70GiB,1=70GiB')
    assert (be.backend, be.model_id, be.batch_size) == ('transformers', 'meta-llama/Llama-3.2-90B-Vision-Instruct', 4)
    assert (be.loading.max_memory, be.model) == ({0: '70GiB', 1: '70GiB'}, None)
    assert get_backend('hf:org/model', revision='abc').revision == 'abc'
    assert get_backend('tiny-llama').random_weights and not get_backend('gemma3-12b').random_weights

def test_quantize_without_bitsandbytes():
    if importlib.util.find_spec('bitsandbytes') is not None: pytest.skip('bitsandbytes is installed here')
    with pytest.raises(ImportError, match='pip install bitsandbytes'): get_backend('llama90b', quantize='4bit')
    with pytest.raises(ValueError, match='quantize'): get_backend('llama90b', quantize='2bit')

class GatedHub(http.server.BaseHTTPRequestHandler):
    "The Hub's answers for a gated repository whose licence this login has not accepted"
    def log_message(self, *a): pass
    def answer(self):
        if self.path.startswith('/api/models/'):
            status, headers, body = 200, {'Content-Type': 'application/json'}, b'{"id": "org/gated", "gated": "manual"}'
        else:
            why = ('Access to model org/gated is restricted. You must have access to it and be authenticated to access '
                   'it. Please log in.')
            headers = {'X-Error-Code': 'GatedRepo', 'Content-Type': 'application/json', 'X-Error-Message': why}
            status, body = 401, b'{"error": "Access to model org/gated is restricted."}'
        self.send_response(status)
        for k, v in {**headers, 'Content-Length': str(len(body))}.items(): self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD': self.wfile.write(body)
    do_GET = do_HEAD = answer

def test_gated_repository_fails_in_one_message(tmp_path):
    "Online, but the licence of a gated repository is not accepted: the Hub answers 401 with X-Error-Code GatedRepo"
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), GatedHub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    code = ("import sys; from elena.backends import get_backend\n"
            "try: get_backend('hf:org/gated').load()\n"
            "except FileNotFoundError as e: print(type(e).__name__, e); sys.exit(3)")
    env = {**os.environ, 'HF_HOME': str(tmp_path), 'HF_HUB_OFFLINE': '0',
           'HF_ENDPOINT': f'http://127.0.0.1:{srv.server_address[1]}'}
    try: r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=300)
    finally: srv.shutdown()
    assert r.returncode == 3, (r.stdout, r.stderr[-2000:])
    assert r.stdout.startswith('WeightsUnavailable org/gated:'), r.stdout
    assert 'gated' in r.stdout and 'hf download org/gated' in r.stdout, r.stdout
