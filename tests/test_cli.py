"""The `elena` command as a user runs it: the installed console script in a subprocess."""
import json
import pytest
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

HEAVY = ('torch', 'transformers', 'cv2')
HELP = "import sys\nfrom elena.cli import main\ntry: main({argv!r})\nexcept SystemExit: pass\nprint([m for m in {heavy!r} if m in sys.modules])"

def commands():
    from elena.cli import SUBCOMMANDS
    return [[], *([c] for c in SUBCOMMANDS), ['datasets', 'check']]

@pytest.mark.parametrize('words', commands(), ids=lambda w: ' '.join(w) or 'elena')
def test_help_imports_nothing_heavy(words):
    "`elena --help` and every `elena <command> --help`, each in a fresh interpreter: the help printed, no torch, transformers or cv2 loaded"
    r = subprocess.run([sys.executable, '-c', HELP.format(argv=[*words, '--help'], heavy=HEAVY)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and f"usage: elena {' '.join(words)}".strip() in r.stdout, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == '[]', r.stdout.splitlines()[-1]

def test_temperature_reaches_the_record(tmp_path):
    "`--seed` and `--temperature` are the generation settings stored with each answer (OpenAI stand-in: canned answers)"
    from elena.standins import standin_process
    with standin_process('openai') as url:
        r = run('run', '--model', 'openai:standin', '--base-url', url + '/v1', '--limit', '1', '--seed', '7', '--temperature', '0.3',
                '--out-dir', str(tmp_path), '--no-progress')
    assert r.returncode == 0, r.stderr
    rec = json.loads(next(tmp_path.rglob('original-elena.jsonl')).read_text().splitlines()[0])
    assert (rec['gen']['seed'], rec['gen']['temperature']) == (7, 0.3), rec['gen']
