"""Operating-system errors and internal errors through the CLI: one line, never a traceback.

OS errors (the user's environment): ``error: <what failed>: <path>: <reason>; <what to do>``, exit 2.
Anything unexpected: exit 1, one line giving the path of a log file holding the traceback.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairssl.cli import LOG_NAME, app

runner = CliRunner()


def _one_line(res) -> str:
    lines = [line for line in res.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert "Traceback" not in res.output
    return lines[0]


def _raising(monkeypatch, exc: BaseException) -> None:
    import fairssl.report.html as html

    def boom(run_dir, **kwargs):
        raise exc

    monkeypatch.setattr(html, "build_report", boom)


def test_output_parent_that_is_a_file_is_one_line(tmp_path) -> None:
    """Real: `run --out` below a file fails when the run folder is created, before any data."""
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder")
    res = runner.invoke(app, ["run", "--out", str(blocker / "study")])
    assert res.exit_code == 2
    line = _one_line(res)
    assert line == (
        f"error: cannot use the path: {blocker / 'study'}: Not a directory; a part of it is a file, "
        "not a folder: choose another path or move that file"
    )
    config = tmp_path / "study.toml"
    config.write_text(f'output_dir = "{blocker}"\n')
    res = runner.invoke(app, ["run", "--config", str(config)])
    assert res.exit_code == 2 and "Not a directory; a part of it is a file" in _one_line(res)


def test_a_non_utf8_config_is_one_line_through_the_cli(tmp_path) -> None:
    f = tmp_path / "study.toml"
    f.write_bytes(b'name = "\xff\xfe"\n')
    res = runner.invoke(app, ["run", "--config", str(f)])
    assert res.exit_code == 2
    assert _one_line(res).startswith(f"error: config file {f} is not UTF-8 text (byte 0xff at offset 8)")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro/run/report.html"),
            "error: cannot write: /mnt/ro/run/report.html: Read-only file system; the file system is "
            "read-only: write somewhere else",
        ),
        (
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/full/run/results/cka.csv"),
            "error: cannot write: /full/run/results/cka.csv: No space left on device; the disk is full: "
            "free space or write somewhere else, then run the same command again",
        ),
        (  # a write to an open file reports no path
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
            "error: cannot write: No space left on device; the disk is full",
        ),
        (
            PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/srv/locked/run/figures"),
            "error: cannot write: /srv/locked/run/figures: Permission denied; give your user write access",
        ),
        (
            FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/data/cohort.csv"),
            "error: not found: /data/cohort.csv: No such file or directory; check the path",
        ),
        (
            IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), "/data/cohort"),
            "error: cannot open as a file: /data/cohort: Is a directory; give the path of a file",
        ),
        (
            FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), "/out/run"),
            "error: cannot create: /out/run: File exists; a file is in the way where a folder is needed",
        ),
        (
            OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), "/x/" + "a" * 300),
            f"error: cannot access: /x/{'a' * 300}: File name too long; check the path",
        ),
    ],
)
def test_os_errors_are_one_line_with_exit_2(monkeypatch, tmp_path, exc: OSError, expected: str) -> None:
    _raising(monkeypatch, exc)
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2
    assert _one_line(res).startswith(expected)
    assert not (tmp_path / LOG_NAME).exists()  # the user's environment, not a bug: no crash log


def test_unreadable_file_says_read_not_write(monkeypatch, tmp_path) -> None:
    data = tmp_path / "cohort.csv"
    data.write_text("a\n1\n")
    real_access = os.access
    monkeypatch.setattr(  # as for a chmod 000 file (root reads everything, so it is simulated)
        os,
        "access",
        lambda path, mode: real_access(path, mode) and not (Path(path) == data and mode == os.R_OK),
    )
    _raising(monkeypatch, PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(data)))
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2
    assert _one_line(res).startswith(f"error: cannot read: {data}: Permission denied; give your user read")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file permissions")
def test_real_read_only_run_folder(tmp_path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        res = runner.invoke(app, ["run", "--out", str(folder / "sub")])
        assert res.exit_code == 2 and "Permission denied" in _one_line(res)
    finally:
        folder.chmod(0o700)


def test_an_internal_error_is_one_line_pointing_to_a_log_in_the_run_folder(monkeypatch, tmp_path) -> None:
    _raising(monkeypatch, ValueError("boom\nwith a second line"))
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 1
    log = tmp_path / LOG_NAME
    assert _one_line(res) == (
        f"error: internal error (ValueError: boom with a second line); the traceback is in {log}; "
        "please report it with that file"
    )
    text = log.read_text()
    assert (
        "Traceback (most recent call last)" in text and "ValueError: boom" in text and "def boom" not in text
    )
    assert "in boom" in text  # the frame that raised


def test_without_a_run_folder_the_log_goes_to_a_temp_file(monkeypatch, tmp_path) -> None:
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    _raising(monkeypatch, KeyError("column"))
    res = runner.invoke(app, ["report", str(tmp_path / "missing-run")])
    assert res.exit_code == 1
    (log,) = list(temp.glob("fairssl-error-*.log"))
    assert f"the traceback is in {log}" in _one_line(res)
    assert "KeyError: 'column'" in log.read_text()


def test_an_os_error_without_a_path_of_an_unknown_kind_is_internal(monkeypatch, tmp_path) -> None:
    _raising(monkeypatch, ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"))
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 1
    assert "internal error (ConnectionResetError:" in _one_line(res)
    assert Path(tmp_path / LOG_NAME).is_file()


def test_ctrl_c_still_exits_130(monkeypatch, tmp_path) -> None:
    _raising(monkeypatch, KeyboardInterrupt())
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 130 and "interrupted" in res.output


def test_fairssl_debug_raises_the_internal_error_itself(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("FAIRSSL_DEBUG", "1")
    _raising(monkeypatch, ValueError("boom"))
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert isinstance(res.exception, ValueError) and not (tmp_path / LOG_NAME).exists()


def test_an_unwritable_results_store_is_one_line(monkeypatch, tmp_path) -> None:
    import sqlite3

    import fairssl.experiments.status as status_mod

    def locked(run_dir):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(status_mod, "study_status", locked)
    res = runner.invoke(app, ["status", str(tmp_path)])
    assert res.exit_code == 2
    assert _one_line(res) == (
        f"error: cannot write: {tmp_path / 'results.sqlite'}: attempt to write a readonly database; "
        "give your user write access to it (or to its folder), or write somewhere else"
    )

    def other(run_dir):  # a store error that is not the environment's: a bug
        raise sqlite3.OperationalError("x")

    monkeypatch.setattr(status_mod, "study_status", other)
    res = runner.invoke(app, ["status", str(tmp_path)])
    assert res.exit_code == 1 and "internal error (OperationalError: x)" in _one_line(res)
