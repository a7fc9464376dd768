"""A study-scale benchmark of the results side: `elena figures`, `elena status` and `elena evaluate`, cold and warm,
over synthetic response stores of 6, 24 and 72 runs (EMOTIC/HECO/BESST sizes), printing the cost per record.

A study is models x datasets x conditions x prompts: 6 runs = 1 model x 3 datasets x 2 conditions x 1 prompt, 24 runs =
2 x 3 x 2 x 2, 72 runs = 4 x 3 x 2 x 3. Each run holds every item of its dataset: EMOTIC 23,571 images, HECO 9,385,
BESST 1,000 (72 runs: ~818k records). The datasets are written in their distributed layouts (HECO_Labels.csv; EMOTIC's
per-split CSV export, mat2py's emotic_pre/; BESST's gold in its file names) without image files (`images=False` reads
gold alone). The records are the ones `elena run` writes: each is built by `elena.run.reply_record` (elena's own record
builder, `parse_response` included) from a `Request` and a canned `Reply` (text of the ELENA answer schema, usage,
latency), for a pool of 64 replies per run; then id, image sha256 and created_at are set per item, and 2 % are errors.
No model wrote these answers: they serve to time the readers, never as results.

"before" (with --before DIR): the same command run with the code in DIR (e.g. the commit before the run cache), for
`figures` cold and again ("before warm");
"cold": no run cache beside the runs (the first call after `elena run`: every file is parsed, the caches written);
"warm": the second call, when the caches are there and current; for `figures` twice: "warm --force" (every notebook
executed again, the caches current) and "warm unchanged" (nothing changed: every notebook up to date, none executed);
"no cache" (`ELENA_RUNCACHE=off`, skipped with --skip nocache) draws them reading every response file itself, and the
made files of every case are compared byte for byte. `status` is timed without and with --data-dirs
(`status-dirs`: the datasets' items are loaded to count what is still to ask). Wall and CPU seconds are printed: on a
shared machine the CPU seconds (of the command and every process it waited for) are the steadier measure.
Usage: python bench/bench_study.py [--sizes 6 24 72] [--scale 1.0] [--skip figures] [--dir DIR]
With --dir the store is kept and reused by a later sitting (--scale 0.1 writes a tenth of each dataset: a quick look
at the growth on a slow or shared machine)."""
import argparse
import hashlib
import itertools
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from elena.backends import Backend, Reply, Request
from elena.prompts import ELENA_LABELS, get_prompt
from elena.labelmaps import BESST_LETTERS, HECO_TO_ELENA, EMOTIC_TO_ELENA
from elena.run import reply_record
from elena.store import store_path

SIZES = {'emotic': 23_571, 'heco': 9_385, 'besst': 1_000}
MODELS = ('gemini-2.5-flash', 'gemma3-12b', 'llama11b', 'llama90b')
STUDIES = {6: (1, 1), 24: (2, 2), 72: (4, 3)}  # runs -> (models, prompts); x 3 datasets x 2 conditions
ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
PARTS = ['shoulders', 'hands', 'face', 'chest', 'arms', 'head', 'legs', 'back', 'fists', 'jaw', 'eyes', 'mouth']

class _Synthetic(Backend):
    "A backend that never answers: only its record fields (kind, revision, what was sent) are used"
    backend = 'synthetic'

def item_ids(dataset:str, n:int) -> list[str]:
    "Ids as the loaders write them: BESST file names carrying the gold letter, EMOTIC folder/file, HECO file names"
    if dataset == 'besst':
        letters = list(BESST_LETTERS)
        return [f"{i:04d}{'mw'[i % 2]}{letters[i % len(letters)]}_{(0, 45, 90)[i % 3]}.jpg" for i in range(n)]
    if dataset == 'emotic':
        return [f"{('mscoco/images', 'framesdb/images', 'emodb_small/images')[i % 3]}/img_{i:06d}.jpg" for i in range(n)]
    return [f"heco_{i:05d}.jpg" for i in range(n)]

