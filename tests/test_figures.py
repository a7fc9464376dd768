"""`elena figures` end to end: every paper notebook executed by papermill on fixture responses written here.
The fixture answers are canned (no model wrote them) and serve only to exercise the notebooks; one fixture run is
marked as coming from a random-weight model and must be left out of every table."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from elena.attention_json import attention_summary, write_attention_summary
from elena.store import make_record, store_path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IDS = ['001mA_0.jpg', '002wF_0.jpg', '003mT_0.jpg', '004wA_0.jpg', '005mW_0.jpg', '006wN_0.jpg']


def fixture(root, model, condition, prompt, emotions, random_weights=False):
    p = store_path(root, model, 'besst', condition, prompt)
    p.parent.mkdir(parents=True, exist_ok=True)
    ids = [('masked_' if condition == 'masked' else '') + i for i in IDS]
    recs = [make_record(id=i, dataset='besst', condition=condition, model=model, prompt_id=f'{prompt}-v1', emotion=e,
                        random_weights=random_weights,
                        parsed=dict(emotion=e, narrative=f'Fixture narrative: {e}, hands clenched, shoulders raised.',
                                    explicit_description='fixture: hands clenched',
                                    implicit_description='fixture: tense',
                                    body_parts=['hands', 'shoulders', 'face'][:1 + n % 3]))
            for n, (i, e) in enumerate(zip(ids, emotions))]
    p.write_text(''.join(json.dumps(r) + '\n' for r in recs))


def test_elena_figures_on_fixture_responses(tmp_path):
    resp, figs, att = tmp_path / 'responses', tmp_path / 'figures', tmp_path / 'attention'
    fixture(resp, 'fixture-model', 'original', 'elena', ['fear', 'happiness', 'sadness', 'fear', 'anger', 'neutral'])
    fixture(resp, 'fixture-model', 'original', 'naive', ['fear', 'happiness', 'fear', 'anger', 'anger', 'happiness'])
    fixture(resp, 'fixture-model', 'masked', 'elena', ['fear', 'sadness', 'sadness', 'anger', 'anger', 'neutral'])
    fixture(resp, 'tiny-gemma3', 'original', 'elena', ['disgust'] * 6, random_weights=True)
    failed = store_path(resp, 'failed-model', 'besst', 'original', 'elena')  # its only request: a connection error
    failed.parent.mkdir(parents=True)
    failed.write_text(json.dumps(make_record(id=IDS[0], dataset='besst', model='failed-model',
                                             error='ConnectionError: connection refused')) + '\n')
    # attention.json written by its own writer, as `elena attention` writes it (see 19_attention_maps)
    settings = {'model': 'fixture-model', 'method': 'raw', 'fuse': 'mean', 'query': 'emotion'}
    ratios = (('original', 2.5), ('masked', 0.8))
    recs = [{'id': i, 'condition': c, 'face_bias_ratio': r} for i in IDS for c, r in ratios]
    write_attention_summary(att, attention_summary(settings, recs, random_weights=False))
    args = ['--responses', str(resp), '--figures', str(figs), '--out', str(tmp_path / 'runs'), '--attention', str(att)]
    r = subprocess.run([str(BIN / 'elena'), 'figures', *args], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-4000:]
    report = r.stdout
    for noise in ('Kernel is running over TCP', 'Unable to parse'):  # only what a user needs
        assert noise not in r.stderr, r.stderr[-4000:]
    for nb in ('accuracy', 'confusion', 'anatomy', 'narratives', 'attention'):
        line = next(l for l in report.splitlines() if l.startswith(nb + ':'))
        assert line.startswith(f'{nb}: ok') and ' 0 figure(s)' not in line, report
    assert 'no data: skipped: VAD agreement' in report, report
    made = ('accuracy', 'confusion-fixture-model-besst-original-elena', 'anatomy-fixture-model-original-silhouette',
            'attention_face_bias')
    for name in made:
        assert (figs / f'{name}.png').stat().st_size > 0 and (figs / f'{name}.pdf').stat().st_size > 0, name
    acc = pd.read_csv(figs / 'tables' / 'accuracy.csv')
    assert set(acc.model) == {'fixture-model'}  # the random-weight run is never tabled
    got = dict(zip(acc.condition + '-' + acc.prompt, acc.accuracy.round(3)))
    assert got == {'original-elena': 1.0, 'original-naive': 0.5, 'masked-elena': 0.667}
    deltas = pd.read_csv(figs / 'tables' / 'accuracy_deltas.csv')
    got = deltas.set_index('comparison').difference.round(3).to_dict()
    assert got == {'elena − naive': 0.5, 'masked − original': -0.333}
    executed = (tmp_path / 'runs' / 'accuracy.ipynb').read_text()
    assert 'RANDOM WEIGHTS' in executed and 'left out 1 run(s) of random-weight test models' in executed
    assert 'skipped: ' in executed and 'failed-model/besst/original-elena.jsonl: no answers (1 of 1 item(s) failed)' in executed
    assert not list(figs.glob('*failed-model*'))  # a run with no answers draws no (empty) figure
