"""Time `elena.evaluate.evaluate` end to end on 100,000 synthetic response records (the aim: under 5 s).

Writes a BESST-style run (ids are BESST file names, so the gold labels come from the names and no images are needed):
reading the JSONL, building gold from the ids, scoring, per-class metrics, bootstrap intervals (1000 resamples),
narrative and body-part checks, and a paired comparison with a second run of the same size.
Usage: python bench/bench_evaluate.py [N]   (prints one line per measurement)"""
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
import numpy as np
from elena.evaluate import evaluate, format_report
from elena.labelmaps import BESST_LETTERS
from elena.prompts import ELENA_LABELS

def write_run(path: Path, n: int, seed: int):
    letters = np.array(list(BESST_LETTERS))
    gold = np.random.default_rng(0).integers(0, len(letters), n)  # the same images in every run
    rng = np.random.default_rng(seed)
    right = [ELENA_LABELS.index(BESST_LETTERS[l]) for l in letters[gold]]
    pred = np.where(rng.random(n) < 0.6, right, rng.integers(0, 7, n))
    failed = rng.random(n) < 0.02
    with open(path, 'w') as f:
        for i in range(n):
            e = None if failed[i] else ELENA_LABELS[pred[i]]
            parsed = None if failed[i] else {
                'explicit_description': 'Shoulders drawn up, fists tight.',
                'implicit_description': 'My chest is tight.',
                'narrative': f'Person {i} stands with shoulders drawn up and fists tight.',
                'body_parts': ['shoulders', 'fists'], 'emotion': e, 'valence': 3, 'arousal': 7, 'dominance': 4}
            rec = {'id': f"{i:06d}{'mw'[i % 2]}{letters[gold[i]]}_{(0, 45, 90)[i % 3]}.jpg", 'image_sha256': None,
                   'dataset': 'besst', 'condition': 'original', 'model': 'synthetic', 'prompt_id': 'elena-v2',
                   'labels': list(ELENA_LABELS), 'raw': json.dumps(parsed), 'parsed': parsed, 'emotion': e,
                   'parse_issues': [], 'error': {'type': 'timeout', 'message': 'synthetic'} if failed[i] else None,
                   'created_at': '2026-01-01T00:00:00+00:00'}
            f.write(json.dumps(rec) + '\n')

def main(n: int = 100_000):
    tmp = Path(tempfile.mkdtemp())
    a, b = tmp / 'a.jsonl', tmp / 'b.jsonl'
    write_run(a, n, 0)
    write_run(b, n, 1)
    size = a.stat().st_size / 1e6
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"files {size:.0f} MB each")
    for files in ([a], [a, b], [a], [a, b]):  # twice each: the machine is shared, so timings vary
        load = os.getloadavg()[0]
        t, c = time.perf_counter(), time.process_time()
        res = evaluate(files, 'besst')
        dt, dc = time.perf_counter() - t, time.process_time() - c
        r = next(iter(res['runs'].values()))
        print(f"evaluate {len(files)} run(s) x {n:,} records: {dt:.2f} s wall, {dc:.2f} s CPU, "
              f"load average {load:.1f} on {os.cpu_count()} cores  "
              f"(accuracy {r['accuracy']:.3f}, coverage {r['coverage']:.3f})")
    print(format_report(res))

if __name__ == '__main__':
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
