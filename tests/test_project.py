"""The project's shape and install promises: checked on the real files and in fresh interpreters."""
import ast
import configparser
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_cfg = configparser.ConfigParser(delimiters=['='])
_cfg.read(ROOT / 'settings.ini')
CFG = _cfg['DEFAULT']

def test_top_level_layout():
    for name in ['nbs', 'elena', 'figures', 'responses', 'tests', 'settings.ini', 'environment.yml', '_quarto.yml',
                 'README.md', '.ci/run']:
        assert (ROOT / name).exists(), name
    q = ROOT / 'nbs' / '_quarto.yml'
    assert q.is_symlink() and q.resolve() == (ROOT / '_quarto.yml').resolve()

def test_core_requirements_have_no_torch():
    core = CFG['requirements'].split()
    names = [re.split(r'[<>=\[]', r)[0] for r in core]
    assert not {'torch', 'transformers', 'opencv-python'} & set(names), core
    assert any(r.startswith('opencv-python-headless') for r in core)
    assert any(r.startswith('torch') for r in CFG['local_requirements'].split())

def test_papermill_tags_survive_cleaning():
    assert CFG['allowed_cell_metadata_keys'].split() == ['tags']
    assert CFG['tst_flags'].split() == ['notest', 'slow', 'gpu', 'api']

def test_core_import_does_not_load_torch():
    code = ("import sys, elena.prompts, elena.parse, elena.vocab, elena.cli\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ['False', 'False']

def test_readme_in_step_with_index():
    cmd = [sys.executable, str(ROOT / 'tools' / 'sync_readme.py'), '--check']
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


# --- notebooks in import order -------------------------------------------------------------------------------------
# A reader goes through the notebooks top to bottom: a module may use only modules of earlier-numbered notebooks,
# in its exported code (at top level or inside a function, or in code it hands to a subprocess) and in its test cells.
PREFIX = re.compile(r'^(\d+)([a-z]?)_')
DIRECTIVE = re.compile(r'^#\|\s*(\w[\w-]*)(.*)$')
EXPORTS = {'export', 'exports', 'exporti'}
CODE_IMPORT = re.compile(r'\bfrom\s+elena\.(\w+)\s+import\b|\bimport\s+elena\.(\w+)')


def nb_rank(name: str) -> tuple:
    "Where a notebook stands: its number, longer zero runs first ('000' < '00'), then its letter ('00' < '00a')"
    m = PREFIX.match(name)
    return (int(m[1]), -len(m[1]), m[2]) if m else None


def nb_cells(path: Path) -> list[tuple[dict, str]]:
    "Each code cell of a notebook with its directives ({name: argument}) and its source without them"
    out = []
    for c in json.loads(path.read_text(encoding='utf-8'))['cells']:
        if c['cell_type'] != 'code': continue
        src = ''.join(c['source'])
        ds = {m[1]: m[2].strip() for l in src.splitlines() if (m := DIRECTIVE.match(l))}
        out.append((ds, src))
    return out


def module_of(cells) -> str|None:
    "The module a notebook exports to (`#| default_exp`), None for a notebook that exports nothing"
    return next((ds['default_exp'] for ds, _ in cells if 'default_exp' in ds), None)


def elena_imports(src: str, modules: set[str]) -> set[str]:
    "The elena modules some code imports (`from elena.x`, `from .x`, `import elena.x`, `from elena import x`), anywhere"
    try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!'))))
    except SyntaxError: return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split('.')[1] for a in node.names if a.name.startswith('elena.')}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 0 and mod.startswith('elena.'): found.add(mod.split('.')[1])
            elif node.level == 1 and mod: found.add(mod.split('.')[0])
            elif (node.level == 1 and not mod) or mod == 'elena': found |= {a.name for a in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):  # code run in a subprocess
            found |= {a or b for a, b in CODE_IMPORT.findall(node.value)}
    return found & modules


def order_problems(nbs_dir: Path) -> list[str]:
    "Every import of a later notebook's module, and every number prefix two notebooks share"
    nbs = {p.name: nb_cells(p) for p in sorted(nbs_dir.glob('*.ipynb')) if nb_rank(p.name)}
    owner = {m: name for name, cells in nbs.items() if (m := module_of(cells)) and not name.startswith('000')}
    problems = []
    prefixes = {}
    for name in nbs: prefixes.setdefault(PREFIX.match(name)[0], []).append(name)
    shared = [(p.rstrip('_'), ns) for p, ns in prefixes.items() if len(ns) > 1]
    problems += [f"notebooks share the number {p}: {', '.join(ns)}" for p, ns in shared]
    for name, cells in nbs.items():
        if name not in owner.values(): continue  # the tour and the documentation notebooks may use any module
        for ds, src in cells:
            kind = 'exports' if EXPORTS & set(ds) else 'a test cell'
            for m in sorted(elena_imports(src, set(owner))):
                if nb_rank(owner[m]) > nb_rank(name):
                    problems.append(f"{name} imports elena.{m} (from {owner[m]}, later) in {kind}")
    return list(dict.fromkeys(problems))


def test_notebooks_in_import_order():
    problems = order_problems(ROOT / 'nbs')
    assert not problems, '\n'.join(problems)


def _nb(path: Path, *sources: str):
    cells = [{'cell_type': 'code', 'source': s, 'metadata': {}, 'outputs': []} for s in sources]
    path.write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))


def test_order_check_on_made_up_notebooks(tmp_path):
    "The check passes on notebooks in order and names each kind of import of a later module"
    _nb(tmp_path / '000_tour.ipynb', 'from elena.b import g')
    _nb(tmp_path / '00_a.ipynb', '#| default_exp a', '#| export\nimport os')
    _nb(tmp_path / '00a_b.ipynb', '#| default_exp b', '#| export\nfrom .a import f', 'from elena.a import f')
    _nb(tmp_path / '01_run.ipynb', 'from elena.c import h')  # a notebook that exports nothing may use any module
    _nb(tmp_path / '02_c.ipynb', '#| default_exp c', '#| export\ndef h():\n    import elena.b\n    from elena import a')
    ranks = sorted(nb_rank(p.name) for p in tmp_path.glob('*.ipynb'))
    assert ranks[:3] == [(0, -3, ''), (0, -2, ''), (0, -2, 'a')]
    assert order_problems(tmp_path) == []
    _nb(tmp_path / '00_a.ipynb', '#| default_exp a', '#| export\ndef f():\n    from elena.b import g')
    _nb(tmp_path / '00a_b.ipynb', '#| default_exp b', '#| exports\nfrom . import c', '#| hide\nimport elena.c')
    _nb(tmp_path / '02_c.ipynb', '#| default_exp c', "#| export\nCMD = 'import sys; from elena.d import main'")
    _nb(tmp_path / '02_docs.ipynb', '1 + 1')
    _nb(tmp_path / '02a_d.ipynb', '#| default_exp d')
    assert order_problems(tmp_path) == ['notebooks share the number 02: 02_c.ipynb, 02_docs.ipynb',
                                       '00_a.ipynb imports elena.b (from 00a_b.ipynb, later) in exports',
                                       '00a_b.ipynb imports elena.c (from 02_c.ipynb, later) in exports',
                                       '00a_b.ipynb imports elena.c (from 02_c.ipynb, later) in a test cell',
                                       '02_c.ipynb imports elena.d (from 02a_d.ipynb, later) in exports']
