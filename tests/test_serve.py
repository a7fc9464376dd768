"""`elena run --model openai:<model>` end to end against a real, independent OpenAI-compatible server: `transformers serve`
(pip install "transformers[serving]"), serving the tiny Gemma-3 and the tiny Llama saved to a folder.

The tiny Llama's chat template refuses a system message next to an image, as the published Llama-3.2-Vision template
does; `transformers serve` then answers a bare HTTP 500 ("Internal Server Error", the reason only in its log). The run
must learn to fold the system text into the user turn and answer every image. `transformers serve` ignores
`response_format` (it logs "Ignoring unsupported fields"), so the records say the schema was sent, which is all a client
can know. The models have random weights: their text is noise and is never looked at, only counted."""
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec('fastapi') is None or importlib.util.find_spec('uvicorn') is None:
    pytest.skip('transformers serve is not importable here: pip install "transformers[serving]"', allow_module_level=True)

SERVE = "import sys; from transformers.cli.transformers import main; sys.argv = ['transformers', *sys.argv[1:]]; main()"
CLI = 'import sys; from elena.cli import main; sys.exit(main(sys.argv[1:]))'


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    "The tiny models saved as folders, and `transformers serve` on a free port serving them"
    from elena.tiny import build_tiny
    root = tmp_path_factory.mktemp('serve')
    for kind in ('tiny-gemma3', 'tiny-llama'):
        model, proc = build_tiny(kind)
        model.save_pretrained(root / kind); proc.save_pretrained(root / kind)
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    log = open(root / 'serve.log', 'w')
    env = {**os.environ, 'HF_HUB_OFFLINE': '1'}
    p = subprocess.Popen([sys.executable, '-c', SERVE, 'serve', '--host', '127.0.0.1', '--port', str(port), '--device', 'cpu'],
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(300):
            if p.poll() is not None: pytest.fail(f"transformers serve ended at start: {(root / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(url + '/health', timeout=1).status_code == 200: break
            except httpx.HTTPError: time.sleep(0.5)
        else: pytest.fail('transformers serve did not come up within 150 s')
        yield root, url
    finally:
        p.terminate()
        try: p.wait(20)
        except subprocess.TimeoutExpired: p.kill()
        log.close()


def elena_run(root, url, kind, out):
    r = subprocess.run([sys.executable, '-c', CLI, 'run', '--model', f'openai:{root / kind}', '--base-url', url + '/v1',
                        '--dataset', 'samples', '--out-dir', str(out), '--max-new-tokens', '4', '--concurrency', '1', '--no-progress'],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, 'PYTHONPATH': str(ROOT)})
    recs = [json.loads(l) for f in Path(out).rglob('*.jsonl') for l in f.read_text().splitlines()]
    return r, recs


def test_llama_template_refusal_is_folded(server, tmp_path):
    root, url = server
    r, recs = elena_run(root, url, 'tiny-llama', tmp_path)
    assert len(recs) == 2, (r.stdout, r.stderr)
    for rec in recs:  # every image answered (random weights run into the token limit: MaxTokens keeps the text)
        assert rec['raw'] and (rec['error'] or {}).get('type') in (None, 'MaxTokens'), rec['error']
        assert rec['sent'] == {'schema': 'sent', 'system': 'folded', 'system_refusal': 'HTTP 500: Internal Server Error'}, rec['sent']
    assert 'Prompting with images is incompatible with system messages.' in (root / 'serve.log').read_text()  # the reason, server-side
    assert r.returncode in (0, 1) and 'answered' in r.stdout, r.stderr  # 1: the MaxTokens answers count as failed


def test_gemma_keeps_its_system_turn(server, tmp_path):
    root, url = server
    r, recs = elena_run(root, url, 'tiny-gemma3', tmp_path)
    assert len(recs) == 2, (r.stdout, r.stderr)
    for rec in recs:
        assert rec['raw'] and (rec['error'] or {}).get('type') in (None, 'MaxTokens'), rec['error']
        assert rec['sent'] == {'schema': 'sent', 'system': 'turn'}, rec['sent']
        assert rec['usage']['input'] > 16  # the image's 16 soft tokens and the prompt reached the model
    assert 'response_format' in (root / 'serve.log').read_text()  # the server says it ignored the schema
