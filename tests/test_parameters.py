"""papermill reads every parameter of the run notebook and the paper notebooks (it cannot parse `X | None` annotations,
nor a comment holding '=': it then warns and drops the parameter from `inspect_notebook`)."""
import ast
import json
import logging
from pathlib import Path
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [ROOT / 'nbs' / '03_run.ipynb', *sorted((ROOT / 'nbs' / 'paper').glob('*.ipynb'))]

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_papermill_sees_every_parameter(nb, caplog):
    cell = next(c for c in json.loads(nb.read_text())['cells'] if 'parameters' in c['metadata'].get('tags', []))
    names = [t.id for s in ast.parse(''.join(cell['source'])).body for t in getattr(s, 'targets', [getattr(s, 'target', None)]) if isinstance(t, ast.Name)]
    with caplog.at_level(logging.WARNING, logger='papermill'): got = pm.inspect_notebook(str(nb))
    assert sorted(got) == sorted(names) and names, (sorted(got), sorted(names))
    assert not [r for r in caplog.records if 'Unable to parse' in r.getMessage()], caplog.text
