"""The Makefile touches nothing outside the project's .venv: every recipe finds the venv's tools first, and `make docs`
without Quarto stops at once with one line saying how to get it, before any setup or nbdev_docs (which would otherwise
`pip install` the project into whatever pip comes first on PATH)."""
import os
import shutil
import subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which('make')
pytestmark = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")


def bare_path(tmp_path: Path) -> str:
    "A PATH with make and a shell, and no quarto, pip or nbdev"
    d = tmp_path / 'bin'; d.mkdir()
    for tool in ('make', 'sh', 'bash', 'env'):
        if found := shutil.which(tool): (d / tool).symlink_to(found)
    return str(d)


def freeze() -> str:
    "`pip freeze` of the Python outside the venv (the one a user has on their machine), or '' where it has no pip"
    py = shutil.which('python3', path='/usr/local/bin:/usr/bin:/bin')
    if not py: return ''
    return subprocess.run([py, '-m', 'pip', 'freeze'], capture_output=True, text=True, timeout=120).stdout


def test_make_docs_without_quarto_says_one_line_and_installs_nothing(tmp_path):
    venv = tmp_path / 'venv'  # were setup to start, it would create this folder
    before = freeze()
    r = subprocess.run([MAKE, 'docs', f'VENV={venv}'], capture_output=True, text=True, timeout=60, cwd=ROOT,
                       env={'PATH': bare_path(tmp_path), 'HOME': str(tmp_path)})
    lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    assert r.returncode != 0, r.stdout + r.stderr
    assert len(lines) == 1 and 'Quarto' in lines[0] and 'https://quarto.org' in lines[0], lines
    assert not venv.exists()  # no setup, so no nbdev_docs and no pip install anywhere
    assert freeze() == before


def test_every_recipe_finds_the_venvs_tools_first(tmp_path):
    "A recipe's `python` and `pip` are the venv's, whatever comes first on the caller's PATH"
    venv = tmp_path / 'venv'; (venv / 'bin').mkdir(parents=True)
    for tool in ('python', 'pip'):
        (venv / 'bin' / tool).write_text('#!/bin/sh\necho venv\n'); (venv / 'bin' / tool).chmod(0o755)
    r = subprocess.run([MAKE, '-s', '-C', str(ROOT), f'VENV={venv}', '--eval', 'which-tools: ; @command -v python; command -v pip',
                        'which-tools'], capture_output=True, text=True, timeout=60,
                       env={'PATH': os.environ['PATH'], 'HOME': str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(venv / 'bin' / 'python'), str(venv / 'bin' / 'pip')], r.stdout
