"""fairssl.data.download against a local HTTP server (never the internet): full, resumed and restarted
downloads, the sha256 record, archive extraction and its refusals, network errors."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fairssl.data import download as dl
from fairssl.data.download import DOWNLOADS, MANIFEST, Download, DownloadError, extract, fetch, select
from fairssl.data.loaders import nhanes, nhanes_mortality, physionet2012
from fairssl.errors import ConfigError, DataError

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes, every byte value, no repeating prefix issue


@dataclass
class Server:
    """Files served at ``/<name>``; ``seen``: the Range header of every request (None when absent)."""

    files: dict[str, bytes]
    ranges: bool = True  # False: Range is ignored and the whole file is sent with 200
    truncate: bool = False  # True: announce the full length, send half, close (an interrupted transfer)
    wrong_range: bool = False  # True: answer a Range request with 206 for the whole file (bytes 0-)
    seen: list[str | None] = field(default_factory=list)
    base: str = ""


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        state: Server = self.server.state  # type: ignore[attr-defined]
        body = state.files.get(self.path.lstrip("/"))
        state.seen.append(self.headers.get("Range"))
        if body is None:
            self.send_error(404, "Not Found")
            return
        start, status = 0, 200
        wanted = self.headers.get("Range")
        if wanted and state.ranges:
            start = 0 if state.wrong_range else int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_error(416, "Range Not Satisfiable")
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        sent = body[start:]
        self.wfile.write(sent[: len(sent) // 2] if state.truncate else sent)
        self.close_connection = True

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass


@contextmanager
def serve(
    files: dict[str, bytes], *, ranges: bool = True, truncate: bool = False, wrong_range: bool = False
) -> Iterator[Server]:
    """A local HTTP server on a free port, in a thread, for the duration of the block."""
    state = Server(files, ranges=ranges, truncate=truncate, wrong_range=wrong_range)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = state  # type: ignore[attr-defined]
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port_url() -> str:
    """An address on localhost where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/missing.txt"


def item(server: Server, name: str, *, sha256: str | None = None) -> Download:
    return Download(server.base + name, name, sha256, "test file", len(server.files.get(name, b"")))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_full_download_writes_the_file_and_records_url_size_and_sha256(tmp_path: Path) -> None:
    with serve({"DEMO_D.xpt": PAYLOAD}) as server:
        got = fetch(item(server, "DEMO_D.xpt"), tmp_path / "new")
    root = tmp_path / "new"
    assert (root / "DEMO_D.xpt").read_bytes() == PAYLOAD and not (root / "DEMO_D.xpt.part").exists()
    assert got.status == "downloaded" and got.size == len(PAYLOAD) and got.sha256 == sha(PAYLOAD)
    record = json.loads((root / MANIFEST).read_text())["files"]["DEMO_D.xpt"]
    assert record["url"] == server.base + "DEMO_D.xpt" and record["size"] == 10_240
    assert record["sha256"] == sha(PAYLOAD) and record["time"].endswith("Z")
    assert server.seen == [None]  # nothing to resume: no Range header


def test_resume_asks_for_the_rest_with_range_and_gives_identical_bytes(tmp_path: Path) -> None:
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:4000])
    with serve({"f.bin": PAYLOAD}) as server:
        got = fetch(item(server, "f.bin"), tmp_path)
    assert server.seen == ["bytes=4000-"]
    assert got.status == "resumed" and (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()


def test_server_without_range_support_restarts_from_scratch(tmp_path: Path) -> None:
    (tmp_path / "f.bin.part").write_bytes(b"x" * 3000)  # wrong bytes: appending would corrupt the file
    with serve({"f.bin": PAYLOAD}, ranges=False) as server:
        got = fetch(item(server, "f.bin"), tmp_path)
    assert server.seen == ["bytes=3000-"]  # asked, answered 200 with the whole file
    assert got.status == "downloaded" and (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_a_206_for_another_range_than_asked_is_not_appended(tmp_path: Path) -> None:
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:3000])
    with serve({"f.bin": PAYLOAD}, wrong_range=True) as server:
        got = fetch(item(server, "f.bin"), tmp_path)
    assert server.seen == ["bytes=3000-", None]  # the odd answer was dropped and the file asked for again
    assert got.status == "downloaded" and (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_a_whole_part_file_answered_416_is_fetched_again(tmp_path: Path) -> None:
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD + b"extra")
    with serve({"f.bin": PAYLOAD}) as server:
        fetch(item(server, "f.bin"), tmp_path)
    assert server.seen == [f"bytes={len(PAYLOAD) + 5}-", None]
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_interrupted_transfer_leaves_only_the_part_file_and_a_rerun_resumes(tmp_path: Path) -> None:
    with serve({"f.bin": PAYLOAD}, truncate=True) as server, pytest.raises(DownloadError) as info:
        fetch(item(server, "f.bin"), tmp_path)
    assert server.base + "f.bin" in str(info.value) and "run the command again" in str(info.value)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / MANIFEST).exists()
    half = (tmp_path / "f.bin.part").read_bytes()
    assert 0 < len(half) < len(PAYLOAD) and PAYLOAD.startswith(half)
    with serve({"f.bin": PAYLOAD}) as server:
        got = fetch(item(server, "f.bin"), tmp_path)
    assert server.seen == [f"bytes={len(half)}-"] and got.status == "resumed"
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_rerun_skips_a_file_whose_sha256_matches_its_record(tmp_path: Path) -> None:
    with serve({"f.bin": PAYLOAD}) as server:
        fetch(item(server, "f.bin"), tmp_path)
        again = fetch(item(server, "f.bin"), tmp_path)
    assert server.seen == [None]  # one request in all
    assert again.status == "kept" and again.problem == "" and again.sha256 == sha(PAYLOAD)


