"""Issue 23, tried as a hostile tester would, against the logging stand-ins of `elena.standins` (the OpenAI chat and the
Gemini REST protocols; the Gemini side is the real google-genai SDK making real HTTP requests):
- dataset entries that point outside their root (absolute, `..`, a symlinked file, a symlinked folder) at a planted file
  are reported as problems and their bytes are never sent, through either backend, original or masked;
- with both keys set to marker strings and a server that echoes them (400/404/422/429/500, body and headers), the
  markers appear in no file ELENA writes and on neither stdout nor stderr, with or without --debug, and no stderr line
  carries an ESC byte or a bare carriage return."""
import base64
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
import matplotlib.cbook
import pytest
from elena.standin_server import StandIn, openai_handler
from elena.standins import gemini_handler

from conftest import yunet_missing

ROOT = Path(__file__).resolve().parent.parent
PHOTO = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
ELENA = shutil.which('elena', path=str(Path(sys.executable).parent)) or 'elena'
MARK = b'PLANTED-SECRET-7f3a'  # appended to a real JPEG: it still decodes, so a reader that follows the entry sends it
OPENAI_MARK, GEMINI_MARK = 'sk-MARKER-openai-5c1d9e', 'AIza-MARKER-gemini-8b2f0a'

@pytest.fixture(scope='module')
def evil(tmp_path_factory):
    "A HECO CSV, an EMOTIC CSV export and a folder dataset, each with one good image and entries that lead outside"
    d = tmp_path_factory.mktemp('evil')
    out = d / 'outside'; (out / 'sub').mkdir(parents=True)
    secret = out / 'secret.jpg'
    secret.write_bytes(PHOTO.read_bytes() + MARK)
    shutil.copy(secret, out / 'sub' / 'secret.jpg')
    h = d / 'heco'; (h / 'Data').mkdir(parents=True); shutil.copy(PHOTO, h / 'Data' / 'a.jpg')
    (h / 'Data' / 'key.jpg').symlink_to(secret)  # a symlinked file
    (h / 'Data' / 'linked').symlink_to(out / 'sub')  # a symlinked folder
    heco_bad = [str(secret), '../../outside/secret.jpg', 'key.jpg', 'linked/secret.jpg']  # absolute, '..', links
    (h / 'HECO_Labels.csv').write_text('Image,xmin,ymin,xmax,ymax,Category,Valence,Arousal,Dominance\n' +
                                       ''.join(f'{r},1,1,9,9,Peace,7,2,6\n' for r in ['a.jpg', *heco_bad]))
    e = d / 'emotic'; (e / 'emotic' / 'mscoco').mkdir(parents=True); (e / 'emotic_pre').mkdir()
    shutil.copy(PHOTO, e / 'emotic' / 'mscoco' / 'a.jpg')
    (e / 'emotic' / 'mscoco' / 'key.jpg').symlink_to(secret)
    (e / 'emotic' / 'linked').symlink_to(out / 'sub')
    rows = [('mscoco', 'a.jpg'), ('../../outside', 'secret.jpg'), (str(out), 'secret.jpg'), ('mscoco', 'key.jpg'),
            ('linked', 'secret.jpg')]
    with open(e / 'emotic_pre' / 'train.csv', 'w', newline='') as f:
        w = csv.writer(f); w.writerow(['Filename', 'Folder', 'Categorical_Labels', 'Continuous_Labels', 'BBox'])
        for folder, fn in rows: w.writerow([fn, folder, "['Fear']", '[5, 5, 5]', '[1, 1, 9, 9]'])
    emotic_bad = [f"{folder}/{fn}".lstrip('/') for folder, fn in rows[1:]]
    f = d / 'folder'; f.mkdir(); shutil.copy(PHOTO, f / 'ok.jpg')
    (f / 'key.jpg').symlink_to(secret)  # absolute link
    (f / 'up.jpg').symlink_to(Path('..') / 'outside' / 'secret.jpg')  # relative link climbing out
    (f / 'linked').symlink_to(out / 'sub')  # a symlinked folder
    return {'dir': d, 'heco': (h, 'a.jpg', heco_bad), 'emotic': (e, 'mscoco/a.jpg', emotic_bad),
            'folder': (f, 'ok.jpg', ['key.jpg', 'up.jpg'])}

