"""`vision_rollout` on a Mllama vision encoder whose attention is planted (moved here from 18a_attention_capture).

Each vision attention module's `q_proj` and `k_proj` are replaced by modules that return fixed queries and keys, chosen
so that every query puts all its weight (up to e⁻⁶⁰) on one planted key. In the local layers every token of tile t
attends to one patch of its tile (tokens of padding tiles to tile 1's), in the global layers every token attends to one
patch of tile 3. Then each Ã moves half of a token's mass to its target, so the map follows by hand: carried back through
a layer, a weight vector becomes half itself plus, at each target, half of the weights of the tokens that point at it.
`expected` does exactly that, with no scores, softmax, mask or blocks. The tiny models' other weights stay random."""
import os
from pathlib import Path
import matplotlib.cbook
import numpy as np
import pytest
import torch
from elena.attention import mllama_encoder_layout, mllama_geometry, mllama_keys_to_grid
from elena.attention_capture import attention_implementation, capture, query_positions, vision_layers, vision_rollout
from elena.local import load_image, model_inputs, prompt_text
from elena.prompts import get_prompt
from elena.tiny import TINY_SIZES, build_tiny

HOPPER = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
SLOW = 'slow' in os.environ.get('ELENA_TEST_FLAGS', '').split()

class Planted(torch.nn.Module):
    "A projection that returns fixed (1, tokens, width) outputs, whatever its input"
    def __init__(self, fixed):
        super().__init__()
        self.register_buffer('fixed', fixed)
    def forward(self, x): return self.fixed.expand(x.shape[0], -1, -1)

def plant(model, local_target, global_target, sharp=60.0):
    "Set every vision layer's attention: token i attends to local_target[i] (local layers) or global_target (global)"
    lay, mods = mllama_encoder_layout(model.config.vision_config), vision_layers(model)
    tokens, heads, dim = lay['tiles'] * lay['padded'], mods[0].num_heads, mods[0].head_dim
    tgt = torch.as_tensor(local_target)
    code = torch.unique(tgt, return_inverse=True)[1]  # one key direction per target
    assert dim > int(code.max()), "head_dim too small for the planted targets"
    for j, m in enumerate(mods):
        q, k = torch.zeros(1, tokens, heads, dim), torch.zeros(1, tokens, heads, dim)
        if j < lay['local']:
            q[0, torch.arange(tokens), :, code] = sharp / m.scaling
            k[0, tgt, :, code] = 1
        else:
            q[0, :, :, 0] = sharp / m.scaling
            k[0, global_target, :, 0] = 1
        m.q_proj, m.k_proj = Planted(q.view(1, tokens, heads * dim)), Planted(k.view(1, tokens, heads * dim))

def expected(row, lay, local_target, global_target):
    "The planted map by hand: `row` (over output tokens, key layout) carried back, ½ staying, ½ moving to each target"
    tiles, tokens, padded, parts = lay['tiles'], lay['tokens'], lay['padded'], 1 + len(lay['taps'])
    start = np.zeros((tiles, padded))
    start[:, :tokens] = np.asarray(row).reshape(tiles, tokens)
    start = start.reshape(-1) / parts
    carried, glob = start.copy(), np.full(tiles * padded, global_target)
    for j in reversed(range(lay['local'] + lay['global'])):
        if j < lay['local']: carried = carried + start * lay['taps'].count(j)
        moved = np.zeros_like(carried)
        np.add.at(moved, local_target if j < lay['local'] else glob, carried / 2)
        carried = carried / 2 + moved
    return carried.reshape(tiles, padded)[:, :tokens].reshape(-1)

def targets(lay, real_tiles, patch):
    "Per encoder token, its tile's planted patch (row, col); padding tiles point at tile 1's"
    padded, side = lay['padded'], int(np.sqrt(lay['tokens'] - 1))
    at = lambda t: t * padded + 1 + patch[0] * side + patch[1]
    return np.array([at(t if t < real_tiles else 0) for t in range(lay['tiles']) for _ in range(padded)]), at

def inputs(proc, model, image):
    "The model's inputs for the ELENA prompt on `image`, and the query rows of 'emotion' after the image"
    x = model_inputs(proc, [prompt_text(proc, get_prompt())], [[image]], return_tensors='pt')
    ids = x['input_ids'][0].tolist()
    after = max(i for i, t in enumerate(ids) if t == model.config.image_token_id) + 1
    return x, query_positions(proc.tokenizer, ids, 'emotion', after, len(ids))

