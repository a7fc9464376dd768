"""`elena mask` walks its input folder once (issue 30): the folder check and the work share one listing."""
import shutil
from pathlib import Path
import pytest
from conftest import yunet_missing
from matplotlib import cbook

pytestmark = pytest.mark.skipif(bool(yunet_missing()), reason=str(yunet_missing()))
HOPPER = Path(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

def test_mask_folder_lists_the_input_once(tmp_path, monkeypatch):
    from elena.masking import mask_folder
    src = tmp_path / 'in'; (src / 'sub').mkdir(parents=True)
    shutil.copy(HOPPER, src / 'hopper.jpg'); shutil.copy(HOPPER, src / 'sub' / 'again.jpg')
    walks, rglob = [], Path.rglob
    def counted(self, pattern, *a, **kw):
        if Path(self).resolve() == src.resolve(): walks.append(pattern)
        return rglob(self, pattern, *a, **kw)
    monkeypatch.setattr(Path, 'rglob', counted)
    s = mask_folder(src, tmp_path / 'out', progress=False, workers=1)
    assert (s['images'], s['faces']) == (2, 2)
    assert len(walks) == 1, f"the input folder was walked {len(walks)} times"
