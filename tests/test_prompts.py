"""Snapshot tests: the exact text of every prompt kind x variant x label set is frozen in tests/snapshots/prompts/.

A change of wording fails here until the snapshots are deliberately rewritten with
ELENA_UPDATE_SNAPSHOTS=1 pytest tests/test_prompts.py (and PROMPT_VERSION raised)."""
import hashlib
import os
from pathlib import Path
import pytest
from elena.prompts import LABEL_SETS, PROMPT_KINDS, get_prompt

SNAP = Path(__file__).parent / 'snapshots' / 'prompts'
GRID = [(k, ls, m) for k in PROMPT_KINDS for m in (False, True) for ls in LABEL_SETS]

@pytest.mark.parametrize('kind,labels,masked', GRID)
def test_prompt_snapshot(kind, labels, masked):
    p = get_prompt(kind, labels, masked)
    f = SNAP / f'{p.id}__{labels}.txt'
    if os.environ.get('ELENA_UPDATE_SNAPSHOTS') == '1': f.write_text(p.text, encoding='utf-8')
    assert f.exists(), f"no snapshot {f}: run ELENA_UPDATE_SNAPSHOTS=1 pytest {__file__}"
    assert p.text == f.read_text(encoding='utf-8'), f"the text of {p.id} ({labels}) changed: see {f}"
    assert p.sha256 == hashlib.sha256(f.read_bytes()).hexdigest()

def test_no_stray_snapshots():
    want = {f'{get_prompt(k, ls, m).id}__{ls}.txt' for k, ls, m in GRID}
    assert {f.name for f in SNAP.glob('*.txt')} == want
