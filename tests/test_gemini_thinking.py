"""Thinking counts against the output limit (as on real gemini-2.5-flash): the defaults leave room for the answer,
--thinking-budget is sent and is part of the resume key, and an answer that thinking ate says so and is asked again."""
import json
from pathlib import Path
import matplotlib.cbook
import pytest
from elena.backends import Request, get_backend
from elena.prompts import get_prompt
from elena.standin_server import StandIn
from elena.standins import gemini_handler

from conftest import GEMINI_KEY as KEY
PHOTO = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

pytestmark = pytest.mark.usefixtures('gemini_env')

def folder(tmp_path, n=3):
    d = tmp_path / 'imgs'; d.mkdir()
    for i in range(n): (d / f'img{i}.jpg').write_bytes(PHOTO.read_bytes() + bytes([i]))
    return d

def test_thinking_eats_a_small_limit():
    "829 thinking tokens (a recorded real answer) and maxOutputTokens 512: MAX_TOKENS, content without parts, an error that says what to do"
    with StandIn(gemini_handler, thinking_tokens=829) as si:
        be = get_backend('gemini-2.5-flash', base_url=si.url, backoff_base=0.01)
        (_, rep), = be.answer([Request('a.jpg', PHOTO, get_prompt(), {'temperature': 0, 'max_new_tokens': 512})])
        body = si.requests[0]['body']
    assert body['generationConfig']['maxOutputTokens'] == 512
    assert (rep.text, rep.finish_reason, rep.error['type']) == (None, 'MAX_TOKENS', 'MaxTokens')
    assert rep.usage['thinking'] == 511 and rep.error['message'].startswith('thinking used 511 of 512 output tokens; no answer was written')
    assert 'raise --max-new-tokens or set --thinking-budget' in rep.error['message']

def test_default_settings_leave_room_and_count_thinking(tmp_path):
    from elena.run import run_elena
    with StandIn(gemini_handler, thinking_tokens=829) as si:
        s = run_elena('gemini-2.5-flash', 'folder', folder(tmp_path), out_dir=tmp_path / 'out', base_url=si.url, progress=False)
        g = si.requests[0]['body']['generationConfig']
    assert (s.done, dict(s.failed)) == (3, {})
    assert 'maxOutputTokens' not in g and 'thinkingConfig' not in g  # the model's own output limit and its default thinking, as the paper's script ran
    assert s.tokens['thinking'] == 3 * 829 and 'thinking 2487' in str(s)
    rec = json.loads(s.path.read_text().splitlines()[0])
    assert rec['gen'] == {'temperature': 0.0, 'max_new_tokens': None, 'seed': None} and rec['usage']['thinking'] == 829

def test_thinking_budget_sent_recorded_and_part_of_the_resume_key(tmp_path):
    from elena.run import run_elena
    data = folder(tmp_path)
    with StandIn(gemini_handler, thinking_tokens=829) as si:
        s0 = run_elena('gemini-2.5-flash', 'folder', data, out_dir=tmp_path / 'out', base_url=si.url, progress=False, thinking_budget=0)
        g = si.requests[0]['body']['generationConfig']
        again = run_elena('gemini-2.5-flash', 'folder', data, out_dir=tmp_path / 'out', base_url=si.url, progress=False, thinking_budget=0)
        other = run_elena('gemini-2.5-flash', 'folder', data, out_dir=tmp_path / 'out', base_url=si.url, progress=False, thinking_budget=1024)
    assert list(g['thinkingConfig'].values()) == [0] and s0.tokens['thinking'] == 0 and s0.done == 3
    assert (again.skipped, again.done) == (3, 0) and (other.skipped, other.done) == (0, 3)
    assert other.tokens['thinking'] == 3 * 829
    assert json.loads(s0.path.read_text().splitlines()[0])['gen']['thinking_budget'] == 0

def test_max_tokens_item_is_asked_again(tmp_path):
    from elena.run import run_elena
    data = folder(tmp_path)
    with StandIn(gemini_handler, thinking_tokens=829) as si:
        cut = run_elena('gemini-2.5-flash', 'folder', data, out_dir=tmp_path / 'out', base_url=si.url, progress=False, max_new_tokens=600)
        fine = run_elena('gemini-2.5-flash', 'folder', data, out_dir=tmp_path / 'out', base_url=si.url, progress=False, max_new_tokens=600, thinking_budget=0)
    assert dict(cut.failed) == {'MaxTokens': 3} and (fine.skipped, fine.done) == (0, 3)

def test_thinking_budget_refused_where_there_is_none(tmp_path):
    from elena.run import run_elena
    with pytest.raises(ValueError, match='--thinking-budget'):
        run_elena('openai:x', 'folder', folder(tmp_path), out_dir=tmp_path / 'out', base_url='http://127.0.0.1:9/v1', thinking_budget=0, progress=False)

def test_cli_flag():
    from elena.cli import build_parser
    a = build_parser('run').parse_args(['run', '--model', 'gemini-2.5-flash', '--thinking-budget', '0'])
    assert (a.thinking_budget, a.max_new_tokens) == (0, None)
