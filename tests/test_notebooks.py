"""Every notebook in nbs/, run by nbdev's own test runner (honours `#| eval: false` and the tst_flags of settings.ini).

Each notebook runs in its own process, as `nbdev_test` does. Flags to force (e.g. cells marked `slow`) come from
ELENA_TEST_FLAGS, space-separated."""
import configparser
import os
import subprocess
import sys
import warnings
from pathlib import Path
import pytest
from conftest import NEEDS_YUNET, yunet_missing

ROOT = Path(__file__).resolve().parent.parent
cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
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
    if why and '#| yunet' in nb.read_text(encoding='utf-8'): warnings.warn(f"{nb.name}: cells marked '#| yunet' skipped: {why}")
    skip = SKIP + (['yunet'] if why else [])
    r = subprocess.run([sys.executable, '-c', RUNNER, str(nb), ' '.join(skip), ' '.join(FORCE)],
                       capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert r.returncode == 0, f"{nb.name} failed:\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}"
