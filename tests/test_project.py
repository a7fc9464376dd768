"""The project's shape and install promises: checked on the real files and in fresh interpreters."""
import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CFG = configparser.ConfigParser(delimiters=['=']); CFG.read(ROOT / 'settings.ini'); CFG = CFG['DEFAULT']

def test_top_level_layout():
    for name in ['nbs', 'elena', 'figures', 'responses', 'tests', 'settings.ini', 'environment.yml', '_quarto.yml', 'README.md', '.ci/run']:
        assert (ROOT / name).exists(), name
    q = ROOT / 'nbs' / '_quarto.yml'
    assert q.is_symlink() and q.resolve() == (ROOT / '_quarto.yml').resolve()

def test_core_requirements_have_no_torch():
    core = CFG['requirements'].split()
    assert not any(r.split('>')[0].split('=')[0].split('<')[0] in ('torch', 'transformers', 'opencv-python') for r in core), core
    assert any(r.startswith('opencv-python-headless') for r in core)
    assert any(r.startswith('torch') for r in CFG['local_requirements'].split())

def test_papermill_tags_survive_cleaning():
    assert CFG['allowed_cell_metadata_keys'].split() == ['tags']
    assert CFG['tst_flags'].split() == ['notest', 'slow', 'gpu', 'api']

def test_core_import_does_not_load_torch():
    code = "import sys, elena.prompts, elena.parse, elena.vocab, elena.cli; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ['False', 'False']

def test_readme_in_step_with_index():
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'sync_readme.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
