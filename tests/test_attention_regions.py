"""Face, body and context shares through the real capture path, on planted attention.

Each attention module that makes the maps gets query and key projections that return fixed vectors (and identity
q/k norms; Gemma-3's rotary embedding set to no rotation), chosen so that the softmax of every query row is a planted
distribution over the image keys: score_j = q·k_j·scaling = log p_j. The mass is planted on patches (Mllama) or soft
tokens (Gemma-3) whose pixels lie wholly in one region; the regions are drawn here independently with Pillow from the
boxes (face boxes padded by the masking's floor/ceil rule, written out below). Then `measure_image` (what
`elena attention` runs: processor, `capture`, maps, `region_bias`) must give back the planted shares to 1e-6 and the
regions' pixel counts exactly. The tiny models' other weights stay random: only the planted attention is read."""
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from elena.attention import mllama_geometry
from elena.attention_capture import attention_layers
from elena.attention_maps import attention_folder, measure_image
from elena.local import load_image, model_inputs, prompt_text
from elena.prompts import get_prompt
from elena.tiny import TINY_SIZES, build_tiny, published_sizes

SAMPLE = Path(__file__).resolve().parent.parent / 'elena' / 'samples' / 'grace_hopper.jpg'
PLANTED = {'face': 0.5, 'body': 0.3, 'context': 0.2}

class Fixed(torch.nn.Module):
    "A projection that returns fixed outputs whatever its input: one vector for every token, or one per token"
    def __init__(self, t):
        super().__init__()
        self.register_buffer('t', t)
    def forward(self, x):
        if self.t.shape[1] == 1: return self.t.expand(x.shape[0], x.shape[1], -1)
        return self.t.reshape(x.shape[0], x.shape[1], -1)  # Mllama's keys come as (tiles, tokens per tile, width)

def plant(model, logits):
    "Every map-making attention module: queries e_0/scaling, keys log-weights on e_0 (one per key position)"
    for m in attention_layers(model).values():
        D, hq, hk = m.head_dim, m.config.num_attention_heads, m.config.num_key_value_heads
        q, k = torch.zeros(1, 1, hq, D), torch.zeros(1, len(logits), hk, D)
        q[..., 0] = 1 / m.scaling
        k[0, :, :, 0] = torch.as_tensor(logits, dtype=torch.float32)[:, None]
        m.q_proj, m.k_proj = Fixed(q.view(1, 1, -1)), Fixed(k.view(1, len(logits), -1))
        m.q_norm, m.k_norm = torch.nn.Identity(), torch.nn.Identity()
    rot = getattr(model.model.language_model, 'rotary_emb', None)
    for name, buf in (rot.named_buffers() if rot is not None else []):
        if name.endswith('inv_freq'): buf.zero_()  # no rotation: scores are q·k as planted
    for name in list(vars(rot) if rot is not None else []):
        if name.endswith('attention_scaling'): setattr(rot, name, 1.0)

def regions(W, H, faces, people, pad):
    "Per pixel 0 context, 1 body, 2 face, drawn with Pillow (face boxes padded by floor/ceil, as elena.masking pads)"
    img = Image.new('L', (W, H), 0)
    draw = ImageDraw.Draw(img)
    for x, y, w, h in people:
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=1)
    for x, y, w, h in faces:
        x0, y0 = math.floor(x - pad * w), math.floor(y - pad * h)
        x1, y1 = math.ceil(x + w + pad * w), math.ceil(y + h + pad * h)
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=2)
    return np.asarray(img)

def weights(cells, reg, rng, rest=0.0):
    "Planted mass per cell: PLANTED[region] spread at random over the cells wholly inside that region; `rest` elsewhere"
    names = ('context', 'body', 'face')
    pure = {n: [c for c, (x0, y0, x1, y1) in cells.items() if (reg[y0:y1, x0:x1] == i).all()] for i, n in enumerate(names)}
    assert all(pure.values()), {k: len(v) for k, v in pure.items()}
    p = {}
    for n, cs in pure.items():
        w = rng.random(len(cs)) + 0.1
        p |= dict(zip(cs, (1 - rest) * PLANTED[n] * w / w.sum()))
    return p

