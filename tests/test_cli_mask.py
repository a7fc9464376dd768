"""`elena mask` as a user runs it: the installed console script in a subprocess, on real photos and broken files."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
import cv2
import numpy as np
import pytest
from conftest import yunet_missing
from matplotlib import cbook

ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
MODEL = Path(os.environ.get('ELENA_YUNET', '/nonexistent'))
pytestmark = pytest.mark.skipif(bool(yunet_missing()), reason=str(yunet_missing()))
HOPPER = Path(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

def run(*args):
    return subprocess.run([ELENA, 'mask', *args], capture_output=True, text=True, timeout=300)

def faces(out):
    lines = [json.loads(l) for l in (out / 'faces.jsonl').read_text().splitlines()]
    return {d['id']: d for d in lines if 'id' in d}, [d['summary'] for d in lines if 'summary' in d]

@pytest.fixture
def photos(tmp_path):
    d = tmp_path / 'in'; (d / 'a' / 'b').mkdir(parents=True)
    img = cv2.imread(str(HOPPER))
    shutil.copy(HOPPER, d / 'hopper.jpg')
    cv2.imwrite(str(d / 'a' / 'closeup.png'), cv2.resize(img[60:450, 100:440], None, fx=2.5, fy=2.5))
    cv2.imwrite(str(d / 'a' / 'b' / 'gray16.png'), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    cv2.imwrite(str(d / 'a' / 'landscape.jpg'), img[430:, :])
    (d / 'empty.jpg').write_bytes(b'')
    (d / 'a' / 'text.jpg').write_text('hello')
    (d / 'cut.jpg').write_bytes(HOPPER.read_bytes()[:15000])
    return d

def test_mask_folder_with_bad_inputs_then_resume(photos, tmp_path):
    out = tmp_path / 'out'
    r = run('--input', str(photos), '--output', str(out), '--workers', '2', '--yunet', str(MODEL))
    assert r.returncode == 0, r.stderr  # partial success: the run finishes and says how many images could not be read
    assert "3 image(s) could not be read" in r.stderr
    recs, sums = faces(out)
    summary = sums[-1]
    assert {k: summary[k] for k in ('images', 'faces', 'no_face', 'errors')} == {'images': 7, 'faces': 3, 'no_face': 1, 'errors': 3}
    assert len(sums) == 1 and '{' not in r.stdout  # a readable summary on the console, the JSON in faces.jsonl
    assert r.stdout.splitlines()[0].endswith(
        ': 7 image(s): 4 masked now, 0 already done, 3 could not be read; 3 face(s) hidden, 1 image(s) with no face found')
    assert {i: d['status'] for i, d in recs.items()} == {
        'hopper.jpg': 'ok', 'a/closeup.png': 'ok', 'a/b/gray16.png': 'ok', 'a/landscape.jpg': 'no_face',
        'empty.jpg': 'error', 'a/text.jpg': 'error', 'cut.jpg': 'error'}
    for i, d in recs.items():
        assert (out / i).exists() == (d['status'] != 'error'), i
        assert set(d) >= {'id', 'width', 'height', 'faces', 'scales', 'masked_fraction', 'status', 'message'}
    assert all(recs[i]['message'] for i in ('empty.jpg', 'a/text.jpg', 'cut.jpg'))
    assert cv2.imread(str(out / 'a/b/gray16.png'), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    box = recs['hopper.jpg']['faces'][0]['box']
    x, y, w, h = map(int, box)
    assert cv2.imread(str(out / 'hopper.jpg'))[y + 5:y + h - 5, x + 5:x + w - 5].max() < 10  # black, up to JPEG noise
    assert (out / 'a/landscape.jpg').read_bytes() == (photos / 'a/landscape.jpg').read_bytes()

    r = run('--input', str(photos), '--output', str(out), '--yunet', str(MODEL))
    again = faces(out)[1][-1]
    assert (again['processed'], again['skipped'], again['faces'], again['errors']) == (3, 4, 3, 3)

    (photos / 'cut.jpg').write_bytes(HOPPER.read_bytes())  # the broken file is replaced by a good one
    r = run('--input', str(photos), '--output', str(out), '--yunet', str(MODEL))
    assert r.returncode == 0 and faces(out)[1][-1]['processed'] == 3
    recs, sums = faces(out)
    assert recs['cut.jpg']['status'] == 'ok' and len(sums) == 3 and (sums[-1]['faces'], sums[-1]['errors']) == (4, 2)

def test_other_settings_are_refused(photos, tmp_path):
    out = tmp_path / 'out'
    (photos / 'empty.jpg').unlink(); (photos / 'a' / 'text.jpg').unlink(); (photos / 'cut.jpg').unlink()
    assert run('--input', str(photos), '--output', str(out), '--yunet', str(MODEL)).returncode == 0
    r = run('--input', str(photos), '--output', str(out), '--fill', 'blur', '--yunet', str(MODEL))
    assert r.returncode == 2 and 'other settings' in r.stderr and 'faces.jsonl' in r.stderr

def test_wrong_model_and_missing_input(photos, tmp_path):
    bad = tmp_path / 'bad.onnx'; bad.write_bytes(b'not a model')
    r = run('--input', str(photos), '--output', str(tmp_path / 'o'), '--yunet', str(bad))
    assert r.returncode == 2 and 'sha256' in r.stderr and 'bad.onnx' in r.stderr
    assert not (tmp_path / 'o').exists()  # refused before anything was written: no empty faces.jsonl, no lock
    r = run('--input', str(tmp_path / 'nowhere'), '--output', str(tmp_path / 'o'))
    assert r.returncode == 2 and 'nowhere' in r.stderr
