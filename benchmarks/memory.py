"""Peak memory of a MESA-sized dataset: memory-mapped loading vs reading X into RAM.

Writes a dataset of MESA's size (2,266,659 windows x 5 channels x 101 steps, float32 = 4.6 GB; ``--quick``
uses 1/20 of it) as a WindowDataset folder (``X.npy`` written chunk by chunk with
``numpy.lib.format.open_memmap``, ``windows.parquet``, ``dataset.json``), then in a FRESH subprocess per mode
measures the peak resident set size (``VmHWM`` of /proc/self/status, i.e. ``ru_maxrss``) while loading and
iterating over every window in batches of 4,096 as training would (a per-channel mean):

- ``imports``      python + numpy + pandas + fairssl imported, nothing loaded (the floor);
- ``metadata``     ``WindowDataset.load(mmap=True)`` only: the per-window ids, labels and attributes;
- ``ram``          ``WindowDataset.load(mmap=False)``: X read whole into RAM (the baseline);
- ``mmap``         ``WindowDataset.load(mmap=True)``, batches sliced from the memmap;
- ``mmap+release`` as ``mmap``, but after each batch its pages are released from the process with
  ``madvise(MADV_DONTNEED)`` (they stay in the OS page cache; Linux only).

Touched pages of a memmap count in RSS as *file-backed* pages (``RssFile``): the kernel can drop them under
memory pressure, unlike the anonymous pages of ``ram``, but a plain RSS figure shows them. The
``mmap+release`` mode shows what a streaming reader that hands pages back measures. Timings are with a warm
page cache (the file was just written). The big files are deleted at the end.

    python benchmarks/memory.py            # full size, 4.6 GB on disk (about 1-3 minutes)
    python benchmarks/memory.py --quick    # 1/20 of it
"""

from __future__ import annotations

import argparse
import json
import mmap
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

MESA_WINDOWS = 2_266_659
CHANNELS = 5
STEPS = 101
SUBJECTS = 1_817
BATCH = 4096
MODES = ("imports", "metadata", "ram", "mmap", "mmap+release")


# ------------------------------------------------------------------------------------------ writing
def write_dataset(folder: Path, n: int, *, seed: int = 0) -> int:
    """Write a WindowDataset folder of ``n`` windows without holding X in RAM; returns X's size in bytes."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.float32, shape=(n, CHANNELS, STEPS))
    chunk = 32_768
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        X[lo:hi] = rng.standard_normal((hi - lo, CHANNELS, STEPS), dtype=np.float32)
        X.flush()
    nbytes = int(X.nbytes)
    del X
    per_subject = np.diff(np.linspace(0, n, SUBJECTS + 1).astype(np.int64)).astype(np.int64)
    subject_idx = np.repeat(np.arange(SUBJECTS), per_subject)  # (n,)
    position = np.arange(n) - np.repeat(np.cumsum(per_subject) - per_subject, per_subject)
    subject = pd.Series(subject_idx).map(lambda i: f"mesa{i:04d}")
    split_of_subject = np.where(
        np.arange(SUBJECTS) % 5 == 0, "test", np.where(np.arange(SUBJECTS) % 5 == 1, "val", "train")
    )
    meta = pd.DataFrame(
        {
            "window_id": subject + "@" + pd.Series(position).astype(str),
            "subject": subject,
            "split": split_of_subject[subject_idx],
            "y": rng.integers(0, 2, size=n),
            "sex": np.where(subject_idx % 2 == 0, "female", "male"),
            "race": np.array(["white", "black", "hispanic", "chinese"])[subject_idx % 4],
        }
    )
    meta.to_parquet(folder / "windows.parquet", index=False)
    info = {
        "name": "mesa-sized",
        "channel_names": [f"ch{i}" for i in range(CHANNELS)],
        "attributes": ["sex", "race"],
        "info": {"synthetic": True},
    }
    (folder / "dataset.json").write_text(json.dumps(info))
    return nbytes


# ------------------------------------------------------------------------------------------ child
def _status() -> dict[str, int]:
    """Memory counters of this process in bytes (VmHWM = peak RSS; RssAnon/RssFile = current split)."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    out.setdefault("VmHWM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return out