def check(rec, reg, eps=1e-6):
    "Every map of `rec` gives the planted shares, and the regions' pixel shares as Pillow drew them"
    area = {'face': (reg == 2).mean(), 'body': (reg == 1).mean(), 'context': (reg == 0).mean()}
    for layer, v in rec['per_layer'].items():
        for n in PLANTED:
            assert abs(v[f'{n}_attention_share'] - PLANTED[n]) < eps, (layer, n, v)
            assert abs(v[f'{n}_area_share'] - area[n]) < 1e-12, (layer, n, v)
        assert abs(v['body_bias_ratio'] - PLANTED['body'] / area['body']) < eps / area['body']

# a face inside a person, a face outside every person box, two overlapping people, one cut by the image border
def scene(W, H):
    s = lambda x, y, w, h: [round(x * W), round(y * H), round(w * W), round(h * H)]
    faces = [s(.25, 0, .25, .5), s(.8, .5, .2, .5)]
    people = [s(.25, 0, .3, 1.), s(.4, .1, .35, .8), s(.9, 0, .3, .4)]
    return faces, people

def mllama_case(tmp_path, model, proc, W, H):
    img = Image.open(SAMPLE).convert('RGB').resize((W, H))
    img.save(tmp_path / 'img.png')
    pil = load_image(tmp_path / 'img.png')
    geom = mllama_geometry(model.config, proc.image_processor, W, H)
    (nh, nw), P, ps = geom['tiles'], geom['per_side'], geom['patch']
    assert geom['resized'] == (H, W) and (nh * P * ps, nw * P * ps) == (H, W), geom  # no scaling: 14 px per patch
    faces, people = scene(W, H)
    reg = regions(W, H, faces, people, 0.05)
    cells = {(t, r, c): ((t % nw * P + c) * ps, (t // nw * P + r) * ps, (t % nw * P + c + 1) * ps, (t // nw * P + r + 1) * ps)
             for t in range(nh * nw) for r in range(P) for c in range(P)}
    p = weights(cells, reg, np.random.default_rng(0), rest=0.25)
    n = geom['tokens_per_tile']
    keys = np.full(model.config.vision_config.max_num_tiles * n, -100.0)
    keys[[t * n for t in range(nh * nw)]] = np.log(0.25 / (nh * nw))  # class tokens: a quarter, no pixel
    for (t, r, c), w in p.items(): keys[t * n + 1 + r * P + c] = np.log(w)
    plant(model, keys)
    be = SimpleNamespace(name='planted', model=model, processor=proc, random_weights=True)
    rec = measure_image(be, tmp_path / 'img.png', get_prompt(), faces, tmp_path / 'o', 'img', people=people)
    check(rec, reg)
    return rec

def gemma_case(tmp_path, model, proc, W, H):
    Image.open(SAMPLE).convert('RGB').resize((W, H)).save(tmp_path / 'img.png')
    pil = load_image(tmp_path / 'img.png')
    side = math.isqrt(model.config.mm_tokens_per_image)
    assert W % side == 0 and H % side == 0  # cells of whole pixels on the squashed square
    faces, people = scene(W, H)
    reg = regions(W, H, faces, people, 0.05)
    cw, ch = W // side, H // side
    cells = {(r, c): (c * cw, r * ch, (c + 1) * cw, (r + 1) * ch) for r in range(side) for c in range(side)}
    p = weights(cells, reg, np.random.default_rng(1))
    x = model_inputs(proc, [prompt_text(proc, get_prompt())], [[pil]], return_tensors='pt')
    ids = x['input_ids'][0].tolist()
    img = [i for i, t in enumerate(ids) if t == model.config.image_token_id]
    assert len(img) == side * side
    keys = np.zeros(len(ids))  # text keys: weight 1 each (the row's share on the image is then a part of it)
    tok = np.full(side * side, -100.0)
    for (r, c), w in p.items(): tok[r * side + c] = np.log(w)
    keys[img] = tok
    plant(model, keys)
    be = SimpleNamespace(name='planted', model=model, processor=proc, random_weights=True)
    rec = measure_image(be, tmp_path / 'img.png', get_prompt(), faces, tmp_path / 'o', 'img', people=people)
    check(rec, reg)
    return rec

def test_planted_mllama_tiny(tmp_path):
    model, proc = build_tiny('tiny-llama')
    rec = mllama_case(tmp_path, model, proc, 112, 56)  # two tiles of 56 px, 4×4 patches each
    assert sorted(rec['per_layer']) == ['L01', 'all']

def test_planted_mllama_real_geometry(tmp_path):
    vis = dict(hidden_size=32, intermediate_size=64, attention_heads=2, image_size=560, patch_size=14, max_num_tiles=4,
               num_hidden_layers=1, num_global_layers=1, intermediate_layers_indices=[0])
    model, proc = build_tiny('tiny-llama', sizes={'text': TINY_SIZES['tiny-llama']['text'], 'vision': vis})
    mllama_case(tmp_path, model, proc, 1120, 560)  # two tiles of 560 px, 40×40 patches each

def test_planted_gemma_tiny(tmp_path):
    text = dict(TINY_SIZES['tiny-gemma3']['text'], sliding_window=4096)  # every layer sees the image from the query
    model, proc = build_tiny('tiny-gemma3', sizes={**TINY_SIZES['tiny-gemma3'], 'text': text})
    rec = gemma_case(tmp_path, model, proc, 120, 80)  # 4×4 soft tokens squashed over a 3:2 image
    assert sorted(rec['per_layer']) == ['L00', 'L01', 'all']

def test_planted_gemma_real_geometry(tmp_path):
    sz = published_sizes('tiny-gemma3')
    model, proc = build_tiny('tiny-gemma3', sizes={**sz, 'text': dict(sz['text'], sliding_window=4096)})
    assert model.config.mm_tokens_per_image == 256
    gemma_case(tmp_path, model, proc, 640, 480)  # 16×16 soft tokens of 40×30 px

# HECO and EMOTIC layouts, through `attention_folder` (tiny model: random weights, so only the geometry is checked)
def heco(root, W, H):
    (root / 'Data').mkdir(parents=True)
    for n in ('a.jpg', 'b.jpg'): Image.open(SAMPLE).convert('RGB').resize((W, H)).save(root / 'Data' / n)
    rows = ["a.jpg,20,0,160,200,Anger,2,9,8", "a.jpg,100,20,220,180,Fear,3,8,2",  # two overlapping people
            "a.jpg,260,40,400,200,Anger,3,8,7",  # cut by the right border (W = 300)
            "b.jpg,x,0,5,5,Fear,3,8,2"]  # no usable box: b.jpg has no person boxes
    (root / 'HECO_Labels.csv').write_text("Image,xmin,ymin,xmax,ymax,Category,Valence,Arousal,Dominance\n" + '\n'.join(rows) + '\n')
    return {'a.jpg': [[20, 0, 140, 200], [100, 20, 120, 160], [260, 40, 140, 160]], 'b.jpg': []}

def faces_file(path, faces):
    path.write_text(''.join(json.dumps({'id': i, 'faces': [{'box': b} for b in f], 'status': 'ok'}) + '\n'
                            for i, f in faces.items()))

def masked_copies(src, dst, faces, rel):
    "Masked copies as `elena mask` makes them: the face boxes (padded by 5%) painted black, same relative paths"
    for i, f in faces.items():
        img = Image.open(src / rel(i)).convert('RGB')
        draw = ImageDraw.Draw(img)
        for x, y, w, h in f:
            draw.rectangle([math.floor(x - .05 * w), math.floor(y - .05 * h), math.ceil(x + w + .05 * w) - 1,
                            math.ceil(y + h + .05 * h) - 1], fill=0)
        (dst / i).parent.mkdir(parents=True, exist_ok=True)
        img.save(dst / i, quality=95)

def test_heco_layout(tmp_path):
    W, H = 300, 200
    people = heco(tmp_path / 'HECO', W, H)
    faces = {'a.jpg': [[50, 10, 30, 30], [230, 150, 25, 30]],  # the second lies outside every person box
             'b.jpg': [[10, 10, 20, 20]]}
    faces_file(tmp_path / 'faces.jsonl', faces)
    masked_copies(tmp_path / 'HECO' / 'Data', tmp_path / 'masked', faces, lambda i: i)
    rep = attention_folder('tiny-gemma3', tmp_path / 'o', dataset='heco', data_dir=tmp_path / 'HECO',
                           faces=tmp_path / 'faces.jsonl', masked_dir=tmp_path / 'masked')
    assert (rep['ok'], rep['asked']) == (4, 4), rep
    s = json.loads(rep['path'].read_text())
    by = {(r['id'], r['condition']): r for r in s['images']}
    reg = regions(W, H, faces['a.jpg'], people['a.jpg'], 0.05)
    for cond in ('original', 'masked'):
        r = by['a.jpg', cond]
        assert r['people'] == people['a.jpg'] and r['n_people'] == 3
        assert abs(r['face_area_share'] - (reg == 2).mean()) < 1e-12
        assert abs(r['body_area_share'] - (reg == 1).mean()) < 1e-12
        assert abs(r['context_area_share'] - (reg == 0).mean()) < 1e-12
        for v in r['per_layer'].values():
            assert abs(v['face_attention_share'] + v['body_attention_share'] + v['context_attention_share'] - 1) < 1e-9
        b = by['b.jpg', cond]
        assert b['n_people'] == 0 and all(b[f] is None for f in ('body_attention_share', 'body_area_share',
                                                                 'body_bias_ratio', 'context_attention_share'))
        assert b['face_attention_share'] is not None
    assert s['body_note'].startswith('2 of 4 records have no person boxes'), s['body_note']
    agg, paired = s['aggregate'], s['paired']
    assert agg['original']['body_attention_share']['n'] == 1 and agg['masked']['face_attention_share']['n'] == 2
    assert paired['face_attention_share']['n'] == 2 and paired['body_attention_share']['n'] == 1
    d = by['a.jpg', 'masked']['body_attention_share'] - by['a.jpg', 'original']['body_attention_share']
    assert abs(paired['body_attention_share']['mean'] - d) < 1e-12

def test_emotic_layout_and_people_file(tmp_path):
    W, H = 320, 240
    root = tmp_path / 'EMOTIC'
    (root / 'emotic' / 'mscoco' / 'images').mkdir(parents=True)
    (root / 'emotic_pre').mkdir()
    Image.open(SAMPLE).convert('RGB').resize((W, H)).save(root / 'emotic' / 'mscoco' / 'images' / 'f1.jpg')
    row = lambda box, cats: f'"mscoco/images","f1.jpg","{box}","{cats}","[5, 6, 4]"'
    (root / 'emotic_pre' / 'train.csv').write_text(
        'Folder,Filename,BBox,Categorical_Labels,Continuous_Labels\n'
        + row([-10.5, 30.2, 120.0, 250.7], ['Anger']) + '\n'   # cut by the left and bottom border, float corners
        + row([80.0, 10.0, 200.0, 230.0], ['Fear']) + '\n'     # overlaps the first
        + row([150.0, 50.0, 260.0, 200.0], ['Fear']) + '\n')   # overlaps the second
    faces = {'mscoco/images/f1.jpg': [[100, 20, 40, 40], [280, 10, 30, 30]]}  # the second outside every person box
    faces_file(tmp_path / 'faces.jsonl', faces)
    rep = attention_folder('tiny-llama', tmp_path / 'o', dataset='emotic', data_dir=root, faces=tmp_path / 'faces.jsonl',
                           method='rollout')
    r = json.loads(rep['path'].read_text())['images'][0]
    boxes = [[-10.5, 30.2, 130.5, 220.5], [80.0, 10.0, 120.0, 220.0], [150.0, 50.0, 110.0, 150.0]]
    assert r['id'] == 'mscoco/images/f1.jpg' and all(np.allclose(a, b) for a, b in zip(r['people'], boxes))
    # the person boxes' pixels: floor of the start, ceil of the end, clipped (a pixel partly covered counts)
    reg = regions(W, H, faces['mscoco/images/f1.jpg'], [[0, 30, 120, 210], [80, 10, 120, 220], [150, 50, 110, 150]], 0.05)
    assert abs(r['body_area_share'] - (reg == 1).mean()) < 1e-12 and abs(r['face_area_share'] - (reg == 2).mean()) < 1e-12
    assert sorted(r['per_layer']) == ['L01', 'rollout']  # rollout and per-layer maps: the same three shares
    for v in r['per_layer'].values():
        assert abs(v['face_attention_share'] + v['body_attention_share'] + v['context_attention_share'] - 1) < 1e-9
    # a people file overrides the annotation, by file name as faces.jsonl is read
    (tmp_path / 'people.jsonl').write_text(json.dumps({'id': 'f1.jpg', 'people': [{'box': [0, 0, 160, 240]}]}) + '\n')
    rep = attention_folder('tiny-llama', tmp_path / 'o2', dataset='emotic', data_dir=root, faces=tmp_path / 'faces.jsonl',
                           people=tmp_path / 'people.jsonl')
    r = json.loads(rep['path'].read_text())['images'][0]
    reg = regions(W, H, faces['mscoco/images/f1.jpg'], [[0, 0, 160, 240]], 0.05)
    assert r['people'] == [[0, 0, 160, 240]] and abs(r['body_area_share'] - (reg == 1).mean()) < 1e-12

# the paper notebook's figure, from stored attention.json files only (written by `elena attention`'s own writer)
def region_summaries(att, random_weights):
    from elena.attention_json import attention_summary, write_attention_summary
    rng, recs = np.random.default_rng(0), []
    for i in range(6):
        f, b = 0.5 + 0.05 * rng.random(), 0.3
        for cond, df, db in (('original', 0, 0), ('masked', -0.3, 0.2)):
            recs.append({'id': f'{i}.jpg', 'condition': cond, 'face_attention_share': f + df, 'face_area_share': 0.1,
                         'face_bias_ratio': (f + df) / 0.1, 'body_attention_share': b + db, 'body_area_share': 0.3,
                         'body_bias_ratio': (b + db) / 0.3, 'context_attention_share': 1 - f - df - b - db,
                         'context_area_share': 0.6, 'n_people': 1, 'overlays': {}})
    settings = {'model': 'fixture-model', 'method': 'raw', 'fuse': 'mean', 'query': 'emotion'}
    write_attention_summary(att, attention_summary(settings, recs, random_weights=random_weights))

def test_paper_figure_from_stored_summaries(tmp_path):
    from test_attention_methods import papermill
    region_summaries(tmp_path / 'att', random_weights=False)  # fixture numbers, not results
    rep = papermill(tmp_path, tmp_path / 'att')
    assert (tmp_path / 'figures' / 'attention_regions.png').stat().st_size > 0, rep
    import pandas as pd
    paired = pd.read_csv(tmp_path / 'figures' / 'tables' / 'attention_regions_paired.csv').set_index('region')
    assert np.allclose(paired.loc[['face', 'body', 'context'], 'mean'], [-0.3, 0.2, 0.1]) and set(paired.n) == {6}
    shares = pd.read_csv(tmp_path / 'figures' / 'tables' / 'attention_regions.csv')
    area = shares[(shares.kind == 'area') & (shares.condition == 'masked')].set_index('region')['mean']
    assert np.allclose(area[['face', 'body', 'context']], [0.1, 0.3, 0.6])

def test_paper_figure_never_shows_random_weights(tmp_path):
    from test_attention_methods import papermill
    region_summaries(tmp_path / 'att', random_weights=True)
    rep = papermill(tmp_path, tmp_path / 'att')
    assert any(l.startswith('attention regions') for l in rep['skipped']), rep
    assert not (tmp_path / 'figures' / 'attention_regions.png').exists()
