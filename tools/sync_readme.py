"""Write README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which is not always there).

Markdown cells are copied as they are; code cells not marked `#| hide` become ```python blocks, followed by
their saved text output. `--check` writes nothing and exits 1 when README.md is out of step."""
import sys
from pathlib import Path
import nbformat

root = Path(__file__).resolve().parent.parent

def render(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts = []
    for c in nb.cells:
        src = c.source.strip('\n')
        if c.cell_type == 'markdown': parts.append(src)
        elif c.cell_type == 'code' and src and not any(l.strip() in ('#| hide', '#|hide') for l in src.splitlines()):
            code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
            parts.append(f"```python\n{code}\n```")
            out = ''.join(o.get('text', '') if o.output_type == 'stream' else o.get('data', {}).get('text/plain', '')
                          for o in c.get('outputs', []))
            if out.strip(): parts.append(f"```\n{out.rstrip()}\n```")
    return '<!-- Generated from nbs/index.ipynb by tools/sync_readme.py: edit the notebook, then run `make export`. -->\n\n' + '\n\n'.join(parts) + '\n'

def main(argv):
    text, readme = render(root/'nbs'/'index.ipynb'), root/'README.md'
    if '--check' in argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            print('README.md is out of step with nbs/index.ipynb: run `make export`'); return 1
        return 0
    readme.write_text(text, encoding='utf-8')
    return 0

if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
