"""Each run is scored once for every paper notebook (`elena.evalcache`, issue 29): `score_runs` keeps each run's
evaluation beside it and reuses it while the run, its dataset's gold, the settings and elena's code are unchanged; what
it gives is what scoring the files afresh gives, and a change to any of those is scored again. Canned fixture records in
the store's format (no model wrote them) on BESST (gold in the ids) and a HECO folder in its distributed layout."""
import json
import shutil
from pathlib import Path
import pandas as pd
import pytest

import elena.evalcache as E
from elena.evalcache import same_value
from elena.results import find_runs, score_runs
from elena.store import make_record, store_path
from test_figures import IDS, fixture

SAMPLE = Path(__file__).resolve().parent.parent / 'elena' / 'samples' / 'grace_hopper.jpg'


@pytest.fixture
def counted(monkeypatch):
    "Every run `evaluate` scores (the real function, counted)"
    calls, real = [], E.evaluate
    monkeypatch.setattr(E, 'evaluate', lambda paths, *a, **kw: calls.extend(map(str, paths)) or real(paths, *a, **kw))
    return calls


def afresh(runs, monkeypatch, **kw):
    "`score_runs` with nothing kept: every run scored from its file"
    with monkeypatch.context() as m:
        m.setenv('ELENA_RUNCACHE', 'off')
        return score_runs(runs, **kw)


def same_scores(a, b):
    pd.testing.assert_frame_equal(a[0], b[0], check_exact=True)
    assert list(a[1]) == list(b[1]) and all(same_value(a[1][k], b[1][k]) for k in a[1])


def two_runs(resp, condition, prompt):
    "Two BESST fixture runs of one model: original-elena and `condition`-`prompt`"
    fixture(resp, 'fixture-model', 'original', 'elena', ['fear', 'happiness', 'sadness', 'fear', 'anger', 'neutral'])
    fixture(resp, 'fixture-model', condition, prompt, ['fear', 'sadness', 'fear', 'anger', 'anger', 'happiness'])
    return find_runs(resp)


def test_each_run_is_scored_once(tmp_path, counted, monkeypatch):
    resp = tmp_path / 'responses'
    runs = two_runs(resp, 'masked', 'elena')
    first = score_runs(runs, n_boot=50, texts=False)
    second = score_runs(runs, n_boot=50, texts=False)  # another notebook: nothing scored again
    assert sorted(counted) == sorted(runs.path), counted
    same_scores(first, second)
    score_runs(runs, n_boot=0, texts=False)  # other settings: scored, and kept apart
    assert len(counted) == 4
    same_scores(second, afresh(runs, monkeypatch, n_boot=50, texts=False))  # as from the files
    assert len(list(resp.rglob('.*.jsonl.eval-*'))) == 4


def test_a_grown_run_is_scored_again(tmp_path, counted, monkeypatch):
    resp = tmp_path / 'responses'
    runs = two_runs(resp, 'original', 'naive')
    before = score_runs(runs, n_boot=0, texts=False)
    run = store_path(resp, 'fixture-model', 'besst', 'original', 'naive')
    with open(run, 'a') as f:  # a later answer for the third item, as a resumed run writes it
        f.write(json.dumps(make_record(id=IDS[2], dataset='besst', condition='original', model='fixture-model',
                                       prompt_id='naive-v1', emotion='sadness', parsed=dict(emotion='sadness'))) + '\n')
    after = score_runs(runs, n_boot=0, texts=False)
    assert counted.count(str(run)) == 2 and len(counted) == 3, counted  # only the grown run
    same_scores(after, afresh(runs, monkeypatch, n_boot=0, texts=False))
    assert not same_value(after[1][str(run)]['confusion'], before[1][str(run)]['confusion'])


HEAD = "Image,xmin,ymin,xmax,ymax,Category,Valence,Arousal,Dominance,Label_SA,Label_CA\n"


def heco_store(tmp_path, prompts=('elena',)):
    "A HECO folder in its distributed layout (two images, a Fear and an Anger) and one run per prompt answering anger"
    heco = tmp_path / 'HECO'
    (heco / 'Data').mkdir(parents=True)
    for n in ('a.jpg', 'b.jpg'):
        shutil.copy(SAMPLE, heco / 'Data' / n)
    (heco / 'HECO_Labels.csv').write_text(HEAD + "a.jpg,10,10,100,200,Anger,2,9,8,1,1\nb.jpg,0,0,200,300,Fear,9,7,7,1,1\n")
    for prompt in prompts:
        run = store_path(tmp_path / 'responses', 'fixture-model', 'heco', 'original', prompt)
        run.parent.mkdir(parents=True, exist_ok=True)
        run.write_text(''.join(json.dumps(make_record(id=i, dataset='heco', model='fixture-model', emotion='anger',
                                                      parsed=dict(emotion='anger'))) + '\n' for i in ('a.jpg', 'b.jpg')))
    return heco, find_runs(tmp_path / 'responses')


