"""One rule for matching an image by file name (`elena.names.unique_names`): a name that is no image id matches the
one image whose file name it is, and none where several images share that file name. `elena evaluate` (answers to
items) and `faces_lookup` (an image's face records, for `--faces` and the attention maps) follow it alike."""
import json

import pandas as pd

from elena.answers import match_items
from elena.faces import faces_lookup

IDS = ['a/x.jpg', 'b/x.jpg', 'c/only.jpg']


def test_evaluate_and_faces_match_by_the_same_rule(tmp_path):
    faces = tmp_path / 'faces.jsonl'
    faces.write_text(''.join(json.dumps({'id': i, 'faces': [[1, 2, 3, 4]], 'status': 'ok'}) + '\n' for i in IDS))
    lookup = faces_lookup(faces)
    m = match_items(pd.Series(['x.jpg', 'only.jpg', 'a/x.jpg']), pd.Index(IDS))
    assert m.item.tolist() == [None, 'c/only.jpg', 'a/x.jpg']  # x.jpg: two images have that name, so neither
    assert [lookup.get(k, {}).get('id') for k in ('x.jpg', 'only.jpg', 'a/x.jpg')] == m.item.tolist()
