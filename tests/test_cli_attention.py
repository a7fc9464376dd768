"""`elena attention` as a user runs it: the installed console script in a subprocess, on a real photo with a tiny random-weight model."""
import json
import numpy as np
import shutil
import subprocess
import sys
from pathlib import Path
from matplotlib import cbook

ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
HOPPER = Path(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

def run(*args):
    return subprocess.run([ELENA, 'attention', *args], capture_output=True, text=True, timeout=300)

def test_help_names_the_contract():
    r = run('--help')
    assert r.returncode == 0, r.stderr
    for opt in ('--model', '--image', '--dataset', '--data-dir', '--limit', '--method', '--query', '--out', '--faces', '--masked-dir', '--people'):
        assert opt in r.stdout, opt

def test_one_image_with_given_faces(tmp_path):
    (tmp_path / 'faces.jsonl').write_text(json.dumps({'id': 'grace_hopper.jpg', 'faces': [{'box': [170, 90, 190, 250]}], 'status': 'ok'}) + '\n')
    r = run('--model', 'tiny-llama', '--image', str(HOPPER), '--faces', str(tmp_path), '--query', 'emotion', '--out', str(tmp_path / 'o'))
    assert r.returncode == 0, r.stderr
    assert 'random weights' in r.stdout
    s = json.loads((tmp_path / 'o' / 'attention.json').read_text())
    rec = s['images'][0]
    assert s['random_weights'] is True and 'never a finding' in s['note']
    assert set(rec) >= {'face_attention_share', 'face_area_share', 'face_bias_ratio', 'per_layer', 'overlays', 'npz'}
    assert abs(rec['face_area_share'] - (190 * 1.1 * 250 * 1.1) / (512 * 600)) < 0.01  # the box padded by 5% on each side
    assert sorted(rec['overlays']) == ['L01', 'all'] and all((tmp_path / 'o' / f).is_file() for f in rec['overlays'].values())

def test_rollout_through_the_vision_encoder(tmp_path):
    (tmp_path / 'faces.jsonl').write_text(json.dumps({'id': 'grace_hopper.jpg', 'faces': [{'box': [170, 90, 190, 250]}], 'status': 'ok'}) + '\n')
    r = run('--model', 'tiny-llama', '--image', str(HOPPER), '--faces', str(tmp_path), '--method', 'rollout', '--out', str(tmp_path / 'o'))
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / 'o' / 'attention.json').read_text())
    rec = s['images'][0]
    assert s['method'] == 'rollout' and s['random_weights'] is True and 'error' not in rec, rec
    assert sorted(rec['overlays']) == ['L01', 'rollout'] and all((tmp_path / 'o' / f).is_file() for f in rec['overlays'].values())
    assert 0 <= rec['face_attention_share'] <= 1 and rec['face_bias_ratio'] == rec['per_layer']['rollout']['face_bias_ratio']
    assert set(rec['sources']) == {'patches', 'class', 'padding_tiles', 'pad_tokens'} and abs(sum(rec['sources'].values()) - 1) < 1e-6
    with np.load(tmp_path / 'o' / rec['npz']) as z:
        assert {'keys_L01', 'keys_rollout', 'map_L01', 'map_rollout'} <= set(z.files) and z['map_rollout'].shape == (600, 512)


def test_people_file_gives_body_shares(tmp_path):
    (tmp_path / 'faces.jsonl').write_text(json.dumps({'id': 'grace_hopper.jpg', 'faces': [{'box': [170, 90, 190, 250]}], 'status': 'ok'}) + '\n')
    (tmp_path / 'people.jsonl').write_text(json.dumps({'id': 'grace_hopper.jpg', 'people': [{'box': [20, 40, 480, 560]}]}) + '\n')
    r = run('--model', 'tiny-gemma3', '--image', str(HOPPER), '--faces', str(tmp_path), '--people', str(tmp_path / 'people.jsonl'),
            '--out', str(tmp_path / 'o'))
    assert r.returncode == 0 and 'note:' not in r.stdout, r.stdout + r.stderr
    rec = json.loads((tmp_path / 'o' / 'attention.json').read_text())['images'][0]
    assert rec['people'] == [[20, 40, 480, 560]] and rec['n_people'] == 1
    assert abs(rec['face_area_share'] + rec['body_area_share'] + rec['context_area_share'] - 1) < 1e-12
    assert abs(rec['context_area_share'] - (1 - 480 * 560 / (512 * 600))) < 1e-12  # the face lies inside the person box
    r = run('--model', 'tiny-gemma3', '--image', str(HOPPER), '--faces', str(tmp_path), '--out', str(tmp_path / 'o2'))
    assert r.returncode == 0 and 'note: 1 of 1 records have no person boxes' in r.stdout, r.stdout + r.stderr