def test_changed_gold_is_scored_again(tmp_path, counted, monkeypatch):
    heco, runs = heco_store(tmp_path)
    head = HEAD
    first = score_runs(runs, f'heco={heco}', n_boot=0, texts=False)
    assert first[0].accuracy.tolist() == [0.5]
    (heco / 'HECO_Labels.csv').write_text(head + "a.jpg,10,10,100,200,Anger,2,9,8,1,1\nb.jpg,0,0,200,300,Anger,9,7,7,1,1\n")
    again = score_runs(runs, f'heco={heco}', n_boot=0, texts=False)
    assert len(counted) == 2 and again[0].accuracy.tolist() == [1.0]
    same_scores(again, afresh(runs, monkeypatch, data_dirs=f'heco={heco}', n_boot=0, texts=False))


@pytest.mark.parametrize('damage', ['garbage', 'cut', 'other key', 'empty', 'wrong shape', 'nested deep'])
def test_a_damaged_kept_evaluation_is_scored_again(tmp_path, counted, monkeypatch, damage):
    resp = tmp_path / 'responses'
    fixture(resp, 'fixture-model', 'original', 'elena', ['fear', 'happiness', 'sadness', 'fear', 'anger', 'neutral'])
    runs = find_runs(resp)
    first = score_runs(runs, n_boot=0, texts=False)
    (kept,) = resp.rglob('.*.jsonl.eval-*')
    blob = kept.read_bytes()
    head, _, body = blob.partition(b'\n')
    kept.write_bytes({'garbage': b'\x00' * 50, 'cut': blob[:len(blob) // 2], 'empty': b'',
                      'other key': head.replace(b'"n_boot":0', b'"n_boot":7') + b'\n' + body,
                      'wrong shape': head + b'\n' + b'{"$tuple":' * 5 + b'1' + b'}' * 5,
                      'nested deep': head + b'\n' + b'{"$tuple":[' * 900 + b'1' + b']}' * 900}[damage])
    again = score_runs(runs, n_boot=0, texts=False)
    assert len(counted) == 2
    same_scores(first, again)
    assert kept.read_bytes() == blob  # written anew


def test_warnings_are_said_each_time(tmp_path):
    "An answer that matches no item is named whether the run is scored or its kept evaluation read"
    heco = tmp_path / 'HECO'
    (heco / 'Data').mkdir(parents=True)
    shutil.copy(SAMPLE, heco / 'Data' / 'a.jpg')
    (heco / 'HECO_Labels.csv').write_text("Image,xmin,ymin,xmax,ymax,Category,Valence,Arousal,Dominance,Label_SA,Label_CA\n"
                                          "a.jpg,10,10,100,200,Anger,2,9,8,1,1\n")
    run = store_path(tmp_path / 'responses', 'fixture-model', 'heco', 'original', 'elena')
    run.parent.mkdir(parents=True)
    run.write_text(''.join(json.dumps(make_record(id=i, dataset='heco', model='fixture-model', emotion='anger',
                                                  parsed=dict(emotion='anger'))) + '\n' for i in ('a.jpg', 'zz.jpg')))
    runs = find_runs(tmp_path / 'responses')
    for _ in range(2):
        with pytest.warns(UserWarning, match="'zz.jpg'"):
            score_runs(runs, f'heco={heco}', n_boot=0, texts=False)
    assert len(list(run.parent.glob('.*.eval-*'))) == 1


def test_the_dataset_folder_is_walked_once_for_all_its_runs(tmp_path, monkeypatch):
    "What tells changed gold (every file under the dataset folder: 23,571 images for EMOTIC) is looked at once per call"
    heco, runs = heco_store(tmp_path, ('elena', 'naive', 'stepwise'))
    walked, real = [], E.os.walk
    monkeypatch.setattr(E.os, 'walk', lambda top, *a, **kw: walked.append(str(top)) or real(top, *a, **kw))
    score_runs(runs, f'heco={heco}', n_boot=0, texts=False)
    assert walked == [str(heco)], walked
    score_runs(runs, f'heco={heco}', n_boot=0, texts=False)  # another call (another notebook): looked at again
    assert walked == [str(heco)] * 2, walked
