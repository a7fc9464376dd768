"""What finding faces in large photos costs: reading and detection as before (OpenCV decode, two whole copies) against
now (`elena.files.read_image`: Pillow's header check, EXIF orientation for every format; `detect_faces` with the
tiled passes of `tile_scales`), side by side in one process, on photos of 640 to 12000 pixels.

Usage: ELENA_YUNET=../shared/models/face_detection_yunet_2023mar.onnx python bench/bench_detect.py [--rounds 5]

Photos: Grace Hopper's official portrait (U.S. Navy, public domain, shipped with matplotlib) with its face ~170 px
wide, pasted at a third of the width and half the height of a gray 4:3 canvas of each size (the portrait itself
scaled to the canvas for the sizes up to 1280, so that the face stays in YuNet's range), saved as JPEG quality 90.
  before  cv2.imdecode (as `read_image` did for JPEG) + `detect_faces(min_face=huge)`: exactly the two old passes
  now     `read_image` + `detect_faces()` with its defaults
Reported per size: the median seconds of `--rounds` rounds (the two contenders alternate within each round), their
ratio, and how many faces each found.
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path
import cv2
import numpy as np
from matplotlib import cbook
from elena.files import read_image
from elena.yunet import detect_faces, tile_scales

def make_photo(path:Path, side:int):
    "A 4:3 photo `side` pixels wide holding the portrait (its face ~170 px, or scaled with the canvas when small)"
    src = cv2.imread(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    h = side * 3 // 4
    canvas = np.full((h, side, 3), 110, np.uint8)
    f = min(1.0, 0.8 * h / src.shape[0])
    one = cv2.resize(src, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    y, x = min(h // 2, h - one.shape[0]), min(side // 3, side - one.shape[1])
    canvas[y:y + one.shape[0], x:x + one.shape[1]] = one
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])

def before(p:Path) -> int:
    img = cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    return len(detect_faces(img, min_face=10 ** 9))

def now(p:Path) -> int:
    return len(detect_faces(read_image(p)))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--sides', type=int, nargs='+', default=[640, 1280, 2560, 4000, 8000, 12000])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        print('| long side | tiled passes | before, s | now, s | now / before | faces before | faces now |')
        print('|---|---|---|---|---|---|---|')
        for side in a.sides:
            p = Path(d) / f'{side}.jpg'
            make_photo(p, side)
            t = {'before': [], 'now': []}
            n = {}
            for _ in range(a.rounds):
                for name, fn in (('before', before), ('now', now)):
                    t0 = time.perf_counter(); n[name] = fn(p); t[name].append(time.perf_counter() - t0)
            b, w = statistics.median(t['before']), statistics.median(t['now'])
            tiles = tile_scales(side, side * 3 // 4)
            print(f"| {side} | {tiles or '-'} | {b:.3f} | {w:.3f} | {w / b:.2f} | {n['before']} | {n['now']} |")

if __name__ == '__main__':
    main()
