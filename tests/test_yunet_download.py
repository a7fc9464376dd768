"""YuNet's download, against a web server on 127.0.0.1 (moved here from 08_yunet): the real file is kept, a changed one
is not, an unreachable or silent server gives one line saying what to do, and `yunet_path` falls back to the download
only where the packaged copy, `ELENA_YUNET` and the cache are all missing."""
import functools
import http.server
import shutil
import socket
import threading
import pytest
import elena.yunet as yunet
from elena.yunet import YUNET_FILE, YUNET_SIZE, check_yunet, download_yunet, yunet_path

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

@pytest.fixture
def server(tmp_path):
    "A server of the real file and of a copy with one byte changed (`corrupt.onnx`); its base address"
    folder = tmp_path / 'srv'; folder.mkdir()
    model = yunet.YUNET_BUNDLED
    shutil.copy(model, folder / YUNET_FILE)
    (folder / 'corrupt.onnx').write_bytes(model.read_bytes()[:-1] + b'\0')
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv, f'http://127.0.0.1:{srv.server_address[1]}'
    srv.shutdown()

def test_download_keeps_only_yunet(server, tmp_path):
    _, base = server
    got = download_yunet(f'{base}/{YUNET_FILE}', tmp_path / 'cache' / YUNET_FILE)
    assert (got.stat().st_size, check_yunet(got)) == (YUNET_SIZE, got)
    assert sorted(p.name for p in got.parent.iterdir()) == [YUNET_FILE]
    with pytest.raises(ValueError, match='nothing was kept'):
        download_yunet(f'{base}/corrupt.onnx', tmp_path / 'c2' / YUNET_FILE)
    assert list((tmp_path / 'c2').iterdir()) == []
    with pytest.raises(RuntimeError, match='pass --yunet PATH or set ELENA_YUNET'):
        download_yunet('http://127.0.0.1:9/none.onnx', tmp_path / 'c3' / YUNET_FILE)

def test_download_times_out_on_a_silent_server(tmp_path):
    "A network that drops traffic: a server that accepts the connection and never answers"
    with socket.create_server(('127.0.0.1', 0)) as mute:
        silent = f'http://127.0.0.1:{mute.getsockname()[1]}/x.onnx'
        with pytest.raises(RuntimeError, match='waited at most 0.5 s'):
            download_yunet(silent, tmp_path / 'c4' / YUNET_FILE, timeout=0.5)
    assert list((tmp_path / 'c4').iterdir()) == []

def test_yunet_path_downloads_only_when_nothing_else_is_there(server, tmp_path, monkeypatch):
    "The packaged copy missing (a build that left `elena/models/` out), nothing given, the cache empty: downloaded once"
    srv, base = server
    for k in ('ELENA_YUNET', 'ELENA_CACHE', 'ELENA_YUNET_URL'): monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    monkeypatch.setattr(yunet, 'YUNET_BUNDLED', tmp_path / 'not-shipped' / YUNET_FILE)
    with pytest.raises(FileNotFoundError, match='not found'):
        yunet_path(download=False)
    monkeypatch.setenv('ELENA_YUNET_URL', f'{base}/{YUNET_FILE}')
    assert yunet_path() == tmp_path / 'xdg' / 'elena' / YUNET_FILE
    srv.shutdown()
    assert yunet_path() == tmp_path / 'xdg' / 'elena' / YUNET_FILE  # the cached file, the server gone
