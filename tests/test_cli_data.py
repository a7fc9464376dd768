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
    assert "2 error(s): unknown category 1, missing image 1" in r.stdout and "0 warning(s)" in r.stdout
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


# ---- issue 14: the layouts the datasets are distributed in, answers matched by file name, never a silent zero ----
# Layouts follow the public readers of the real files: BENet's tools/heco_csv_to_json.py (TristanCladiere/BENet) reads
# HECO/Labels/HECO_Labels.csv with pandas' index_col=False and the images from HECO/Images/ (its README: HECO/Data and
# HECO/Labels); Tandon-A/emotic's mat2py.py reads <root>/Annotations/Annotations.mat, the images from
# <root>/emotic/<folder>/<filename>, and writes <root>/emotic_pre/{train,val,test}.csv with the columns Index, Folder,
# Filename, Image Size, BBox, Categorical_Labels, Continuous_Labels, Gender, Age (lists as Python literals, csv excel dialect).

def write_jsonl(path, recs):
    path.write_text(''.join(json.dumps(r) + '\n' for r in recs))
    return path

def answers(ids_emotions, labels='elena'):
    return [{'id': i, 'emotion': e, 'labels': labels, 'error': None, 'parsed': {'narrative': 'Her fists clench.', 'body_parts': ['fists']}}
            for i, e in ids_emotions]

BESST_NAMES = {'070mU_45.jpg': 'surprise', '051wW_45.jpg': 'anger', '017wA_90_2.jpg': 'fear', '024wF_90.jpg': 'happiness'}

def besst_folder(d, names=BESST_NAMES):
    d.mkdir(parents=True)
    for n in names: os.link(SAMPLE, d / n) if hasattr(os, 'link') else shutil.copy(SAMPLE, d / n)
    return d

def test_besst_images_subfolder_scores_the_same(tmp_path):
    besst_folder(tmp_path / 'data' / 'besst' / 'images')  # the ELENA README's layout: data/besst/images/
    run_ = write_jsonl(tmp_path / 'r.jsonl', answers([('070mU_45.jpg', 'surprise'), ('051wW_45.jpg', 'anger'), ('017wA_90_2.jpg', 'sadness')]))
    outs = []
    for dd, how in ((tmp_path / 'data' / 'besst', 'by file name 3'), (tmp_path / 'data' / 'besst' / 'images', 'by path 3')):
        r = run('evaluate', run_, '--dataset', 'besst', '--data-dir', dd, '--out', tmp_path / 'ev', '--n-boot', '50')
        assert r.returncode == 0, r.stdout + r.stderr
        assert '3 scored' in r.stdout and 'accuracy 0.667' in r.stdout and how in r.stdout, r.stdout
        outs.append([l for l in r.stdout.splitlines() if 'accuracy' in l])
    assert outs[0] == outs[1]

def test_no_answer_matches_exits_nonzero(tmp_path, heco):
    d = tmp_path / 'EMOTIC'; (d / 'emotic_pre').mkdir(parents=True)
    (d / 'emotic_pre' / 'train.csv').write_text(
        "Index,Folder,Filename,Image Size,BBox,Categorical_Labels,Continuous_Labels,Gender,Age\n"
        "0,mscoco/images,COCO_train2014_000000000001.jpg,\"[640, 480]\",\"[10, 20, 110, 220]\",\"['Anger']\",\"[2, 9, 7]\",Male,Adult\n")
    run_ = write_jsonl(tmp_path / 'heco.jsonl', answers([('a.jpg', 'anger'), ('b.jpg', 'happiness')]))
    r = run('evaluate', run_, '--dataset', 'emotic', '--data-dir', d, '--out', tmp_path / 'ev')
    assert r.returncode != 0, r.stdout
    err = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(err) == 1 and "'a.jpg'" in err[0] and "'mscoco/images/COCO_train2014_000000000001.jpg'" in err[0] and '--data-dir' in err[0], r.stderr
    # some match: scored, with a warning that gives the count and an example
    run2 = write_jsonl(tmp_path / 'some.jsonl', answers([('a.jpg', 'fear'), ('zz.jpg', 'anger'), ('yy.jpg', 'anger')]))
    r = run('evaluate', run2, '--dataset', 'heco', '--data-dir', heco, '--out', tmp_path / 'ev2', '--n-boot', '50')
    assert r.returncode == 0, r.stderr
    assert "2 of 3 answers match no item" in r.stderr and "'zz.jpg'" in r.stderr, r.stderr
    assert '1 scored, 0 failed' in r.stdout and '2 not in the dataset' in r.stdout, r.stdout
    assert 'narratives naming their emotion - (of 0)' in r.stdout or 'of 1)' in r.stdout, r.stdout  # narratives of matched items only
    assert 'disgust -' in r.stdout and 'disgust 0.000' not in r.stdout, r.stdout  # no support: '-', not 0.000