def sent_images(si) -> list[bytes]:
    "Every image the stand-in received, decoded (OpenAI data URLs, Gemini inlineData)"
    found = []
    def walk(x):
        if isinstance(x, dict): [walk(v) for v in x.values()]
        elif isinstance(x, list): [walk(v) for v in x]
        elif isinstance(x, str) and len(x) > 100:
            s = x.split(',', 1)[1] if x.startswith('data:') else x
            if re.fullmatch(r'[A-Za-z0-9+/_-]+=*', s):  # base64, standard or URL-safe (google-genai's)
                found.append(base64.urlsafe_b64decode(s.replace('+', '-').replace('/', '_') + '=' * (-len(s) % 4)))
    for r in si.requests: walk(r['body'])
    return found

@pytest.mark.parametrize('name', ['heco', 'emotic', 'folder'])
def test_outside_entries_are_problems(evil, name):
    from elena.data import load_dataset
    root, good, bad = evil[name]
    ds = load_dataset(name, root)
    images = {i.id: i.image for i in ds.items}
    assert images[good] is not None
    for b in bad:  # never given to anything that opens files
        assert images.get(b) is None, (b, images.get(b))
        assert any(p.row == b or b in p.message for p in ds.problems), (b, ds.problems)
    if name != 'emotic':  # EMOTIC's absolute Folder is read relative (a 'missing image'); every other one is outside
        assert sorted(p.row for p in ds.problems if p.kind == 'outside root' and not p.row.endswith('/')) == sorted(bad)

def test_datasets_check_lists_them(evil):
    root, _, bad = evil['folder']
    r = subprocess.run([ELENA, 'datasets', 'check', '--dataset', 'folder', '--data-dir', str(root)],
                       capture_output=True, text=True, timeout=120)
    lines = [l for l in r.stdout.splitlines() if l.strip().startswith('outside root:')]
    assert r.returncode == 1 and len(lines) == 3, r.stdout  # key.jpg, up.jpg and the linked folder
    assert 'broken image' not in r.stdout and MARK.decode() not in r.stdout + r.stderr
    r = subprocess.run([ELENA, 'datasets', 'check', '--dataset', 'folder', '--data-dir', str(root),
                        '--allow-root', str(evil['dir'] / 'outside')], capture_output=True, text=True, timeout=120)
    assert 'outside root' not in r.stdout, r.stdout  # the user allowed the store the links point into

@pytest.mark.parametrize('backend', ['openai', 'gemini'])
@pytest.mark.parametrize('name', ['heco', 'emotic', 'folder'])
def test_run_sends_none_of_it(evil, name, backend, tmp_path, monkeypatch):
    from elena.run import run_elena
    from elena.store import read_records
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('GOOGLE_API_KEY', GEMINI_MARK); monkeypatch.delenv('GEMINI_API_KEY', raising=False)
    root, good, bad = evil[name]
    handler, model = (openai_handler, 'openai:standin') if backend == 'openai' else (gemini_handler, 'gemini-2.5-flash')
    with StandIn(handler) as si:
        url = si.url + ('/v1' if backend == 'openai' else '')
        s = run_elena(model, name, root, out_dir=tmp_path / 'responses', base_url=url, progress=False)
    imgs = sent_images(si)
    assert len(imgs) == 1 and len(si.requests) == 1  # the good image only
    assert not any(MARK in b for b in imgs) and MARK not in json.dumps([r['body'] for r in si.requests]).encode()
    recs = {r['id']: r for r in read_records(s.path)}
    assert recs[good]['error'] is None
    for b in bad:
        assert recs[b]['error']['type'] in ('OutsideRoot', 'ImageMissing'), recs[b]
    assert s.failed['OutsideRoot'] + s.failed['ImageMissing'] == len(bad) and s.failed['OutsideRoot'] >= 2 and s.done == 1

