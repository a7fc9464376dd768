"""Local path: batched generation versus one image at a time, in images per second, side by side in one run.

    python bench/bench_local.py                  # tiny-gemma3 and tiny-llama on the CPU, batch sizes 1, 8, 16
    python bench/bench_local.py --full           # Gemma-3-12B and Llama-3.2-11B-Vision geometry, random weights,
                                                 # bf16 on CUDA

Every contender answers the same N images (crops of a public-domain photograph, of varied sizes) with the ELENA prompt,
masked and unmasked in turn so that a batch's prompts differ in length and are padded, through
`elena.local.TransformersBackend.answer`, the code path of a real run. Generation is greedy and exactly `--new-tokens`
long (`min_new_tokens` holds back the end token), so every contender does the same work. After one warm-up batch, the
batch sizes take turns for `--rounds` rounds; the best round of each is reported, and its ratio to batch size 1;
also the least process CPU time per image, which the load of other processes on a shared machine disturbs less.

The models have random weights: their text is noise and is only counted, never shown. `--full` builds the real
classes at the published sizes of google/gemma-3-12b-it and meta-llama/Llama-3.2-11B-Vision-Instruct (about 24 GB and
21 GB in bf16), one after the other, and needs a CUDA GPU with 40 GB or more.
"""
import argparse
import gc
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matplotlib.cbook
from PIL import Image
from elena.backends import Request
from elena.local import TransformersBackend
from elena.prompts import get_prompt
from elena.tiny import build_tiny

# Published sizes (config.json of each repository), in the form of elena.tiny.TINY_SIZES
FULL_SIZES = {
    'tiny-gemma3': {  # google/gemma-3-12b-it
        'text': dict(vocab_size=262208, hidden_size=3840, intermediate_size=15360, num_hidden_layers=48,
                     num_attention_heads=16, num_key_value_heads=8, head_dim=256, query_pre_attn_scalar=256,
                     sliding_window=1024),
        'vision': dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                       image_size=896, patch_size=14),
        'mm_tokens_per_image': 256},
    'tiny-llama': {  # meta-llama/Llama-3.2-11B-Vision-Instruct
        'text': dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=40,
                     num_attention_heads=32, num_key_value_heads=8,
                     cross_attention_layers=[3, 8, 13, 18, 23, 28, 33, 38]),
        'vision': dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_global_layers=8,
                       attention_heads=16, image_size=560, patch_size=14, max_num_tiles=4,
                       intermediate_layers_indices=[3, 7, 15, 23, 30])},
}
NAMES = {'tiny-gemma3': ('Gemma-3-12B geometry', 'tiny Gemma-3'),
         'tiny-llama': ('Llama-3.2-11B-Vision geometry', 'tiny Mllama')}


def make_images(n, folder, seed=0):
    "n JPEG crops of the photograph, of varied size and aspect ratio"
    rng = random.Random(seed)
    photo = Image.open(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)).convert('RGB')
    W, H = photo.size
    out = []
    for i in range(n):
        w, h = rng.randint(W // 2, W), rng.randint(H // 2, H)
        x, y = rng.randint(0, W - w), rng.randint(0, H - h)
        p = Path(folder) / f'crop{i:02d}.jpg'
        photo.crop((x, y, x + w, y + h)).save(p, quality=92)
        out.append(p)
    return out


def time_answer(backend, reqs, new_tokens):
    import torch
    if torch.cuda.is_available(): torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    got = list(backend.answer(reqs))
    if torch.cuda.is_available(): torch.cuda.synchronize()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    bad = [r.id for r, rep in got
           if rep.usage.get('output') != new_tokens or (rep.error or {}).get('type') not in (None, 'MaxTokens')]
    assert not bad, f"replies without exactly {new_tokens} new tokens: {bad}"
    return dt, cpu


def bench(kind, full, images, batch_sizes, new_tokens, rounds):
    import torch
    device = 'cuda' if full else 'cpu'
    t0 = time.perf_counter()
    model, proc = build_tiny(kind, sizes=FULL_SIZES[kind] if full else None, device=device,
                             dtype='bfloat16' if full else 'float32')
    build_s = time.perf_counter() - t0
    n_params = sum(p.numel() for p in model.parameters())
    gen = {'max_new_tokens': new_tokens, 'min_new_tokens': new_tokens}
    reqs = [Request(p.name, p, get_prompt('elena', masked=i % 2 == 1), gen) for i, p in enumerate(images)]
    backends = {b: TransformersBackend(kind, kind, batch_size=b, built=(model, proc)) for b in batch_sizes}
    time_answer(backends[max(batch_sizes)], reqs[:min(2, len(reqs))], new_tokens)  # warm-up
    best, cpu = {b: float('inf') for b in batch_sizes}, {b: float('inf') for b in batch_sizes}
    for _ in range(rounds):
        for b in batch_sizes:
            dt, c = time_answer(backends[b], reqs, new_tokens)
            best[b], cpu[b] = min(best[b], dt), min(cpu[b], c)
    del model, backends
    gc.collect()
    if full: torch.cuda.empty_cache()
    return {'params': n_params, 'build_s': build_s, 'ips': {b: len(reqs) / best[b] for b in batch_sizes},
            'cpu_ms': {b: 1000 * cpu[b] / len(reqs) for b in batch_sizes}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--full', action='store_true', help='full Gemma-3-12B and Llama-3.2-11B geometry in bf16 on CUDA')
    ap.add_argument('--n', type=int, default=16, help='images per contender')
    ap.add_argument('--new-tokens', type=int, default=16, help='tokens generated per image, exactly')
    ap.add_argument('--batch-sizes', default='1,8,16')
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--models', default='tiny-gemma3,tiny-llama')
    ap.add_argument('--threads', type=int, default=None, help="torch's CPU threads (default: torch's choice)")
    a = ap.parse_args(argv)
    import torch
    import transformers
    if a.full and not torch.cuda.is_available(): sys.exit('--full needs a CUDA GPU')
    if a.threads: torch.set_num_threads(a.threads)
    sizes = [int(x) for x in a.batch_sizes.split(',')]
    dev = torch.cuda.get_device_name(0) if a.full else f'CPU, {torch.get_num_threads()} threads'
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {dev}; {a.n} images, "
          f"{a.new_tokens} new tokens each, best of {a.rounds} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        images = make_images(a.n, tmp)
        for kind in a.models.split(','):
            r = bench(kind, a.full, images, sizes, a.new_tokens, a.rounds)
            name = NAMES[kind][0 if a.full else 1]
            print(f"\n{name} ({r['params'] / 1e6:,.1f} M parameters, random weights, built in {r['build_s']:.1f} s)")
            print('| batch size | images/s (best round) | vs batch size 1 | CPU ms per image (least) '
                  '| vs batch size 1 |')
            print('|---|---|---|---|---|')
            for b, ips in r['ips'].items():
                c = r['cpu_ms'][b]
                speed, cpu = ips / r['ips'][sizes[0]], r['cpu_ms'][sizes[0]] / c
                print(f"| {b} | {ips:.2f} | {speed:.1f}× | {c:.0f} | {cpu:.1f}× |")


if __name__ == '__main__':
    main()
