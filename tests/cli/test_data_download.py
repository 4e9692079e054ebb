"""``fairssl data download``: fetch from a local server (never the internet), print, then check."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.data import download as dl

HERE = Path(__file__).parents[1] / "data"
if str(HERE) not in sys.path:  # --import-mode=importlib: make the local server helpers importable
    sys.path.insert(0, str(HERE))
from test_download import closed_port_url, serve, tar_bytes, zip_bytes  # noqa: E402

runner = CliRunner()
RECORD = b"Time,Parameter,Value\n00:00,RecordID,132539\n00:00,Age,54\n"
OUTCOMES = b"RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n132539,6,1,5,-1,0\n"
FILES = {"set-a.tar.gz": tar_bytes({"set-a/132539.txt": RECORD}), "Outcomes-a.txt": OUTCOMES}


def point_at(monkeypatch: pytest.MonkeyPatch, base: str) -> None:
    table = tuple(replace(d, url=base + d.name) for d in dl.DOWNLOADS["physionet2012"])
    monkeypatch.setitem(dl.DOWNLOADS, "physionet2012", table)


def test_download_prints_each_file_then_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(FILES) as server:
        point_at(monkeypatch, server.base)
        res = runner.invoke(app, ["data", "download", "physionet2012", str(tmp_path / "p12")])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith(
        f"physionet2012: 2 file(s), about 13.1 MB as published, into {tmp_path / 'p12'}"
    )
    assert lines[1].startswith("downloaded set-a.tar.gz") and "1 file(s) extracted" in lines[1]
    assert lines[2].startswith(f"downloaded Outcomes-a.txt  {len(OUTCOMES)} B  sha256 ")
    assert any(line.startswith("ok       set-a/132539.txt") for line in lines)
    assert lines[-1].startswith(f"physionet2012: {tmp_path / 'p12'} is complete")
    assert (tmp_path / "p12" / "set-a" / "132539.txt").read_bytes() == RECORD


def test_quiet_prints_only_the_check_and_a_rerun_fetches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(FILES) as server:
        point_at(monkeypatch, server.base)
        first = runner.invoke(app, ["data", "download", "physionet2012", str(tmp_path), "--quiet"])
        second = runner.invoke(app, ["data", "download", "physionet2012", str(tmp_path)])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "downloaded" not in first.stdout and "file(s), about" not in first.stdout
    assert first.stdout.splitlines()[-1].startswith(f"physionet2012: {tmp_path} is complete")
    assert len(server.seen) == 2  # the second run asked for nothing
    assert [line.split()[0] for line in second.stdout.splitlines()[1:3]] == ["kept", "kept"]


def test_checksum_mismatch_on_rerun_is_reported_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(FILES) as server:
        point_at(monkeypatch, server.base)
        assert runner.invoke(app, ["data", "download", "physionet2012", str(tmp_path)]).exit_code == 0
        (tmp_path / "Outcomes-a.txt").write_bytes(OUTCOMES + b"132540,1,1,1,-1,1\n")
        res = runner.invoke(app, ["data", "download", "physionet2012", str(tmp_path)])
    assert res.exit_code == 2
    assert "problem: Outcomes-a.txt: sha256" in res.output and "differs from the one recorded" in res.output
    assert "do not match" in res.output and "is complete" not in res.output


def test_unreachable_address_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = closed_port_url()
    point_at(monkeypatch, url.rsplit("/", 1)[0] + "/")
    res = runner.invoke(app, ["data", "download", "physionet2012", str(tmp_path), "--quiet"])
    assert res.exit_code == 2
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and url.rsplit("/", 1)[0] + "/set-a.tar.gz" in errors[0]
    assert "internet connection" in errors[0] and "Traceback" not in res.output
    assert not (tmp_path / "set-a.tar.gz").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "download", "mimic3", "x"], "no download for data source 'mimic3'"),
        (["data", "download", "physionet2012", "x", "--include", "set-z"], "choose from: set-b, set-c"),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, [*args[:3], str(tmp_path / args[3]), *args[4:]])
    assert res.exit_code == 2 and message in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / args[3]).exists()


def test_nhanes_zip_is_extracted_and_the_folder_checks_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xport = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!" + b"0" * 32
    mortality = "31128" + " " * 9 + "11001" + "01" + " " * 21 + "061060\n"  # the NCHS fixed-width layout
    files = {"DEMO_D.xpt": xport, "DPQ_D.xpt": xport, "PAXRAW_D.zip": zip_bytes({"paxraw_d.xpt": xport * 3})}
    files["NHANES_2005_2006_MORT_2019_PUBLIC.dat"] = mortality.encode()
    with serve(files) as server:
        table = tuple(replace(d, url=server.base + d.name) for d in dl.DOWNLOADS["nhanes"])
        monkeypatch.setitem(dl.DOWNLOADS, "nhanes", table)
        res = runner.invoke(app, ["data", "download", "nhanes", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert any(line.startswith("ok       paxraw_d.xpt  240 B") for line in res.stdout.splitlines())
    assert res.stdout.splitlines()[-1].startswith(f"nhanes: {tmp_path} is complete: 4 file(s)")


def test_list_shows_the_download_command_for_exactly_the_downloadable_sources() -> None:
    res = runner.invoke(app, ["data", "list"])
    assert res.exit_code == 0, res.output
    fetch_lines = [line for line in res.stdout.splitlines() if line.startswith("  fetch:")]
    assert len(fetch_lines) == len(dl.DOWNLOADS) == 2
    block = res.stdout.split("physionet2012: ", 1)[1].split("\n\n", 1)[0]
    assert "fairssl data download physionet2012 DIR (2 files, about 13.1 MB; --include set-b, set-c" in block
    assert "fairssl data download nhanes DIR (4 files, about " in res.stdout
    assert "data download mimic3" not in res.stdout