def heco_benet(root, images='Images', trailing_comma=False):
    (root / images).mkdir(parents=True); (root / 'Labels').mkdir()
    for n in ('a.jpg', 'b.jpg'): shutil.copy(SAMPLE, root / images / n)
    end = ',' if trailing_comma else ''
    (root / 'Labels' / 'HECO_Labels.csv').write_text(
        "Image,xmin,ymin,xmax,ymax,Category,Valence,Arousal,Dominance,Label_SA,Label_CA\n"
        f"a.jpg,10,10,100,200,Anger,2,9,8,1,1{end}\n" f"a.jpg,120,10,220,200,Anger,3,8,7,1,1{end}\n" f"b.jpg,0,0,200,300,Fear,3,8,2,1,0{end}\n")
    return root

@pytest.mark.parametrize('images,trailing', [('Images', False), ('Data', True)])
def test_heco_layouts(tmp_path, images, trailing):
    root = heco_benet(tmp_path / 'HECO', images, trailing)
    for dd in (root, root / 'Labels' / 'HECO_Labels.csv'):
        r = run('datasets', 'check', '--dataset', 'heco', '--data-dir', dd)
        assert r.returncode == 0, r.stdout + r.stderr
        assert 'heco: 2 images, 3 people' in r.stdout and '0 error(s)' in r.stdout, r.stdout
        table = {l.split()[0]: l.split()[1:] for l in r.stdout.splitlines() if l.split()[:1] in (['anger'], ['fear'])}
        assert table == {'anger': ['1'], 'fear': ['1']}, r.stdout

def test_heco_csv_without_images_refused(tmp_path):
    (tmp_path / 'only').mkdir(); (tmp_path / 'only' / 'HECO_Labels.csv').write_text(
        "Image,xmin,ymin,xmax,ymax,Category,Valence,Arousal,Dominance,Label_SA,Label_CA\na.jpg,1,1,9,9,Fear,3,8,2,1,0\n")
    r = run('datasets', 'check', '--dataset', 'heco', '--data-dir', tmp_path / 'only' / 'HECO_Labels.csv')
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stdout + r.stderr
    assert 'Images' in r.stderr and 'Data' in r.stderr and 'a.jpg' in r.stderr, r.stderr  # the folders it looked in

def test_file_where_folder_needed(tmp_path):
    f = besst_folder(tmp_path / 'b') / '070mU_45.jpg'
    r = run('datasets', 'check', '--dataset', 'besst', '--data-dir', f)
    assert r.returncode == 2 and 'is a file' in r.stderr and str(tmp_path / 'b') in r.stderr, r.stderr
    r = run('datasets', 'check', '--dataset', 'heco', '--data-dir', f)
    assert r.returncode == 2 and 'neither HECO_Labels.csv nor a folder' in r.stderr and str(tmp_path / 'b') in r.stderr, r.stderr
    r = run('datasets', 'check', '--dataset', 'emotic', '--data-dir', tmp_path / 'b')
    assert r.returncode == 2 and 'Annotations.mat' in r.stderr and 'annotations' in r.stderr, r.stderr  # the paths tried
    (tmp_path / 'empty').mkdir()
    r = run('datasets', 'check', '--dataset', 'besst', '--data-dir', tmp_path / 'empty')
    assert r.returncode == 2 and 'no images' in r.stderr, r.stderr