def test_rerun_reports_a_checksum_mismatch_and_leaves_the_file(tmp_path: Path) -> None:
    with serve({"f.bin": PAYLOAD}) as server:
        fetch(item(server, "f.bin"), tmp_path)
        (tmp_path / "f.bin").write_bytes(PAYLOAD[:-1] + b"?")
        again = fetch(item(server, "f.bin"), tmp_path)
    assert server.seen == [None]
    assert again.status == "mismatch" and "delete" in again.problem
    assert f"differs from the one recorded in {MANIFEST}" in again.problem
    assert again.sha256 == sha(PAYLOAD[:-1] + b"?")
    assert json.loads((tmp_path / MANIFEST).read_text())["files"]["f.bin"]["sha256"] == sha(PAYLOAD)


def test_a_file_present_but_never_recorded_is_recorded_not_fetched(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"placed by hand")
    with serve({"f.bin": PAYLOAD}) as server:
        got = fetch(item(server, "f.bin"), tmp_path)
    assert server.seen == [] and got.status == "recorded" and got.sha256 == sha(b"placed by hand")


def test_published_sha256_mismatch_deletes_the_download(tmp_path: Path) -> None:
    with serve({"f.bin": PAYLOAD}) as server, pytest.raises(DownloadError, match="not the published"):
        fetch(item(server, "f.bin", sha256="0" * 64), tmp_path)
    assert list(tmp_path.iterdir()) == []
    with serve({"f.bin": PAYLOAD}) as server:
        assert fetch(item(server, "f.bin", sha256=sha(PAYLOAD)), tmp_path).status == "downloaded"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink is not None:
            link = tarfile.TarInfo(symlink)
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tf.addfile(link)
    return buffer.getvalue()


def test_zip_is_extracted_and_a_missing_member_is_extracted_again(tmp_path: Path) -> None:
    members = {"paxraw_d.xpt": PAYLOAD, "docs/readme.txt": b"hello"}
    with serve({"PAXRAW_D.zip": zip_bytes(members)}) as server:
        got = fetch(item(server, "PAXRAW_D.zip"), tmp_path)
        assert got.extracted == ("paxraw_d.xpt", "docs/readme.txt")
        assert all((tmp_path / name).read_bytes() == data for name, data in members.items())
        record = json.loads((tmp_path / MANIFEST).read_text())["files"]["PAXRAW_D.zip"]
        assert record["members"] == ["paxraw_d.xpt", "docs/readme.txt"]
        (tmp_path / "paxraw_d.xpt").unlink()
        again = fetch(item(server, "PAXRAW_D.zip"), tmp_path)
        untouched = fetch(item(server, "PAXRAW_D.zip"), tmp_path)
    assert server.seen == [None]  # the archive itself was fetched once
    assert again.status == "kept" and again.extracted == got.extracted and untouched.extracted == ()
    assert (tmp_path / "paxraw_d.xpt").read_bytes() == PAYLOAD


