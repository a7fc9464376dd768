"""Masked means masked: no face reaches a masked copy or a model in the masked condition, whatever the file looks like.

Real photographs (the bundled `elena/samples`: NASA's astronaut portrait and the U.S. Navy's Grace Hopper portrait,
both public domain) stored as a hostile tester would: turned and tagged with EXIF orientation 3/6/8 as PNG, WebP,
TIFF, JPEG and JPEG bytes under a `.png` name; 2- and 3-frame APNG, WebP, TIFF and GIF with the face only in a later
frame; a ~170 px face pasted into a large canvas; an image replaced between two masked runs. `elena mask` and a masked
`elena run` (the installed console script, in a subprocess) run against a stand-in OpenAI-compatible server
(`elena.standins`, which keeps every request it receives), and an independent checker looks at every masked copy and
every image sent: Pillow decodes it with `ImageOps.exif_transpose`, every frame, and OpenCV's own YuNet
(`cv2.FaceDetectorYN`, not ELENA's detector) looks at it at native resolution in overlapping tiles and as a whole.
Each input must be masked (no face visible) or recorded as an error, with nothing sent for it."""
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps
from conftest import ROOT, yunet_missing
from elena.standin_server import StandIn, openai_handler

ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
SAMPLES = ROOT / 'elena' / 'samples'
pytestmark = pytest.mark.skipif(bool(yunet_missing()), reason=str(yunet_missing()))
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
_DETECTORS = {}

# ---- the independent checker -------------------------------------------------------------------------------------
def _yunet_rows(bgr:np.ndarray, score:float) -> np.ndarray:
    "OpenCV's FaceDetectorYN at the image's own size"
    h, w = bgr.shape[:2]
    if score not in _DETECTORS: _DETECTORS[score] = cv2.FaceDetectorYN.create(os.environ['ELENA_YUNET'], '', (w, h), score, 0.3, 5000)
    det = _DETECTORS[score]
    det.setInputSize((w, h))
    found = det.detect(bgr)[1]
    return np.zeros((0, 15)) if found is None else found

def faces_in_pixels(bgr:np.ndarray, score:float=0.5, tile:int=640, overlap:int=200) -> list:
    "Face boxes YuNet finds at native resolution over overlapping tiles, and in the whole image brought to 640 px"
    H, W = bgr.shape[:2]
    boxes, step = [], tile - overlap
    for y in range(0, max(1, H - overlap), step):
        for x in range(0, max(1, W - overlap), step):
            t = np.ascontiguousarray(bgr[y:y + tile, x:x + tile])
            boxes += [(r[0] + x, r[1] + y, r[2], r[3], r[14]) for r in _yunet_rows(t, score)]
    if max(H, W) > tile:  # faces larger than a tile
        s = tile / max(H, W)
        small = cv2.resize(bgr, (max(1, round(W * s)), max(1, round(H * s))), interpolation=cv2.INTER_AREA)
        boxes += [(r[0] / s, r[1] / s, r[2] / s, r[3] / s, r[14]) for r in _yunet_rows(small, score)]
    return boxes

def frames(data:bytes) -> list[np.ndarray]:
    "Every frame of an image file as a viewer shows it: Pillow, EXIF orientation applied, as 8-bit BGR"
    im, out = Image.open(io.BytesIO(data)), []
    for i in range(getattr(im, 'n_frames', 1)):
        im.seek(i)
        up = ImageOps.exif_transpose(im).convert('RGB')
        out.append(np.ascontiguousarray(np.asarray(up)[..., ::-1]))
    return out

def visible_faces(data:bytes) -> list:
    "The faces visible in any frame of the image file `data`"
    return [b for f in frames(data) for b in faces_in_pixels(f)]

# ---- the hostile inputs ------------------------------------------------------------------------------------------
TURN = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}

