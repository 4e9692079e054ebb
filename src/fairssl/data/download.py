"""Downloading a real cohort's public files into a folder: resumable, checksummed, archives extracted.

Only for sources a user may fetch without credentials (:data:`DOWNLOADS`); nothing else in fairssl
touches the network. Each file is fetched over plain HTTPS (``urllib``) from the publisher's address,
which the loader module declares once (its ``OBTAIN`` text is built from the same constants):

1. ``<name>.part`` is written first; when it exists from an interrupted run, the request asks for the
   rest (``Range: bytes=<size>-``) and appends when the server answers 206, else starts over;
2. the complete file's sha256 is compared with the published one (when :class:`Download` knows it),
   then the file is renamed to ``<name>`` and ``{url, size, sha256, time}`` is recorded in
   ``DIR/fairssl-download.json`` (:data:`MANIFEST`);
3. on a later run a file whose sha256 matches its record is skipped; one that does not is reported
   (``problem``) and left alone: the user deletes it to fetch it again;
4. ``.zip`` / ``.tar.gz`` archives are extracted into ``DIR`` after checking every member (no absolute
   path, no ``..``, no links or devices); their member list is recorded so a re-run extracts again only
   when a member is missing.

A network failure raises :class:`DownloadError` (one line: the address, the reason, what to do; exit 2)
and leaves only the ``.part`` file behind, never a half-written file under the final name.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from fairssl.data.loaders import nhanes, nhanes_mortality, physionet2012
from fairssl.errors import ConfigError, DataError, FairsslError

MANIFEST = "fairssl-download.json"
_CHUNK = 1 << 20
_ARCHIVES = (".zip", ".tar.gz", ".tgz")

Progress = Callable[[str, int, int | None], None]
"""``progress(name, bytes_done, bytes_total_or_None)``, called as a file arrives (and once at its start)."""


class DownloadError(FairsslError):
    """A file could not be fetched (network, server, proxy): exit 2, the user's environment to fix."""


@dataclass(frozen=True)
class Download:
    """One published file: its address, the name it gets in the folder, its sha256 when the publisher
    gives one (None: the first download's is recorded and later runs are checked against it), what it
    is, its approximate size in bytes as published (for display only), and the ``--include`` group it
    belongs to (None: always fetched)."""

    url: str
    name: str
    sha256: str | None
    what: str
    approx_bytes: int
    group: str | None = None

    @property
    def is_archive(self) -> bool:
        return self.name.lower().endswith(_ARCHIVES)


def _nhanes() -> tuple[Download, ...]:
    base, mortality = nhanes.DATA_FILES_URL, nhanes_mortality.mortality_file_name("D")
    return (
        Download(f"{base}DEMO_D.xpt", "DEMO_D.xpt", None, "demographics (SAS transport)", 3_400_000),
        Download(f"{base}DPQ_D.xpt", "DPQ_D.xpt", None, "PHQ-9 depression screener (SAS transport)", 500_000),
        Download(
            f"{base}PAXRAW_D.zip",
            "PAXRAW_D.zip",
            None,
            "minute accelerometry, a ZIP holding PAXRAW_D.XPT (about 2.9 GB extracted)",
            400_000_000,
        ),
        Download(
            f"{nhanes_mortality.MORTALITY_URL}{mortality}",
            mortality,
            None,
            "NCHS linked mortality file (fixed-width text)",
            500_000,
        ),
    )


def _physionet2012() -> tuple[Download, ...]:
    base = physionet2012.FILES_URL
    files: list[Download] = []
    for letter in "abc":
        group, upper = (None if letter == "a" else f"set-{letter}"), letter.upper()
        records = f"set {upper} records (tar.gz of set-{letter}/<RecordID>.txt, 4,000 stays)"
        files.append(
            Download(f"{base}set-{letter}.tar.gz", f"set-{letter}.tar.gz", None, records, 13_000_000, group)
        )
        outcomes = f"set {upper} outcomes (CSV, one line per stay)"
        files.append(
            Download(f"{base}Outcomes-{letter}.txt", f"Outcomes-{letter}.txt", None, outcomes, 100_000, group)
        )
    return tuple(files)


DOWNLOADS: dict[str, tuple[Download, ...]] = {"nhanes": _nhanes(), "physionet2012": _physionet2012()}
"""source -> the files `fairssl data download` fetches (the source names of `fairssl data list`)."""


