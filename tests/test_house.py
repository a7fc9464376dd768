"""Issue 28's house rules, each checked over the whole package and failing with the list of offenders.

Each rule is a small function over source text (or a notebook, or a module): `test_<rule>` runs it over every module
of `elena/` (or every page of the sidebar's "Library reference"), and `test_<rule>_example` shows on a tiny fixed
source that the same function both finds an offender and passes a clean one. The rules (DEVELOPERS.md, "House
rules", says why each one):

- no method attached by assignment (`Cls.name = func`): use `fastcore.basics.patch` or define it in the class;
- every public method of a public class has a docs entry: a `show_doc(Cls.name)` cell on its notebook, or nbdev's own
  listing (nbdev adds `show_doc` for each public top-level `def` of an `#| export` cell, `@patch`ed ones as
  `Cls.name`; a method in the class body shows only through its own `show_doc` cell);
- no function with more than 8 parameters (`self`/`cls` not counted, `*args` and `**kw` one each);
- no call with more than 6 positional arguments;
- no module over 350 lines;
- no markdown cell over 200 words on a Library-reference page (explanations go to `nbs/explain/`);
- every contract name still imports from where it did (`CONTRACT` below, with where each was named a contract);
- a name imported from one `elena` module into another is imported from its owner, not through the second, and no
  module re-exports another's name in nbdev's `_all_` (contract names excepted: a split module may re-export those).
"""
import ast
import importlib
import inspect
import json
import re
from functools import cached_property
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
MODULES = sorted(p for p in (ROOT / 'elena').glob('*.py') if not p.stem.startswith('_'))
MAX_PARAMS, MAX_POSITIONAL, MAX_LINES, MAX_WORDS = 8, 6, 350, 200


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT)) if p.is_absolute() and ROOT in p.parents else str(p)


def report(rule: str, offenders: list[str]) -> str:
    return f"{len(offenders)} {rule} (issue 28; DEVELOPERS.md, House rules):\n" + '\n'.join(offenders)


# --- no method attached by assignment --------------------------------------------------------------------------------
def _function_like(node: ast.AST, functions: set[str]) -> bool:
    "A function defined in this source, a lambda, or a property/classmethod/staticmethod/partial made of one"
    if isinstance(node, ast.Lambda): return True
    if isinstance(node, ast.Name): return node.id in functions
    if isinstance(node, ast.Call):
        f = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, 'id', '')
        return f in {'property', 'classmethod', 'staticmethod', 'partial', 'partialmethod', 'cached_property'}
    return False


def methods_by_assignment(src: str, path: str = '<src>') -> list[str]:
    """`Cls.name = func` (also in tuples, and `setattr(Cls, 'name', func)`) where `Cls` is a class of this source or
    a capitalised name and `func` a function: settings such as PIL's `Image.MAX_IMAGE_PIXELS = n` are not methods"""
    tree = ast.parse(src)
    functions = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    is_class = lambda n: isinstance(n, ast.Name) and (n.id in classes or re.match(r'_*[A-Z]', n.id))
    out = []
    for node in ast.walk(tree):
        pairs = []
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs += zip(target.elts, node.value.elts)
                else: pairs.append((target, node.value))
            pairs = [(t.value.id, t.attr, v) for t, v in pairs if isinstance(t, ast.Attribute) and is_class(t.value)]
        elif (isinstance(node, ast.Call) and getattr(node.func, 'id', '') == 'setattr' and len(node.args) == 3
              and is_class(node.args[0]) and isinstance(node.args[1], ast.Constant)):
            pairs = [(node.args[0].id, node.args[1].value, node.args[2])]
        out += [f"{path}:{node.lineno}: {cls}.{name} = {ast.unparse(value)}"
                for cls, name, value in pairs if _function_like(value, functions)]
    return out


ASSIGNED = '''
class Reader: pass
def _value(self): return 1
Reader.value = _value
Reader.key, Reader.member = (lambda self: 2), _value
setattr(Reader, 'bare', _value)
'''
PATCHED = '''
from fastcore.basics import patch
from PIL import Image
class Reader:
    def value(self): return 1
@patch
def key(self:Reader): return 2
Image.MAX_IMAGE_PIXELS = 10_000
Reader.limit = 3
'''


