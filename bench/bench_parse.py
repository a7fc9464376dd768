"""The reply parser on realistic replies: ELENA's reader alone (the parser as it was, from git), json-repair alone,
and ELENA's reader with json-repair as its fallback (the parser now), side by side in one run.

The replies are tests/fixtures/realistic_replies.json (40 replies in the shapes models produce, each with the record a
careful reader recovers). "json-repair alone" reads the reply with `json_repair.loads` (its first object when it returns
several) and cleans the fields with the same code as the parser. Also: the 1,134 released Gemini replies
(`ELENA_REFERENCE` or ../shared/reference/elena_besst_gemini.json), whose results must be identical before and after.
Run: PYTHONPATH=. .venv/bin/python bench/bench_parse.py [--before GIT_REV]"""
import argparse
import dataclasses
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import json_repair

import elena.parse as now
from elena.prompts import ELENA_LABELS, SCHEMA_KEYS

ROOT = Path(__file__).resolve().parent.parent


def old_parser(rev):
    "elena.parse as it was at `rev`, imported under another name from `git show`"
    src = subprocess.run(['git', 'show', f'{rev}:elena/parse.py'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / 'parse_before.py'
    path.write_text(src.replace('from .', 'from elena.'))
    spec = importlib.util.spec_from_file_location('parse_before', path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules['parse_before'] = mod
    spec.loader.exec_module(mod)
    return mod.parse_response


def repair_only(text):
    "json-repair alone: its first object, cleaned by the parser's own field code"
    v = json_repair.loads(text or '')
    v = next((x for x in v if isinstance(x, dict)), {}) if isinstance(v, list) else v
    raw = now._keyed(v) or {} if isinstance(v, dict) else {}
    rec = {k: now._text(raw.get(k)) for k in ('explicit_description', 'implicit_description', 'narrative')}
    rec['body_parts'] = now._parts(raw.get('body_parts'), [])
    rec['emotion'] = now._emotion(raw.get('emotion'), ELENA_LABELS, [], {})
    rec.update({k: now._scale(k, raw.get(k), []) for k in ('valence', 'arousal', 'dominance')})
    return rec


def score(read, replies):
    "fields right, replies fully right, ms per reply (best of 5 passes)"
    fields = whole = 0
    for r in replies:
        got = read(r['reply'])
        right = sum(got[k] == r['gold'][k] for k in SCHEMA_KEYS)
        fields, whole = fields + right, whole + (right == len(SCHEMA_KEYS))
    best = min(_timed(read, replies) for _ in range(5))
    return fields, whole, 1000 * best / len(replies)


def _timed(read, replies):
    t0 = time.perf_counter()
    for r in replies:
        read(r['reply'])
    return time.perf_counter() - t0


def perturbed(replies, n, seed):
    """`n` replies made from the well-formed JSON ones with 1-4 random faults each: comments, a comma dropped, a block
    comment, a second object, braces in prose before, single quotes and a bare key, the closing brace cut, one smart
    quote pair, a blank line, a doubled comma; the gold record stays that of the reply they were made from"""
    rng = random.Random(seed)
    base = [r for r in replies if r['kind'] in ('strict JSON', 'fenced JSON', 'Llama prose, unfenced', 'Gemma prose, fenced',
                                                'single quotes', 'unescaped newlines, pretty printed')]
    def fault(t, o):
        commas = [k for k, c in enumerate(t) if c == ',']
        return [lambda: t.replace(', "', ', // note\n "', 1) if rng.random() < .5 else t.replace(',\n', ', # note\n', 1),
                lambda: (lambda k: t[:k] + t[k + 1:])(rng.choice(commas)) if commas else t,
                lambda: t.replace('{', '{\n/* answer */\n', 1), lambda: t + '\n\n{"note": "done"}',
                lambda: 'Sure! {here} is the JSON:\n' + t,
                lambda: t.replace('"emotion"', "'emotion'").replace('"valence"', 'valence'),
                lambda: t.rstrip('`\n}') if rng.random() < .3 else t,
                lambda: t.replace('"', '\u201c', 1).replace('":', '\u201d:', 1), lambda: t.replace('.", ', '.",\n\n', 1),
                lambda: t.replace(', "', ',, "', 1)][o]()
    out = []
    for _ in range(n):
        r = rng.choice(base)
        t = r['reply']
        for o in rng.sample(range(10), rng.randint(1, 4)):
            t = fault(t, o)
        out.append(dict(reply=t, gold=r['gold']))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--before', default='17f6db8', help='git revision of the parser before json-repair')
    a = ap.parse_args()
    before = old_parser(a.before)
    replies = json.loads((ROOT / 'tests/fixtures/realistic_replies.json').read_text())['replies']
    n = len(replies)
    print(f'{n} realistic replies, {n * len(SCHEMA_KEYS)} fields')
    for name, read in [('ELENA reader alone (before)', lambda t: before(t).record), ('json-repair alone', repair_only),
                       ('ELENA reader + json-repair fallback (now)', lambda t: now.parse_response(t).record)]:
        f, w, ms = score(read, replies)
        print(f'{name:42} {f:4d} fields {w:3d} replies right   {ms:.2f} ms/reply')
    fuzz = perturbed(replies, 1000, 0)
    print(f'{len(fuzz)} perturbed replies (seed 0), {len(fuzz) * len(SCHEMA_KEYS)} fields')
    for name, read in [('ELENA reader alone (before)', lambda t: before(t).record), ('json-repair alone', repair_only),
                       ('ELENA reader + json-repair fallback (now)', lambda t: now.parse_response(t).record)]:
        f, w, ms = score(read, fuzz)
        print(f'{name:42} {f:5d} fields {w:4d} replies right   {ms:.2f} ms/reply')
    worse = sum(sum(now.parse_response(r['reply']).record[k] == r['gold'][k] for k in SCHEMA_KEYS)
                < sum(repair_only(r['reply'])[k] == r['gold'][k] for k in SCHEMA_KEYS) for r in fuzz)
    print(f'replies where the parser now gets fewer fields right than json-repair alone: {worse}')
    ref = Path(os.environ.get('ELENA_REFERENCE', ROOT.parent / 'shared/reference/elena_besst_gemini.json'))
    if not ref.exists():
        return print(f'{ref.name} not found: Gemini comparison skipped')
    texts = [v.get('raw_response', '') for v in json.loads(ref.read_text()).values()]
    same = sum(dataclasses.asdict(before(t)) == dataclasses.asdict(now.parse_response(t)) for t in texts)
    t0 = time.perf_counter(); [before(t) for t in texts]; t1 = time.perf_counter(); [now.parse_response(t) for t in texts]
    t2 = time.perf_counter()
    print(f'Gemini replies: {same} of {len(texts)} identical (record, emotion, issues, extra); '
          f'{1000 * (t1 - t0) / len(texts):.2f} ms/reply before, {1000 * (t2 - t1) / len(texts):.2f} now')


if __name__ == '__main__':
    sys.exit(main())
