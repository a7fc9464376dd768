"""What CI can check of the docs site without Quarto. nbdev builds the site in two steps: its processors turn each
notebook into the page's notebook (hidden and `#| export` cells lose their source, `show_doc` cells are run), then
Quarto renders those. Here nbdev's own processors (`FilterDefaults`, what `nbdev_proc_nbs` runs) write the processed
notebooks into a temporary folder and nbconvert renders them to HTML: the sidebar names every documentation notebook
once, every page builds, internal links resolve, and the tables the prose promises are on their pages."""
import html as htmllib
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import NEEDS_YUNET, yunet_missing

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
DOCS = sorted(p for p in NBS.rglob('*.ipynb')
              if not any(part.startswith(('_', '.')) for part in p.relative_to(NBS).parts))
LINK = re.compile(r'\]\(([^)\s]+)\)')
SECTIONS = ['Start here', 'Paper tables & figures', 'Running experiments', 'Explanations', 'Library reference', 'Test aids']


def sidebar_entries(node):
    if isinstance(node, str): return [node]
    if isinstance(node, list): return [e for x in node for e in sidebar_entries(x)]
    return sidebar_entries(node.get('contents', [])) if isinstance(node, dict) else []


def sidebar() -> list:
    return yaml.safe_load((NBS / 'sidebar.yml').read_text())['website']['sidebar']['contents']


def test_sidebar_sections_and_every_notebook_once():
    sb = sidebar()
    assert [s['section'] for s in sb if isinstance(s, dict)] == SECTIONS
    entries = sidebar_entries(sb)
    docs = [str(p.relative_to(NBS)) for p in DOCS]
    assert sorted(entries) == sorted(docs), set(entries) ^ set(docs)
    assert 'custom_sidebar = True' in (ROOT / 'settings.ini').read_text()


def test_library_reference_in_import_order():
    "The reference section lists the module notebooks in the order they are numbered, the order they import"
    ref = next(s['contents'] for s in sidebar() if isinstance(s, dict) and s['section'] == 'Library reference')
    assert ref == sorted(ref, key=lambda n: (int(re.match(r'\d+', n)[0]), n)), ref


PROC = r'''
import sys
from pathlib import Path
from nbdev.serve_drv import main
from nbdev.processors import FilterDefaults
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for a in sys.argv[3:]:
    p = Path(a)
    d = dst / p.relative_to(src)
    d.parent.mkdir(parents=True, exist_ok=True)
    try: main((p, d, FilterDefaults))
    except Exception as e: print(f"{p.relative_to(src)}: {str(e).splitlines()[0]}: {e.__cause__!r}"[:300])
'''


@pytest.fixture(scope='module')
def processed(tmp_path_factory):
    "nbdev's processors run over every documentation notebook (in one fresh interpreter, from the project's root)"
    out = tmp_path_factory.mktemp('proc')
    r = subprocess.run([sys.executable, '-c', PROC, str(NBS), str(out), *map(str, DOCS)], cwd=ROOT,
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-4000:]
    return out, [l for l in r.stdout.splitlines() if l.strip()]


def test_every_notebook_processes(processed):
    "Every page builds: nbdev runs the cells with imports and the `show_doc` cells of each notebook to build it"
    why = yunet_missing()
    failed = [l for l in processed[1] if not (why and l.split(':')[0] in NEEDS_YUNET)]
    assert not failed, 'nbdev could not build these pages (keep imports in a cell of their own):\n' + '\n'.join(failed)


@pytest.fixture(scope='module')
def rendered(processed, tmp_path_factory):
    "The processed notebooks rendered to HTML with nbconvert (saved outputs, nothing executed)"
    src, out = processed[0], tmp_path_factory.mktemp('html')
    pages = sorted(src.rglob('*.ipynb'))
    for sub in sorted({p.parent for p in pages}):
        here = [str(p) for p in pages if p.parent == sub]
        r = subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'html',
                            '--output-dir', str(out / sub.relative_to(src)), *here],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-4000:]
    return out


def test_every_notebook_renders(processed, rendered):
    "Every page has a title (nbdev moves the notebook's H1 into the page's front matter) and renders its cells"
    missing = {l.split(':')[0] for l in processed[1]}
    for p in DOCS:
        if str(p.relative_to(NBS)) in missing:
            continue  # reported by test_every_notebook_processes
        first = json.loads((processed[0] / p.relative_to(NBS)).read_text(encoding='utf-8'))['cells'][0]
        assert first['cell_type'] == 'raw' and re.search(r'^title: \S', ''.join(first['source']), re.M), p
        html = (rendered / p.relative_to(NBS).with_suffix('.html')).read_text(encoding='utf-8')
        assert 'jp-Cell' in html, p


