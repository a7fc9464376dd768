"""Face masking throughput: `mask_folder` against the straightforward approach and against the codec ceiling.

Usage: ELENA_YUNET=../shared/models/face_detection_yunet_2023mar.onnx python bench/mask_bench.py [--n 32] [--rounds 3]

Test images: Grace Hopper's official portrait (U.S. Navy, public domain, shipped with matplotlib) enlarged, cropped to
1920x1080 at different scales and places, some mirrored, saved as JPEG (quality 95). `--grain` adds mild noise, closer
to a real camera file. All three contenders run in this one process, round after round, so that the shared machine's
load falls on all of them alike. Reported: images/s of the fastest round (the least disturbed) and of the median round, and the
process CPU time per image (median round), which other workers' load disturbs least.
  naive    cv2.imread, YuNet at native resolution, black boxes (+5 %), cv2.imwrite; one image at a time
  elena    elena.masking.mask_folder (two detection passes, faces.jsonl, temp-and-rename writes), `--workers` threads,
           with each detector engine (onnxruntime, the default, and opencv) at `--max-sides`
  ceiling  cv2.imread + cv2.imwrite (JPEG quality 95) of the same images on the same number of threads, nothing else
"""
import argparse
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import cv2
import numpy as np
from matplotlib import cbook
from elena.masking import mask_folder
from elena.names import YUNET_ENGINES
from elena.yunet import yunet_path, default_engine

ENGINES = [e for e in YUNET_ENGINES if e == 'opencv' or e == default_engine()]  # the engines this machine can run

