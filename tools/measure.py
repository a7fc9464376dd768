"""The shape of the exported code, measured as issue 16 compares it with fastcore: lines and characters per export
cell (median), the share of lines over 120 characters, and `;`-joined statements per 1000 lines.
`python tools/measure.py [NOTEBOOK_OR_FOLDER ...]` (default: nbs/)."""
import io
import json
import re
import statistics
import sys
import tokenize
from pathlib import Path

EXPORT = re.compile(r'^#\|\s*(export|exports|exporti)\b', re.M)


def export_cells(nb_path: Path) -> list[str]:
    "The sources of the export cells of one notebook, without their directive lines"
    cells = json.loads(nb_path.read_text(encoding='utf-8'))['cells']
    srcs = (''.join(c['source']) for c in cells if c['cell_type'] == 'code')
    return ['\n'.join(l for l in s.splitlines() if not l.startswith('#|')) for s in srcs if EXPORT.search(s)]


def semicolons(src: str) -> int:
    "Statements joined by ';' (tokens, so ';' inside strings and comments do not count)"
    try: return sum(t.type == tokenize.OP and t.string == ';' for t in tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError): return src.count('; ')


def measure(paths: list[Path]) -> dict:
    cells = [c for p in paths for c in export_cells(p)]
    lines = [l for c in cells for l in c.splitlines()]
    return {'notebooks': len(paths), 'export cells': len(cells),
            'median lines per cell': statistics.median(len(c.splitlines()) for c in cells) if cells else 0,
            'median characters per cell': statistics.median(len(c) for c in cells) if cells else 0,
            'lines over 120 characters (%)': round(100 * sum(len(l) > 120 for l in lines) / max(len(lines), 1), 1),
            "';' per 1000 lines": round(1000 * sum(semicolons(c) for c in cells) / max(len(lines), 1), 1)}


if __name__ == '__main__':
    args = [Path(a) for a in sys.argv[1:]] or [Path('nbs')]
    nbs = sorted(p for a in args for p in ([a] if a.is_file() else a.glob('*.ipynb')))
    for k, v in measure(nbs).items(): print(f"{k:32} {v}")
