"""Every notebook in nbs/, run by nbdev's own test runner (honours `#| eval: false` and the tst_flags of settings.ini).

Each notebook runs in its own process, as `nbdev_test` does. Flags to force (e.g. cells marked `slow`) come from
ELENA_TEST_FLAGS, space-separated."""
import configparser
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
import nbformat
import pytest
from conftest import NEEDS_YUNET, yunet_missing

ROOT = Path(__file__).resolve().parent.parent
cfg = configparser.ConfigParser(delimiters=['='])
cfg.read(ROOT / 'settings.ini')
SKIP = cfg['DEFAULT']['tst_flags'].split()
FORCE = os.environ.get('ELENA_TEST_FLAGS', '').split()
NOTEBOOKS = sorted(p for p in (ROOT / 'nbs').rglob('*.ipynb')
                   if not any(part.startswith(('_', '.')) for part in p.relative_to(ROOT / 'nbs').parts))

RUNNER = """
import sys
from pathlib import Path
from nbdev.test import test_nb
ok, secs = test_nb(Path(sys.argv[1]), skip_flags=sys.argv[2].split(), force_flags=sys.argv[3].split())
print(f'{sys.argv[1]}: {"ok" if ok else "FAILED"} in {secs:.1f}s')
sys.exit(0 if ok else 1)
"""

def test_notebooks_found():
    names = {p.name for p in NOTEBOOKS}
    assert {'index.ipynb', '00_prompts.ipynb', '02_parse.ipynb', '01_vocab.ipynb', '90_cli.ipynb'} <= names, names


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(ROOT / 'nbs')) for p in NOTEBOOKS])
def test_notebook(nb):
    why = yunet_missing()
    if why and nb.name in NEEDS_YUNET: pytest.skip(f"{nb.name}: {why}")
    if why and '#| yunet' in nb.read_text(encoding='utf-8'):
        warnings.warn(f"{nb.name}: cells marked '#| yunet' skipped: {why}")
    skip = SKIP + (['yunet'] if why else [])
    r = subprocess.run([sys.executable, '-c', RUNNER, str(nb), ' '.join(skip), ' '.join(FORCE)],
                       capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert r.returncode == 0, f"{nb.name} failed:\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}"


# --- saved outputs: the same on every run -------------------------------------------------------------------------
# The docs show the outputs saved in the notebooks (`make outputs`); they must not change from one run to the next,
# so they carry no machine paths, timings, progress bars or memory addresses.
SAVE = ROOT / 'tools' / 'save_outputs.py'
MACHINE = re.compile(r'/tmp/|/work/|/home/|/root/|/Users/|\bat 0x[0-9a-f]{6,}|\[\d\d:\d\d(<[\d:?]+)?, [^\]]*/s\]'
                     r'|\b\d+\.\d+ ?(images|img|it|items)/s\b')


def saved_outputs(path: Path) -> list:
    "The outputs of every code cell, as saved"
    return [c['outputs'] for c in json.loads(path.read_text(encoding='utf-8'))['cells'] if c['cell_type'] == 'code']


def save_twice(nb: Path, tmp: Path) -> tuple[list, list]:
    runs = []
    for i in (1, 2):
        r = subprocess.run([sys.executable, str(SAVE), '--out', str(tmp / str(i)), str(nb)],
                           capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:]
        runs.append(saved_outputs(tmp / str(i) / nb.name))
    return runs[0], runs[1]


def test_saved_outputs_repeat_on_a_progress_bar(tmp_path):
    "A cell that shows a progress bar and times itself saves the same outputs twice, the bar left out"
    nb = tmp_path / 'bar.ipynb'
    cells = ["from tqdm.auto import tqdm\nimport time",
             "for i in tqdm(range(3), desc='working'):\n    time.sleep(0.01)",
             "print('three steps done')"]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), nb)
    first, second = save_twice(nb, tmp_path)
    assert first == second
    assert not MACHINE.search(json.dumps(first)) and 'working' not in json.dumps(first), first
    assert 'three steps done' in json.dumps(first)


def test_saved_outputs_repeat_on_a_notebook():
    "One real notebook, executed twice as `make outputs` does, saves the same outputs both times"
    with tempfile.TemporaryDirectory(prefix='elena-outputs-') as tmp:
        first, second = save_twice(ROOT / 'nbs' / '00_prompts.ipynb', Path(tmp))
    assert first == second
    assert sum(map(len, first)) >= 3  # it prints the schema, a prompt and the grid of hashes


def test_saved_outputs_carry_no_machine_details():
    "No saved output holds a path of this machine, a timing or a progress bar (`make outputs` would change them)"
    found = []
    for nb in NOTEBOOKS:
        for i, outs in enumerate(saved_outputs(nb)):
            if m := MACHINE.search(json.dumps(outs).replace('\\\\', '\\')):
                found.append(f"{nb.relative_to(ROOT / 'nbs')} code cell {i}: {m[0]!r}")
    assert not found, 'outputs that change from run to run:\n' + '\n'.join(found)