def test_planted_tiny_geometry():
    "Two-tile landscape crop (tiles 3 and 4 padding): eager weights are the planted ones, rows match the hand propagation"
    planted, proc = build_tiny('tiny-llama')
    land = load_image(HOPPER).crop((0, 100, 512, 356))  # 512×256: two tiles side by side
    x, rows = inputs(proc, planted, land)
    lay = mllama_encoder_layout(planted.config.vision_config)
    loc, at = targets(lay, 2, (1, 2))
    glob = at(1) + 1  # the patch right of tile 2's planted one
    plant(planted, loc, glob)
    eager = []
    keep = lambda m, a, o: eager.append(o[1][0].mean(0).double().numpy())
    hs = [m.register_forward_hook(keep) for m in vision_layers(planted)]
    with attention_implementation(planted, 'eager'), torch.inference_mode(): planted(**x, use_cache=False)
    for h in hs: h.remove()
    n = lay['tiles'] * lay['padded']
    np.testing.assert_allclose(eager[0], np.eye(n)[loc], atol=1e-12)
    np.testing.assert_allclose(eager[-1], np.eye(n)[[glob] * n], atol=1e-12)
    roll = vision_rollout(planted, x, rows)
    for i, r in capture(planted, x, rows).items():
        np.testing.assert_allclose(roll[i], expected(r.double().mean(0).numpy(), lay, loc, glob), atol=1e-9)
    geom = mllama_geometry(planted.config, proc.image_processor, *land.size)
    keys = roll[1].reshape(lay['tiles'], lay['tokens'])
    grid = mllama_keys_to_grid(roll[1], geom)
    side = geom['per_side']
    top = sorted(zip(*np.unravel_index(np.argsort(grid, None)[-3:], grid.shape)))
    assert top == [(1, 2), (1, side + 2), (1, side + 3)]  # tile 1's planted patch, tile 2's, the global one
    np.testing.assert_allclose(grid.sum(), keys[:2, 1:].sum())  # the map holds the real tiles' patches, nothing else

def real_geometry(**layers):
    "tiny-llama with the published vision geometry of Llama-3.2-11B-Vision and narrow widths"
    vis = dict(hidden_size=32, intermediate_size=64, attention_heads=2, image_size=560, patch_size=14, max_num_tiles=4,
               **layers)
    return build_tiny('tiny-llama', sizes={'text': TINY_SIZES['tiny-llama']['text'], 'vision': vis})

def check_planted(model, proc):
    "Plant, run on a square photo that fills 4 tiles, and compare with the hand propagation; the layout and the rows"
    lay = mllama_encoder_layout(model.config.vision_config)
    loc, at = targets(lay, lay['tiles'], (5, 7))
    glob = at(2) + 13 * 40  # patch (18, 7) of tile 3
    plant(model, loc, glob)
    x, rows = inputs(proc, model, load_image(HOPPER).crop((0, 0, 512, 512)).resize((1000, 1000)))
    roll = vision_rollout(model, x, rows)
    for i, r in capture(model, x, rows).items():
        np.testing.assert_allclose(roll[i], expected(r.double().mean(0).numpy(), lay, loc, glob), atol=1e-9)
    return lay, roll

def test_planted_real_geometry():
    "560 px tiles of 14 px patches (1601 tokens, 1608 padded), 4 tiles, fewer layers: the encoder runs on 6432 tokens"
    lay, roll = check_planted(*real_geometry(num_hidden_layers=4, num_global_layers=2, intermediate_layers_indices=[1, 3]))
    assert (lay['tokens'], lay['padded'], lay['tiles']) == (1601, 1608, 4)
    assert roll[1].shape == (4 * 1601,)

@pytest.mark.skipif(not SLOW, reason="slow: the published 32 + 8 layers (ELENA_TEST_FLAGS=slow runs it)")
def test_planted_published_layers():
    lay, _ = check_planted(*real_geometry(num_hidden_layers=32, num_global_layers=8,
                                          intermediate_layers_indices=[3, 7, 15, 23, 30]))
    assert (lay['local'], lay['global'], lay['taps']) == (32, 8, [3, 7, 15, 23, 30])
