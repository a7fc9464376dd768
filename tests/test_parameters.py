"""A run's settings are defined once (`elena.runspec.RunSpec`): `elena run`'s flags, `elena slurm`'s pass-through and the
run notebook's parameters are derived from it. papermill reads every parameter of the run notebook and the paper
notebooks (it cannot parse `X | None` annotations, nor a comment holding '=': it then warns and drops the parameter)."""
import argparse
import ast
import dataclasses
import inspect
import json
import logging
import shlex
from pathlib import Path
import papermill as pm
import pytest
from elena.runspec import RunSpec

ROOT = Path(__file__).resolve().parent.parent
RUN_NB = ROOT / 'nbs' / '03_run.ipynb'
NOTEBOOKS = [RUN_NB, *sorted((ROOT / 'nbs' / 'paper').glob('*.ipynb'))]


def parameters_cell(nb: Path) -> str:
    return ''.join(next(c for c in json.loads(nb.read_text())['cells'] if 'parameters' in c['metadata'].get('tags', []))['source'])


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_papermill_sees_every_parameter(nb, caplog):
    names = [t.id for s in ast.parse(parameters_cell(nb)).body for t in getattr(s, 'targets', [getattr(s, 'target', None)]) if isinstance(t, ast.Name)]
    with caplog.at_level(logging.WARNING, logger='papermill'): got = pm.inspect_notebook(str(nb))
    assert sorted(got) == sorted(names) and names, (sorted(got), sorted(names))
    assert not [r for r in caplog.records if 'Unable to parse' in r.getMessage()], caplog.text


def test_run_notebook_parameters_are_the_run_settings():
    "Every setting is a parameter of the run notebook (but `progress` and `backend_options`), defaulting to None: RunSpec's default"
    params = pm.inspect_notebook(str(RUN_NB))
    assert set(params) == set(RunSpec.names()) - {'progress', 'backend_options'} | {'show'}
    assert {k for k, p in params.items() if p['default'] != 'None'} == {'model', 'show'}


def what_03_run_runs_with(**injected) -> RunSpec:
    "The spec the run notebook builds: its parameters cell, papermill's injected values, then the cell that makes `spec`"
    cells = json.loads(RUN_NB.read_text())['cells']
    ns = {}
    exec(parameters_cell(RUN_NB), ns)
    ns.update(injected, RunSpec=RunSpec)
    exec(next(src for c in cells if 'spec = RunSpec.of' in (src := ''.join(c['source']))), ns)
    return ns['spec']


def slurm_task_argv(tmp_path, *flags) -> list[str]:
    "The `elena run` arguments of the tasks `elena slurm` writes for `flags`"
    from elena.cli import _slurm_run, build_parser
    a = build_parser('slurm').parse_args(['slurm', '--model', 'tiny-gemma3', '--dataset', 'samples', '--shards', '1',
                                          '--out-dir', str(tmp_path), *flags])
    _slurm_run(a)
    task = next((tmp_path / 'slurm').glob('*.array.sbatch')).read_text().splitlines()[-1]
    return shlex.split(task)[:-2]


@pytest.mark.parametrize('name,new,old', [('limit', 5, None), ('prompt', 'naive', 'elena')])
def test_a_default_changed_in_runspec_is_seen_everywhere(name, new, old, monkeypatch, tmp_path, capsys):
    "One field default changed (and nothing else): the CLI's default and help, slurm's pass-through, 03_run's run and run_elena see it"
    from elena.cli import build_parser
    field = RunSpec.__dataclass_fields__[name]
    assert field.default == old
    monkeypatch.setattr(field, 'default', new)
    a = build_parser('run').parse_args(['run', '--model', 'm'])
    assert getattr(a, name) == new
    if isinstance(new, str): assert f"(default: {new})" in build_parser('run')._subparsers._group_actions[0].choices['run'].format_help()
    assert getattr(what_03_run_runs_with(), name) == new
    assert getattr(what_03_run_runs_with(**{name: None}), name) == new
    assert getattr(RunSpec.of('m'), name) == new  # what run_elena('m') runs with
    flag = '--' + name
    task = slurm_task_argv(tmp_path)  # slurm passes on what differs from the default; the task's `elena run` reads it back
    assert getattr(build_parser('run').parse_args(['run', *task[task.index('run') + 1:]]), name) == new
    if old is not None:  # the old default is no longer the default: it is passed on
        task = slurm_task_argv(tmp_path / 'b', flag, str(old))
        assert task[task.index(flag) + 1] == str(old)


def test_run_flags_are_the_settings():
    "`elena run` has a flag for every setting but `backend_options`, and only `--max-pixels` besides"
    from elena.cli import build_parser
    run = build_parser('run')._subparsers._group_actions[0].choices['run']
    dests = {a.dest for a in run._actions} - {'help'}
    assert dests == set(RunSpec.names()) - {'backend_options'} | {'max_pixels'}
    helps = RunSpec.help()
    for act in run._actions:
        if act.dest in helps: assert act.help.startswith(helps[act.dest]), act.dest


def test_run_elena_takes_a_spec_or_its_settings():
    from elena.run import run_elena
    assert list(inspect.signature(run_elena).parameters) == ['model', 'args', 'settings']
    with pytest.raises(TypeError, match=r'unknown or repeated run setting\(s\) limt'): run_elena('tiny-gemma3', limt=1)
    with pytest.raises(TypeError, match=r'setting\(s\) dataset'): run_elena('tiny-gemma3', 'samples', dataset='heco')


def test_call_refuses_a_flag_no_parameter_takes():
    "`_call` once dropped a flag whose name matched no parameter; now that is an error, and every command's flags match"
    from elena.cli import build_parser
    from elena.commands import _OWN, _call
    with pytest.raises(TypeError, match=r'elena mask: the flag\(s\) fil name no parameter of <lambda>'):
        _call(lambda input, fill=None: 0, argparse.Namespace(command='mask', input='x', fil='blur'))
    from dataclasses import fields
    from elena.attention_maps import AttentionOptions
    from elena.masking import MASK_OPTIONS, mask_folder
    takes = {'mask': {*inspect.signature(mask_folder).parameters, *MASK_OPTIONS},  # the masking flags go in `options`
             'attention': {'model', 'out', *(f.name for f in fields(AttentionOptions))}}
    for cmd, names in takes.items():
        sub = build_parser(cmd)._subparsers._group_actions[0].choices[cmd]
        dests = {a.dest for a in sub._actions} - {'help', *_OWN}
        assert not dests - names, (cmd, dests - names)
