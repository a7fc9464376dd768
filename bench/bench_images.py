"""`elena datasets check` opens every image of a dataset. This measures, side by side in one run, the time per image
of a full decode with `elena.files.read_image` and of the reduced decode the check uses (`reduced=True`: JPEG decoded
by libjpeg at 1/8 size), on the bundled sample photographs and on copies scaled up to typical dataset sizes.
`python bench/bench_images.py [--rounds N]`"""
import argparse
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import cv2

from elena.files import read_image, write_image


def per_image(paths, reduced, rounds):
    "Seconds per image, the best of `rounds` passes over `paths`"
    best = float('inf')
    for _ in range(rounds):
        t = time.perf_counter()
        for p in paths: read_image(p, reduced=reduced)
        best = min(best, time.perf_counter() - t)
    return best / len(paths)


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--rounds', type=int, default=20)
    a = ap.parse_args()
    samples = sorted(Path(str(files('elena') / 'samples')).glob('*.jpg'))
    tmp = Path(tempfile.mkdtemp(prefix='bench-images-'))
    for side in (512, 1280, 2560):
        paths = [write_image(tmp / f'{side}-{p.name}', cv2.resize(read_image(p), (side, side))) for p in samples]
        full, small = per_image(paths, False, a.rounds), per_image(paths, True, a.rounds)
        print(f"{side:5} px JPEG: full {full * 1e3:7.2f} ms, reduced {small * 1e3:6.2f} ms per image: {full / small:4.1f}x")