@dataclass(frozen=True)
class Fetched:
    """What happened to one file: ``status`` is ``"downloaded"``, ``"resumed"`` (a ``.part`` was
    continued), ``"kept"`` (present and its sha256 matches the record), ``"recorded"`` (present but
    never recorded, e.g. placed by hand: its sha256 is recorded now) or ``"mismatch"`` (present, sha256
    differs from the record or the published one: ``problem`` says so and the file is left as it is);
    ``extracted``: the archive members written by this call (empty when none were needed)."""

    item: Download
    status: str
    size: int
    sha256: str
    problem: str = ""
    extracted: tuple[str, ...] = ()


def select(source: str, include: tuple[str, ...] = ()) -> tuple[Download, ...]:
    """The files of ``source`` to fetch: those of no group plus those of the groups in ``include``."""
    if source not in DOWNLOADS:
        raise ConfigError(
            f"no download for data source {source!r}; choose one of: {', '.join(DOWNLOADS)} "
            "(the others need credentials: see `fairssl data list`)"
        )
    groups = sorted({d.group for d in DOWNLOADS[source] if d.group is not None})
    unknown = [g for g in include if g not in groups]
    if unknown:
        choices = ", ".join(groups) if groups else "none"
        raise ConfigError(f"--include {unknown[0]!r} is not a part of {source}; choose from: {choices}")
    return tuple(d for d in DOWNLOADS[source] if d.group is None or d.group in include)


def read_manifest(root: Path) -> dict[str, dict[str, Any]]:
    """``DIR/fairssl-download.json`` as ``{file name: {url, size, sha256, time[, members]}}`` ({} if none)."""
    path = root / MANIFEST
    if not path.is_file():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    except (ValueError, AttributeError) as exc:
        raise DataError(f"{path} is not a fairssl download record ({exc}); delete it and run again") from exc
    return dict(files)


def _write_manifest(root: Path, files: dict[str, dict[str, Any]]) -> None:
    tmp = root / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"files": files}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, root / MANIFEST)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _network_error(url: str, reason: object) -> DownloadError:
    return DownloadError(
        f"could not download {url} ({reason}); check the internet connection (and HTTPS_PROXY if a proxy is "
        "needed) and run the command again: it resumes, or download the file by hand into the folder"
    )


