"""What every start pays before asking: the dataset's annotations parsed and every image hashed, at EMOTIC's size.

A synthetic EMOTIC of `--n` images (default 23,571, as the real one; 34k people, 1.45 per image; tiny JPEGs so the
fixture stays small, which makes hashing cheaper than on the real 2 GB of photos) in both layouts: the CSV export
(`mat2py.py`'s `emotic_pre/`, Python literals in the cells) and `Annotations/Annotations.mat`. Side by side in one
run, for each layout: a first start with an empty cache folder (what every start cost before issue 30: the parse and
every hash) and a second start (the parse and the hashes read from `elena.names.cache_dir()`).
A start here is `load_dataset` plus hashing every image with `elena.files.ImageHashes`, as `elena run` does.
With `--against DIR` (another checkout of ELENA, e.g. `/work/main` or a copy of an older `elena/`), each layout's second
start is then timed again `--rounds` times in fresh processes, alternating this code and that one on the same fixture
and caches (the better of the rounds kept): before and after in one sitting.
Run: PYTHONPATH=. .venv/bin/python bench/bench_startup.py [--n 23571] [--against DIR] [--rounds 3]"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CATS = ['Affection', 'Anger', 'Annoyance', 'Anticipation', 'Aversion', 'Confidence', 'Disapproval', 'Disconnection',
        'Disquietment', 'Doubt/Confusion', 'Embarrassment', 'Engagement', 'Esteem', 'Excitement', 'Fatigue', 'Fear',
        'Happiness', 'Pain', 'Peace', 'Pleasure', 'Sadness', 'Sensitivity', 'Suffering', 'Surprise', 'Sympathy', 'Yearning']


def struct_array(rows):
    a = np.zeros((1, len(rows)), dtype=[(k, object) for k in rows[0]])
    for i, r in enumerate(rows):
        for k, v in r.items():
            a[0, i][k] = v
    return a


def fixture(root:Path, n:int):
    "images, the CSV export and Annotations.mat of n images"
    import cv2
    rng = random.Random(0)
    ok, jpg = cv2.imencode('.jpg', np.full((8, 8, 3), 128, np.uint8))
    jpg = jpg.tobytes()
    rows, mats = {'train': [], 'val': [], 'test': []}, {'train': [], 'val': [], 'test': []}
    for i in range(n):
        split = 'train' if i < 0.7 * n else 'val' if i < 0.8 * n else 'test'
        folder, fn = f'mscoco/images{i // 5000}', f'{i:06d}.jpg'
        p = root / 'emotic' / folder / fn
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(jpg + i.to_bytes(3, 'big'))
        people = []
        for k in range(1 + (rng.random() < 0.45)):
            cats, vad, box = rng.sample(CATS, rng.randint(1, 3)), [rng.randint(1, 10) for _ in range(3)], [10, 20, 110, 220]
            rows[split].append(f'{len(rows[split])},{folder},{fn},"[300, 400]","{box}","{cats}","{vad}",Male,Adult')
            people.append(dict(body_bbox=np.array(box, float),
                               annotations_categories=dict(categories=np.array(cats, dtype=object)),
                               annotations_continuous=dict(zip(('valence', 'arousal', 'dominance'), vad)),
                               gender='Male', age='Adult'))
        mats[split].append(dict(filename=fn, folder=folder, image_size=dict(n_row=300, n_col=400),
                                original_database=dict(name='mscoco'), person=struct_array(people)))
    csv_root, mat_root = root / 'csv', root / 'mat'
    (csv_root / 'emotic_pre').mkdir(parents=True)
    for split, rs in rows.items():
        (csv_root / 'emotic_pre' / f'{split}.csv').write_text(
            'Index,Folder,Filename,Image Size,BBox,Categorical_Labels,Continuous_Labels,Gender,Age\n' + '\n'.join(rs) + '\n')
    (mat_root / 'Annotations').mkdir(parents=True)
    import scipy.io
    scipy.io.savemat(mat_root / 'Annotations' / 'Annotations.mat', {k: struct_array(v) for k, v in mats.items()})
    for r in (csv_root, mat_root):  # the images inside each layout's root (hard links: a symlink out is refused, issue 23)
        for f in (root / 'emotic').rglob('*.jpg'):
            (r / f.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            os.link(f, r / f.relative_to(root))
    return csv_root, mat_root


def start(root):
    from elena.data import load_dataset
    try: from elena.files import ImageHashes
    except ImportError: from elena.store import ImageHashes  # where it was before issue 30's second pass (--against)
    t0 = time.monotonic()
    ds = load_dataset('emotic', root)
    t1 = time.monotonic()
    sha = ImageHashes()
    hashes = [sha(it.image) for it in ds.items if it.image is not None]
    sha.save()
    return t1 - t0, time.monotonic() - t1, len(ds.items), len(hashes)


def second_start(code:str, root:Path, cache:Path) -> tuple[float, float, float]:
    "A second start in a fresh process running the ELENA found at `code`: (load_dataset s, hashing s, CPU s of both)"
    prog = (f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import bench_startup as b; "
            f"import time; c = time.process_time(); t = b.start(__import__('pathlib').Path({str(root)!r})); "
            f"import elena; print(elena.__file__, t[0], t[1], time.process_time() - c)")
    env = {**os.environ, 'PYTHONPATH': code, 'ELENA_CACHE': str(cache)}
    out = subprocess.run([sys.executable, '-c', prog], env=env, capture_output=True, text=True, check=True,
                         cwd=code).stdout.split()  # in `code`: python -c puts the working folder first on the path
    assert os.path.realpath(out[-4]).startswith(os.path.realpath(code)), out[-4]  # that ELENA, not another one
    load, hashing, cpu = map(float, out[-3:])
    return load, hashing, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=23571)
    ap.add_argument('--against', help='another ELENA checkout: its second start timed in the same sitting')
    ap.add_argument('--rounds', type=int, default=3)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    t0 = time.monotonic()
    csv_root, mat_root = fixture(tmp, a.n)
    print(f"fixture of {a.n} images written in {time.monotonic() - t0:.0f} s", flush=True)
    print("| layout | start | load_dataset s | hashing s | total s |\n|---|---|---|---|---|")
    for name, root in (('CSV export', csv_root), ('Annotations.mat', mat_root)):
        os.environ['ELENA_CACHE'] = str(tmp / f'cache-{name[:3]}')
        for which in ('first (empty cache)', 'second'):
            load, hashing, n, h = start(root)
            assert n == a.n and h == a.n, (n, h)
            print(f"| {name} | {which} | {load:.2f} | {hashing:.2f} | {load + hashing:.2f} |", flush=True)
        if a.against:
            best, cpu = {}, {}
            for _ in range(a.rounds):
                for code in (a.against, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
                    t = second_start(code, root, Path(os.environ['ELENA_CACHE']))
                    best[code] = min(best.get(code, t), t, key=lambda x: x[0] + x[1])
                    cpu[code] = min(cpu.get(code, t[2]), t[2])
            for code, (load, hashing, _) in best.items():
                print(f"| {name} | second, {code} (best of {a.rounds}, own process; its CPU {cpu[code]:.2f} s) | "
                      f"{load:.2f} | {hashing:.2f} | {load + hashing:.2f} |", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
