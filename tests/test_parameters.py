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


def test_run_entry_points_take_the_same_parameters():
    """Every parameter of `run_elena` is a parameter of the run notebook, passed on under its own name, and a flag of
    `elena run` (progress is `--no-progress`; the backend options are flags of their own: `--rpm`, `--quantize`...)."""
    import inspect
    from elena.cli import build_parser
    from elena.run import run_elena
    wanted = set(inspect.signature(run_elena).parameters) - {'progress', 'backend_options'}
    nb = NOTEBOOKS[0]
    assert not wanted - set(pm.inspect_notebook(str(nb))), sorted(wanted - set(pm.inspect_notebook(str(nb))))
    code = '\n'.join(''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code')
    call = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call) and getattr(n.func, 'id', '') == 'run_elena')
    passed = dict(zip(['model', 'dataset', 'data_dir'], [a.id for a in call.args])) | {k.arg: k.value.id for k in call.keywords}
    assert {k: passed.get(k) for k in wanted} == {k: k for k in wanted}
    run = build_parser('run')._subparsers._group_actions[0].choices['run']
    assert not wanted - {a.dest for a in run._actions}, sorted(wanted - {a.dest for a in run._actions})
