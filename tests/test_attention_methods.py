"""The attention paper notebook shows the raw maps and the rollout side by side when `elena attention` was run with
each --method: papermill on two summaries written by `elena attention`'s own writer, naming hand-made overlay images
(fixtures, not results)."""
import subprocess
import sys
from pathlib import Path
import cv2
import numpy as np
from elena.attention_json import attention_summary, write_attention_summary
from elena.figures import figures_report

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def summaries(att, methods):
    for method in methods:
        key = 'rollout' if method == 'rollout' else 'all'
        (att / method).mkdir(parents=True)
        recs = []
        for n, i in enumerate(('a.jpg', 'b.jpg')):
            cv2.imwrite(str(att / method / f'{i}.{method}.png'), np.full((30, 20, 3), 50 + 100 * n, np.uint8))
            overlays = {key: f'{i}.{method}.png'}
            recs += [{'id': i, 'condition': 'original', 'face_bias_ratio': 1.5 + n, 'overlays': overlays}]
        settings = {'model': 'fixture-model', 'method': method, 'fuse': 'mean', 'query': 'emotion'}
        write_attention_summary(att / method, attention_summary(settings, recs, random_weights=False))

def papermill(tmp_path, att):
    out = tmp_path / 'attention.ipynb'
    paper = ROOT / 'nbs' / 'paper'
    params = ['-p', 'attention', str(att), '-p', 'figures', str(tmp_path / 'figures'),
              '-p', 'responses', str(tmp_path / 'responses')]
    r = subprocess.run([str(BIN / 'papermill'), str(paper / 'attention.ipynb'), str(out), '-k', 'python3',
                        '--cwd', str(paper), *params], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    return figures_report(out)  # the figures saved and the lines saying what was skipped, from its outputs

def test_methods_side_by_side(tmp_path):
    summaries(tmp_path / 'att', ('raw', 'rollout'))
    rep = papermill(tmp_path, tmp_path / 'att')
    assert (tmp_path / 'figures' / 'attention_methods.png').stat().st_size > 0, rep
    assert 'attention_methods' in str(rep['figures']), rep
    assert not any(l.startswith('attention methods side by side') for l in rep['skipped']), rep
    stats = (tmp_path / 'figures' / 'tables' / 'attention_face_bias.csv').read_text()
    assert 'raw' in stats and 'rollout' in stats  # the facial-bias table per method

def test_one_method_only_is_skipped(tmp_path):
    summaries(tmp_path / 'att', ('raw',))
    rep = papermill(tmp_path, tmp_path / 'att')
    assert any(l.startswith('attention methods side by side') for l in rep['skipped']), rep
    assert not (tmp_path / 'figures' / 'attention_methods.png').exists()
