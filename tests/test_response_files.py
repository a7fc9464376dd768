"""A response file's name is made once (`elena.names.response_file_name`, through `elena.store.store_path`) and read
once (`elena.names.split_response_file`): the results, `elena status` and `elena merge` agree on which files are runs,
which are shards, and which are neither."""
import json
import subprocess
import sys
from pathlib import Path

from elena.names import split_response_file
from elena.results import find_runs
from elena.status import run_files
from elena.store import make_record, store_path

BIN = Path(sys.executable).parent


def write(p, ids, condition='original'):
    p.parent.mkdir(parents=True, exist_ok=True)
    recs = [make_record(id=i, dataset='besst', condition=condition, model='fixture-model', prompt_id='elena-v2',
                        emotion='fear') for i in ids]
    p.write_text(''.join(json.dumps(r) + '\n' for r in recs))


def test_results_status_and_merge_read_file_names_alike(tmp_path):
    root = tmp_path / 'responses'
    run = store_path(root, 'fixture-model', 'besst', 'original', 'elena')
    write(run, ['a.jpg'])
    shards = [store_path(root, 'fixture-model', 'besst', 'masked', 'naive', (i, 2)) for i in range(2)]
    for i, s in enumerate(shards): write(s, [f'{i}.jpg'], 'masked')
    for odd in ('original-elena.shard-x.jsonl', 'blurred-elena.jsonl', 'original-.jsonl'):  # no run, no shard
        write(run.parent / odd, ['b.jpg'])
    test_runs = {(f.condition, f.kind, f.shard) for p in sorted(root.glob('*/*/*.jsonl')) if (f := split_response_file(p))}
    assert test_runs == {('original', 'elena', None), ('masked', 'naive', (0, 2)), ('masked', 'naive', (1, 2))}
    assert [(r.condition, r.prompt) for r in find_runs(root).itertuples()] == [('original', 'elena')]
    status = run_files(root)
    assert sorted(k[2:] for k in status) == [('masked', 'naive'), ('original', 'elena')]
    assert status[('fixture-model', 'besst', 'masked', 'naive')] == {'file': None, 'shards': shards}
    r = subprocess.run([str(BIN / 'elena'), 'merge', *map(str, shards)], capture_output=True, text=True)
    merged = store_path(root, 'fixture-model', 'besst', 'masked', 'naive')
    assert r.returncode == 0 and str(merged) in r.stdout, r.stdout + r.stderr
    assert [json.loads(l)['id'] for l in merged.read_text().splitlines()] == ['0.jpg', '1.jpg']
