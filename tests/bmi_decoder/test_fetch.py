"""fetch against a local HTTP server on 127.0.0.1: success, resume, cuts, MD5 refusal, CLI."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import bmi_decoder.cli.fetch as fetch_cli
import bmi_decoder.fetch as fetch_module
from bmi_decoder.cli import main
from bmi_decoder.fetch import DownloadError, fetch, source_url
from bmi_decoder.registry import DatasetEntry, load_registry
from snn_core.errors import InputError

PAYLOAD = np.random.default_rng(7).integers(0, 256, size=300_000, dtype=np.uint8).tobytes()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _RangeHandler(BaseHTTPRequestHandler):
    """Serves ``server.files`` with single-range support, logging each request's Range header."""

    def do_GET(self) -> None:
        server: _FileServer = self.server  # type: ignore[assignment]
        requested = self.headers.get("Range")
        server.log.append((self.path, requested))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if requested and not server.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        # A queued cut sends only that many bytes and then closes the connection.
        sent = body[start:] if not server.cuts else body[start : start + server.cuts.pop(0)]
        self.wfile.write(sent)

    def log_message(self, *args: object) -> None:
        pass


class _FileServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RangeHandler)
        self.files: dict[str, bytes] = {"/files/indy_test.mat": PAYLOAD}
        self.log: list[tuple[str, str | None]] = []
        self.ignore_range = False
        self.cuts: list[int] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_FileServer]:
    srv = _FileServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_module, "_RETRY_DELAY_S", 0.0)


def _entry(server: _FileServer, md5: str = MD5) -> DatasetEntry:
    return DatasetEntry(
        name="indy_test",
        kind="reaching-session",
        url=f"{server.base}/files/indy_test.mat",
        md5=md5,
        file="indy_test.mat",
        citation="test",
        monkey="Indy",
        channels=96,
    )


def test_download_is_verified_and_renamed(server: _FileServer, tmp_path: Path) -> None:
    path = fetch(_entry(server), tmp_path, progress=False)
    assert path == tmp_path / "indy_test.mat"
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "indy_test.mat.part").exists()
    assert server.log == [("/files/indy_test.mat", None)]


def test_partial_download_resumes_with_a_range_request(server: _FileServer, tmp_path: Path) -> None:
    (tmp_path / "indy_test.mat.part").write_bytes(PAYLOAD[:123_456])
    path = fetch(_entry(server), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert server.log == [("/files/indy_test.mat", "bytes=123456-")]


def test_cut_connection_resumes_where_it_stopped(server: _FileServer, tmp_path: Path) -> None:
    server.cuts = [100_000]
    path = fetch(_entry(server), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert server.log == [("/files/indy_test.mat", None), ("/files/indy_test.mat", "bytes=100000-")]


def test_server_ignoring_range_restarts_from_zero(server: _FileServer, tmp_path: Path) -> None:
    server.ignore_range = True
    (tmp_path / "indy_test.mat.part").write_bytes(PAYLOAD[:50_000])
    path = fetch(_entry(server), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD  # not the 50,000 bytes twice
    assert server.log == [("/files/indy_test.mat", "bytes=50000-")]


def test_complete_part_is_finished_without_a_body(server: _FileServer, tmp_path: Path) -> None:
    (tmp_path / "indy_test.mat.part").write_bytes(PAYLOAD)
    assert fetch(_entry(server), tmp_path, progress=False).read_bytes() == PAYLOAD
    assert server.log == [("/files/indy_test.mat", f"bytes={len(PAYLOAD)}-")]


def test_md5_mismatch_is_refused_and_leaves_no_final_file(server: _FileServer, tmp_path: Path) -> None:
    wrong = "0" * 32
    with pytest.raises(InputError) as caught:
        fetch(_entry(server, md5=wrong), tmp_path, progress=False)
    assert (caught.value.source, caught.value.field) == (str(tmp_path / "indy_test.mat"), "md5")
    assert wrong in caught.value.expected and MD5 in caught.value.expected
    assert not (tmp_path / "indy_test.mat").exists()
    assert not (tmp_path / "indy_test.mat.part").exists()


def test_corrupt_partial_file_is_caught_by_md5(server: _FileServer, tmp_path: Path) -> None:
    (tmp_path / "indy_test.mat.part").write_bytes(b"\0" * 1000)
    with pytest.raises(InputError, match="md5"):
        fetch(_entry(server), tmp_path, progress=False)
    assert not (tmp_path / "indy_test.mat").exists()


def test_present_file_is_checked_not_downloaded(server: _FileServer, tmp_path: Path) -> None:
    (tmp_path / "indy_test.mat").write_bytes(PAYLOAD)
    fetch(_entry(server), tmp_path, progress=False)
    assert server.log == []
    (tmp_path / "indy_test.mat").write_bytes(PAYLOAD[:-1])
    with pytest.raises(InputError, match="md5"):
        fetch(_entry(server), tmp_path, progress=False)
    assert (tmp_path / "indy_test.mat").read_bytes() == PAYLOAD[:-1]  # a user's file is never deleted


def test_mirror_serves_the_file_under_its_name(server: _FileServer, tmp_path: Path) -> None:
    server.files = {"/mirror/indy_test.mat": PAYLOAD}
    entry = _entry(server)
    assert source_url(entry, f"{server.base}/mirror/") == f"{server.base}/mirror/indy_test.mat"
    fetch(entry, tmp_path, base_url=f"{server.base}/mirror", progress=False)
    assert server.log == [("/mirror/indy_test.mat", None)]


def test_missing_url_is_bad_input(server: _FileServer, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="HTTP status: expected 200 or 206 \\(got 404"):
        fetch(_entry(server), tmp_path, base_url=f"{server.base}/nowhere", progress=False)
    assert len(server.log) == 1  # a 404 is not retried


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_is_a_download_error(tmp_path: Path) -> None:
    entry = DatasetEntry(
        "indy_test",
        "reaching-session",
        f"http://127.0.0.1:{_closed_port()}/indy_test.mat",
        MD5,
        "indy_test.mat",
        "test",
        monkey="Indy",
        channels=96,
    )
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(entry, tmp_path, progress=False)


@pytest.fixture
def test_registry(server: _FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(
        f'[indy_test]\nkind = "reaching-session"\nurl = "{server.base}/files/indy_test.mat"\n'
        f'md5 = "{MD5}"\nmonkey = "Indy"\nchannels = 96\ncitation = "test"\n'
    )
    monkeypatch.setattr(fetch_cli, "load_registry", lambda: load_registry(path))


@pytest.mark.usefixtures("test_registry")
def test_cli_fetches_into_root(server: _FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    assert main(["fetch", "indy_test", "--root", str(root)]) == 0
    assert (root / "indy_test.mat").read_bytes() == PAYLOAD
    assert f"indy_test: {root / 'indy_test.mat'}" in capsys.readouterr().out


@pytest.mark.usefixtures("test_registry")
def test_cli_network_failure_is_one_line_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    assert main(["fetch", "indy_test", "--root", str(tmp_path), "--base-url", base]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("bmi-decoder fetch: network error:")


def test_cli_unknown_name_exits_2_naming_the_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "indy_20160630_01", "indy_nope", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "indy_nope" in err and "loco_20170301_05" in err
    assert list(tmp_path.iterdir()) == []  # names are checked before anything is downloaded


def test_cli_list_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "indy_20160622_01" in listing and "cifar10dvs" in listing
    with pytest.raises(SystemExit) as exited:
        main(["fetch", "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert "--base-url" in help_text and "resume" in help_text and "exit status" in help_text