@pytest.mark.parametrize('src,found', [(ASSIGNED, ['4: Reader.value', '5: Reader.key', '5: Reader.member',
                                                   '6: Reader.bare']), (PATCHED, [])], ids=['assigned', 'patched'])
def test_methods_by_assignment_example(src, found):
    got = methods_by_assignment(src)
    assert [re.sub(r'^<src>:(\d+: \S+) = .*', r'\1', o) for o in got] == found, got


def test_no_method_attached_by_assignment():
    out = [o for p in MODULES for o in methods_by_assignment(p.read_text(encoding='utf-8'), rel(p))]
    assert not out, report('methods attached by assignment (use @patch or define them in the class)', out)


# --- parameters and positional arguments --------------------------------------------------------------------------
def parameter_count(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    named = a.posonlyargs + a.args
    n = len(named) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
    return n - bool(named and named[0].arg in ('self', 'cls'))


def long_signatures(src: str, path: str = '<src>') -> list[str]:
    "Functions (methods and nested ones too) taking more than 8 parameters"
    return [f"{path}:{n.lineno}: {n.name} takes {parameter_count(n)} parameters" for n in ast.walk(ast.parse(src))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and parameter_count(n) > MAX_PARAMS]


def positional_calls(src: str, path: str = '<src>') -> list[str]:
    "Calls passing more than 6 arguments by position (a `*args` counts as one)"
    return [f"{path}:{n.lineno}: {ast.unparse(n.func)}(...) with {len(n.args)} positional arguments"
            for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Call) and len(n.args) > MAX_POSITIONAL]


@pytest.mark.parametrize('src,found', [
    ('def f(a, b, c, d, e, f, g, h, i): pass', ['f takes 9']),
    ('def f(self, a, b, c, d, e, f, g, h): pass', []),
    ('def f(a, b, c, d, e, f, g, *args, **kw): pass', ['f takes 9']),
    ('def f(a, b, c, d, e, f, g, **kw): pass', []),
    ('class C:\n    def m(cls, a, b, c, *, d, e, f, g, h, i): pass', ['m takes 9'])])
def test_long_signatures_example(src, found):
    assert [re.sub(r'^<src>:\d+: (.*) parameters$', r'\1', o) for o in long_signatures(src)] == found


@pytest.mark.parametrize('src,n', [('f(1, 2, 3, 4, 5, 6, 7)', 1), ('f(1, 2, 3, 4, 5, 6, g=7)', 0),
                                   ('f(1, 2, 3, 4, 5, 6, *rest)', 1), ('f(1, 2, 3, 4, 5, *rest)', 0)])
def test_positional_calls_example(src, n):
    assert len(positional_calls(src)) == n


def test_no_function_over_8_parameters():
    out = [o for p in MODULES for o in long_signatures(p.read_text(encoding='utf-8'), rel(p))]
    assert not out, report('functions with more than 8 parameters (pass one settings object)', out)


def test_no_call_with_over_6_positional_arguments():
    out = [o for p in MODULES for o in positional_calls(p.read_text(encoding='utf-8'), rel(p))]
    assert not out, report('calls with more than 6 positional arguments (name them, or pass one object)', out)


# --- module length -------------------------------------------------------------------------------------------------
def long_module(src: str, path: str = '<src>') -> list[str]:
    n = len(src.splitlines())
    return [f"{path}: {n} lines"] if n > MAX_LINES else []


@pytest.mark.parametrize('lines,n', [(350, 0), (351, 1)])
def test_long_module_example(lines, n):
    assert len(long_module('x = 1\n' * lines)) == n


def test_no_module_over_350_lines():
    out = [o for p in MODULES for o in long_module(p.read_text(encoding='utf-8'), rel(p))]
    assert not out, report('modules over 350 lines (split along a seam into a lettered notebook)', out)


# --- prose on reference pages ----------------------------------------------------------------------------------------
def sidebar_section(name: str) -> list[str]:
    contents = yaml.safe_load((NBS / 'sidebar.yml').read_text())['website']['sidebar']['contents']
    return next((s['contents'] for s in contents if isinstance(s, dict) and s.get('section') == name), [])


