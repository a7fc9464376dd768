"""The data the tests need, found as a user's run finds it.

YuNet: `ELENA_YUNET` where it is set (another copy of the same file, sha256-checked), else the copy shipped inside the
package (`elena/models/`), so no test skips for want of the detector on a fresh clone offline. Were both missing (a
build that left the packaged copy out), the cache and the checked download are tried; where none works,
`ELENA_YUNET_UNAVAILABLE` says why in one line and the tests that need the model skip with that reason. The authors'
reference file has no public download: `ELENA_REFERENCE`, else ../shared/reference beside the project, else the tests
that need it skip, saying so."""
import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / 'shared'  # data kept beside the project, never committed (present only where someone put it)

def _yunet() -> tuple[str|None, str|None]:
    "The YuNet model file and None, or None and why it could not be had"
    from elena.yunet import yunet_path
    try:
        return str(yunet_path()), None
    except Exception as e:
        return None, ' '.join(str(e).split())

if 'ELENA_YUNET_UNAVAILABLE' not in os.environ:  # not yet resolved (a nested test run inherits the answer)
    path, why = _yunet()
    if path:
        os.environ['ELENA_YUNET'] = path
    else:
        os.environ.pop('ELENA_YUNET', None)
        os.environ['ELENA_YUNET_UNAVAILABLE'] = f"no YuNet model: {why}"
if not os.environ.get('ELENA_REFERENCE') and (SHARED / 'reference' / 'elena_besst_gemini.json').is_file():
    os.environ['ELENA_REFERENCE'] = str(SHARED / 'reference' / 'elena_besst_gemini.json')

# notebooks that need the YuNet model throughout: skipped, saying why, only where it cannot be had (the packaged copy
# removed); elsewhere the cells that need it carry `#| yunet` and are skipped alone then
NEEDS_YUNET = {'08_yunet.ipynb', '08c_cover.ipynb', '09_masking.ipynb'}

def yunet_missing() -> str|None:
    "Why the YuNet model is not available to the tests (None when it is)"
    if Path(os.environ.get('ELENA_YUNET', '/nonexistent')).is_file():
        return None
    return os.environ.get('ELENA_YUNET_UNAVAILABLE', 'ELENA_YUNET names no file')

def reference_missing() -> str|None:
    "Why the authors' reference file is not available to the tests (None when it is)"
    ref = os.environ.get('ELENA_REFERENCE')
    if ref and Path(ref).is_file():
        return None
    return (f"the authors' reference file is not here (ELENA_REFERENCE={ref!r}; it has no public download): "
            "set ELENA_REFERENCE to run these")

GEMINI_KEY = 'AIza-pytest-not-a-real-key'  # never a real key: the tests check that it is scrubbed from what is stored

@pytest.fixture
def gemini_env(monkeypatch, tmp_path):
    "A made-up Gemini key, no other key or endpoint taken from the environment, a scratch working folder (no .env)"
    for k in ('GEMINI_API_KEY', 'GOOGLE_GEMINI_BASE_URL', 'OPENAI_API_KEY'):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv('GOOGLE_API_KEY', GEMINI_KEY)
    monkeypatch.chdir(tmp_path)