def _open(url: str, start: int, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": "fairssl"})
    if start > 0:
        request.add_header("Range", f"bytes={start}-")
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start > 0:  # the .part is already whole or longer than the file: start over
            return None
        raise _network_error(url, f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _network_error(url, getattr(exc, "reason", exc)) from exc


def _transfer(item: Download, part: Path, *, progress: Progress | None, timeout: float) -> bool:
    """Fill ``part`` with the whole file; True when an existing ``.part`` was continued (HTTP 206)."""
    start = part.stat().st_size if part.exists() else 0
    response = _open(item.url, start, timeout)
    wrong = (
        response is not None
        and start > 0
        and response.status == 206
        and not response.headers.get("Content-Range", "").startswith(f"bytes {start}-")
    )
    if wrong:  # a 206 for another range than asked: neither appendable nor whole
        response.close()
        response = None
    if response is None:  # 416 (the .part is whole or longer) or a wrong range: start over
        part.unlink()
        start, response = 0, _open(item.url, 0, timeout)
    with response:
        resumed = start > 0 and response.status == 206
        if not resumed:
            start = 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None and length.isdigit() else None
        done = start
        if progress is not None:
            progress(item.name, done, total)
        with part.open("ab" if resumed else "wb") as handle:  # a disk error here is the OS's line, exit 2
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _network_error(item.url, exc) from exc
                if not chunk:
                    break
                handle.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(item.name, done, total)
    if total is not None and done != total:
        raise _network_error(item.url, f"the connection closed after {done} of {total} bytes")
    return resumed


def fetch(item: Download, root: Path, *, progress: Progress | None = None, timeout: float = 60.0) -> Fetched:
    """Bring ``item`` into ``root`` (see the module docstring for the steps) and extract it if it is an
    archive; the record in ``root/fairssl-download.json`` is updated before returning."""
    root.mkdir(parents=True, exist_ok=True)
    records = read_manifest(root)
    final, part = root / item.name, root / f"{item.name}.part"
    record = records.get(item.name)
    if final.is_file():
        digest = sha256_of(final)
        expected = item.sha256 or (record or {}).get("sha256")
        if expected is not None and digest != expected:
            whose = "published one" if item.sha256 else f"one recorded in {MANIFEST}"
            problem = (
                f"sha256 {digest[:12]}... differs from the {whose} {expected[:12]}...: the file changed or "
                f"is damaged; delete {final} and run again to download it afresh"
            )
            return Fetched(item, "mismatch", final.stat().st_size, digest, problem)
        status = "kept" if record is not None else "recorded"
    else:
        resumed = _transfer(item, part, progress=progress, timeout=timeout)
        digest = sha256_of(part)
        if item.sha256 is not None and digest != item.sha256:
            part.unlink()
            raise DownloadError(
                f"{item.url} arrived with sha256 {digest[:12]}..., not the published {item.sha256[:12]}...; "
                "it was deleted: run the command again"
            )
        os.replace(part, final)
        status, record = ("resumed" if resumed else "downloaded"), None
    entry: dict[str, Any] = {"url": item.url, "size": final.stat().st_size, "sha256": digest}
    entry["time"] = (record or {}).get("time") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    members: tuple[str, ...] = tuple((record or {}).get("members", ()))
    extracted: tuple[str, ...] = ()
    if item.is_archive and (not members or not all((root / m).exists() for m in members)):
        members = extracted = extract(final, root)
    if members:
        entry["members"] = list(members)
    records = read_manifest(root)
    records[item.name] = entry
    _write_manifest(root, records)
    return Fetched(item, status, int(entry["size"]), digest, "", extracted)


def _member_problem(name: str) -> str:
    """Why an archive member may not be written under the target folder ("" when it may)."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in pure.parts:
        return "has a '..' component"
    return ""


def extract(archive: Path, root: Path) -> tuple[str, ...]:
    """Write the regular files of a ``.zip`` / ``.tar.gz`` into ``root``; returns their relative paths.

    Every member is checked before anything is written: an absolute path, a ``..`` component, or (tar)
    a link or device refuses the whole archive with a :class:`DataError`. Each file is written to
    ``<path>.part`` and renamed, so an interrupted extraction leaves no half file under its name."""
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            _refuse_bad(archive, [(i.filename, "") for i in infos])
            files = [i for i in infos if not i.is_dir()]
            for info in files:
                with zf.open(info) as source:
                    _write_member(source, root, info.filename)
            return tuple(i.filename for i in files)
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()
        kinds = [(m.name, "" if m.isfile() or m.isdir() else "is a link or special file") for m in members]
        _refuse_bad(archive, kinds)
        regular = [m for m in members if m.isfile()]
        for member in regular:
            content = tf.extractfile(member)
            if content is not None:  # None only for non-regular members, filtered out above
                with content:
                    _write_member(content, root, member.name)
        return tuple(m.name for m in regular)


def _refuse_bad(archive: Path, members: list[tuple[str, str]]) -> None:
    for name, kind_problem in members:
        problem = _member_problem(name) or kind_problem
        if problem:
            raise DataError(
                f"{archive.name} member {name!r} {problem}; refusing to extract it (nothing was extracted): "
                "the archive is not the published one, delete it and download again"
            )


def _write_member(source: Any, root: Path, name: str) -> None:
    target = root / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    with tmp.open("wb") as handle:
        shutil.copyfileobj(source, handle, _CHUNK)
    os.replace(tmp, target)


def download(
    source: str,
    root: Path,
    *,
    include: tuple[str, ...] = (),
    progress: Progress | None = None,
    timeout: float = 60.0,
) -> list[Fetched]:
    """Fetch every selected file of ``source`` into ``root`` (:func:`select`, :func:`fetch`), in order;
    the first network error stops the run (files already complete stay, the current one as ``.part``)."""
    items = select(source, include)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is not a folder; give a folder to download {source} into")
    return [fetch(item, root, progress=progress, timeout=timeout) for item in items]


__all__ = [
    "DOWNLOADS",
    "MANIFEST",
    "Download",
    "DownloadError",
    "Fetched",
    "download",
    "extract",
    "fetch",
    "read_manifest",
    "select",
    "sha256_of",
]