def prose_words(md: str) -> int:
    "Words a reader reads in a markdown cell: fenced code and link targets left out"
    md = re.sub(r'```.*?```', ' ', md, flags=re.S)
    md = re.sub(r'\]\([^)\s]*\)', ']', md)
    return len(re.findall(r"\b[\w'’-]+\b", md))


def long_prose(cells: list[dict], path: str = '<nb>') -> list[str]:
    "Markdown cells over 200 words"
    return [f"{path} cell {i}: {w} words" for i, c in enumerate(cells)
            if c['cell_type'] == 'markdown' and (w := prose_words(''.join(c['source']))) > MAX_WORDS]


@pytest.mark.parametrize('words,n', [(200, 0), (201, 1)])
def test_long_prose_example(words, n):
    "Fenced code and link targets are not prose: 197 words and 'see the page' make 200"
    text = ' '.join(['word'] * (words - 3)) + '\n```python\n' + 'code ' * 500 + '\n```\nsee [the page](explain/x.ipynb#a-b)'
    cells = [{'cell_type': 'markdown', 'source': [text]}, {'cell_type': 'code', 'source': ['x = 1 ' * 500]}]
    assert len(long_prose(cells)) == n


# The sections whose pages are reference pages for this rule: the API pages (Test aids: the stand-ins' and the tiny
# models'). The module pages under "Running experiments" (23_slurm, 24_status, 89_commands, 90_cli) are how-to pages
# as well; 24_status has one cell of 213 words, left for a later round.
REFERENCE_SECTIONS = ['Library reference', 'Test aids']


def test_no_long_prose_on_reference_pages():
    pages = [nb for section in REFERENCE_SECTIONS for nb in sidebar_section(section)]
    assert pages, f"nbs/sidebar.yml has no section {REFERENCE_SECTIONS}"
    out = [o for nb in pages if (NBS / nb).exists()
           for o in long_prose(json.loads((NBS / nb).read_text(encoding='utf-8'))['cells'], f"nbs/{nb}")]
    assert not out, report(f'markdown cells over {MAX_WORDS} words on Library-reference pages (move the explanation '
                           'to a notebook under nbs/explain/ and link it)', out)


# --- every public method has a docs entry ------------------------------------------------------------------------------
def documented(nb: Path) -> set[str]:
    """What nbdev documents on a notebook's page: each `show_doc(X)` after nbdev's `add_show_docs` processor has added
    its own (one per public top-level `def`/`class` of an `#| export` cell, `@patch`ed ones as `Cls.name`)"""
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs
    proc = NBProcessor(nb, add_show_docs)
    proc.process()
    return {m[1] for c in proc.nb.cells if c.cell_type == 'code'
            for m in re.finditer(r'\bshow_doc\(\s*([\w.]+)', c.source)}


def public_methods(cls) -> list[tuple[str, str]]:
    "(name, module it is defined in) of the public functions, properties, class and static methods a class defines"
    out = []
    for name, v in vars(cls).items():
        if name.startswith('_'): continue
        f = v.fget if isinstance(v, property) else getattr(v, 'func', None) if isinstance(v, cached_property) else \
            v.__func__ if isinstance(v, (classmethod, staticmethod)) else v if inspect.isfunction(v) else None
        if f is not None: out.append((name, getattr(f, '__module__', None) or cls.__module__))
    return out


def undocumented_methods(mod, docs_of) -> list[str]:
    """Public methods of the public classes (in `__all__`, defined in `mod`) that the page of the module defining each
    method does not document; `docs_of(module_name)` gives that page's documented names"""
    out = []
    for cname in getattr(mod, '__all__', []):
        cls = getattr(mod, cname, None)
        if not inspect.isclass(cls) or cls.__module__ != mod.__name__: continue
        out += [f"{mod.__name__}: {cname}.{m} (no show_doc({cname}.{m}) on the page of {where})"
                for m, where in public_methods(cls) if f"{cname}.{m}" not in docs_of(where)]
    return out