@pytest.mark.parametrize('backend', ['openai', 'gemini'])
def test_masked_run_sends_none_of_it(evil, backend, tmp_path, monkeypatch):
    if (why := yunet_missing()): pytest.skip(why)
    from elena.run import run_elena
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('ELENA_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('GOOGLE_API_KEY', GEMINI_MARK); monkeypatch.delenv('GEMINI_API_KEY', raising=False)
    root, good, bad = evil['folder']
    handler, model = (openai_handler, 'openai:standin') if backend == 'openai' else (gemini_handler, 'gemini-2.5-flash')
    with StandIn(handler) as si:
        s = run_elena(model, 'folder', root, condition='masked', out_dir=tmp_path / 'responses',
                      base_url=si.url + ('/v1' if backend == 'openai' else ''), progress=False)
    assert s.done == 1 and s.failed['OutsideRoot'] == 2 and len(si.requests) == 1
    assert not any(MARK in b for b in sent_images(si))
    assert not any(MARK in p.read_bytes() for p in (tmp_path / 'cache').rglob('*') if p.is_file())

def test_mask_never_opens_a_link_out(tmp_path):
    "`elena mask` on a folder holding a .jpg link to a passwd file: recorded as outside, never opened, never quoted"
    if (why := yunet_missing()): pytest.skip(why)
    m = tmp_path / 'm'; m.mkdir(); shutil.copy(PHOTO, m / 'ok.jpg')
    passwd = tmp_path / 'passwd'; passwd.write_text('root:x:0:0:root:/root:/bin/bash\n')
    (m / 'passwd.jpg').symlink_to(passwd)
    r = subprocess.run([ELENA, 'mask', '--input', str(m), '--output', str(tmp_path / 'm_out'), '--workers', '1'],
                       capture_output=True, text=True, timeout=300)
    faces = (tmp_path / 'm_out' / 'faces.jsonl').read_text()
    assert r.returncode == 0 and '1 could not be read' in r.stdout, (r.stdout, r.stderr)
    assert 'outside' in faces and 'root:x' not in faces + r.stdout + r.stderr
    assert not (tmp_path / 'm_out' / 'passwd.jpg').exists() and (tmp_path / 'm_out' / 'ok.jpg').exists()

def _scan(folder:Path, marks:list[str]) -> list[str]:
    "The files under `folder` holding one of `marks`"
    return [str(p) for p in folder.rglob('*') if p.is_file() and any(m.encode() in p.read_bytes() for m in marks)]

def _clean_stderr(err:str):
    "No ESC byte, no bare carriage return on any line"
    assert '\x1b' not in err and not re.search('\r(?!\n)', err), repr(err[-2000:])

@pytest.mark.parametrize('backend', ['openai', 'gemini'])
def test_echoed_keys_are_written_nowhere(backend, tmp_path):
    "A server that echoes both keys in 400/422/429/500 answers (records) and a 404 (the run stops), with and without --debug"
    data = tmp_path / 'photos'; data.mkdir()
    for i in range(4): shutil.copy(PHOTO, data / f'p{i}.jpg')
    env = {**os.environ, 'OPENAI_API_KEY': OPENAI_MARK, 'GOOGLE_API_KEY': GEMINI_MARK, 'GEMINI_API_KEY': GEMINI_MARK}
    env.pop('ELENA_DEBUG', None)
    handler, model = (openai_handler, 'openai:standin') if backend == 'openai' else (gemini_handler, 'gemini-2.5-flash')
    marks, outs = [OPENAI_MARK, GEMINI_MARK], []
    with StandIn(handler, faults={0: 'echo_429', 1: 'echo_500', 2: 'echo_400', 3: 'echo_422'}) as si:
        url = si.url + ('/v1' if backend == 'openai' else '')
        run = [ELENA, 'run', '--model', model, '--base-url', url, '--dataset', 'folder', '--data-dir', str(data),
               '--out-dir', str(tmp_path / 'responses'), '--no-progress', '--concurrency', '1']
        outs.append(subprocess.run(run, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300))
    assert outs[0].returncode == 0, outs[0].stderr[-2000:]
    echoed = [r for r in si.requests[:4]]
    assert any(OPENAI_MARK in json.dumps(r['headers']) or GEMINI_MARK in json.dumps(r['headers']) for r in echoed)
    for debug in ([], ['--debug']):
        with StandIn(handler, faults=lambda n, b: 'echo_404') as si:
            url = si.url + ('/v1' if backend == 'openai' else '')
            run = [ELENA, *debug, 'run', '--model', model, '--base-url', url, '--dataset', 'folder', '--data-dir',
                   str(data), '--out-dir', str(tmp_path / 'responses'), '--no-progress', '--force']
            outs.append(subprocess.run(run, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300))
        assert outs[-1].returncode == 1 and 'stopped' in outs[-1].stderr, outs[-1].stderr[-2000:]
    store = next((tmp_path / 'responses').rglob('original-elena.jsonl'))
    recs = [json.loads(l) for l in store.read_text().splitlines()]
    assert {r['error']['type'] for r in recs if r['error']} >= {'BadRequest' if backend == 'openai' else 'Echo'}
    if backend == 'openai':
        ev = subprocess.run([ELENA, 'evaluate', str(store), '--dataset', 'folder', '--data-dir', str(data),
                             '--out', str(tmp_path / 'eval')], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=300)
        outs.append(ev)
        tb = subprocess.run([ELENA, '--debug', 'datasets', 'check', '--dataset', 'folder', '--data-dir',
                             str(tmp_path / OPENAI_MARK)], capture_output=True, text=True, env=env, timeout=120)
        assert tb.returncode == 2 and 'Traceback' in tb.stderr and 'data directory' in tb.stderr, tb.stderr[-2000:]
        outs.append(tb)  # a traceback whose message quotes the key
    assert _scan(tmp_path, marks) == []
    for r in outs:
        assert not any(m in r.stdout + r.stderr for m in marks), (r.stdout[-2000:], r.stderr[-2000:])
        _clean_stderr(r.stderr)

def test_papermill_notebook_holds_no_key(tmp_path):
    "The executed run notebook (runs/*.ipynb) of a run whose server echoes the key, stopped by the 404"
    data = tmp_path / 'photos'; data.mkdir()
    for i in range(3): shutil.copy(PHOTO, data / f'p{i}.jpg')
    env = {**os.environ, 'OPENAI_API_KEY': OPENAI_MARK, 'GOOGLE_API_KEY': GEMINI_MARK}
    out = tmp_path / 'runs' / 'echo.ipynb'; out.parent.mkdir()
    with StandIn(openai_handler, faults={0: 'echo_400', 1: 'echo_422', 2: 'echo_404'}) as si:
        r = subprocess.run([sys.executable, '-m', 'papermill', str(ROOT / 'nbs' / '03_run.ipynb'), str(out), '-k', 'python3',
                            '-p', 'model', 'openai:standin', '-p', 'base_url', si.url + '/v1', '-p', 'dataset', 'folder',
                            '-p', 'data_dir', str(data), '-p', 'out_dir', str(tmp_path / 'responses'),
                            '-p', 'concurrency', '1', '--cwd', str(ROOT / 'nbs')],
                           capture_output=True, text=True, env=env, timeout=600)
    assert out.exists() and len(si.requests) >= 3, r.stderr[-3000:]
    assert 'refused' in out.read_text() or 'NotFound' in out.read_text() or 'no chat-completions' in out.read_text()
    assert _scan(tmp_path, [OPENAI_MARK, GEMINI_MARK]) == []
    assert OPENAI_MARK not in r.stdout + r.stderr

def test_allowed_root_is_recorded_and_passed_on(evil, tmp_path, monkeypatch):
    """--allow-root: the links into the named folder are asked, the folder is in every answer's `sent` and in the summary,
    and `elena slurm` passes it on to the array tasks and to the masking job"""
    from elena.run import run_elena
    from elena.store import read_records
    monkeypatch.chdir(tmp_path)
    root, store = evil['folder'][0], evil['dir'] / 'outside'
    with StandIn(openai_handler) as si:
        s = run_elena('openai:standin', 'folder', root, out_dir=tmp_path / 'responses', base_url=si.url + '/v1',
                      progress=False, allow_roots=[str(store)])
    recs = {r['id']: r for r in read_records(s.path)}
    assert recs['key.jpg']['error'] is None and recs['key.jpg']['sent']['allowed_roots'] == [str(store.resolve())]
    assert s.done == 3 and f"outside the dataset root: {store.resolve()}" in str(s)
    r = subprocess.run([ELENA, 'slurm', '--model', 'openai:standin', '--dataset', 'folder', '--data-dir', str(root),
                        '--condition', 'masked', '--shards', '2', '--out-dir', str(tmp_path / 'out'),
                        '--base-url', 'http://127.0.0.1:9/v1', '--allow-root', str(store)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    scripts = {p.name.split('.')[-2]: p.read_text() for p in (tmp_path / 'out' / 'slurm').glob('*.sbatch')}
    assert sorted(n for n, t in scripts.items() if f'--allow-root {store}' in t) == ['array', 'mask'], scripts

def test_evaluation_of_old_records_holds_no_key(tmp_path, monkeypatch):
    """Records written before the scrubbing (by hand here, as an older ELENA wrote them) hold the key: evaluation copies
    none of it. Today's evaluation files hold no record text at all, so this guards the writers that will (an item table
    with the answers): `write_results` scrubs whatever it writes."""
    from elena.evaluate import evaluate, write_results
    from elena.store import RECORD_FIELDS
    monkeypatch.setenv('OPENAI_API_KEY', OPENAI_MARK)
    answer = json.dumps({'emotion': 'fear', 'narrative': f'the proxy said Bearer {OPENAI_MARK}', 'body_parts': ['hands']})
    rec = dict.fromkeys(RECORD_FIELDS) | {'id': 'astronaut.jpg', 'dataset': 'samples', 'condition': 'original',
                                          'model': 'openai:x', 'raw': answer, 'emotion': 'fear', 'labels': None,
                                          'parsed': json.loads(answer), 'created_at': '2026-01-01T00:00:00+00:00',
                                          'random_weights': False}
    f = tmp_path / 'old.jsonl'; f.write_text(json.dumps(rec) + '\n')
    assert OPENAI_MARK in f.read_text()
    written = write_results(evaluate([f], 'samples', n_boot=10), tmp_path / 'eval')
    assert written and _scan(tmp_path / 'eval', [OPENAI_MARK]) == []

def test_emotic_mat_entries_outside(evil, tmp_path):
    "EMOTIC's Annotations.mat: a `folder` of '../..' and a file that is a link are outside problems too"
    import numpy as np
    import scipy.io
    from elena.data import load_dataset
    def struct_array(rows):  # a 1xN MATLAB struct array, as tests/test_cli_data.py writes one
        a = np.zeros((1, len(rows)), dtype=[(k, object) for k in rows[0]])
        for i, r in enumerate(rows):
            for k, v in r.items(): a[0, i][k] = v
        return a
    d = tmp_path / 'EMOTIC'; (d / 'Annotations').mkdir(parents=True); (d / 'emotic' / 'framesdb').mkdir(parents=True)
    shutil.copy(PHOTO, d / 'emotic' / 'framesdb' / 'ok.jpg')
    (d / 'emotic' / 'framesdb' / 'key.jpg').symlink_to(evil['dir'] / 'outside' / 'secret.jpg')
    person = dict(body_bbox=np.array([1., 2., 30., 40.]), combined_categories=np.array(['Fear'], dtype=object),
                  combined_continuous={'valence': 5, 'arousal': 5, 'dominance': 5})
    up = os.path.relpath(evil['dir'] / 'outside', d / 'emotic')  # climbs out of the image folder
    entries = [dict(filename=fn, folder=folder, person=struct_array([person]))
               for folder, fn in [('framesdb', 'ok.jpg'), ('framesdb', 'key.jpg'), (up, 'secret.jpg')]]
    scipy.io.savemat(d / 'Annotations' / 'Annotations.mat', {'train': struct_array(entries)})
    ds = load_dataset('emotic', d)
    assert {i.id: i.image is not None for i in ds.items} == {'framesdb/ok.jpg': True, 'framesdb/key.jpg': False,
                                                             f'{up}/secret.jpg': False}
    assert sorted(p.row for p in ds.problems if p.kind == 'outside root') == sorted(['framesdb/key.jpg', f'{up}/secret.jpg'])