def _release(X: np.memmap, lo: int, hi: int) -> None:
    """Drop the pages of windows [lo, hi) from this process (they stay in the page cache)."""
    mm = X._mmap  # type: ignore[attr-defined]
    if mm is None:
        return
    row = X.strides[0]
    shift = X.offset % mmap.ALLOCATIONGRANULARITY  # the mapping starts at an aligned file offset
    start = (shift + lo * row) // mmap.PAGESIZE * mmap.PAGESIZE
    mm.madvise(mmap.MADV_DONTNEED, start, shift + hi * row - start)


def child(mode: str, folder: Path) -> dict[str, Any]:
    from fairssl.data.dataset import WindowDataset

    start = time.perf_counter()
    if mode == "imports":
        return {"seconds": 0.0, **_status()}
    ds = WindowDataset.load(folder, mmap=mode != "ram")
    if mode == "metadata":
        return {"seconds": time.perf_counter() - start, **_status()}
    X = ds.X
    total = np.zeros(X.shape[1])
    for lo in range(0, X.shape[0], BATCH):
        hi = min(X.shape[0], lo + BATCH)
        batch = np.asarray(X[lo:hi])  # (b, C, T), as a training step would read it
        total += batch.sum(axis=(0, 2), dtype=np.float64)
        if mode == "mmap+release" and isinstance(X, np.memmap):
            _release(X, lo, hi)
    mean = total / (X.shape[0] * X.shape[2])
    return {
        "seconds": time.perf_counter() - start,
        "mmap": isinstance(X, np.memmap),
        "channel_mean": mean.tolist(),
        **_status(),
    }


def run_child(mode: str, folder: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(folder)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {mode} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1/20 of MESA's size")
    parser.add_argument("--windows", type=int, default=None, help="number of windows (overrides --quick)")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write the data (default: a temp dir)"
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return

    n = args.windows or (MESA_WINDOWS // 20 if args.quick else MESA_WINDOWS)
    root = Path(tempfile.mkdtemp(prefix="fairssl-mem-", dir=args.dir))
    folder = root / "mesa_sized"
    gb = 1024**3
    try:
        t0 = time.perf_counter()
        nbytes = write_dataset(folder, n)
        print(
            f"wrote {n:,} windows x {CHANNELS} x {STEPS} float32 = {nbytes / gb:.2f} GiB to {folder} "
            f"in {time.perf_counter() - t0:.0f} s"
        )
        results = {mode: run_child(mode, folder) for mode in MODES}
    finally:
        shutil.rmtree(root, ignore_errors=True)

    floor = results["imports"]["VmHWM"]
    print(
        f"\npeak RSS per mode (fresh process each; X = {nbytes / gb:.2f} GiB; imports = {floor / gb:.2f} GiB)"
    )
    columns = ("mode", "peak RSS GiB", "peak/X", "(peak-imports)/X", "RssAnon", "RssFile", "seconds")
    widths = (14, 13, 8, 18, 9, 9, 9)
    print(f"{columns[0]:<14}" + "".join(f"{c:>{w}}" for c, w in zip(columns[1:], widths[1:], strict=True)))
    for mode, r in results.items():
        cells = (
            r["VmHWM"] / gb,
            r["VmHWM"] / nbytes,
            (r["VmHWM"] - floor) / nbytes,
            r.get("RssAnon", 0) / gb,
            r.get("RssFile", 0) / gb,
            r["seconds"],
        )
        print(f"{mode:<14}" + "".join(f"{v:>{w}.2f}" for v, w in zip(cells, widths[1:], strict=True)))
    ram = results["ram"]["VmHWM"]
    for mode in ("mmap", "mmap+release"):
        ratio = results[mode]["VmHWM"] / nbytes
        verdict = "meets" if ratio < 1.5 else "misses"
        print(
            f"{mode}: peak/X = {ratio:.2f} ({verdict} the < 1.5 target); "
            f"peak vs the in-RAM baseline = {results[mode]['VmHWM'] / ram:.2f}x"
        )
    means = [np.asarray(results[m]["channel_mean"]) for m in ("ram", "mmap", "mmap+release")]
    agree = all(np.allclose(means[0], m, rtol=0, atol=1e-9) for m in means[1:])
    print(f"per-channel means agree across modes: {agree}; files deleted: {not root.exists()}")


if __name__ == "__main__":
    main()
