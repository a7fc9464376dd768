"""What CI can check of the docs site without Quarto: the sidebar names every documentation notebook once, every
notebook renders to HTML with nbconvert (saved outputs, nothing executed), and internal links resolve."""
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
DOCS = sorted(p for p in NBS.rglob('*.ipynb') if not any(part.startswith(('_', '.')) for part in p.relative_to(NBS).parts))
LINK = re.compile(r'\]\(([^)\s]+)\)')


def sidebar_entries(node):
    if isinstance(node, str): return [node]
    if isinstance(node, list): return [e for x in node for e in sidebar_entries(x)]
    return sidebar_entries(node.get('contents', [])) if isinstance(node, dict) else []


def test_sidebar_sections_and_every_notebook_once():
    sb = yaml.safe_load((NBS / 'sidebar.yml').read_text())['website']['sidebar']['contents']
    assert [s['section'] for s in sb if isinstance(s, dict)] == ['Paper tables & figures', 'Running experiments', 'Library reference']
    entries = sidebar_entries(sb)
    assert sorted(entries) == sorted(str(p.relative_to(NBS)) for p in DOCS), set(entries) ^ {str(p.relative_to(NBS)) for p in DOCS}
    assert 'custom_sidebar = True' in (ROOT / 'settings.ini').read_text()


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp('html')
    for sub in sorted({p.parent for p in DOCS}):
        dest = out / sub.relative_to(NBS)
        r = subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'html', '--output-dir', str(dest),
                            *[str(p) for p in DOCS if p.parent == sub]], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-4000:]
    return out


def test_every_notebook_renders(rendered):
    for p in DOCS:
        html = rendered / p.relative_to(NBS).with_suffix('.html')
        assert html.stat().st_size > 1000 and '<h1' in html.read_text(encoding='utf-8'), p


def slug(s: str) -> str:
    "nbconvert keeps punctuation in heading ids ('Scores-per-run,-and...'), Quarto drops it: compare without it"
    return re.sub(r'[^a-z0-9-]', '', s.lower())


def anchors(html: Path) -> set[str]:
    return {slug(a) for a in re.findall(r'\bid="([^"]+)"', html.read_text(encoding='utf-8'))}


def test_internal_links_resolve(rendered):
    checked = 0
    for p in DOCS:
        for c in nbformat.read(p, as_version=4).cells:
            if c.cell_type != 'markdown': continue
            for target in LINK.findall(c.source):
                if re.match(r'^[a-z]+:', target): continue  # http:, https:, mailto:
                page, _, anchor = target.partition('#')
                if page and not page.endswith(('.ipynb', '.html')): continue
                html = (rendered / p.relative_to(NBS)).parent / Path(page).with_suffix('.html') if page else rendered / p.relative_to(NBS).with_suffix('.html')
                assert html.resolve().is_file(), f"{p.name}: link {target} names no documentation notebook"
                if anchor: assert slug(anchor) in anchors(html.resolve()), f"{p.name}: link {target}: no heading #{anchor} there"
                checked += 1
    assert checked >= 4, checked  # the paper notebooks link to each other and to the library