def write_datasets(root:Path, scale:float) -> dict:
    "HECO and EMOTIC gold in their distributed layouts (no images); the data_dirs string for them"
    n = {k: max(10, int(v * scale)) for k, v in SIZES.items()}
    heco, emotic = root/'HECO', root/'EMOTIC'
    (heco/'Data').mkdir(parents=True, exist_ok=True)
    cats = [c for c in HECO_TO_ELENA]
    rows = [f"{i},10,10,100,200,{cats[k % len(cats)].title()},{1 + k % 9},{1 + k * 3 % 9},{1 + k * 7 % 9},1,1"
            for k, i in enumerate(item_ids('heco', n['heco']))]
    (heco/'HECO_Labels.csv').write_text("Image,xmin,ymin,xmax,ymax,Category,Valence,Arousal,Dominance,Label_SA,Label_CA\n"
                                        + '\n'.join(rows) + '\n')
    (emotic/'emotic_pre').mkdir(parents=True, exist_ok=True)
    (emotic/'emotic').mkdir(exist_ok=True)
    ecats = [c for c, v in EMOTIC_TO_ELENA.items() if v]
    rows = [f'{k},{i.rsplit("/", 1)[0]},{i.rsplit("/", 1)[1]},"[100, 100]","[1, 2, 30, 40]","{[ecats[k % len(ecats)].title()]!r}",'
            f'"[{1 + k % 9}, {1 + k * 3 % 9}, {1 + k * 7 % 9}]",Male,Adult' for k, i in enumerate(item_ids('emotic', n['emotic']))]
    (emotic/'emotic_pre'/'train.csv').write_text(
        "Index,Folder,Filename,Image Size,BBox,Categorical_Labels,Continuous_Labels,Gender,Age\n" + '\n'.join(rows) + '\n')
    return n | {'data_dirs': f"heco={heco},emotic={emotic}"}