def stored_turned(photo:Image.Image, o:int, fmt:str, path:Path):
    "`photo` stored as a camera stores it for EXIF orientation `o`: the pixels turned back, the tag saying how to turn them"
    ex = Image.Exif(); ex[0x0112] = o
    kw = {'lossless': True} if fmt == 'WEBP' else {'quality': 92} if fmt == 'JPEG' else {}
    photo.transpose(TURN[o]).save(path, fmt, exif=ex, **kw)

def later_frame(photo:Image.Image, n:int, fmt:str, path:Path):
    "An `n`-frame file whose frames are plain gray except the last, which is `photo`"
    blank = Image.new('RGB', photo.size, (128, 128, 128))
    seq = [blank] * (n - 1) + [photo]
    kw = {'lossless': True} if fmt == 'WEBP' else {'duration': 100} if fmt in ('PNG', 'GIF') else {}
    seq[0].save(path, fmt, save_all=True, append_images=seq[1:], **kw)

@pytest.fixture(scope='module')
def hostile(tmp_path_factory) -> Path:
    "A folder of real photographs stored in every way that once let a face through"
    d = tmp_path_factory.mktemp('hostile') / 'photos'
    d.mkdir()
    hopper, astro = Image.open(SAMPLES / 'grace_hopper.jpg'), Image.open(SAMPLES / 'astronaut.jpg')
    for o in (3, 6, 8):
        for fmt, name in (('PNG', 'png'), ('WEBP', 'webp'), ('TIFF', 'tif'), ('JPEG', 'jpg')):
            stored_turned(hopper, o, fmt, d / f'hopper_o{o}.{name}')
        stored_turned(astro, o, 'JPEG', d / f'astronaut_o{o}_jpeg_bytes.png')
    for n in (2, 3):
        for fmt, name in (('PNG', 'png'), ('WEBP', 'webp'), ('TIFF', 'tif'), ('GIF', 'gif')):
            later_frame(astro, n, fmt, d / f'frames{n}.{name}')
    hopper.save(d / 'hopper_still.gif')
    return d

def read_faces_jsonl(out:Path) -> dict:
    lines = [json.loads(l) for l in (out / 'faces.jsonl').read_text().splitlines()]
    return {r['id']: r for r in lines if 'id' in r}

def elena(*args, env=None, timeout=600):
    return subprocess.run([ELENA, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})

def sent_images(si:StandIn) -> list[bytes]:
    "The image of every request the stand-in received (OpenAI chat: a base64 data URL in the user turn)"
    out = []
    for r in si.requests:
        for m in r['body'].get('messages', []):
            for part in m.get('content') if isinstance(m.get('content'), list) else []:
                if part.get('type') == 'image_url':
                    out.append(base64.b64decode(part['image_url']['url'].split(',', 1)[1]))
    return out

# ---- the tests ---------------------------------------------------------------------------------------------------
def test_the_inputs_show_faces(hostile):
    "The checker sees the face in every input (upright, or in a later frame): otherwise the tests below prove nothing"
    for p in sorted(hostile.iterdir()):
        assert visible_faces(p.read_bytes()), p.name

def test_elena_mask_leaves_no_face(hostile, tmp_path):
    out = tmp_path / 'masked'
    r = elena('mask', '--input', hostile, '--output', out, '--workers', '1')
    recs = read_faces_jsonl(out)
    assert sorted(recs) == sorted(p.name for p in hostile.iterdir())
    for i, rec in recs.items():
        if rec['status'] == 'error':
            assert not (out / i).exists(), i
            continue
        data = (out / i).read_bytes()
        assert visible_faces(data) == [], (i, rec['status'])
        assert not Image.open(io.BytesIO(data)).getexif(), i  # re-encoded: no metadata carried over
    for i in recs:  # what ELENA cannot read as one still is refused with its reason, the rest masked
        want = ('error', 'frames') if i.startswith('frames') else ('ok', '')
        assert (recs[i]['status'], want[1] in recs[i]['message']) == (want[0], True), (i, recs[i])
    assert r.returncode == 0 and 'could not be read' in r.stderr  # the refused files are reported (partial success: 0, with the count)

