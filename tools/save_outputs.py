"""Execute notebooks and save their outputs in place, so the docs site shows them (nbdev renders saved outputs).

Cells are skipped exactly as nbdev's test runner skips them: `#| eval: false`, the `nbdev_export()` cell, and
cells carrying a flag of `tst_flags` in settings.ini (slow, gpu, api, notest). Notebooks whose frontmatter says
`skip_exec: true` (the papermill run notebook) are left alone. Each notebook runs in its own process, in its
own folder. Usage: python tools/save_outputs.py [NOTEBOOK ...]   (default: nbs/*.ipynb)"""
import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = r'''
import sys, os
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
p, flags = Path(sys.argv[1]), set(sys.argv[2].split())
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
write_nb(nb, p)
'''


def main(argv):
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
    flags = cfg['DEFAULT']['tst_flags']
    nbs = [Path(a).resolve() for a in argv] or sorted((ROOT / 'nbs').glob('*.ipynb'))
    bad = 0
    for nb in nbs:
        r = subprocess.run([sys.executable, '-c', RUN, str(nb), flags], capture_output=True, text=True)
        print(f"{nb.relative_to(ROOT)}: {'saved' if r.returncode == 0 else 'FAILED'}")
        if r.returncode: bad += 1; print(r.stderr[-3000:])
    return 1 if bad else 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
