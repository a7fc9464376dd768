"""Attention capture: peak memory of forward hooks that keep head-fused query rows versus `output_attentions=True`,
side by side in one run, on the same model, image and prompt.

    python bench/bench_attention.py            # CPU: tiny-gemma3 and tiny-llama at an attention-heavy geometry (random weights)
    python bench/bench_attention.py --full     # CUDA: Gemma-3-12B and Llama-3.2-11B-Vision geometry, random bf16 weights
    python bench/bench_attention.py --method rollout          # CPU: Mllama rollout through the vision encoder, three ways
    python bench/bench_attention.py --method rollout --full   # CUDA: the same at Llama-3.2-11B-Vision's full sizes

Each contender runs in its own fresh process: build the model, process Grace Hopper's portrait with the ELENA prompt, then
reset the peak and run one forward pass without cache, either through `elena.attention_capture.capture` (sdpa for the
outputs, softmax weights only for the 'emotion' rows over the image keys, fused over heads in a forward hook at once) or
eager with `output_attentions=True` (every layer's full weights returned; the same rows are then taken from them, so both
end with the same maps). Reported: the peak over that pass above the memory held before it (CPU: the kernel's peak RSS, VmHWM, reset
through /proc/self/clear_refs; CUDA: torch's peak allocated). The weights are random: only memory is measured.

With --method rollout (Mllama only), the pass also carries the 'emotion' rows back through the vision encoder, three ways,
each ending with the same map (checked: the parent compares the children's rows):
- carry-back: `elena.attention_capture.vision_rollout`: hooks keep each vision layer's queries and keys; after the pass the text rows
  are carried back layer by layer, each layer's matrix built a block of rows at a time, never whole;
- forward: hooks accumulate C <- A~ C layer by layer during the pass (each layer's fused matrix built block-wise, then one full
  layer matrix, the running product and the tap sum held), then the text rows times C;
- output_attentions: eager attention, every vision layer's full (heads x tokens x tokens) weights kept (as output_attentions keeps
  them), fused and composed after the pass.
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
# rollout on CPU: Llama-3.2-11B-Vision's encoder geometry (560 px tiles, 14 px patches, 4 tiles: 4 x 1608 = 6432 tokens) with narrow
# widths and 2 local + 1 global layers (a forward step costs a 6432^3 product, 13 s here); the text side as above
ROLLOUT_CPU = {'text': CPU_SIZES['tiny-llama']['text'],
               'vision': dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_global_layers=1, attention_heads=2,
                              image_size=560, patch_size=14, max_num_tiles=4, intermediate_layers_indices=[0])}
ROLLOUT_MODES = ('carry-back', 'forward', 'output_attentions')

def forward_rollout(model, inputs, rows, residual=0.5, block=256):
    "The alternative: C <- A~ C accumulated inside the hooks during the pass, then the text rows times C (mean over the parts)"
    import torch
    from elena.attention import fuse_heads, mllama_encoder_layout
    from elena.attention_capture import capture, vision_layers
    lay, mods = mllama_encoder_layout(model.config.vision_config), vision_layers(model)
    st, hs = {'C': None, 'S': None}, []
    def layer(j, m):
        def on_q(_m, a, o): st['q'] = o
        def on_mask(_m, a, kw): st['mask'] = kw.get('attention_mask')
        def on_k(_m, a, o):
            heads = lambda t: t[0].view(t.shape[1], m.num_heads, m.head_dim).transpose(0, 1).float()
            q, k, mask, n = heads(st.pop('q')), heads(o), st['mask'][0, 0], o.shape[1]
            A = torch.empty(n, n, device=o.device)
            for s in range(0, n, block):
                e = min(s + block, n)
                a_ = fuse_heads(((q[:, s:e] @ k.transpose(1, 2)) * m.scaling + mask[s:e].float()).softmax(-1), 'mean', 0) * (1 - residual)
                a_[torch.arange(e - s), torch.arange(s, e)] += residual
                A[s:e] = a_ / a_.sum(-1, keepdim=True)
            st['C'] = A if st['C'] is None else A @ st['C']
            del A
            taps = lay['taps'].count(j) if j < lay['local'] else 0
            if j == len(mods) - 1: taps += 1
            if taps: st['S'] = st['C'] * taps if st['S'] is None else st['S'] + st['C'] * taps
        return [m.q_proj.register_forward_hook(on_q), m.k_proj.register_forward_hook(on_k), m.register_forward_pre_hook(on_mask, with_kwargs=True)]
    for j, m in enumerate(mods): hs += layer(j, m)
    try: got = capture(model, inputs, rows)
    finally:
        for h in hs: h.remove()
    return _compose(got, st['S'] / (1 + len(lay['taps'])), lay)

def _compose(got, C, lay):
    import torch
    T, n, p = lay['tiles'], lay['tokens'], lay['padded']
    R = torch.zeros(len(got), T, p); R[:, :, :n] = torch.stack([got[i].float().mean(0) for i in sorted(got)]).view(len(got), T, n)
    v = (R.view(len(got), T * p).to(C.device) @ C).view(len(got), T, p)[:, :, :n]
    return {i: v[j].reshape(-1).double().cpu().numpy() for j, i in enumerate(sorted(got))}

def stored_rollout(model, inputs, rows):
    "The memory-heavy way: eager attention, every vision layer's full weights kept, fused and composed afterwards"
    import torch
    from elena.attention import fuse_heads, mllama_encoder_layout
    from elena.attention_capture import attention_implementation, vision_layers
    lay, mods, kept = mllama_encoder_layout(model.config.vision_config), vision_layers(model), []
    hs = [m.register_forward_hook(lambda _m, a, o: kept.append(o[1])) for m in mods]
    try:
        with attention_implementation(model, 'eager'), torch.inference_mode(): out = model(**inputs, use_cache=False, output_attentions=True)
    finally:
        for h in hs: h.remove()
    cross = set(model.config.get_text_config().cross_attention_layers)
    got = {i: w[0][:, rows].float().mean(0) for i, w in enumerate(out.attentions) if i in cross}  # the text rows, as `capture` gives them
    C, S = None, 0
    for j, w in enumerate(kept):
        A = fuse_heads(w[0].float(), 'mean', 0); A = 0.5 * A + 0.5 * torch.eye(len(A), device=A.device); A = A / A.sum(-1, keepdim=True)
        C = A if C is None else A @ C
        S = S + C * ((lay['taps'].count(j) if j < lay['local'] else 0) + (j == len(kept) - 1))
    return _compose(got, S / (1 + len(lay['taps'])), lay)

def _rss(field):
    for line in open('/proc/self/status'):
        if line.startswith(field): return int(line.split()[1]) * 1024
    raise RuntimeError(field)

def child(kind, mode, full, method='raw'):
    import torch
    import matplotlib.cbook
    from elena.attention_capture import attention_implementation, attention_layers, capture, query_positions
    from elena.local import load_image, model_inputs, prompt_text
    from elena.prompts import get_prompt
    from elena.tiny import build_tiny
    cuda = full
    if full: from bench_local import FULL_SIZES; sizes = FULL_SIZES[kind]
    else: sizes = CPU_SIZES[kind]
    if method == 'rollout' and not full: sizes = ROLLOUT_CPU
    model, proc = build_tiny(kind, sizes=sizes, device='cuda' if cuda else 'cpu', dtype='bfloat16' if cuda else 'float32')
    img = load_image(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    inputs = model_inputs(proc, [prompt_text(proc, get_prompt())], [[img]], return_tensors='pt')
    inputs = inputs.to(model.device, dtype=model.dtype)
    ids, cfg = inputs['input_ids'][0].tolist(), model.config
    image = [i for i, t in enumerate(ids) if t == cfg.image_token_id]
    rows = query_positions(proc.tokenizer, ids, 'emotion', image[-1] + 1, len(ids))
    cols = None if getattr(cfg.get_text_config(), 'cross_attention_layers', None) else image
    if cuda: torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    else:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')  # reset VmHWM to the current RSS
        base = _rss('VmRSS:')
    if mode == 'carry-back':
        from elena.attention_capture import vision_rollout
        got = vision_rollout(model, inputs, rows)
    elif mode == 'forward': got = forward_rollout(model, inputs, rows)
    elif mode == 'output_attentions' and method == 'rollout': got = stored_rollout(model, inputs, rows)
    elif mode == 'hooks': got = capture(model, inputs, rows, cols)
    else:
        with attention_implementation(model, 'eager'), torch.inference_mode(): out = model(**inputs, use_cache=False, output_attentions=True)
        got = {i: w[0][:, rows].float().mean(0) for i, w in enumerate(out.attentions) if w is not None}  # the same rows, from every layer
    peak = (torch.cuda.max_memory_allocated() if cuda else _rss('VmHWM:')) - base
    rec = {'kind': kind, 'mode': mode, 'tokens': len(ids), 'layers': len(attention_layers(model)), 'kept_layers': len(got), 'peak_mib': peak / 2**20}
    if method == 'rollout':
        from elena.attention import mllama_encoder_layout
        from elena.attention_capture import vision_layers
        lay = mllama_encoder_layout(cfg.vision_config)
        rec.update(encoder_tokens=lay['tiles'] * lay['padded'], vision_layers=len(vision_layers(model)), rows={str(i): got[i].tolist() for i in got})
    print(json.dumps(rec))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--full', action='store_true', help="Gemma-3-12B / Llama-3.2-11B geometry on CUDA")
    ap.add_argument('--kinds', default='tiny-gemma3,tiny-llama')
    ap.add_argument('--method', choices=('raw', 'rollout'), default='raw', help="raw maps (both models) or rollout through Mllama's vision encoder")
    ap.add_argument('--child', nargs=2, metavar=('KIND', 'MODE'), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child: return child(*a.child, a.full, a.method)
    if a.method == 'rollout': return main_rollout(a)
    print('| model | geometry | tokens | layers captured | hooks peak MiB | output_attentions peak MiB | ratio |\n|---|---|---|---|---|---|---|')
    for kind in a.kinds.split(','):
        res = {}
        for mode in ('hooks', 'output_attentions'):
            r = subprocess.run([sys.executable, __file__, '--child', kind, mode] + (['--full'] if a.full else []), capture_output=True, text=True)
            if r.returncode: sys.exit(f"{kind} {mode} failed:\n{r.stderr[-3000:]}")
            res[mode] = json.loads(r.stdout.strip().splitlines()[-1])
        h, o = res['hooks'], res['output_attentions']
        print(f"| {NAMES[kind]} | {'full, CUDA bf16' if a.full else 'CPU fp32'} | {h['tokens']} | {h['layers']} | {h['peak_mib']:.1f} | {o['peak_mib']:.1f} | {o['peak_mib'] / h['peak_mib']:.1f}× |", flush=True)

def main_rollout(a):
    import numpy as np
    res = {}
    for mode in ROLLOUT_MODES:
        r = subprocess.run([sys.executable, __file__, '--method', 'rollout', '--child', 'tiny-llama', mode] + (['--full'] if a.full else []), capture_output=True, text=True)
        if r.returncode: sys.exit(f"rollout {mode} failed:\n{r.stderr[-3000:]}")
        res[mode] = json.loads(r.stdout.strip().splitlines()[-1])
    ref = res['carry-back']
    for mode in ROLLOUT_MODES[1:]:  # the same map every way
        for i, row in ref['rows'].items(): np.testing.assert_allclose(res[mode]['rows'][i], row, atol=1e-5)
    print(f"Mllama rollout, {'full, CUDA bf16' if a.full else 'CPU fp32'}: {ref['tokens']} text tokens, {ref['encoder_tokens']} encoder tokens, "
          f"{ref['vision_layers']} vision layers, {ref['layers']} cross-attention layers; rows agree to 1e-5\n")
    print('| way | peak MiB | ratio to carry-back |\n|---|---|---|')
    for mode in ROLLOUT_MODES: print(f"| {mode} | {res[mode]['peak_mib']:.1f} | {res[mode]['peak_mib'] / ref['peak_mib']:.1f}× |", flush=True)

if __name__ == '__main__':
    main()
