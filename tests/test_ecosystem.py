"""What users of other tools expect of ELENA (issue 27): a bare Hugging Face id as a model name, evaluation outputs that
carry their provenance with a per-item table, `--json` output for machines, the response records as one DataFrame,
and an export to lmms-eval's files. The `elena` console script runs in a subprocess, as a user runs it."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib import cbook

BIN = Path(sys.executable).parent
ELENA = shutil.which('elena', path=str(BIN)) or 'elena'
PHOTO = Path(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))


def elena(*args, env=None, cwd=None, timeout=120):
    return subprocess.run([ELENA, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def test_bare_hub_id_reaches_the_weights_check(tmp_path):
    """`--model org/name` (transformers' and lmms-eval's spelling) is `hf:org/name`: offline and without the weights, the
    run stops at the weights check naming the repository, not at the model name"""
    (tmp_path / 'imgs').mkdir()
    shutil.copy(PHOTO, tmp_path / 'imgs' / 'a.jpg')
    env = {**os.environ, 'HF_HOME': str(tmp_path / 'hf'), 'HF_HUB_OFFLINE': '1'}
    repo = 'meta-llama/Llama-3.2-11B-Vision-Instruct'
    r = elena('run', '--model', repo, '--dataset', 'folder', '--data-dir', tmp_path / 'imgs', '--out-dir',
              tmp_path / 'out', env=env, cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]
    assert 'Unknown model' not in lines[0] and f'hf download {repo}' in lines[0] and 'HF_HUB_OFFLINE' in lines[0], lines[0]