def make_images(d:Path, n:int, grain:bool):
    "n full-HD JPEGs made from the portrait: 'group photos' of mirrored copies (faces ~90-450 px) and close-ups (~650-850 px)"
    src = cv2.imread(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    rng = np.random.default_rng(0)
    for i in range(n):
        if i % 4 == 3: f = rng.uniform(3.8, 5.0)  # close-up: the portrait alone fills the frame
        else: f = rng.uniform(0.55, 2.6)
        one = cv2.resize(src, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        row = np.hstack([one if k % 2 == 0 else cv2.flip(one, 1) for k in range(-(-1920 // one.shape[1]) + 1)])
        big = np.vstack([row] * (-(-1080 // one.shape[0]) + 1))
        y = int(rng.uniform(0, big.shape[0] - 1080)) if i % 4 != 3 else int(rng.uniform(0, 0.3) * (big.shape[0] - 1080))
        x = int(rng.uniform(0, big.shape[1] - 1920)) if i % 4 != 3 else int(rng.uniform(0, 1) * (one.shape[1] - min(1920, one.shape[1])))
        img = np.ascontiguousarray(big[y:y + 1080, x:x + 1920])
        if grain: img = cv2.add(img, rng.normal(0, 4, img.shape).astype(np.int16), dtype=cv2.CV_8U)
        cv2.imwrite(str(d / f'hd_{i:03}.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 95])

def naive(src:Path, out:Path, model:Path) -> int:
    det, faces = cv2.FaceDetectorYN.create(str(model), '', (320, 320), 0.5, 0.3, 5000), 0
    for p in sorted(src.glob('*.jpg')):
        img = cv2.imread(str(p)); h, w = img.shape[:2]
        det.setInputSize((w, h)); found = det.detect(img)[1]
        for x, y, bw, bh in ([] if found is None else found[:, :4]):
            faces += 1
            img[max(0, int(y - .05 * bh)):int(y + 1.05 * bh), max(0, int(x - .05 * bw)):int(x + 1.05 * bw)] = 0
        cv2.imwrite(str(out / p.name), img)
    return faces

def ceiling(src:Path, out:Path, workers:int):
    def one(p): cv2.imwrite(str(out / p.name), cv2.imread(str(p)), [cv2.IMWRITE_JPEG_QUALITY, 95])
    n = cv2.getNumThreads(); cv2.setNumThreads(1 if workers > 1 else n)
    try:
        with ThreadPoolExecutor(workers) as ex: list(ex.map(one, sorted(src.glob('*.jpg'))))
    finally: cv2.setNumThreads(n)

def timed(fn, out:Path):
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    t, c = time.perf_counter(), time.process_time(); r = fn(out)
    return time.perf_counter() - t, time.process_time() - c, r

def stages(src:Path, model:Path, reps:int=20):
    "Single-thread milliseconds of each step on the first image: where the time of one image goes"
    from elena.yunet import run_yunet, shrink
    cv2.setNumThreads(1)
    data = (sorted(src.glob('*.jpg'))[0]).read_bytes(); img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    s640 = shrink(img, (640, 360)); s320 = cv2.resize(s640, (320, 180), interpolation=cv2.INTER_AREA)
    steps = {'decode (imdecode)': lambda: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
             'to 640x360, one INTER_AREA resize': lambda: cv2.resize(img, (640, 360), interpolation=cv2.INTER_AREA),
             'to 640x360, elena.yunet.shrink': lambda: shrink(img, (640, 360))}
    for e in ENGINES:
        steps |= {f'YuNet 640x360 ({e})': lambda e=e: run_yunet(s640, model, engine=e),
                  f'YuNet 320x180 ({e})': lambda e=e: run_yunet(s320, model, engine=e)}
    steps |= {'YuNet 1920x1080 (opencv, naive)': lambda: run_yunet(img, model, engine='opencv'),
              'encode (imencode, quality 95)': lambda: cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 95])}
    for name, fn in steps.items():
        fn(); t = time.perf_counter()
        for _ in range(reps): fn()
        print(f"{name:36} {1000 * (time.perf_counter() - t) / reps:7.2f} ms")

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=32); ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--workers', type=int, default=os.cpu_count()); ap.add_argument('--grain', action='store_true')
    ap.add_argument('--max-sides', default='640,320')
    ap.add_argument('--engines', default=','.join(ENGINES),
                    help="detector engines of the elena runs (default: onnxruntime if installed, and opencv)")
    ap.add_argument('--stages', action='store_true', help="only time each step of one image on one thread")
    a = ap.parse_args()
    model = yunet_path()
    tmp = Path(tempfile.mkdtemp(prefix='elena-maskbench-')); src = tmp / 'in'; src.mkdir()
    make_images(src, a.n, a.grain)
    if a.stages: stages(src, model); shutil.rmtree(tmp); return
    sides, engines = [int(s) for s in a.max_sides.split(',')], a.engines.split(',')
    runs = {'naive': lambda o: naive(src, o, model), 'ceiling': lambda o: ceiling(src, o, a.workers),
            **{f'elena {e} {s}': (lambda o, s=s, e=e: mask_folder(src, o, {'max_side': s, 'engine': e}, workers=a.workers, progress=False)['faces'])
               for e in engines for s in sides}}
    secs, cpu, faces = {k: [] for k in runs}, {k: [] for k in runs}, {}
    for r in range(a.rounds):
        for k, fn in runs.items():
            t, c, f = timed(fn, tmp / 'out' / k.replace(' ', '_')); secs[k].append(t); cpu[k].append(c); faces[k] = f
    best = {k: a.n / min(v) for k, v in secs.items()}; med = {k: a.n / statistics.median(v) for k, v in secs.items()}
    print(f"{a.n} images 1920x1080{' with grain' if a.grain else ''}, {a.workers} workers, {a.rounds} rounds, cpu_count={os.cpu_count()}")
    cms = {k: 1000 * statistics.median(v) / a.n for k, v in cpu.items()}
    print(f"{'run':22} {'img/s best':>10} {'img/s median':>12} {'CPU ms/img':>10} {'faces':>6}  seconds per round")
    for k in runs: print(f"{k:22} {best[k]:10.1f} {med[k]:12.1f} {cms[k]:10.1f} {faces[k] or '':>6}  {' '.join(f'{t:.2f}' for t in secs[k])}")
    for k in [f'elena {e} {s}' for e in engines for s in sides]:
        print(f"{k}: best rounds {best[k] / best['naive']:.1f}x naive, {100 * best[k] / best['ceiling']:.0f}% of ceiling; "
              f"median rounds {med[k] / med['naive']:.1f}x naive, {100 * med[k] / med['ceiling']:.0f}% of ceiling; "
              f"CPU time per image {cms['naive'] / cms[k]:.1f}x less than naive, {100 * cms['ceiling'] / cms[k]:.0f}% of ceiling's")
    shutil.rmtree(tmp)

if __name__ == '__main__': main()