@pytest.mark.parametrize('condition', ['masked', 'original'])
def test_what_is_sent_is_checked_and_named(hostile, tmp_path, condition):
    "Every image a model receives in the masked condition shows no face, and `image_sha256` names the bytes sent"
    env = {'ELENA_CACHE': str(tmp_path / 'cache'), 'OPENAI_API_KEY': 'sk-test'}
    with StandIn(openai_handler) as si:
        r = elena('run', '--model', 'openai:standin', '--dataset', 'folder', '--data-dir', hostile, '--condition',
                  condition, '--base-url', si.url + '/v1', '--out-dir', tmp_path / 'responses', '--no-progress', env=env)
        sent = sent_images(si)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(l) for f in (tmp_path / 'responses').rglob('*.jsonl') for l in f.read_text().splitlines()]
    answered = [x for x in recs if not x.get('error')]
    refused = {x['id'] for x in recs if x.get('error')}
    assert refused == {p.name for p in hostile.iterdir() if p.name.startswith('frames')}
    assert len(sent) == len(answered) == len(list(hostile.iterdir())) - len(refused)
    assert sorted(hashlib.sha256(b).hexdigest() for b in sent) == sorted(x['image_sha256'] for x in answered)
    for b in sent:
        assert not Image.open(io.BytesIO(b)).getexif()  # no EXIF (orientation, GPS) reaches the model
        if condition == 'masked': assert visible_faces(b) == []
        else: assert len(visible_faces(b)) >= 1  # upright: the face the checker sees is the one the model sees

def test_a_replaced_image_is_masked_again(tmp_path):
    d = tmp_path / 'data'; d.mkdir()
    hopper = Image.open(SAMPLES / 'grace_hopper.jpg')
    hopper.crop((0, 430, 512, 600)).save(d / 'a.jpg')  # below the face: no face, sent as it is
    env = {'ELENA_CACHE': str(tmp_path / 'cache'), 'OPENAI_API_KEY': 'sk-test'}
    runs = []
    for force in ([], ['--force']):
        with StandIn(openai_handler) as si:
            r = elena('run', '--model', 'openai:standin', '--dataset', 'folder', '--data-dir', d, '--condition',
                      'masked', '--base-url', si.url + '/v1', '--out-dir', tmp_path / 'responses', '--no-progress',
                      *force, env=env)
            assert r.returncode == 0, r.stderr
            runs.append(sent_images(si))
        shutil.copy(SAMPLES / 'astronaut.jpg', d / 'a.jpg')  # replaced by a photo with a face, same name
    first, second = runs
    assert len(first) == len(second) == 1 and first[0] != second[0]
    assert visible_faces(second[0]) == []
    assert Image.open(io.BytesIO(second[0])).size == (512, 512)  # the new photo, masked
    recs = [json.loads(l) for f in (tmp_path / 'responses').rglob('*.jsonl') for l in f.read_text().splitlines()]
    assert [x['image_sha256'] for x in recs] == [hashlib.sha256(b).hexdigest() for b in first + second]

