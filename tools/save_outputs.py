"""Execute notebooks and save their outputs in place, so the docs site shows them (nbdev renders saved outputs).

Cells are skipped exactly as nbdev's test runner skips them: `#| eval: false`, the `nbdev_export()` cell, and
cells carrying a flag of `tst_flags` in settings.ini (slow, gpu, api, notest). Notebooks whose frontmatter says
`skip_exec: true` (the papermill run notebook) are left alone. Each notebook runs in its own process, in its
own folder.

Saved outputs must come out the same on every run, so that `make outputs` twice changes no file: progress bars are
switched off (`TQDM_DISABLE=1`) and any progress-bar line that still reaches a stream output is dropped; what else
varies (temporary paths, timings) the notebooks must not print.

Usage: python tools/save_outputs.py [--out FOLDER] [NOTEBOOK ...]   (default: nbs/*.ipynb and nbs/explain/*.ipynb,
in place; the paper notebooks run through papermill, `make figures`)"""
import argparse
import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = r'''
import sys, os
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
sys.path.insert(0, sys.argv[4])
from save_outputs import steady_outputs
p, flags, dest = Path(sys.argv[1]), set(sys.argv[2].split()), Path(sys.argv[3])
def skip(cell):
    if cell.cell_type != 'code' or 'nbdev_export(' in cell.source: return True
    d = [l[3:].strip() for l in cell.source.splitlines() if l.startswith('#|')]
    if any(x.replace(' ', '') == 'eval:false' for x in d): return True
    return bool({x.split()[0] for x in d if x} & flags)
nb = read_nb(p)
if any(c.cell_type == 'raw' and 'skip_exec: true' in c.source for c in nb.cells[:1]): sys.exit(0)
for c in nb.cells:
    if c.cell_type == 'code': c.outputs, c.execution_count = [], None
os.chdir(p.parent)
sh = CaptureShell(p)
sh.run_all(nb, exc_stop=True, preproc=skip)
for c in nb.cells:
    if c.cell_type == 'code': c.outputs = steady_outputs(c.outputs)
write_nb(nb, dest)
'''

# a tqdm bar as it is printed: 'masking:  36%|###6      | 4/11 [00:01<00:02,  3.51img/s]', '4it [00:01, 3.51it/s]'
PROGRESS = re.compile(r'\[\d\d:\d\d(?::\d\d)?(?:<[\d:?]+)?, +[^\]]*(?:/s|s/\w+)\]')


def steady_lines(text: str) -> str:
    "`text` without the lines that hold a progress bar (a bar redrawn with carriage returns is one line)"
    return ''.join(l for l in text.splitlines(keepends=True) if not PROGRESS.search(l))


def steady_outputs(outputs: list) -> list:
    "The outputs of one cell without progress bars; stream outputs left empty are dropped"
    kept = []
    for o in outputs:
        if o.get('output_type') == 'stream':
            text = steady_lines(''.join(o['text']) if isinstance(o['text'], list) else o['text'])
            if not text:
                continue
            o['text'] = text.splitlines(keepends=True) if isinstance(o['text'], list) else text
        kept.append(o)
    return kept


def tst_flags() -> str:
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT / 'settings.ini')
    return cfg['DEFAULT']['tst_flags']


def save(nb: Path, dest: Path, flags: str) -> subprocess.CompletedProcess:
    "Execute `nb` in its own process and write it with its outputs to `dest`"
    env = {**os.environ, 'TQDM_DISABLE': '1'}
    args = [sys.executable, '-c', RUN, str(nb), flags, str(dest), str(Path(__file__).resolve().parent)]
    return subprocess.run(args, capture_output=True, text=True, env=env)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', help='write the executed notebooks into this folder instead of in place')
    ap.add_argument('notebooks', nargs='*')
    a = ap.parse_args(argv)
    flags = tst_flags()
    nbs = [Path(n).resolve() for n in a.notebooks] or [*sorted((ROOT / 'nbs').glob('*.ipynb')),
                                                        *sorted((ROOT / 'nbs' / 'explain').glob('*.ipynb'))]
    bad = 0
    for nb in nbs:
        under = nb.relative_to(ROOT / 'nbs') if nb.is_relative_to(ROOT / 'nbs') else Path(nb.name)
        dest = Path(a.out).resolve() / under if a.out else nb
        dest.parent.mkdir(parents=True, exist_ok=True)
        r = save(nb, dest, flags)
        name = nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb.name
        print(f"{name}: {'saved' if r.returncode == 0 else 'FAILED'}")
        if r.returncode:
            bad += 1
            print(r.stderr[-3000:])
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
