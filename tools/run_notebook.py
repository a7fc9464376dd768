"""`make run`: execute a parameterized notebook with papermill, then show its result on the console.

    python tools/run_notebook.py nbs/03_run.ipynb runs/x.ipynb -p model tiny-gemma3 -p dataset samples

Parameters are typed from the notebook's parameters cell (as `papermill --help-notebook` shows them): a parameter
declared `str` stays text (`-p data_dir 2024` is the folder `2024`), the others are read as papermill's `-p` reads them
(`None`, `True`/`False`, numbers, else text). After the run it prints the text the notebook printed where it ran and
scored the job (the run summary: what was answered, where it went, the random-weights notice). When a cell fails it
prints one line (`make run: error: ...`, exit 2 for bad input, 1 otherwise) and removes the failed copy;
`ELENA_DEBUG=1` keeps it and prints the traceback."""
import argparse
import os
import re
import sys
from pathlib import Path

SHOWN = ('run_elena(', 'format_report(')  # the cells whose printed text is the run's result
ANSI = re.compile(r'\x1b\[[0-9;]*m')


def typed(value: str, declared: str):
    "`value` as the notebook's parameter declared `declared` wants it"
    from papermill.cli import _resolve_type
    if declared.replace(' ', '') in ('str', 'Optional[str]') and value != 'None':
        return value
    return _resolve_type(value)


def printed(nb) -> list[str]:
    "The text printed by the cells that ran and scored the job"
    out = []
    for c in nb.cells:
        if c.cell_type != 'code' or not any(k in c.source for k in SHOWN): continue
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream' and o.get('name') == 'stdout': out.append(o['text'].rstrip('\n'))
            elif 'text/plain' in o.get('data', {}): out.append(o['data']['text/plain'])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog='make run', description=__doc__.split('\n')[0])
    ap.add_argument('notebook'); ap.add_argument('output')
    ap.add_argument('-p', nargs=2, action='append', default=[], metavar=('NAME', 'VALUE'))
    a = ap.parse_args(argv)
    import nbformat
    import papermill as pm
    declared = {k: v.get('inferred_type_name', '') for k, v in pm.inspect_notebook(a.notebook).items()}
    unknown = [k for k, _ in a.p if k not in declared]
    if unknown:
        print(f"make run: error: {a.notebook} has no parameter {', '.join(unknown)}: it takes {', '.join(declared)}",
              file=sys.stderr)
        return 2
    params = {k: typed(v, declared[k]) for k, v in a.p}
    debug = os.environ.get('ELENA_DEBUG', '') not in ('', '0')
    try:
        pm.execute_notebook(a.notebook, a.output, parameters=params, kernel_name='python3', progress_bar=True)
    except pm.PapermillExecutionError as e:
        if debug:
            print(ANSI.sub('', '\n'.join(e.traceback)), file=sys.stderr)
            print(f"make run: the executed notebook, with the traceback: {a.output}", file=sys.stderr)
        else:
            Path(a.output).unlink(missing_ok=True)
        why = ' '.join(ANSI.sub('', str(e.evalue)).split())
        print(f"make run: error: {why} ({e.ename} in {a.notebook}, cell {e.exec_count}; ELENA_DEBUG=1 keeps the "
              f"executed notebook with the traceback)", file=sys.stderr)
        return 2 if e.ename in ('ValueError', 'FileNotFoundError', 'KeyError', 'NotADirectoryError') else 1
    for text in printed(nbformat.read(a.output, as_version=4)):
        print(text)
    print(f"executed notebook (answers next to their images): {a.output}")
    print("next: `.venv/bin/elena status` (every run in responses/), `make lab` (nbs/22_explorer.ipynb browses the "
          "answers), `make figures`")
    return 0


if __name__ == '__main__':
    sys.exit(main())