def slug(s: str) -> str:
    "nbconvert keeps punctuation in heading ids ('Scores-per-run,-and...'), Quarto drops it: compare without it"
    return re.sub(r'[^a-z0-9-]', '', s.lower())


def anchors(html: Path) -> set[str]:
    return {slug(a) for a in re.findall(r'\bid="([^"]+)"', html.read_text(encoding='utf-8'))}


def link_target(rendered: Path, p: Path, page: str) -> Path:
    here = rendered / p.relative_to(NBS)
    return (here.parent / Path(page).with_suffix('.html') if page else here.with_suffix('.html')).resolve()


def test_internal_links_resolve(rendered):
    checked = 0
    for p in DOCS:
        for c in nbformat.read(p, as_version=4).cells:
            if c.cell_type != 'markdown': continue
            for target in LINK.findall(c.source):
                if re.match(r'^[a-z]+:', target): continue  # http:, https:, mailto:
                page, _, anchor = target.partition('#')
                if page and not page.endswith(('.ipynb', '.html')): continue
                html = link_target(rendered, p, page)
                if not html.is_file() and (NBS / p.relative_to(NBS)).parent.joinpath(page).is_file(): continue
                assert html.is_file(), f"{p.name}: link {target} names no documentation notebook"
                if anchor: assert slug(anchor) in anchors(html), f"{p.name}: link {target}: no heading #{anchor} there"
                checked += 1
    assert checked >= 4, checked  # the paper notebooks link to each other and to the library


def page_text(processed, name: str) -> str:
    """The text a reader sees on a page outside the outputs of cells: prose and the code nbdev shows, without tags,
    single spaces, and a backslash that ends a line inside a string joined to the next line, as Python joins it"""
    from nbconvert import HTMLExporter
    nb = json.loads((processed[0] / name).read_text(encoding='utf-8'))
    for c in nb['cells']: c.pop('has_sd', None)  # nbdev's mark of show_doc cells, not in the notebook format
    body, _ = HTMLExporter(exclude_output=True).from_notebook_node(nbformat.reads(json.dumps(nb), as_version=4))
    body = re.sub(r'<(script|style)\b.*?</\1>', ' ', body, flags=re.S)
    text = htmllib.unescape(re.sub(r'<[^>]+>', '', body))
    return ' '.join(text.replace('\\\n', '').split())


def sentences(text: str) -> list[str]:
    "The sentences and lines of a text, with single spaces"
    return [' '.join(s.split()) for s in re.split(r'(?<=[.:?])\s+|\n', text) if s.strip()]


def test_prompt_wording_on_its_page(processed):
    "The exact words of the ELENA prompt are readable on the prompts page, in the source nbdev shows"
    from elena.prompts import get_prompt
    p = get_prompt('elena')
    text = page_text(processed, '00_prompts.ipynb')
    user = p.user.replace(', '.join(p.labels), '{labels}')
    missing = [s for s in sentences(p.system) + sentences(user) if s not in text]
    assert not missing, f"not on the 00_prompts page (put the wording in an `#| exports` cell): {missing}"


def test_label_maps_on_their_page(processed):
    "Every entry of the label maps is readable on the label-maps page"
    from elena.labelmaps import BESST_LETTERS, EMOTIC_TO_ELENA, HECO_TO_ELENA
    text = page_text(processed, '05_labelmaps.ipynb')
    maps = {'BESST_LETTERS': BESST_LETTERS, 'HECO_TO_ELENA': HECO_TO_ELENA, 'EMOTIC_TO_ELENA': EMOTIC_TO_ELENA}
    missing = [f"{name}[{k!r}]" for name, m in maps.items() for k, v in m.items() if f"{k!r}: {v!r}" not in text]
    assert not missing, f"not on the 05_labelmaps page (put the tables in `#| exports` cells): {missing}"


def test_vocabulary_on_its_page(processed):
    "The vocabulary tables (emotion words, body regions) are readable on the vocabulary page"
    from elena.vocab import BODY_REGIONS, EMOTION_SURFACES
    text = page_text(processed, '01_vocab.ipynb')
    want = [repr(w) for ws in [*EMOTION_SURFACES.values(), *BODY_REGIONS.values()] for w in ws]
    missing = [w for w in want if w not in text]
    assert not missing, f"not on the 01_vocab page (put the tables in `#| exports` cells): {missing[:10]}"