def emotic_mat(path, entries):
    "Annotations.mat as EMOTIC ships it: structs train/val/test, one element per image, person struct array"
    p = lambda cats: dict(body_bbox=np.array([1., 2., 30., 40.]), annotations_categories={'categories': np.array(cats, dtype=object)},
                          annotations_continuous=vad(5, 5, 5), gender='Male', age='Adult')
    e = lambda folder, fn, cats: dict(filename=fn, folder=folder, image_size={'n_row': 100, 'n_col': 100},
                                      original_database={'name': folder.split('/')[0]}, person=struct_array([p(cats)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {'train': struct_array([e(*x) for x in entries])})

EMOTIC_ENTRIES = [('mscoco/images', 'COCO_train2014_000000000042.jpg', ['Anger']), ('framesdb/images', 'frame_a1.jpg', ['Happiness']),
                  ('emodb_small/images', 'emo_1.jpg', ['Fatigue'])]

@pytest.mark.parametrize('layout', ['pami', 'mat2py', 'readme'])
def test_emotic_layouts_scored_by_file_name(tmp_path, layout):
    d = tmp_path / 'EMOTIC'
    ann, imgs = {'pami': ('Annotations', 'emotic'), 'mat2py': ('Annotations', 'emotic'), 'readme': ('annotations', 'images')}[layout]
    emotic_mat(d / ann / 'Annotations.mat', EMOTIC_ENTRIES)
    for folder, fn, _ in EMOTIC_ENTRIES:
        (d / imgs / folder).mkdir(parents=True, exist_ok=True); shutil.copy(SAMPLE, d / imgs / folder / fn)
    if layout == 'mat2py':  # the converter's CSVs, and no .mat beside them
        (d / 'emotic_pre').mkdir()
        rows = [f'{k},{f},{fn},"[100, 100]","[1, 2, 30, 40]","{c!r}","[5, 5, 5]",Male,Adult' for k, (f, fn, c) in enumerate(EMOTIC_ENTRIES)]
        (d / 'emotic_pre' / 'train.csv').write_text("Index,Folder,Filename,Image Size,BBox,Categorical_Labels,Continuous_Labels,Gender,Age\n"
                                                    + '\n'.join(rows) + '\n')
        (d / ann / 'Annotations.mat').unlink()
    r = run('datasets', 'check', '--dataset', 'emotic', '--data-dir', d)
    assert r.returncode == 0, r.stdout + r.stderr  # the unmapped-only person is a warning, not an error
    assert 'emotic: 3 images' in r.stdout and '0 error(s)' in r.stdout and '1 warning(s): no ELENA gold 1' in r.stdout, r.stdout
    run_ = write_jsonl(tmp_path / 'e.jsonl', answers([('COCO_train2014_000000000042.jpg', 'anger'), ('frame_a1.jpg', 'sadness')]))
    r = run('evaluate', run_, '--dataset', 'emotic', '--data-dir', d, '--out', tmp_path / 'ev', '--n-boot', '50')
    assert r.returncode == 0, r.stderr
    assert '2 scored' in r.stdout and 'accuracy 0.500' in r.stdout and 'by file name 2' in r.stdout, r.stdout

def test_datasets_check_opens_images(tmp_path):
    d = besst_folder(tmp_path / 'b')
    (d / '003wS_45.jpg').write_bytes(SAMPLE.read_bytes())                    # the unexplained letter: a warning
    (d / '012mA_45.jpg').write_bytes(b'')                                     # zero bytes
    (d / '013mA_45.jpg').write_bytes(SAMPLE.read_bytes()[:2000])             # truncated
    (d / '014mA_45.jpg').write_text('<html>not found</html>')                # not an image
    r = run('datasets', 'check', '--dataset', 'besst', '--data-dir', d)
    assert r.returncode == 1, r.stdout + r.stderr
    assert '3 error(s): broken image 3' in r.stdout and '1 warning(s): unknown letter 1' in r.stdout, r.stdout
    for n, why in (('012mA_45.jpg', '0 bytes'), ('013mA_45.jpg', 'truncated'), ('014mA_45.jpg', 'not an image')):
        assert any(n in l and why in l for l in r.stdout.splitlines()), (n, r.stdout)
    for n in ('012mA_45.jpg', '013mA_45.jpg', '014mA_45.jpg'): (d / n).unlink()
    r = run('datasets', 'check', '--dataset', 'besst', '--data-dir', d)
    assert r.returncode == 0 and '0 error(s)' in r.stdout and '1 warning(s)' in r.stdout, r.stdout

def test_json_document_refused(tmp_path):
    doc = tmp_path / 'released.json'
    doc.write_text(json.dumps({'070mU_45.jpg': {'category': 'Surprised', 'narrative': 'x'}, '051wW_45.jpg': {'category': 'Angry'}}, indent=2))
    before = doc.read_bytes()
    r = run('evaluate', doc, '--dataset', 'besst', '--out', tmp_path / 'ev')
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and 'elena import-legacy' in r.stderr, r.stderr
    out = tmp_path / 'out'; store = out / 'openai_m' / 'folder' / 'original-elena.jsonl'; store.parent.mkdir(parents=True)
    store.write_bytes(before)
    besst_folder(tmp_path / 'imgs')
    r = run('run', '--model', 'openai:m', '--base-url', 'http://127.0.0.1:9/v1', '--dataset', 'folder', '--data-dir', tmp_path / 'imgs',
            '--out-dir', out, '--no-progress')
    assert r.returncode == 2 and 'elena import-legacy' in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stdout + r.stderr
    assert store.read_bytes() == before  # nothing appended to the document
    bad = write_jsonl(tmp_path / 'noid.jsonl', [{'id': 'a.jpg', 'emotion': 'fear'}, {'image': 'b.jpg', 'emotion': 'fear'}])
    r = run('evaluate', bad, '--dataset', 'besst')
    assert r.returncode == 2 and 'noid.jsonl:2' in r.stderr and "'id'" in r.stderr, r.stderr

def test_import_legacy_writes_where_figures_look(tmp_path):
    (tmp_path / 'released.json').write_text(json.dumps({'070mU_45.jpg': {'category': 'Surprised', 'narrative': 'Head back.',
                                                                          'raw_response': '2. Category: Surprised\n3. Narrative: Head back.'}}))
    r = subprocess.run([ELENA, 'import-legacy', 'released.json', '--dataset', 'besst', '--model', 'gemini-2.5-flash'],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    code = "from elena.results import find_runs; print(find_runs('responses')[['model', 'dataset', 'condition', 'prompt', 'n']].values.tolist())"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "[['gemini-2.5-flash', 'besst', 'original', 'legacy', 1]]" in r.stdout, r.stdout + r.stderr

@pytest.mark.parametrize('layout', ['flat', 'images'])
def test_reference_outputs_in_both_besst_folders(tmp_path, layout):
    if (why := reference_missing()): pytest.skip(why)
    ref = Path(os.environ['ELENA_REFERENCE'])
    out = tmp_path / 'ref.jsonl'
    r = run('import-legacy', ref, '--dataset', 'besst', '--model', 'gemini-2.5-flash', '--out', out)
    assert r.returncode == 0, r.stderr
    root = tmp_path / 'data' / 'besst'
    besst_folder(root if layout == 'flat' else root / 'images', json.loads(ref.read_text()))
    r = run('evaluate', out, '--dataset', 'besst', '--data-dir', root, '--out', tmp_path / 'ev', '--n-boot', '100')
    assert r.returncode == 0, r.stderr
    assert '1134 items, 1132 scored, 4 failed, 2 without gold' in r.stdout and 'accuracy 0.577' in r.stdout and 'macro-F1 0.527' in r.stdout, r.stdout
    s = json.loads((tmp_path / 'ev' / 'evaluation.json').read_text())['runs'][str(out)]
    assert (round(s['accuracy'], 4), round(s['macro_f1'], 4)) == (0.5769, 0.5275), s['accuracy']


def test_datasets_check_emotic_csv_names_each_path_once(tmp_path):
    "issue 30: an EMOTIC image with no ELENA gold (CSV export) is reported with its path once, not twice"
    d = tmp_path / 'emotic'; (d / 'emotic_pre').mkdir(parents=True)
    (d / 'emotic' / 'mscoco' / 'images').mkdir(parents=True)
    shutil.copy(SAMPLE, d / 'emotic' / 'mscoco' / 'images' / 'tired.jpg')
    (d / 'emotic_pre' / 'val.csv').write_text(
        "Index,Folder,Filename,Image Size,BBox,Categorical_Labels,Continuous_Labels,Gender,Age\n"
        "0,mscoco/images,tired.jpg,\"[300, 400]\",\"[0, 0, 50, 90]\",\"['Fatigue']\",\"[4, 2, 5]\",Male,Adult\n")
    env = {**os.environ, 'ELENA_CACHE': str(tmp_path / 'cache')}
    r = subprocess.run([ELENA, 'datasets', 'check', '--dataset', 'emotic', '--data-dir', str(d)], capture_output=True,
                       text=True, timeout=120, env=env)
    lines = [l for l in r.stdout.splitlines() if 'no ELENA gold:' in l]
    assert len(lines) == 1 and lines[0].count('mscoco/images/tired.jpg') == 1, r.stdout