def test_a_face_in_a_large_photo_is_masked(tmp_path):
    "A ~170 px face in an 8000 x 6000 photo: found and masked (the checker looks at native resolution)"
    d = tmp_path / 'in'; d.mkdir()
    canvas = np.full((6000, 8000, 3), 110, np.uint8)
    face = cv2.imread(str(SAMPLES / 'grace_hopper.jpg'))[40:460, 60:460]  # head and shoulders, face ~ 200 px wide
    face = cv2.resize(face, None, fx=0.85, fy=0.85, interpolation=cv2.INTER_AREA)  # face ~ 170 px
    canvas[3100:3100 + face.shape[0], 5200:5200 + face.shape[1]] = face
    cv2.imwrite(str(d / 'large.jpg'), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert visible_faces((d / 'large.jpg').read_bytes())  # the checker sees it
    r = elena('mask', '--input', d, '--output', tmp_path / 'out', '--workers', '1')
    assert r.returncode == 0, r.stderr
    assert read_faces_jsonl(tmp_path / 'out')['large.jpg']['status'] == 'ok'
    assert visible_faces((tmp_path / 'out' / 'large.jpg').read_bytes()) == []

def test_the_run_notebook_shows_what_was_sent(hostile, tmp_path):
    "An executed masked run notebook (papermill, as people share it) embeds the masked copies, never the originals"
    data = tmp_path / 'data'; data.mkdir()
    for n in ('hopper_o6.png', 'astronaut_o8_jpeg_bytes.png', 'hopper_o3.webp'): shutil.copy(hostile / n, data / n)
    out_nb, env = tmp_path / 'run.ipynb', {**os.environ, 'ELENA_CACHE': str(tmp_path / 'cache'), 'OPENAI_API_KEY': 'sk-test'}
    with StandIn(openai_handler) as si:
        args = [str(Path(sys.executable).parent / 'papermill'), str(ROOT / 'nbs' / '03_run.ipynb'), str(out_nb),
                '-k', 'python3', '--cwd', str(ROOT)]
        for k, v in (('model', 'openai:standin'), ('base_url', si.url + '/v1'), ('dataset', 'folder'),
                     ('data_dir', data), ('condition', 'masked'), ('out_dir', tmp_path / 'responses'), ('show', 3)):
            args += ['-p', k, str(v)]
        r = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    nb = json.loads(out_nb.read_text())
    shown = [base64.b64decode(o['data']['image/png']) for c in nb['cells'] for o in c.get('outputs', [])
             if 'image/png' in o.get('data', {})]
    assert len(shown) == 3
    for b in shown: assert visible_faces(b) == []

def test_masked_copies_inside_a_dataset_are_not_more_images(tmp_path):
    "A folder of masked copies written inside a dataset folder is not read as more images of it, and one line says so"
    d = tmp_path / 'data'; d.mkdir()
    for n in ('astronaut.jpg', 'grace_hopper.jpg'): shutil.copy(SAMPLES / n, d / n)
    assert elena('mask', '--input', d, '--output', d / 'masked', '--workers', '1').returncode == 0
    r = elena('datasets', 'check', '--dataset', 'folder', '--data-dir', d)
    assert r.returncode == 0, r.stderr
    assert "masked: ELENA's own output (it holds faces.jsonl)" in r.stderr
    from elena.data import load_dataset
    assert sorted(it.id for it in load_dataset('folder', d).items) == ['astronaut.jpg', 'grace_hopper.jpg']

def test_mask_options_reach_a_masked_run(tmp_path):
    "`elena run --condition masked --mask ...` masks with those options, in a cache of their own"
    d = tmp_path / 'data'; d.mkdir()
    shutil.copy(SAMPLES / 'grace_hopper.jpg', d / 'hopper.jpg')
    env = {'ELENA_CACHE': str(tmp_path / 'cache'), 'OPENAI_API_KEY': 'sk-test'}
    with StandIn(openai_handler) as si:
        for mask in ([], ['--mask', 'fill=blur,pad=0.2,min_face=64']):
            r = elena('run', '--model', 'openai:standin', '--dataset', 'folder', '--data-dir', d, '--condition', 'masked',
                      '--base-url', si.url + '/v1', '--out-dir', tmp_path / 'responses', '--no-progress', *mask, env=env)
            assert r.returncode == 0, r.stderr
        sent = sent_images(si)
    caches = sorted((tmp_path / 'cache' / 'masked').iterdir())
    assert len(caches) == 2 and len(sent) == 2 and sent[0] != sent[1]  # other options: masked again, asked again
    fills = sorted(json.loads(l)['summary']['settings']['fill'] for c in caches
                   for l in (c / 'faces.jsonl').read_text().splitlines() if '"summary"' in l)
    assert fills == ['black', 'blur']
    assert all(visible_faces(b) == [] for b in sent)
