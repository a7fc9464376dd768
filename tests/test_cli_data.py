"""`elena datasets check`, `elena import-legacy` and `elena evaluate` run as a user runs them (the console script in a
subprocess), on small fixtures that the tests write in each dataset's native format."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
import numpy as np
import pytest
from conftest import reference_missing
import scipy.io

ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
SAMPLE = Path(__file__).resolve().parent.parent / 'elena' / 'samples' / 'grace_hopper.jpg'

def run(*args):
    return subprocess.run([ELENA, *map(str, args)], capture_output=True, text=True, timeout=120)

def struct_array(rows):
    "A 1xN MATLAB struct array (what savemat writes for a structured array of objects)"
    a = np.zeros((1, len(rows)), dtype=[(k, object) for k in rows[0]])
    for i, r in enumerate(rows):
        for k, v in r.items(): a[0, i][k] = v
    return a

def vad(v, a, d): return {'valence': v, 'arousal': a, 'dominance': d}

@pytest.fixture
def heco(tmp_path):
    d = tmp_path / 'HECO'; (d / 'Data').mkdir(parents=True)
    for n in ('a.jpg', 'b.jpg'): shutil.copy(SAMPLE, d / 'Data' / n)
    (d / 'HECO_Labels.csv').write_text(
        "Image,xmin,ymin,xmax,ymax,Category,Valence,Arousal,Dominance,Label_SA,Label_CA\n"
        "a.jpg,10,10,100,200,Anger,2,9,8,1,1\n"
        "a.jpg,120,10,220,200,Anger,3,8,7,1,1\n"
        "a.jpg,240,10,320,200,Fear,3,8,2,1,0\n"
        "b.jpg,0,0,200,300,Happinesst,9,7,7,1,1\n"
        "c.jpg,0,0,50,50,Excitement,8,8,6,0,1\n"
        "b.jpg,5,5,60,60,Boredom,4,2,5,0,0\n")
    return d

def test_datasets_check_heco(heco):
    r = run('datasets', 'check', '--dataset', 'heco', '--data-dir', heco)
    assert r.returncode == 1, r.stderr  # problems found
    assert 'heco: 3 images, 6 people' in r.stdout
    assert "2 problem(s): unknown category 1, missing image 1" in r.stdout
    assert "HECO_Labels.csv [7]" in r.stdout and "'Boredom'" in r.stdout and 'c.jpg (row 6)' in r.stdout
    lines = dict(l.split() for l in r.stdout.splitlines() if l.split()[:1] in (['anger'], ['happiness']))
    assert lines == {'anger': '1', 'happiness': '2'}  # a.jpg: majority anger; b.jpg (the typo) and c.jpg (excitement)

def test_datasets_check_emotic_mat(tmp_path):
    d = tmp_path / 'EMOTIC'; (d / 'Annotations').mkdir(parents=True); (d / 'emotic' / 'framesdb' / 'images').mkdir(parents=True)
    shutil.copy(SAMPLE, d / 'emotic' / 'framesdb' / 'images' / 'f1.jpg')
    p1 = dict(body_bbox=np.array([1., 2., 30., 40.]), annotations_categories={'categories': 'Suffering'},  # one category: squeezed to a string
              annotations_continuous=vad(2, 7, 3), gender='Male', age='Adult')
    p2 = dict(body_bbox=np.array([50., 2., 90., 40.]), annotations_categories={'categories': np.array(['Sympathy', 'Nostalgia'], dtype=object)},
              annotations_continuous=vad(5, 4, 5), gender='Female', age='Kid')
    ann = [{'categories': np.array(['Surprise', 'Fear'], dtype=object)}, {'categories': 'Surprise'}]
    p3 = dict(body_bbox=np.array([0., 0., 10., 10.]), annotations_categories=struct_array(ann),
              annotations_continuous=struct_array([vad(4, 8, 3), vad(6, 8, 5)]),
              combined_categories=np.array(['Fear', 'Surprise'], dtype=object), combined_continuous=vad(5, 8, 4), gender='Male', age='Adult')
    entry = lambda fn, people: dict(filename=fn, folder='framesdb/images', image_size={'n_row': 100, 'n_col': 100},
                                    original_database={'name': 'framesdb'}, person=struct_array(people))
    scipy.io.savemat(d / 'Annotations' / 'Annotations.mat', {'train': struct_array([entry('f1.jpg', [p1, p2])]),
                                                             'val': struct_array([entry('f2.jpg', [p3])]),
                                                             'test': struct_array([entry('f3.jpg', [p2])])})
    r = run('datasets', 'check', '--dataset', 'emotic', '--data-dir', d)
    assert 'emotic: 3 images, 4 people' in r.stdout, r.stdout + r.stderr
    assert "'Nostalgia' is not an EMOTIC category" in r.stdout and 'train(1).person(2)' in r.stdout
    assert 'missing image 2' in r.stdout and 'no ELENA gold 1' in r.stdout  # f3: sympathy maps to nothing
    table = {l.split()[0]: l.split()[1:] for l in r.stdout.splitlines()[2:6]}
    assert table['fear'] == ['0', '0', '1'] and table['sadness'] == ['0', '1', '0'], r.stdout  # columns: test, train, val

def test_besst_names_import_and_evaluate(tmp_path):
    d = tmp_path / 'BESST'; d.mkdir()
    names = ['070mU_45.jpg', 'masked_051wW_45.jpg', '017wA_90_2.jpg', '003wS_45.jpg']
    for n in names: shutil.copy(SAMPLE, d / n)
    r = run('datasets', 'check', '--dataset', 'besst', '--data-dir', d)
    assert 'unknown letter 1' in r.stdout and '003wS_45.jpg: unknown letter S' in r.stdout, r.stdout
    legacy = {'070mU_45.jpg': {'embodied_emotion': 'Yes', 'category': 'Surprised', 'narrative': 'Head back in surprise.',
                               'raw_response': '1. Embodied Emotion: Yes\n2. Category: Surprised\n3. Narrative: Head back in surprise.'},
              'masked_051wW_45.jpg': {'embodied_emotion': 'Yes', 'category': 'Angry', 'narrative': 'Fists clenched.',
                                      'raw_response': '1. Embodied Emotion: Yes\n2. Category: Angry\n3. Narrative: Fists clenched.'},
              '017wA_90_2.jpg': {'embodied_emotion': 'Unknown', 'category': 'Unknown', 'narrative': 'N/A'},
              '003wS_45.jpg': {'embodied_emotion': 'Yes', 'category': 'Sad', 'narrative': 'x', 'raw_response': '2. Category: Sad'}}
    (tmp_path / 'gemini.json').write_text(json.dumps(legacy))
    out = tmp_path / 'gemini.jsonl'
    r = run('import-legacy', tmp_path / 'gemini.json', '--dataset', 'besst', '--model', 'gemini-2.5-flash', '--out', out)
    assert r.returncode == 0 and '4 records' in r.stdout and '1 failed' in r.stdout, r.stderr
    recs = [json.loads(l) for l in out.read_text().splitlines()]
    assert [x['emotion'] for x in recs] == ['surprise', 'anger', None, 'sadness'] and recs[2]['error']['type'] == 'no_answer'
    assert {x['model'] for x in recs} == {'gemini-2.5-flash'} and all(x['image_sha256'] is None for x in recs)
    for data_dir in ([], ['--data-dir', d]):  # gold from the ids alone, and from the image folder
        r = run('evaluate', out, '--dataset', 'besst', *data_dir, '--out', tmp_path / 'ev', '--n-boot', '200')
        assert r.returncode == 0, r.stderr
        assert '4 items, 3 scored, 1 failed, 1 without gold' in r.stdout and 'accuracy 0.667' in r.stdout, r.stdout
    summary = (tmp_path / 'ev' / 'summary.csv').read_text().splitlines()
    assert summary[0].startswith('run,n_items,n_scored') and len(summary) == 2
    assert json.loads((tmp_path / 'ev' / 'evaluation.json').read_text())['runs'][str(out)]['n_scored'] == 3

def test_evaluate_paired_and_native(heco, tmp_path):
    def write(path, preds, labels):
        path.write_text(''.join(json.dumps({'id': i, 'emotion': e, 'labels': labels, 'error': None if e else {'type': 'timeout', 'message': 't'},
                                            'parsed': {'valence': 3, 'arousal': 8, 'dominance': 5}, 'created_at': f'2026-01-0{k + 1}'}) + '\n'
                                for k, (i, e) in enumerate(preds)))
    write(tmp_path / 'orig.jsonl', [('a.jpg', 'fear'), ('b.jpg', 'happiness'), ('c.jpg', None), ('b.jpg', 'sadness')], 'elena')  # b.jpg: latest wins
    write(tmp_path / 'masked.jsonl', [('masked_a.jpg', 'anger'), ('masked_b.jpg', 'happiness'), ('masked_c.jpg', 'happiness')], 'elena')
    r = run('evaluate', tmp_path / 'orig.jsonl', tmp_path / 'masked.jsonl', '--dataset', 'heco', '--data-dir', heco, '--out', tmp_path / 'ev')
    assert r.returncode == 0, r.stderr
    assert 'orig.jsonl (model not recorded): 3 items, 3 scored, 1 failed' in r.stdout and 'matches any agent (hit rate) 0.333  matches the majority 0.000' in r.stdout, r.stdout
    assert 'paired over 3 items' in r.stdout and 'discordant 0/3' in r.stdout and 'McNemar exact p = 0.25' in r.stdout
    write(tmp_path / 'native.jsonl', [('a.jpg', 'fear'), ('b.jpg', 'happiness'), ('c.jpg', 'excitement')], 'heco')
    r = run('evaluate', tmp_path / 'native.jsonl', '--dataset', 'heco', '--data-dir', heco, '--labels', 'heco', '--out', tmp_path / 'ev2')
    assert 'labels native (8)' in r.stdout and 'accuracy 0.667' in r.stdout and 'excitement 1.000' in r.stdout, r.stdout

def test_errors_name_the_file(tmp_path):
    r = run('datasets', 'check', '--dataset', 'heco', '--data-dir', tmp_path / 'nope')
    assert r.returncode == 2 and 'nope' in r.stderr
    # a line cut off by a killed run (the store's writer ends it and goes on): skipped, named, the rest scored
    (tmp_path / 'bad.jsonl').write_text('{"id": "070mU_45.jpg", "emotion": "surprise"}\n{"id": "051wW_45.jp\n{"id": "024wF_90.jpg", "emotion": "fear"}\n')
    r = run('evaluate', tmp_path / 'bad.jsonl', '--dataset', 'besst', '--out', tmp_path / 'ev')
    assert r.returncode == 0 and 'bad.jsonl:2: skipped an unreadable line' in r.stderr, r.stderr
    assert '2 items, 2 scored' in r.stdout, r.stdout
    r = run('evaluate', tmp_path / 'bad.jsonl', '--dataset', 'affectnet')
    assert r.returncode == 2 and 'invalid choice' in r.stderr

def test_reference_outputs():
    if (why := reference_missing()): pytest.skip(why)
    ref = Path(os.environ['ELENA_REFERENCE'])
    out = Path(os.environ.get('TMPDIR', '/tmp')) / f'elena_ref_{os.getpid()}.jsonl'
    try:
        r = run('import-legacy', ref, '--dataset', 'besst', '--model', 'gemini-2.5-flash', '--out', out)
        assert '1134 records' in r.stdout and '4 failed' in r.stdout, r.stdout + r.stderr
        r = run('evaluate', out, '--dataset', 'besst', '--out', out.with_suffix(''))
        assert '1134 items, 1132 scored, 4 failed, 2 without gold' in r.stdout, r.stdout + r.stderr
    finally:
        out.unlink(missing_ok=True); shutil.rmtree(out.with_suffix(''), ignore_errors=True)