DOC_EXAMPLE = '''
class Shown:
    "A class with every method documented"
    def __init__(self): self._n = 0
    def step(self): return 1
    @property
    def size(self): return 2
    def _hidden(self): return 3
class Unshown:
    "A class whose method has no show_doc"
    def step(self): return 1
    @classmethod
    def make(cls): return cls()
def patched(self:Unshown): return 4
__all__ = ['Shown', 'Unshown']
'''


def _nb(path: Path, *cells: str) -> Path:
    nb = {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {}, 'outputs': [],
                     'source': s} for i, s in enumerate(cells)],
          'metadata': {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb))
    return path


@pytest.mark.parametrize('cells,missing', [
    (['#| export\nclass Unshown: pass', 'show_doc(Shown.step)'],
     ['Shown.size', 'Unshown.step', 'Unshown.make']),
    (['show_doc(Shown.step)', 'show_doc(Shown.size)', 'show_doc(Unshown.step)',
      '#| export\n@patch\ndef make(cls:Unshown): pass'], []),
    (['show_doc(Shown.step)', 'show_doc(Shown.size)', 'show_doc(Unshown.step)',
      '#| export\n#| hide\n@patch\ndef make(cls:Unshown): pass'], ['Unshown.make'])],  # hidden: not on the page
    ids=['none', 'patch-listed-by-nbdev', 'hidden'])
def test_undocumented_methods_example(tmp_path, cells, missing):
    import types
    mod = types.ModuleType('example')
    exec(DOC_EXAMPLE, mod.__dict__)
    for c in (mod.Shown, mod.Unshown): c.__module__ = 'example'
    docs = documented(_nb(tmp_path / 'example.ipynb', *cells))
    got = undocumented_methods(mod, lambda where: docs)
    assert [re.search(r'(\w+\.\w+) \(', o)[1] for o in got] == missing, (docs, got)


def module_notebook(p: Path) -> Path | None:
    m = re.search(r'File to edit: \.\./nbs/(\S+?\.ipynb)', p.read_text(encoding='utf-8')[:2000])
    return NBS / m[1] if m else None


def test_every_public_method_has_a_docs_entry():
    pages = {f"elena.{p.stem}": nb for p in MODULES if (nb := module_notebook(p))}
    cache = {}
    docs_of = lambda name: cache[name] if name in cache else cache.setdefault(
        name, documented(pages[name]) if name in pages else set())
    out = [o for name in pages for o in undocumented_methods(importlib.import_module(name), docs_of)]
    assert not out, report('public methods on no docs page (add a show_doc(Cls.name) cell after the class, or '
                           'define the method with @patch in an #| export cell)', out)


# --- contract names ------------------------------------------------------------------------------------------------
# Every name an outside check imports, with where it was named a contract. Moving one is allowed only with a
# re-export from its old home (DEVELOPERS.md: a split module may re-export a contract name).
CONTRACT = [
    ('elena.parse', 'parse_response', 'issue 3 §5, DEVELOPERS.md (02_parse), issue 16'),
    ('elena.parse', 'ParseResult', 'issue 3 §5, DEVELOPERS.md (02_parse)'),
    ('elena.parse', 'normalize_emotion', 'issue 3 §5, DEVELOPERS.md (02_parse), issue 16'),
    ('elena.parse', 'normalize_body_part', 'issue 3 §5, DEVELOPERS.md (02_parse)'),
    ('elena.parse', 'body_region', 'issue 3 §5, DEVELOPERS.md (02_parse)'),
    ('elena.prompts', 'get_prompt', 'issue 16'),
    ('elena.prompts', 'LABEL_SETS', 'issue 16'),
    ('elena.prompts', 'PROMPT_KINDS', 'issue 16'),
    ('elena.run', 'run_elena', 'issue 12, issue 13 (backend_options), issue 16'),
    ('elena.backends', 'Request', 'issue 12, issue 16'),
    ('elena.backends', 'MODELS', 'issue 6 (the registry names are a contract), DEVELOPERS.md (10_backends)'),
    ('elena.local', 'prompt_text', 'issue 12, issue 16'),
    ('elena.local', 'chat_messages', 'issue 12, issue 16'),
    ('elena.local', 'TransformersBackend', 'issue 12, issue 16'),
    ('elena.openai_compat', 'chat_body', 'issue 12, issue 16'),
    ('elena.tiny', 'build_tiny', 'issue 12, issue 16'),
    ('elena.tiny', 'TINY_SIZES', 'issue 12, issue 16'),
    ('elena.data', 'load_samples', 'issue 16'),
    ('elena.labelmaps', 'label_map', 'issue 16'),
    ('elena.store', 'RECORD_FIELDS', 'issue 6 (the record fields are a contract), DEVELOPERS.md (07_store)'),
    ('elena.cli', 'main', "settings.ini console_scripts 'elena=elena.cli:main', DEVELOPERS.md (Workflow: Errors)"),
    ('elena.data', 'contain', 'DEVELOPERS.md (Workflow: Trust)'),
    ('elena.trust', 'one_line', 'DEVELOPERS.md (Workflow: Trust)'),
    ('elena.trust', 'scrub', 'DEVELOPERS.md (Workflow: Trust)'),
]


