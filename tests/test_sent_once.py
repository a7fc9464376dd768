"""Each image is decoded and encoded once per run (issue 30): the bytes hashed for the resume key are the bytes sent.

`still_bytes` (the upright still, encoded as ELENA sends it: 3 ms for a JPEG, 186 ms for a 1600 × 1200 PNG) ran twice
per image on a first pass, once for the image's sha256 in `pending_requests` and again when the backend built the
request. Counted here over a real run against the OpenAI stand-in (its own process)."""
import collections
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from elena.standins import standin_process


@pytest.fixture(scope='module')
def standin():
    with standin_process('openai', latency_s=0.01) as url: yield url + '/v1'


def photos(d:Path, n:int) -> Path:
    "n distinct images: JPEGs and PNGs (a PNG is decoded and encoded again to be sent)"
    rng = np.random.default_rng(30)
    for i in range(n):
        p = d / f'img{i:02d}.{"png" if i % 2 else "jpg"}'
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return d


def counting(monkeypatch):
    "Count `still_bytes` calls by file name, wherever a module calls it"
    import elena.files, elena.openai_compat, elena.run
    calls, real = collections.Counter(), elena.files.still_bytes
    def counted(path):
        calls[Path(path).name] += 1
        return real(path)
    for mod in (elena.files, elena.openai_compat, elena.run):
        monkeypatch.setattr(mod, 'still_bytes', counted)
    return calls


def test_each_image_is_encoded_once_per_run(tmp_path, monkeypatch, standin):
    "a first run: one `still_bytes` per image, and the image_sha256 stored is the sha256 of the bytes the server got"
    from elena.run import run_elena
    monkeypatch.setenv('ELENA_CACHE', str(tmp_path / 'cache'))
    data, out = photos(tmp_path / 'imgs', 6), tmp_path / 'responses'
    calls = counting(monkeypatch)
    s = run_elena('openai:standin', 'folder', data, out_dir=out, base_url=standin, progress=False)
    assert s.done == 6
    assert dict(calls) == {f'img{i:02d}.{"png" if i % 2 else "jpg"}': 1 for i in range(6)}, calls
    from elena.files import still_bytes
    recs = [json.loads(l) for l in next(out.rglob('*.jsonl')).read_text().splitlines()]
    assert {r['id']: r['image_sha256'] for r in recs} == \
        {p.name: hashlib.sha256(still_bytes(p)[0]).hexdigest() for p in data.iterdir()}
    calls.clear()
    assert run_elena('openai:standin', 'folder', data, out_dir=out, base_url=standin, progress=False).skipped == 6
    assert calls == {}  # a second start: the hashes remembered, nothing encoded


def test_a_hash_cache_of_another_hashing_scheme_is_not_trusted(tmp_path, monkeypatch):
    """Hashes remembered by an ELENA that hashed something else (the file's bytes, before the sent still was what
    `image_sha256` names) are not read: a resumed run would otherwise take every answered image for a changed one, or
    an unchanged cache entry for a match. Found when a benchmark of the old code ran beside the new on one machine."""
    from elena.files import ImageHashes, image_sha256
    monkeypatch.setenv('ELENA_CACHE', str(tmp_path / 'cache'))
    (p,) = photos(tmp_path / 'imgs', 1).glob('*.jpg')
    folder = str(p.parent.resolve())
    old = tmp_path / 'cache' / 'hashes' / f"{hashlib.sha256(folder.encode('utf-8')).hexdigest()[:32]}.json"
    old.parent.mkdir(parents=True)  # where the file-bytes hashes of ELENA before issue 22 were remembered
    st = p.stat()
    other = hashlib.sha256(b'what another scheme hashed').hexdigest()  # (a plain JPEG's still is its own bytes)
    old.write_text(json.dumps({p.name: [st.st_size, st.st_mtime_ns, other]}))
    assert ImageHashes().sent(p)[0] == image_sha256(p) != other