def _reply(rng:random.Random) -> Reply:
    "A canned reply in the ELENA answer schema (about the length of real ones)"
    e, parts = rng.choice(ELENA_LABELS), rng.sample(PARTS, rng.randint(1, 5))
    text = json.dumps({'explicit_description': f"The person's {' and '.join(parts)} are {rng.choice(['tense', 'loose', 'raised', 'drawn in'])}; " * 3,
                       'implicit_description': f"I feel a {rng.choice(['tightness', 'warmth', 'heaviness'])} in my {parts[0]}. " * 3,
                       'narrative': f"Standing with {', '.join(parts)} {rng.choice(['held stiffly', 'relaxed', 'trembling'])}, "
                                    f"the person seems to feel {e}; the {parts[-1]} tell the story. " * 3,
                       'body_parts': parts, 'emotion': e, 'valence': rng.randint(1, 9), 'arousal': rng.randint(1, 9),
                       'dominance': rng.randint(1, 9)})
    return Reply(text=text, finish_reason='stop', usage={'input': 1830, 'output': len(text) // 4},
                 latency_s=round(rng.uniform(1, 4), 3))

def write_run(path:Path, model:str, dataset:str, condition:str, prompt:str, n:int, seed:int) -> int:
    "One run's JSONL, every item of the dataset once; returns its size in bytes"
    rng, p = random.Random(seed), get_prompt(prompt)
    be = _Synthetic(model, model, revision='synthetic')
    gen = {'temperature': 0.0, 'max_new_tokens': 512}
    base = dict(dataset=dataset, condition=condition, model=model, backend=be.backend, prompt_id=p.id,
                prompt_sha256=p.sha256, labels=list(ELENA_LABELS), gen=gen, random_weights=False)
    pool = [reply_record(Request('x', Path('x.jpg'), p, gen), _reply(rng), ELENA_LABELS, be, base)[0] for _ in range(64)]
    err = reply_record(Request('x', Path('x.jpg'), p, gen), Reply(error={'type': 'ServerError', 'message': '503'}),
                       ELENA_LABELS, be, base)[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        for k, i in enumerate(item_ids(dataset, n)):
            iid = ('masked_' if condition == 'masked' and dataset == 'besst' else '') + i
            rec = dict(err if rng.random() < 0.02 else rng.choice(pool), id=iid,
                       image_sha256=hashlib.sha256(iid.encode()).hexdigest(),
                       created_at=f"2026-11-{1 + k // 86400 % 28:02d}T{k // 3600 % 24:02d}:{k // 60 % 60:02d}:{k % 60:02d}.000+00:00")
            f.write(json.dumps(rec, ensure_ascii=False) + '\n')
    return path.stat().st_size

def write_study(root:Path, runs:int, sizes:dict) -> tuple[int, int]:
    "The response store of a study of `runs` runs; (records, bytes)"
    n_models, n_prompts = STUDIES[runs]
    recs = size = 0
    for s, (m, p, c, d) in enumerate(itertools.product(MODELS[:n_models], ('elena', 'naive', 'stepwise')[:n_prompts],
                                                       ('original', 'masked'), ('emotic', 'heco', 'besst'))):
        size += write_run(store_path(root, m, d, c, p), m, d, c, p, sizes[d], s)
        recs += sizes[d]
    return recs, size

_PROBE = """
import resource, subprocess, sys, threading, time
import psutil
t, peak = time.perf_counter(), [0]
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
def watch():  # the whole tree's resident memory, every 0.2 s: several notebooks' kernels may run at once
    while p.poll() is None:
        try:
            procs = [psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)]
            total = 0
            for q in procs:
                try: total += q.memory_info().rss
                except psutil.Error: pass
            peak[0] = max(peak[0], total)
        except psutil.Error:
            pass
        time.sleep(0.2)
w = threading.Thread(target=watch, daemon=True)
w.start()
out, err = p.communicate()
w.join()
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.perf_counter() - t, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024, peak[0] / 2**20)
print(out[-3000:] + err[-3000:]); sys.exit(p.returncode)
"""

def timed(argv:list[str], env:dict|None=None) -> tuple[float, float, float, float, str]:
    "Wall and CPU seconds, peak memory (MiB: largest process; whole tree, sampled every 0.2 s) of a command; its output"
    r = subprocess.run([sys.executable, '-c', _PROBE, *argv], capture_output=True, text=True, env=env)
    head, _, out = r.stdout.partition('\n')
    if r.returncode:
        print(f"  (exit {r.returncode}: {' '.join(argv[:2])}) {out[-1500:]} {r.stderr[-1500:]}")
    dt, cpu, mem, tree = map(float, head.split())
    return dt, cpu, mem, tree, out

def drop_caches(root:Path):
    "Remove every run cache and kept evaluation under `root` (the cold case)"
    for p in [*root.rglob('.*.runcache'), *root.rglob('.*.jsonl.eval-*')]:
        p.unlink()

def digest(folder:Path) -> dict:
    "sha256 of every file under `folder`, by relative path"
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file()}

def same_files(a:dict, b:dict) -> str:
    "Whether two `digest`s hold the same files, byte for byte"
    if sorted(a) != sorted(b):
        return f"DIFFERENT file lists ({len(a)} vs {len(b)})"
    diff = [f for f in a if a[f] != b[f]]
    return f"{len(a)} files, " + (f"{len(diff)} differ: {diff[:5]}" if diff else "all byte-identical")

def write_once(resp:Path, runs:int, sizes:dict) -> tuple[int, int, str]:
    "The study's store, written unless `resp` holds it already from an earlier sitting (--dir): records, bytes, how"
    mark = resp/'.study.json'
    want = dict(runs=runs, sizes={k: v for k, v in sizes.items() if k != 'data_dirs'})
    if mark.is_file() and json.loads(mark.read_text()).get('want') == want:
        got = json.loads(mark.read_text())
        return got['records'], got['bytes'], 'kept from an earlier sitting'
    shutil.rmtree(resp, ignore_errors=True)
    t = time.perf_counter()
    n, size = write_study(resp, runs, sizes)
    mark.write_text(json.dumps(dict(want=want, records=n, bytes=size)))
    return n, size, f"written in {time.perf_counter() - t:.0f} s"

def report(what:str, when:str, got:tuple, per:int, load:float):
    "One line: wall, CPU, peak memory (largest process; whole tree) and the cost per record"
    dt, cpu, mem, tree, _ = got
    print(f"  {what:11s} {when:13s}: {dt:7.1f} s wall, {cpu:7.1f} s CPU, peak {mem:6.0f} MiB (tree {tree:6.0f} MiB); "
          f"per record {dt / per * 1e6:7.1f} µs wall, {cpu / per * 1e6:7.1f} µs CPU ({per:,} records; load average "
          f"{load:.1f})", flush=True)

def append_to_one_run(resp:Path, n:int=100) -> tuple[Path, int]:
    "As a resumed run does: `n` items of the first EMOTIC run answered again, later, with another emotion; path, old size"
    run = store_path(resp, MODELS[0], 'emotic', 'original', 'elena')
    size = run.stat().st_size
    with open(run, 'rb') as f:
        f.seek(max(0, size - 400_000))
        recs = [json.loads(l) for l in f.read().split(b'\n')[1:-1][-n:]]
    with open(run, 'a') as f:
        for r in recs:
            other = next(e for e in ELENA_LABELS if e != r.get('emotion'))
            r.update(created_at='2099-01-01T00:00:00+00:00', emotion=other, error=None)
            if isinstance(r.get('parsed'), dict): r['parsed']['emotion'] = other
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
    return run, size

def figures_cases(argv, resp:Path, work:Path, runs:int, n:int, env_before:dict|None, skip:list):
    """`elena figures` before (optional), cold, warm redrawn (--force), warm with nothing changed, warm after records
    were appended to one run (and that state redrawn whole with --force, to compare); no cache (optional)"""
    figs = lambda w: work/f'figures-{runs}-{w}'
    for w in ('before', 'cold', 'nocache'):
        shutil.rmtree(figs(w), ignore_errors=True)
        shutil.rmtree(work/f'nbs-{runs}-{w}', ignore_errors=True)
    cases = [('before', 'before', [], env_before), ('before warm', 'before', [], env_before)] if env_before else []
    cases += [('cold', 'cold', [], None), ('warm --force', 'cold', ['--force'], None), ('warm unchanged', 'cold', [], None),
              ('one run grown', 'cold', [], None), ('grown --force', 'cold', ['--force'], None)]
    if 'nocache' not in skip:
        cases.append(('no cache', 'nocache', [], dict(os.environ, ELENA_RUNCACHE='off')))
    made, grown = {}, None
    for when, folder, extra, env in cases:
        if when in ('before', 'cold'):  # no run cache beside any run (the code before may keep another format)
            drop_caches(resp)
        if when == 'one run grown':
            grown = append_to_one_run(resp)
        if when == 'no cache' and grown:  # the store as it was
            os.truncate(*grown)
        load = os.getloadavg()[0]
        got = timed(argv(folder) + extra, env)
        report('figures', when, got, n, load)
        ran = sum(': ok,' in l for l in got[4].splitlines())
        kept = sum(': up to date,' in l for l in got[4].splitlines())
        print(f"  {'':11s} {'':13s}  notebooks executed {ran}, up to date {kept}", flush=True)
        made[when] = digest(figs(folder))
    if grown and 'nocache' in skip:
        os.truncate(*grown)
    for a, b in itertools.combinations(made, 2):
        if ('grown' in a) == ('grown' in b):  # the same store: the same files
            print(f"  figures {a} vs {b}: {same_files(made[a], made[b])}")
    if 'warm unchanged' in made and 'one run grown' in made:
        changed = [f for f in made['one run grown'] if made['one run grown'][f] != made['warm unchanged'].get(f)]
        print(f"  one run grown: {len(changed)} of {len(made['one run grown'])} files changed: {changed[:8]}")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', type=int, nargs='+', default=[6, 24, 72], choices=sorted(STUDIES))
    ap.add_argument('--scale', type=float, default=1.0, help="share of each dataset's size (1: full size)")
    ap.add_argument('--skip', nargs='*', default=[], choices=['figures', 'status', 'status-dirs', 'evaluate', 'nocache'])
    ap.add_argument('--before', help="a checkout of the code to compare with (e.g. `git worktree add /tmp/before "
                                     "COMMIT`): its commands run first, side by side")
    ap.add_argument('--dir', help="work folder (default: a new temporary folder, removed at the end)")
    a = ap.parse_args()
    work = Path(a.dir or tempfile.mkdtemp(prefix='elena-study-'))
    ref = Path(__file__).resolve().parents[2]/'shared'/'reference'/'elena_besst_gemini.json'  # the same for every run
    if ref.is_file():
        os.environ.setdefault('ELENA_REFERENCE', str(ref))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}; scale {a.scale}")
    sizes = write_datasets(work/'data', a.scale)
    env_before = dict(os.environ, PYTHONPATH=str(Path(a.before).resolve())) if a.before else None
    for runs in a.sizes:
        resp = work/f'responses-{runs}'
        n, size, how = write_once(resp, runs, sizes)
        print(f"\n{runs} runs: {n:,} records, {size / 1e6:.0f} MB, {how}", flush=True)
        cmds = {'status': lambda w: [ELENA, 'status', str(resp)],
                'status-dirs': lambda w: [ELENA, 'status', str(resp), '--data-dirs', sizes['data_dirs']],
                'evaluate': lambda w: [ELENA, 'evaluate', str(store_path(resp, MODELS[0], 'emotic', 'original', 'elena')),
                                       '--dataset', 'emotic', '--data-dir', str(work/'data'/'EMOTIC'),
                                       '--out', str(work/f'ev-{w}')],
                'figures': lambda w: [ELENA, 'figures', '--responses', str(resp), '--figures', str(work/f'figures-{runs}-{w}'),
                                      '--out', str(work/f'nbs-{runs}-{w}'), '--data-dirs', sizes['data_dirs']]}
        for what, argv in cmds.items():
            if what in a.skip: continue
            if what == 'figures':
                figures_cases(argv, resp, work, runs, n, env_before, a.skip)
                continue
            drop_caches(resp)
            for when in (['before'] if a.before else []) + ['cold', 'warm']:
                load = os.getloadavg()[0]
                got = timed(argv(when), env_before if when == 'before' else None)
                report(what, when, got, n if what != 'evaluate' else sizes['emotic'], load)
    if not a.dir:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__':
    main()