def missing_contract_names(contract) -> list[str]:
    out = []
    for module, name, where in contract:
        try: ok = hasattr(importlib.import_module(module), name)
        except ImportError as e: ok, name = False, f"{name} ({e})"
        if not ok: out.append(f"from {module} import {name}: fails (a contract since {where})")
    return out


@pytest.mark.parametrize('contract,n', [([('elena.parse', 'parse_response', 'x')], 0),
                                        ([('elena.parse', 'no_such_name', 'x'), ('elena.no_such', 'f', 'y')], 2)])
def test_missing_contract_names_example(contract, n):
    assert len(missing_contract_names(contract)) == n


def test_contract_names_import_from_where_they_did():
    out = missing_contract_names(CONTRACT)
    assert not out, report('contract names no longer import from where they did (re-export them there)', out)


def test_contract_signatures():
    "The calls issues 6, 12 and 13 promised outside checks still bind, and the registry and record names are all there"
    from elena.backends import MODELS, Request
    from elena.local import TransformersBackend, chat_messages, prompt_text
    from elena.openai_compat import chat_body
    from elena.run import run_elena
    from elena.store import RECORD_FIELDS
    from elena.tiny import build_tiny
    bind = lambda f, *a, **kw: inspect.signature(f).bind_partial(*a, **kw)
    bind(prompt_text, 'processor', 'prompt')
    bind(chat_messages, 'prompt', True)
    bind(TransformersBackend, 'name', 'model_id', model=1, processor=1, batch_size=1, dtype=1, device_map=1)
    bind(TransformersBackend.answer, 'self', [])
    bind(chat_body, 'request', 'model')
    bind(build_tiny, 'gemma3', sizes={})
    bind(run_elena, model='m', dataset='d', data_dir='x', condition='original', prompt='elena', labels=None, limit=1,
         out_dir='o', concurrency=1, batch_size=1, seed=0, backend_options={'rpm': 1, 'rate_window_s': 60, 'tpm': 1})
    assert Request is not None
    assert {'gemini-2.5-flash', 'gemma3-12b', 'llama11b', 'llama90b', 'tiny-gemma3', 'tiny-llama'} <= set(MODELS)
    assert {'id', 'image_sha256', 'dataset', 'condition', 'model', 'model_revision', 'backend', 'prompt_id',
            'prompt_sha256', 'labels', 'gen', 'raw', 'parsed', 'emotion', 'parse_issues', 'error', 'finish_reason',
            'usage', 'latency_s', 'created_at', 'random_weights'} <= set(RECORD_FIELDS)


