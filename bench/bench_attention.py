"""Attention capture (issue 7): peak memory of forward hooks that keep head-fused query rows versus `output_attentions=True`,
side by side in one run, on the same model, image and prompt.

    python bench/bench_attention.py            # CPU: tiny-gemma3 and tiny-llama at an attention-heavy geometry (random weights)
    python bench/bench_attention.py --full     # CUDA: Gemma-3-12B and Llama-3.2-11B-Vision geometry, random bf16 weights

Each contender runs in its own fresh process: build the model, process Grace Hopper's portrait with the ELENA prompt, then
reset the peak and run one forward pass without cache, either through `elena.attention_maps.capture` (sdpa for the
outputs, softmax weights only for the 'emotion' rows over the image keys, fused over heads in a forward hook at once) or
eager with `output_attentions=True` (every layer's full weights returned; the same rows are then taken from them, so both
end with the same maps). Reported: the peak over that pass above the memory held before it (CPU: the kernel's peak RSS, VmHWM, reset
through /proc/self/clear_refs; CUDA: torch's peak allocated). The weights are random: only memory is measured.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / 'bench'))

# CPU: the real models' layer, head and image layout with narrow hidden sizes, so that the weights are small and attention shows
CPU_SIZES = {
    # Gemma-3-12B's layer and head layout (48 layers, 5 sliding-window layers to 1 global, 16 heads, 8 KV heads, window 1024) and
    # image geometry (896 px, 14 px patches, 256 soft tokens), narrow everywhere else
    'tiny-gemma3': {'text': dict(hidden_size=128, intermediate_size=256, num_hidden_layers=48, num_attention_heads=16, num_key_value_heads=8,
                                 head_dim=16, query_pre_attn_scalar=16, sliding_window=1024,
                                 layer_types=(['sliding_attention'] * 5 + ['full_attention']) * 8),
                    'vision': dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=896, patch_size=14),
                    'mm_tokens_per_image': 256},
    # Llama-3.2-11B-Vision's layer and head layout (40 layers, 32 heads, 8 KV heads, cross-attention at 3, 8, ..., 38) and tile
    # geometry (560 px tiles, 14 px patches, up to 4 tiles), narrow everywhere else
    'tiny-llama': {'text': dict(hidden_size=128, intermediate_size=256, num_hidden_layers=40, num_attention_heads=32, num_key_value_heads=8,
                                cross_attention_layers=[3, 8, 13, 18, 23, 28, 33, 38]),
                   'vision': dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_global_layers=1, attention_heads=2,
                                  image_size=560, patch_size=14, max_num_tiles=4, intermediate_layers_indices=[0])},
}
NAMES = {'tiny-gemma3': 'Gemma-3', 'tiny-llama': 'Mllama'}

def _rss(field):
    for line in open('/proc/self/status'):
        if line.startswith(field): return int(line.split()[1]) * 1024
    raise RuntimeError(field)

def child(kind, mode, full):
    import torch
    import matplotlib.cbook
    from elena.attention_maps import attention_implementation, attention_layers, capture, query_positions
    from elena.local import load_image, prompt_text
    from elena.prompts import get_prompt
    from elena.tiny import build_tiny
    cuda = full
    if full: from bench_local import FULL_SIZES; sizes = FULL_SIZES[kind]
    else: sizes = CPU_SIZES[kind]
    model, proc = build_tiny(kind, sizes=sizes, device='cuda' if cuda else 'cpu', dtype='bfloat16' if cuda else 'float32')
    img = load_image(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    inputs = proc(text=[prompt_text(proc, get_prompt())], images=[[img]], return_tensors='pt')
    inputs = inputs.to(model.device, dtype=model.dtype)
    ids, cfg = inputs['input_ids'][0].tolist(), model.config
    image = [i for i, t in enumerate(ids) if t == cfg.image_token_id]
    rows = query_positions(proc.tokenizer, ids, 'emotion', image[-1] + 1, len(ids))
    cols = None if getattr(cfg.get_text_config(), 'cross_attention_layers', None) else image
    if cuda: torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    else:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')  # reset VmHWM to the current RSS
        base = _rss('VmRSS:')
    if mode == 'hooks': got = capture(model, inputs, rows, cols)
    else:
        with attention_implementation(model, 'eager'), torch.inference_mode(): out = model(**inputs, use_cache=False, output_attentions=True)
        got = {i: w[0][:, rows].float().mean(0) for i, w in enumerate(out.attentions) if w is not None}  # the same rows, from every layer
    peak = (torch.cuda.max_memory_allocated() if cuda else _rss('VmHWM:')) - base
    print(json.dumps({'kind': kind, 'mode': mode, 'tokens': len(ids), 'layers': len(attention_layers(model)), 'kept_layers': len(got), 'peak_mib': peak / 2**20}))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--full', action='store_true', help="Gemma-3-12B / Llama-3.2-11B geometry on CUDA")
    ap.add_argument('--kinds', default='tiny-gemma3,tiny-llama')
    ap.add_argument('--child', nargs=2, metavar=('KIND', 'MODE'), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child: return child(*a.child, a.full)
    print('| model | geometry | tokens | layers captured | hooks peak MiB | output_attentions peak MiB | ratio |\n|---|---|---|---|---|---|---|')
    for kind in a.kinds.split(','):
        res = {}
        for mode in ('hooks', 'output_attentions'):
            r = subprocess.run([sys.executable, __file__, '--child', kind, mode] + (['--full'] if a.full else []), capture_output=True, text=True)
            if r.returncode: sys.exit(f"{kind} {mode} failed:\n{r.stderr[-3000:]}")
            res[mode] = json.loads(r.stdout.strip().splitlines()[-1])
        h, o = res['hooks'], res['output_attentions']
        print(f"| {NAMES[kind]} | {'full, CUDA bf16' if a.full else 'CPU fp32'} | {h['tokens']} | {h['layers']} | {h['peak_mib']:.1f} | {o['peak_mib']:.1f} | {o['peak_mib'] / h['peak_mib']:.1f}× |", flush=True)

if __name__ == '__main__':
    main()