def test_tar_gz_is_extracted_into_its_folders(tmp_path: Path) -> None:
    members = {"set-a/132539.txt": b"Time,Parameter,Value\n", "set-a/132540.txt": PAYLOAD}
    with serve({"set-a.tar.gz": tar_bytes(members)}) as server:
        got = fetch(item(server, "set-a.tar.gz"), tmp_path)
    assert sorted(got.extracted) == sorted(members)
    assert all((tmp_path / name).read_bytes() == data for name, data in members.items())
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize(
    ("name", "archive", "message"),
    [
        ("bad.tar.gz", tar_bytes({"ok.txt": b"1", "../evil.txt": b"2"}), "'..' component"),
        ("bad.zip", zip_bytes({"ok.txt": b"1", "a/../../evil.txt": b"2"}), "'..' component"),
        ("bad.zip", zip_bytes({"ok.txt": b"1", "/tmp/evil.txt": b"2"}), "absolute path"),
        ("bad.tar.gz", tar_bytes({"ok.txt": b"1"}, symlink="link"), "link or special file"),
    ],
)
def test_unsafe_archive_members_refuse_the_whole_archive(
    tmp_path: Path, name: str, archive: bytes, message: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / name).write_bytes(archive)
    with pytest.raises(DataError, match=message) as info:
        extract(tmp_path / name, root)
    assert "refusing to extract" in str(info.value)
    assert (
        list(root.iterdir()) == [] and not (tmp_path / "evil.txt").exists()
    )  # nothing written, not even ok.txt


def test_unreachable_and_missing_addresses_raise_one_line_download_errors(tmp_path: Path) -> None:
    url = closed_port_url()
    with pytest.raises(DownloadError) as info:
        fetch(Download(url, "missing.txt", None, "nothing", 1), tmp_path)
    assert url in str(info.value) and "internet connection" in str(info.value) and "\n" not in str(info.value)
    with serve({}) as server, pytest.raises(DownloadError, match="HTTP 404"):
        fetch(item(server, "absent.txt"), tmp_path)
    assert not (tmp_path / "missing.txt").exists() and not (tmp_path / "absent.txt").exists()


def test_select_takes_optional_parts_only_when_included() -> None:
    default = [d.name for d in select("physionet2012")]
    assert default == ["set-a.tar.gz", "Outcomes-a.txt"]
    with_b = [d.name for d in select("physionet2012", ("set-b",))]
    assert with_b == ["set-a.tar.gz", "Outcomes-a.txt", "set-b.tar.gz", "Outcomes-b.txt"]
    assert [d.name for d in select("nhanes")] == [
        "DEMO_D.xpt",
        "DPQ_D.xpt",
        "PAXRAW_D.zip",
        "NHANES_2005_2006_MORT_2019_PUBLIC.dat",
    ]
    with pytest.raises(ConfigError, match="choose from: set-b, set-c"):
        select("physionet2012", ("set-d",))
    with pytest.raises(ConfigError, match="choose from: none"):
        select("nhanes", ("set-b",))
    with pytest.raises(ConfigError, match="choose one of: nhanes, physionet2012"):
        select("mimic3")


def test_addresses_come_from_the_loader_constants_that_obtain_shows() -> None:
    """One source of truth: every download address starts with a constant the loader's OBTAIN uses."""
    assert (
        nhanes.CYCLE_PAGE_URL in nhanes.OBTAIN["url"]
        and nhanes_mortality.MORTALITY_URL in nhanes.OBTAIN["url"]
    )
    assert physionet2012.OBTAIN["url"] == physionet2012.PAGE_URL
    for d in DOWNLOADS["nhanes"]:
        assert d.url in (nhanes.DATA_FILES_URL + d.name, nhanes_mortality.MORTALITY_URL + d.name)
    assert all(d.url == physionet2012.FILES_URL + d.name for d in DOWNLOADS["physionet2012"])
    assert all(d.url.startswith("https://") for table in DOWNLOADS.values() for d in table)


def test_download_fetches_the_selected_table_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "Outcomes-a.txt": b"RecordID\n",
        "Outcomes-b.txt": b"RecordID\n1\n",
        "set-a.tar.gz": tar_bytes({}),
    }
    files["set-b.tar.gz"] = tar_bytes({"set-b/1.txt": b"Time,Parameter,Value\n"})
    with serve(files) as server:
        table = tuple(replace(d, url=server.base + d.name) for d in DOWNLOADS["physionet2012"])
        monkeypatch.setitem(dl.DOWNLOADS, "physionet2012", table)
        got = dl.download("physionet2012", tmp_path, include=("set-b",))
    assert [f.item.name for f in got] == ["set-a.tar.gz", "Outcomes-a.txt", "set-b.tar.gz", "Outcomes-b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted([*files, MANIFEST])
    assert (tmp_path / "set-b" / "1.txt").read_bytes() == b"Time,Parameter,Value\n"
