"""``fairssl data list`` / ``check``: sources, addresses and file checks, all from the loader modules."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.data.loaders import SOURCES

runner = CliRunner()
XPORT = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!" + b"0" * 30 + b"  "
MORT_LINE = "31128" + " " * 9 + "11001" + "01" + " " * 21 + "061060\n"  # SEQN 1-14, ELIGSTAT 15, ... 46-48


def write_nhanes(root: Path, *, dpq: bool = True) -> None:
    """File starts as the CDC publishes them; PAXRAW padded to exactly 2,500,000 bytes (2.5 MB)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "PAXRAW_D.XPT").write_bytes(XPORT.ljust(2_500_000, b" "))
    (root / "demo_d.xpt").write_bytes(XPORT + b" " * 920)  # 1,000 bytes; lower case is found too
    if dpq:
        (root / "DPQ_D.XPT").write_bytes(XPORT)
    (root / "NHANES_2005_2006_MORT_2019_PUBLIC.dat").write_text(MORT_LINE * 2)


def test_list_names_every_real_source_with_its_address_access_and_files() -> None:
    res = runner.invoke(app, ["data", "list"])
    assert res.exit_code == 0, res.output
    listed = [line.split(":")[0] for line in res.stdout.splitlines() if line and not line.startswith(" ")]
    assert set(listed) == {"nhanes", "mimic3", "mesa", "globem", "physionet2012", "pbcseq"}
    assert "simulate" not in listed and "arrays" not in listed and "folder" not in listed
    for source in listed:  # the text comes from the loader module, so the two cannot drift
        module = importlib.import_module(SOURCES[source][0])
        block = res.stdout.split(f"{source}: ", 1)[1].split("\n\n", 1)[0]
        assert f"obtain: {module.OBTAIN['url']}" in block and f"access: {module.OBTAIN['access']}" in block
        for requirement in module.EXPECTED_FILES:
            assert " or ".join(requirement["glob"]) in block
    assert "linked_mortality" in res.stdout and "credentialed" in res.stdout


def test_check_complete_nhanes_folder_reports_sizes_and_exits_0(tmp_path: Path) -> None:
    write_nhanes(tmp_path)
    res = runner.invoke(app, ["data", "check", "nhanes", str(tmp_path)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert any(line.startswith("ok       PAXRAW_D.XPT  2.5 MB") for line in lines)
    assert any(line.startswith("ok       demo_d.xpt  1.0 KB") for line in lines)
    assert any(line.startswith("ok       NHANES_2005_2006_MORT_2019_PUBLIC.dat  98 B") for line in lines)
    total = sum(f.stat().st_size for f in tmp_path.iterdir())  # 2,500,000 + 1,000 + 80 + 98
    assert lines[-1] == f"nhanes: {tmp_path} is complete: 4 file(s), {total / 1e6:.1f} MB"


def test_check_reports_one_line_per_problem_and_exits_2(tmp_path: Path) -> None:
    write_nhanes(tmp_path, dpq=False)
    (tmp_path / "demo_d.xpt").write_text("SEQN,RIAGENDR\n1,2\n")  # a CSV, not SAS transport
    (tmp_path / "NHANES_2005_2006_MORT_2019_PUBLIC.dat").write_text("SEQN ELIGSTAT MORTSTAT\n")
    proc = subprocess.run(
        [sys.executable, "-m", "fairssl.cli", "data", "check", "nhanes", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    problems = proc.stderr.strip().splitlines()
    assert len(problems) == 4, proc.stderr  # three problems, then the one error line
    assert problems[0].startswith("problem: demo_d.xpt: does not start with 'HEADER RECORD")
    assert "missing: no file matches DPQ_*.XPT" in problems[1]
    assert problems[2].startswith("problem: NHANES_2005_2006_MORT_2019_PUBLIC.dat: first line 'SEQN")
    assert problems[3].startswith(f"error: {tmp_path} is not a complete nhanes folder (3 problem(s) above)")
    assert "ftp.cdc.gov" in problems[3] and "Traceback" not in proc.stderr
    assert "bad      demo_d.xpt" in proc.stdout and "ok       PAXRAW_D.XPT  2.5 MB" in proc.stdout


def test_optional_file_may_be_absent_and_csv_headers_are_checked(tmp_path: Path) -> None:
    write_nhanes(tmp_path)
    (tmp_path / "NHANES_2005_2006_MORT_2019_PUBLIC.dat").unlink()
    res = runner.invoke(app, ["data", "check", "nhanes", str(tmp_path)])
    assert res.exit_code == 0 and "absent   NHANES_*_MORT_2019_PUBLIC.dat  (optional" in res.stdout

    root = tmp_path / "challenge"
    (root / "set-a" / "set-a").mkdir(parents=True)  # the doubled folder some unzip tools leave
    for record in ("132539", "132540"):
        (root / "set-a" / "set-a" / f"{record}.txt").write_text(
            f"Time,Parameter,Value\n00:00,RecordID,{record}\n"
        )
    (root / "Outcomes-a.txt").write_text("RecordID,SAPS-I,SOFA,Length_of_stay,Survival\n132539,6,1,5,-1\n")
    res = runner.invoke(app, ["data", "check", "physionet2012", str(root)])
    assert res.exit_code == 2
    assert "ok       set-a/set-a/*.txt (2 files)  86 B  set A records" in res.stdout  # 2 x 43 bytes
    assert "problem: Outcomes-a.txt: header lacks column(s) In-hospital_death" in res.output
    (root / "Outcomes-a.txt").write_text(
        "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n132539,6,1,5,-1,0\n"
    )
    res = runner.invoke(app, ["data", "check", "physionet2012", str(root)])
    assert res.exit_code == 0 and "is complete: 3 file(s)" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "check", "simulate", "."], "unknown real data source 'simulate'; choose one of: "),
        (["data", "check", "pbcseq", "."], "data source 'pbcseq' reads no files"),
        (["data", "check", "nhanes", "no/such/folder"], "no/such/folder is not a folder"),
    ],
)
def test_check_usage_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and message in res.output
    assert len(res.output.strip().splitlines()) == 1


FIXTURES = Path(__file__).parents[1] / "data"
if str(FIXTURES) not in sys.path:  # --import-mode=importlib: make the fixture writers importable
    sys.path.insert(0, str(FIXTURES))
from fixtures_paper import mesa_users, write_globem, write_mesa, write_mimic3  # noqa: E402


@pytest.mark.parametrize("layout", ["split", "combined", "per_user", "per_user_reference", "raw"])
def test_folders_the_loaders_read_pass_the_check(tmp_path: Path, layout: str) -> None:
    """The loader tests' release-format fixtures (which the loaders load) are complete by `data check`."""
    path = write_mesa(tmp_path / "mesa", mesa_users(2, 1), layout=layout)
    res = runner.invoke(app, ["data", "check", "mesa", str(path if path.is_dir() else path.parent)])
    assert res.exit_code == 0, res.output
    assert "ok       demographics.csv" in res.stdout  # semicolon-separated NSRR file: header still read
    if layout == "split":
        write_mimic3(tmp_path / "mimic3", n_random_subjects=2)
        res = runner.invoke(app, ["data", "check", "mimic3", str(tmp_path / "mimic3")])
        assert res.exit_code == 0 and "root/all_stays.csv" in res.stdout, res.output
        write_globem(tmp_path / "globem", n_pids=(2, 2), n_days=30)
        res = runner.invoke(app, ["data", "check", "globem", str(tmp_path / "globem")])
        assert res.exit_code == 0, res.output
