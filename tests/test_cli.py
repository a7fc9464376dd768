"""The `elena` command as a user runs it: the installed console script in a subprocess."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'

def run(*args, stdin=None):
    return subprocess.run([ELENA, *args], capture_output=True, text=True, input=stdin, timeout=120)

def test_demo():
    r = run('demo')
    assert r.returncode == 0, r.stderr
    assert 'elena-masked-v2' in r.stdout and 'truncated' in r.stdout

def test_parse_stdin_and_files(tmp_path):
    r = run('parse', stdin='```json\n{"emotion": "Angry", "valence": "2/10"}\n```')
    out = json.loads(r.stdout)
    assert (out['emotion'], out['record']['valence'], out['source']) == ('anger', 2, '<stdin>')
    f = tmp_path / 'reply.txt'; f.write_text('1. Embodied Emotion: Yes\n2. Category: Fearful\n3. Narrative: x')
    out = json.loads(run('parse', str(f)).stdout)
    assert out['emotion'] == 'fear' and out['extra'] == {'embodied_emotion': 'Yes'}

def test_errors_name_the_problem(tmp_path):
    r = run('parse', str(tmp_path / 'missing.txt'))
    assert r.returncode == 2 and 'missing.txt' in r.stderr
    r = run('prompts', '--labels', 'nolabels')
    assert r.returncode == 2 and "Unknown label set 'nolabels'" in r.stderr

def test_help_lists_subcommands():
    r = run('--help')
    assert r.returncode == 0 and all(c in r.stdout for c in ('demo', 'prompts', 'parse'))