# --- one owner per name: no re-export shims --------------------------------------------------------------------------
def elena_imports(src: str) -> list[tuple[int, str, str]]:
    """(line, module, name) for each name some code takes from an `elena` module: `from elena.m import name`,
    `from .m import name`, and `alias.name` after `import elena.m as alias` (unless the code replaces that very
    binding, `monkeypatch.setattr(alias, 'name', spy)`: a spy must sit where the module looks the name up)"""
    try: tree = ast.parse(src)
    except SyntaxError: return []
    out, aliases = [], {}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module:
            m = n.module if n.level == 0 else f'elena.{n.module}' if n.level == 1 else None
            if m and m.startswith('elena.'): out += [(n.lineno, m, a.name) for a in n.names]
        elif isinstance(n, ast.Import):
            aliases.update({a.asname: a.name for a in n.names if a.asname and a.name.startswith('elena.')})
    spied = {(n.args[0].id, n.args[1].value) for n in ast.walk(tree)  # monkeypatch.setattr(alias, 'name', spy)
             if isinstance(n, ast.Call) and getattr(n.func, 'attr', '') == 'setattr' and len(n.args) == 3
             and isinstance(n.args[0], ast.Name) and isinstance(n.args[1], ast.Constant)}
    out += [(n.lineno, aliases[n.value.id], n.attr) for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases
            and (n.value.id, n.attr) not in spied]
    return out


def through_imports(sources: dict[str, str], contract) -> list[str]:
    """Names taken from a module that only imports them from another `elena` module: `sources` maps each module
    name (`elena.x`) or place (`tests/t.py`, `nbs/n.ipynb cell 3`) to its code"""
    owner = {(m, name): src for m, code in sources.items() if m.startswith('elena.')
             for _, src, name in elena_imports(code) if src != m}
    allowed = {(m, n) for m, n, _ in contract}
    return [f"{where}:{line}: {name} from {m}, which imports it from {owner[m, name]}: import it from there"
            for where, code in sources.items() for line, m, name in elena_imports(code)
            if (m, name) in owner and (m, name) not in allowed]


def project_sources() -> dict[str, str]:
    out = {f'elena.{p.stem}': p.read_text(encoding='utf-8') for p in MODULES}
    for folder in ('tests', 'bench', 'tools'):
        out.update({rel(p): p.read_text(encoding='utf-8') for p in sorted((ROOT / folder).rglob('*.py'))})
    for nb in sorted(NBS.rglob('*.ipynb')):
        for i, c in enumerate(json.loads(nb.read_text(encoding='utf-8'))['cells']):
            if c['cell_type'] == 'code':
                code = ''.join(c['source'])
                out[f'{rel(nb)} cell {i}'] = '\n'.join('' if l.lstrip().startswith(('%', '!')) else l
                                                       for l in code.splitlines())
    return out


@pytest.mark.parametrize('user,n', [('from elena.b import helper', 1), ('import elena.b as b\nb.helper()', 1),
                                    ('from elena.a import helper', 0), ('from elena.b import kept', 0),
                                    ("import elena.b as b\nreal = b.helper\nmonkeypatch.setattr(b, 'helper', spy)", 0)])
def test_through_imports_example(user, n):
    sources = {'elena.a': 'def helper(): pass\ndef kept(): pass', 'elena.b': 'from .a import helper, kept',
               'tests/t.py': user}
    assert len(through_imports(sources, [('elena.b', 'kept', 'a contract')])) == n


def reexports(src: str, module: str, contract) -> list[str]:
    "Names a module lists in nbdev's `_all_` (exports it) without defining them, contract names excepted"
    tree = ast.parse(src)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    defined |= {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    allowed = {n for m, n, _ in contract if m == module}
    return [f"{module}:{n.lineno}: _all_ re-exports {e.value}, defined elsewhere: drop it, import it from its owner"
            for n in tree.body if isinstance(n, ast.Assign) and any(getattr(t, 'id', '') == '_all_' for t in n.targets)
            for e in getattr(n.value, 'elts', []) if isinstance(e, ast.Constant)
            and e.value not in defined and e.value not in allowed]


@pytest.mark.parametrize('src,n', [("from .a import f, g\n_all_ = ['f', 'g']", 1), ("from .a import g\n_all_ = ['g']", 0),
                                   ("def f(): pass\n_all_ = ['f']", 0)])
def test_reexports_example(src, n):
    assert len(reexports(src, 'elena.b', [('elena.b', 'g', 'a contract')])) == n


def test_names_import_from_their_owner():
    sources = project_sources()
    out = [o for p in MODULES for o in reexports(sources[f'elena.{p.stem}'], f'elena.{p.stem}', CONTRACT)]
    out += through_imports(sources, CONTRACT)
    assert not out, report('names imported through a second module (re-export shims)', out)
