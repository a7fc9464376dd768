"""The local-model path on the tiny random-weight models (real transformers classes, CPU), beyond the checks of
nbs/12_local.ipynb: one BOS token through the backend and the attention capture, per-item errors on both models,
registry options, a gated repository. Their text is noise and is only ever compared with itself."""
import subprocess
import sys
from pathlib import Path
import matplotlib.cbook
import pytest
from elena.backends import Request, get_backend
from elena.local import load_image
from elena.prompts import get_prompt

PHOTO = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))  # U.S. Navy photograph, public domain
GEN = {'max_new_tokens': 8}

def requests(missing=False):
    kinds = [('elena', False), ('naive', False), ('stepwise', True)]
    reqs = [Request(f'r{i}', PHOTO, get_prompt(k, masked=m), GEN) for i, (k, m) in enumerate(kinds)]
    if missing: reqs[1].image = PHOTO.parent / 'no-such-image.jpg'
    return reqs

@pytest.mark.parametrize('name', ['tiny-gemma3', 'tiny-llama'])
def test_one_bos_token(name):
    "The chat template writes the BOS token and the tokenizer adds one too (as the real ones do): the model reads it once"
    be = get_backend(name).load()
    seen = []  # the input ids of the first forward pass (the prompt), recorded by a hook that changes nothing
    hook = be.model.register_forward_pre_hook(lambda m, a, kw: seen.append(kw['input_ids'][0].tolist()) if not seen else None, with_kwargs=True)
    try: list(be.answer(requests()[:1]))
    finally: hook.remove()
    bos = be.processor.tokenizer.bos_token_id
    assert seen[0][0] == bos and seen[0].count(bos) == 1, seen[0][:4]

@pytest.mark.parametrize('name', ['tiny-gemma3', 'tiny-llama'])
def test_missing_image_fails_only_its_request(name):
    got = {r.id: rep for r, rep in get_backend(name, batch_size=2).answer(requests(missing=True))}
    assert got['r1'].error['type'] == 'ImageError' and 'no-such-image.jpg' in got['r1'].error['message'] and got['r1'].text is None
    alone = {r.id: rep for r, rep in get_backend(name, batch_size=1).answer(requests())}
    for i in ('r0', 'r2'): assert got[i].text == alone[i].text and (got[i].error or {}).get('type') in (None, 'MaxTokens')

def test_registry_and_options():
    be = get_backend('llama90b', batch_size=4, max_memory='0=70GiB,1=70GiB')
    assert (be.backend, be.model_id, be.batch_size, be.max_memory, be.model) == ('transformers', 'meta-llama/Llama-3.2-90B-Vision-Instruct', 4, {0: '70GiB', 1: '70GiB'}, None)
    assert get_backend('hf:org/model', revision='abc').revision == 'abc'
    assert get_backend('tiny-llama').random_weights and not get_backend('gemma3-12b').random_weights

def test_quantize_without_bitsandbytes():
    import importlib.util
    if importlib.util.find_spec('bitsandbytes') is not None: pytest.skip('bitsandbytes is installed here')
    with pytest.raises(ImportError, match='pip install bitsandbytes'): get_backend('llama90b', quantize='4bit')
    with pytest.raises(ValueError, match='quantize'): get_backend('llama90b', quantize='2bit')

@pytest.mark.parametrize('name', ['tiny-gemma3', 'tiny-llama'])
def test_attention_capture_reads_one_bos(name):
    "The attention capture tokenizes the prompt as generation does: one BOS token"
    from elena.attention_maps import attention_maps
    be = get_backend(name).load()
    seen = []
    hook = be.model.register_forward_pre_hook(lambda m, a, kw: seen.append(kw['input_ids'][0].tolist()) if not seen else None, with_kwargs=True)
    try: attention_maps(be.model, be.processor, load_image(PHOTO), get_prompt('elena'), query=':prompt')
    finally: hook.remove()
    bos = be.processor.tokenizer.bos_token_id
    assert seen[0][0] == bos and seen[0].count(bos) == 1, seen[0][:4]

def test_gated_repository_fails_in_one_message(tmp_path):
    "Online, but the licence of a gated repository is not accepted: the Hub answers 401 with X-Error-Code GatedRepo (as huggingface_hub reads it)"
    import http.server, threading
    from elena.local import WeightsUnavailable
    class Hub(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def answer(self):
            if self.path.startswith('/api/models/'): status, headers, body = 200, {'Content-Type': 'application/json'}, b'{"id": "org/gated", "gated": "manual"}'
            else: status, headers, body = 401, {'X-Error-Code': 'GatedRepo', 'Content-Type': 'application/json',
                                                'X-Error-Message': 'Access to model org/gated is restricted. You must have access to it and be authenticated to access it. Please log in.'}, b'{"error": "Access to model org/gated is restricted."}'
            self.send_response(status)
            for k, v in {**headers, 'Content-Length': str(len(body))}.items(): self.send_header(k, v)
            self.end_headers()
            if self.command != 'HEAD': self.wfile.write(body)
        do_GET = do_HEAD = answer
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Hub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    code = ("import sys; from elena.backends import get_backend\n"
            "try: get_backend('hf:org/gated').load()\n"
            "except FileNotFoundError as e: print(type(e).__name__, e); sys.exit(3)")
    env = {**__import__('os').environ, 'HF_HOME': str(tmp_path), 'HF_HUB_OFFLINE': '0', 'HF_ENDPOINT': f'http://127.0.0.1:{srv.server_address[1]}'}
    try: r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=300)
    finally: srv.shutdown()
    assert r.returncode == 3, (r.stdout, r.stderr[-2000:])
    assert r.stdout.startswith('WeightsUnavailable org/gated:') and 'gated' in r.stdout and 'hf download org/gated' in r.stdout, r.stdout
