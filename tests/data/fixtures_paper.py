"""Writers of small, realistic fake copies of the paper's three datasets, in their on-disk formats.

Headers are written literally as the real files have them (copied from the paper's "Formats a loader
must accept" and from the benchmarks' outputs), not imported from the loaders, so the tests check the
loaders against the formats rather than against themselves. Nothing binary is committed: every test
writes its own fixture into ``tmp_path``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------------------------------------- MIMIC-III
MIMIC_STAY_HEADER = (
    "Hours,Capillary refill rate,Diastolic blood pressure,Fraction inspired oxygen,"
    "Glascow coma scale eye opening,Glascow coma scale motor response,Glascow coma scale total,"
    "Glascow coma scale verbal response,Glucose,Heart Rate,Height,Mean blood pressure,Oxygen saturation,"
    "Respiratory rate,Systolic blood pressure,Temperature,Weight,pH"
)
ALL_STAYS_HEADER = (
    "SUBJECT_ID,HADM_ID,ICUSTAY_ID,LAST_CAREUNIT,DBSOURCE,INTIME,OUTTIME,LOS,ADMITTIME,DISCHTIME,"
    "DEATHTIME,ETHNICITY,DIAGNOSIS,GENDER,DOB,DOD,AGE,MORTALITY_INUNIT,MORTALITY,MORTALITY_INHOSPITAL"
)
ADMISSIONS_HEADER = (
    "ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME,DISCHTIME,DEATHTIME,ADMISSION_TYPE,ADMISSION_LOCATION,"
    "DISCHARGE_LOCATION,INSURANCE,LANGUAGE,RELIGION,MARITAL_STATUS,ETHNICITY,EDREGTIME,EDOUTTIME,DIAGNOSIS,"
    "HOSPITAL_EXPIRE_FLAG,HAS_CHARTEVENTS_DATA"
)
_EYE = ["4 Spontaneously", "3 To speech", "Spontaneously", "To Pain", "2 To pain", "1 No Response"]
_MOTOR = ["6 Obeys Commands", "5 Localizes Pain", "Obeys Commands", "4 Flex-withdraws", "1 No Response"]
_VERBAL = ["5 Oriented", "4 Confused", "1.0 ET/Trach", "Oriented", "No Response-ETT"]
_ETHNICITIES = [
    "WHITE",
    "BLACK/AFRICAN AMERICAN",
    "HISPANIC/LATINO - PUERTO RICAN",
    "ASIAN - CHINESE",
    "UNKNOWN/NOT SPECIFIED",
    "PATIENT DECLINED TO ANSWER",
    "WHITE - RUSSIAN",
    "AMERICAN INDIAN/ALASKA NATIVE",
]
_INSURANCE = ["Private", "Medicare", "Medicaid", "Government", "Self Pay"]
_LANGUAGES = ["ENGL", "SPAN", "", "RUSS", "ENGL"]
_RELIGIONS = ["CATHOLIC", "PROTESTANT QUAKER", "NOT SPECIFIED", "JEWISH", "UNOBTAINABLE"]
_MARITAL = ["MARRIED", "SINGLE", "WIDOWED", "UNKNOWN (DEFAULT)", ""]


@dataclass
class Stay:
    """One ICU stay of the fixture: its rows are dicts column -> raw string ('' = not recorded)."""

    subject: int
    episode: int
    y: int
    rows: list[dict[str, str]]
    split: str  # "train" or "test" folder
    intime: datetime
    age: float
    gender: str
    ethnicity: str
    hadm: int
    insurance: str = "Medicare"
    language: str = "ENGL"
    religion: str = "CATHOLIC"
    marital: str = "MARRIED"

    @property
    def name(self) -> str:
        return f"{self.subject}_episode{self.episode}_timeseries.csv"


@dataclass
class MimicFixture:
    root: Path
    stays: list[Stay] = field(default_factory=list)

    def stay(self, name: str) -> Stay:
        return next(s for s in self.stays if s.name == name)


def hand_stay_rows() -> list[dict[str, str]]:
    """Stay 12797_episode1, built to be discretised by hand (see test_mimic3.py).

    Heart Rate 80 at 0.5 h, 100 at 3.5 h and 110 at 3.9 h (bin 3 keeps the last, 110), 200 at 50 h (past
    48 h: ignored). Eye opening "3 To speech" at 0.5 h and "4 Spontaneously" at 3.5 h. Glucose 150 at
    exactly 4.0 h (bin 3: bins hold (k, k+1]). Capillary refill 1.0 at 10 h. Temperature 38.2 at 47.5 h.
    Rows are written out of time order (the 3.9 h row first) to exercise the stable time sort.
    """
    return [
        {"Hours": "3.9", "Heart Rate": "110"},
        {"Hours": "0.5", "Heart Rate": "80", "Glascow coma scale eye opening": "3 To speech"},
        {"Hours": "3.5", "Heart Rate": "100", "Glascow coma scale eye opening": "4 Spontaneously"},
        {"Hours": "4.0", "Glucose": "150"},
        {"Hours": "10.0", "Capillary refill rate": "1.0"},
        {"Hours": "47.5", "Temperature": "38.2"},
        {"Hours": "50.0", "Heart Rate": "200"},
    ]


def _random_stay_rows(rng: np.random.Generator, *, heart_rate_offset: float = 0.0) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    hours = np.sort(rng.uniform(0.0, 52.0, size=int(rng.integers(8, 25))))
    for h in hours:
        row = {"Hours": f"{h:.6f}"}
        if rng.random() < 0.8:
            row["Heart Rate"] = f"{rng.normal(88, 12) + heart_rate_offset:.0f}"
        if rng.random() < 0.6:
            row["Systolic blood pressure"] = f"{rng.normal(120, 15):.0f}"
            row["Diastolic blood pressure"] = f"{rng.normal(60, 10):.0f}"
            row["Mean blood pressure"] = f"{rng.normal(78, 10):.1f}"
        if rng.random() < 0.5:
            row["Respiratory rate"] = f"{rng.normal(19, 4):.0f}"
            row["Oxygen saturation"] = f"{min(100.0, rng.normal(97, 2)):.0f}"
        if rng.random() < 0.3:
            row["Temperature"] = f"{rng.normal(36.9, 0.6):.2f}"
        if rng.random() < 0.2:
            row["Glucose"] = f"{rng.normal(130, 30):.0f}"
            row["pH"] = f"{rng.normal(7.38, 0.05):.2f}"
        if rng.random() < 0.1:
            row["Fraction inspired oxygen"] = f"{rng.choice([0.21, 0.4, 0.5]):.2f}"
            row["Weight"] = f"{rng.normal(80, 15):.1f}"
            row["Height"] = f"{rng.normal(170, 10):.0f}"
        if rng.random() < 0.3:
            eye, motor, verbal = rng.choice(_EYE), rng.choice(_MOTOR), rng.choice(_VERBAL)
            row["Glascow coma scale eye opening"] = str(eye)
            row["Glascow coma scale motor response"] = str(motor)
            row["Glascow coma scale verbal response"] = str(verbal)
            row["Glascow coma scale total"] = str(int(rng.integers(3, 16)))
        if rng.random() < 0.1:
            row["Capillary refill rate"] = str(rng.choice(["0.0", "1.0"]))
        rows.append(row)
    return rows


def write_stay_csv(path: Path, rows: Sequence[dict[str, str]], *, header: str = MIMIC_STAY_HEADER) -> None:
    columns = header.split(",")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])


def write_listfile(path: Path, stays: Sequence[Stay]) -> None:
    with path.open("w", newline="") as handle:
        handle.write("stay,y_true\n")
        for s in stays:
            handle.write(f"{s.name},{s.y}\n")


def write_mimic3(
    root: Path,
    *,
    n_random_subjects: int = 10,
    seed: int = 0,
    benchmark_split: bool = False,
    admissions: bool = True,
    test_heart_rate_offset: float = 0.0,
) -> MimicFixture:
    """Write ``root/in-hospital-mortality/{train,test}``, ``root/root/all_stays.csv``, ``ADMISSIONS.csv``.

    Subjects: 12797 (two stays, train; episode 1 is :func:`hand_stay_rows`; in all_stays.csv its later stay
    is written first, so only INTIME ordering finds episode 1: age 60 at episode 1, 70 at episode 2),
    30001 (one test stay, Heart Rate 140 throughout), and ``n_random_subjects`` random ones (70% train).
    ``test_heart_rate_offset`` shifts Heart Rate in every test stay (to show test data never reaches the
    training statistics). With ``benchmark_split``, ``train_listfile.csv``/``val_listfile.csv`` are written
    (the last two training subjects in validation).
    """
    rng = np.random.default_rng(seed)
    stays: list[Stay] = [
        Stay(
            12797,
            1,
            0,
            hand_stay_rows(),
            "train",
            datetime(2101, 3, 1, 8),
            60.0,
            "F",
            "WHITE - RUSSIAN",
            5001,
            insurance="Private",
            language="ENGL",
            religion="CATHOLIC",
            marital="MARRIED",
        ),
        Stay(
            12797,
            2,
            1,
            _random_stay_rows(rng),
            "train",
            datetime(2106, 7, 2, 9),
            70.0,
            "F",
            "WHITE - RUSSIAN",
            5002,
            insurance="Medicare",
            language="SPAN",
            religion="NOT SPECIFIED",
            marital="WIDOWED",
        ),
        Stay(
            30001,
            1,
            1,
            [{"Hours": f"{h}.5", "Heart Rate": f"{140 + test_heart_rate_offset:.0f}"} for h in range(48)],
            "test",
            datetime(2120, 1, 1),
            45.0,
            "M",
            "PATIENT DECLINED TO ANSWER",
            5003,
        ),
    ]
    n_train = round(0.7 * n_random_subjects)
    for i in range(n_random_subjects):
        subject = 40000 + 17 * i
        split = "train" if i < n_train else "test"
        for episode in range(1, 1 + int(rng.integers(1, 3))):
            offset = test_heart_rate_offset if split == "test" else 0.0
            stays.append(
                Stay(
                    subject,
                    episode,
                    int(rng.random() < 0.3) if i > 1 else i % 2,
                    _random_stay_rows(rng, heart_rate_offset=offset),
                    split,
                    datetime(2100 + i, 1 + episode, 3, 10),
                    float(rng.integers(20, 92)),
                    str(rng.choice(["M", "F"])),
                    str(_ETHNICITIES[i % len(_ETHNICITIES)]),
                    6000 + 10 * i + episode,
                    insurance=_INSURANCE[i % 5],
                    language=_LANGUAGES[i % 5],
                    religion=_RELIGIONS[i % 5],
                    marital=_MARITAL[i % 5],
                )
            )
    ihm = root / "in-hospital-mortality"
    for folder in ("train", "test"):
        (ihm / folder).mkdir(parents=True, exist_ok=True)
    for s in stays:
        write_stay_csv(ihm / s.split / s.name, s.rows)
    train = [s for s in stays if s.split == "train"]
    write_listfile(ihm / "train" / "listfile.csv", train)
    write_listfile(ihm / "test" / "listfile.csv", [s for s in stays if s.split == "test"])
    if benchmark_split:
        train_subjects = sorted({s.subject for s in train})
        val_subjects = set(train_subjects[-2:])
        write_listfile(ihm / "train_listfile.csv", [s for s in train if s.subject not in val_subjects])
        write_listfile(ihm / "val_listfile.csv", [s for s in train if s.subject in val_subjects])
    (root / "root").mkdir(exist_ok=True)
    # all_stays.csv: 12797's later stay first, so the episode number comes from INTIME ordering
    order = sorted(stays, key=lambda s: (s.subject != 12797, -s.episode if s.subject == 12797 else s.episode))
    with (root / "root" / "all_stays.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ALL_STAYS_HEADER.split(","))
        for k, s in enumerate(order):
            outtime = s.intime + timedelta(days=3)
            dob = s.intime - timedelta(days=int(365.25 * s.age))
            writer.writerow(
                [
                    s.subject,
                    s.hadm,
                    200000 + k,
                    "MICU",
                    "carevue",
                    f"{s.intime:%Y-%m-%d %H:%M:%S}",
                    f"{outtime:%Y-%m-%d %H:%M:%S}",
                    "3.0",
                    f"{s.intime:%Y-%m-%d %H:%M:%S}",
                    f"{outtime:%Y-%m-%d %H:%M:%S}",
                    "",
                    s.ethnicity,
                    "SEPSIS",
                    s.gender,
                    f"{dob:%Y-%m-%d %H:%M:%S}",
                    "",
                    f"{s.age:.4f}",
                    0,
                    s.y,
                    s.y,
                ]
            )
    if admissions:
        with (root / "ADMISSIONS.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(ADMISSIONS_HEADER.split(","))
            for k, s in enumerate(stays):
                writer.writerow(
                    [
                        k + 1,
                        s.subject,
                        s.hadm,
                        f"{s.intime:%Y-%m-%d %H:%M:%S}",
                        "",
                        "",
                        "EMERGENCY",
                        "EMERGENCY ROOM ADMIT",
                        "HOME",
                        s.insurance,
                        s.language,
                        s.religion,
                        s.marital,
                        s.ethnicity,
                        "",
                        "",
                        "SEPSIS",
                        s.y,
                        1,
                    ]
                )
    return MimicFixture(root=root, stays=stays)


# ---------------------------------------------------------------------------------------------- MESA
MESA_TASK_HEADER = (
    "mesaid,linetime,marker,interval,binterval,gt,gt_sleep_block,wake,activity,whitelight,redlight,greenlight,"
    "bluelight"
)
# the column order of the reference's dftrain_task1.csv / dftest_task1.csv
MESA_TASK_HEADER_REFERENCE = (
    "mesaid,linetime,marker,interval,binterval,activity,whitelight,redlight,greenlight,bluelight,gt,"
    "gt_sleep_block,wake"
)
MESA_RAW_HEADER = (
    "mesaid,line,linetime,offwrist,activity,marker,whitelight,redlight,greenlight,bluelight,wake,interval,"
    "dayofweek,daybymidnight,daybynoon"
)
# the per-user files of the benchmark's generate_mesa_dataset_task.ipynb (datasets/mesa_NNNN_task1.csv)
MESA_NOTEBOOK_HEADER = (
    "mesaid,linetime,offwrist,activity,marker,whitelight,redlight,greenlight,bluelight,wake,interval,dayofweek,"
    "daybymidnight,daybynoon,stage,gt"
)
MESA_NSRR_HEADER = "mesaid,nsrr_age,nsrr_age_gt89,nsrr_sex,nsrr_race"
MESA_RAW_DEMO_HEADER = "mesaid,gender1,race1c,sleepage5c"


@dataclass
class MesaUser:
    mesaid: int
    activity: np.ndarray  # (L,) counts, time order
    lights: np.ndarray  # (L, 4) white, red, green, blue
    gt: np.ndarray  # (L,) 1 = asleep (PSG)
    wake: np.ndarray  # (L,) actigraph wake flag (differs from 1 - gt on purpose)
    start: datetime
    split: str  # "train"/"test" in the benchmark split files
    excluded: np.ndarray | None = (
        None  # (L,) bool: epochs whose actigraphy interval is EXCLUDED (blank readings)
    )
    lights_missing: bool = False  # every light reading of the user blank (as in the benchmark's cached files)


def mesa_users(n_train: int = 6, n_test: int = 3, *, seed: int = 0, counter: bool = False) -> list[MesaUser]:
    """Random users with a sleep block in the middle of the night; ``counter``: activity = epoch index."""
    rng = np.random.default_rng(seed)
    users = []
    for i in range(n_train + n_test):
        n = int(rng.integers(120, 200))
        gt = np.zeros(n, dtype=int)
        a, b = int(n * 0.2), int(n * 0.8)
        gt[a:b] = 1
        gt[rng.random(n) < 0.05] ^= 1
        if counter:
            activity = np.arange(n, dtype=float)
        else:
            activity = np.where(gt == 1, rng.poisson(2, n), rng.poisson(60, n)).astype(float)
        lights = np.where(gt[:, None] == 1, 0.01, rng.gamma(2.0, 40.0, size=(n, 4))) * np.array(
            [1, 0.1, 0.08, 0.03]
        )
        wake = (rng.random(n) < 0.5).astype(int)  # independent of gt: a label read from `wake` is caught
        start = datetime(1900, 1, 1, 21, 0, 0) + timedelta(minutes=int(rng.integers(0, 120)))
        users.append(
            MesaUser(100 + 37 * i, activity, lights, gt, wake, start, "train" if i < n_train else "test")
        )
    return users


def _task_rows(user: MesaUser, header: str, *, gt_style: str = "bool") -> list[list[str]]:
    columns = header.split(",")
    out = []
    for k in range(len(user.gt)):
        t = user.start + timedelta(seconds=30 * k)
        gt = ("True" if user.gt[k] else "False") if gt_style == "bool" else str(int(user.gt[k]))
        interval = "REST-S" if user.gt[k] else "ACTIVE"
        excluded = user.excluded is not None and bool(user.excluded[k])
        if excluded:
            interval = "EXCLUDED"
        values = {
            "mesaid": str(user.mesaid),
            "linetime": f"{t:%Y-%m-%d %H:%M:%S}",
            "marker": "0.0",
            "interval": interval,
            "binterval": "1" if interval != "ACTIVE" else "0",
            "gt": gt,
            "gt_sleep_block": str(int(user.gt[k])),
            "wake": f"{float(user.wake[k]):.1f}",
            "activity": f"{user.activity[k]:.1f}",
            "whitelight": f"{user.lights[k, 0]:.4f}",
            "redlight": f"{user.lights[k, 1]:.4f}",
            "greenlight": f"{user.lights[k, 2]:.4f}",
            "bluelight": f"{user.lights[k, 3]:.4f}",
            "offwrist": "0",
            "dayofweek": "3",
            "daybymidnight": "1",
            "daybynoon": "1",
            "stage": str(2 if user.gt[k] else 0),
        }
        blank = ["whitelight", "redlight", "greenlight", "bluelight"] if user.lights_missing else []
        if excluded:
            blank = ["activity", "whitelight", "redlight", "greenlight", "bluelight"]
        values.update({c: "" for c in blank})
        out.append([values[c] for c in columns])
    return out


def _write_rows(path: Path, header: str, rows: Sequence[Sequence[str]], *, sep: str = ",") -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter=sep)
        writer.writerow(header.split(","))
        writer.writerows(rows)


def write_mesa(
    root: Path,
    users: Sequence[MesaUser],
    *,
    layout: str = "split",
    shuffle: bool = True,
    demographics: str | None = "nsrr",
    seed: int = 0,
) -> Path:
    """Write MESA task-1 data; returns the path to give ``load_mesa``.

    ``layout``: "split" (``dftrain_task1.csv`` + ``dftest_task1.csv`` in the reference's column order),
    "combined" (one ``mesa_task1.csv``), "per_user" (``task1/mesa_NNNN.csv``), "per_user_reference"
    (``datasets/mesa_NNNN_task1.csv`` with the columns the benchmark's notebook writes), "raw"
    (``mesa-sleep-NNNN.csv`` actigraphy with clock-time linetime + ``labels.csv`` ``mesaid,line,gt``).
    ``shuffle`` writes each file's rows out of time order. ``demographics``: "nsrr" (semicolon separated,
    as the reference's file), "raw" (``gender1, race1c, sleepage5c``) or None, written to
    ``root/demographics.csv``. User 0 is male white 70 y, user 1 female black 45 y, user 2 female
    hispanic 91 y (>89), user 3 has race "unknown", the last user is left out of the file.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)

    def maybe_shuffle(rows: list[list[str]]) -> list[list[str]]:
        if shuffle:
            return [rows[i] for i in rng.permutation(len(rows))]
        return rows

    target: Path = root
    if layout == "split":
        for split, name in (("train", "dftrain_task1.csv"), ("test", "dftest_task1.csv")):
            rows = [r for u in users if u.split == split for r in _task_rows(u, MESA_TASK_HEADER_REFERENCE)]
            _write_rows(root / name, MESA_TASK_HEADER_REFERENCE, maybe_shuffle(rows))
    elif layout == "combined":
        rows = [r for u in users for r in _task_rows(u, MESA_TASK_HEADER, gt_style="int")]
        target = root / "mesa_task1.csv"
        _write_rows(target, MESA_TASK_HEADER, maybe_shuffle(rows))
    elif layout == "per_user":
        (root / "task1").mkdir(exist_ok=True)
        for u in users:
            _write_rows(
                root / "task1" / f"mesa_{u.mesaid:04d}.csv",
                MESA_TASK_HEADER,
                maybe_shuffle(_task_rows(u, MESA_TASK_HEADER)),
            )
    elif layout == "per_user_reference":
        (root / "datasets").mkdir(exist_ok=True)
        for u in users:
            _write_rows(
                root / "datasets" / f"mesa_{u.mesaid}_task1.csv",
                MESA_NOTEBOOK_HEADER,
                maybe_shuffle(_task_rows(u, MESA_NOTEBOOK_HEADER, gt_style="int")),
            )
    elif layout == "raw":
        labels = []
        for u in users:
            rows = []
            pre = 10  # unlabelled actigraphy before the PSG period
            n = len(u.gt)
            for line in range(1, pre + n + 1):
                k = line - 1 - pre
                t = u.start + timedelta(seconds=30 * (line - 1 - pre))
                act = u.activity[k] if k >= 0 else 999.0
                light = u.lights[k] if k >= 0 else np.full(4, 500.0)
                excl = k >= 0 and u.excluded is not None and bool(u.excluded[k])
                lights = ["" if u.lights_missing or excl else f"{v:.4f}" for v in light]
                interval = "EXCLUDED" if excl else "REST-S" if k >= 0 and u.gt[k] else "ACTIVE"
                rows.append(
                    [
                        str(u.mesaid),
                        str(line),
                        f"{t:%H:%M:%S}",
                        "0",
                        "" if excl else f"{act:.1f}",
                        "0.0",
                        *lights,
                        f"{float(u.wake[k]) if k >= 0 else 1.0:.1f}",
                        interval,
                        "3",
                        "1",
                        "1",
                    ]
                )
                if k >= 0:
                    labels.append([str(u.mesaid), str(line), str(int(u.gt[k]))])
            _write_rows(root / f"mesa-sleep-{u.mesaid:04d}.csv", MESA_RAW_HEADER, maybe_shuffle(rows))
        _write_rows(root / "labels.csv", "mesaid,line,gt", labels)
    else:
        raise ValueError(layout)

    profiles = [
        ("male", "white", 70.0),
        ("female", "black or african american", 45.0),
        ("female", "hispanic", 91.0),
        ("male", "unknown", 66.0),
    ]
    demo_users = list(users[:-1])
    if demographics == "nsrr":
        rows = []
        for i, u in enumerate(demo_users):
            sex, race, age = (
                profiles[i]
                if i < len(profiles)
                else (("female", "white", 60.0) if i % 2 else ("male", "asian", 58.0))
            )
            rows.append([str(u.mesaid), f"{min(age, 90.0):.1f}", "yes" if age > 89 else "no", sex, race])
        _write_rows(root / "demographics.csv", MESA_NSRR_HEADER, rows, sep=";")
    elif demographics == "raw":
        codes = {"white": "1", "asian": "2", "black or african american": "3", "hispanic": "4", "unknown": ""}
        rows = []
        for i, u in enumerate(demo_users):
            sex, race, age = profiles[i] if i < len(profiles) else ("female", "asian", 60.0)
            rows.append([str(u.mesaid), "1" if sex == "male" else "0", codes[race], f"{age:.0f}"])
        _write_rows(root / "demographics.csv", MESA_RAW_DEMO_HEADER, rows)
    return target


# ---------------------------------------------------------------------------------------------- GLOBEM
GLOBEM_DEMO_HEADER = "PID,gender,age,race,generation,disability"
GLOBEM_LABEL_HEADER = "pid,date,phq4,BDI2,dep"
GLOBEM_FEATURES = {
    "location": [
        "f_loc:phone_locations_doryab_totaldistance:allday",
        "f_loc:phone_locations_doryab_timeathome:allday",
    ],
    "screen": [
        "f_screen:phone_screen_rapids_sumdurationunlock:allday",
        "f_screen:phone_screen_rapids_countepisodeunlock:night",
    ],
    "steps": [
        "f_steps:fitbit_steps_intraday_rapids_sumsteps:allday",
        "f_steps:fitbit_steps_intraday_rapids_daycode:allday",
    ],
    "sleep": ["f_slp:fitbit_sleep_summary_rapids_sumdurationasleepmain:allday"],
}
DAY_CODE = "f_steps:fitbit_steps_intraday_rapids_daycode:allday"
"""A fixture feature holding the day's ordinal number (``date.toordinal()``) so tests can read dates back."""


# GLOBEM's deep-model features (config/dl_feat_prep.yaml `feature_list_more_feat_types`), as published
GLOBEM_DL_FEATURES = [
    *(
        f"f_screen:phone_screen_rapids_{n}"
        for n in (
            "countepisodeunlock_locmap_exercise:afternoon",
            "countepisodeunlock_locmap_greens:night",
            "firstuseafter00unlock_locmap_exercise:allday",
            "firstuseafter00unlock_locmap_exercise:night",
            "firstuseafter00unlock_locmap_home:night",
            "maxdurationunlock_locmap_exercise:evening",
            "maxdurationunlock_locmap_greens:allday",
            "maxdurationunlock_locmap_greens:night",
            "maxdurationunlock_locmap_home:night",
            "maxdurationunlock_locmap_study:evening",
            "mindurationunlock_locmap_exercise:evening",
            "mindurationunlock_locmap_exercise:morning",
            "stddurationunlock_locmap_exercise:evening",
            "stddurationunlock_locmap_home:night",
            "sumdurationunlock_locmap_exercise:night",
            "sumdurationunlock_locmap_home:night",
            "sumdurationunlock_locmap_living:night",
        )
    ),
    "f_slp:fitbit_sleep_intraday_rapids_maxdurationasleepunifiedmain:night",
    "f_slp:fitbit_sleep_intraday_rapids_maxdurationawakeunifiedmain:night",
    "f_slp:fitbit_sleep_intraday_rapids_mindurationasleepunifiedmain:afternoon",
    "f_slp:fitbit_sleep_intraday_rapids_mindurationasleepunifiedmain:night",
    "f_slp:fitbit_sleep_intraday_rapids_sumdurationasleepunifiedmain:allday",
    "f_slp:fitbit_sleep_summary_rapids_avgdurationasleepmain:allday",
    "f_slp:fitbit_sleep_summary_rapids_avgdurationinbedmain:allday",
    "f_slp:fitbit_sleep_summary_rapids_lastbedtimemain:allday",
    "f_slp:fitbit_sleep_summary_rapids_sumdurationasleepmain:allday",
    "f_slp:fitbit_sleep_summary_rapids_sumdurationinbedmain:allday",
    "f_steps:fitbit_steps_intraday_rapids_countepisodesedentarybout:evening",
    "f_steps:fitbit_steps_intraday_rapids_maxdurationactivebout:morning",
    "f_steps:fitbit_steps_intraday_rapids_maxsteps:evening",
    "f_steps:fitbit_steps_intraday_rapids_mindurationactivebout:evening",
    "f_blue:phone_bluetooth_doryab_uniquedevicesown:night",
    "f_call:phone_calls_rapids_incoming_distinctcontacts:afternoon",
    "f_loc:phone_locations_doryab_locationentropy_norm:afternoon",
    "f_loc:phone_locations_doryab_loglocationvariance_norm:allday",
    "f_loc:phone_locations_doryab_minlengthstayatclusters_norm:afternoon",
    "f_loc:phone_locations_doryab_outlierstimepercent_norm:morning",
    "f_loc:phone_locations_doryab_radiusgyration_norm:allday",
    "f_screen:phone_screen_rapids_avgdurationunlock_locmap_exercise_norm:evening",
    "f_screen:phone_screen_rapids_avgdurationunlock_locmap_greens_norm:night",
    "f_screen:phone_screen_rapids_firstuseafter00unlock_locmap_exercise_norm:allday",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_exercise_norm:afternoon",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_exercise_norm:evening",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_exercise_norm:night",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_greens_norm:evening",
    "f_screen:phone_screen_rapids_sumdurationunlock_locmap_home_norm:morning",
    "f_slp:fitbit_sleep_intraday_rapids_maxdurationawakeunifiedmain_norm:afternoon",
    "f_slp:fitbit_sleep_intraday_rapids_ratiodurationasleepunifiedwithinmain_norm:afternoon",
    "f_slp:fitbit_sleep_intraday_rapids_ratiodurationawakeunifiedwithinmain_norm:afternoon",
    "f_steps:fitbit_steps_intraday_rapids_countepisodesedentarybout_norm:afternoon",
    "f_steps:fitbit_steps_intraday_rapids_maxdurationsedentarybout_norm:night",
    "f_steps:fitbit_steps_intraday_rapids_stdsteps_norm:morning",
    "f_blue:phone_bluetooth_doryab_countscansmostfrequentdeviceacrossdatasetown_norm:night",
    "f_call:phone_calls_rapids_outgoing_count_norm:afternoon",
]
GLOBEM_DIS = "f_loc:phone_locations_doryab_totaldistance_dis:allday"
"""A discretised feature (low/medium/high text, as released): never a channel."""
_GLOBEM_FILE_OF = {
    "f_loc": "location",
    "f_screen": "screen",
    "f_steps": "steps",
    "f_slp": "sleep",
    "f_blue": "bluetooth",
    "f_call": "call",
}


@dataclass
class GlobemFixture:
    root: Path
    pids: dict[str, list[str]]  # institute folder -> pids
    labels: dict[str, list[tuple[str, date, int]]]  # institute folder -> (pid, date, dep) of dep_weekly
    missing_days: dict[str, set[tuple[str, date]]]  # institute folder -> (pid, date) without a feature row
    endterm: dict[str, list[tuple[str, date, int]]] = field(default_factory=dict)  # dep_endterm.csv rows
    same_person: list[tuple[str, str]] = field(default_factory=list)  # ("pid#INS-W_3", "pid#INS-W_4")
    overlap_path: Path | None = None  # GLOBEM-format overlapping_pids.json, when written
    features: list[str] = field(default_factory=list)  # numeric feature columns, rapids.csv order


def _globem_overlap(same: Sequence[tuple[str, str]]) -> dict[str, object]:
    """GLOBEM's nested overlapping_pids.json: {label: {cohort: {INS-W_k: ["pid#INS-W_k"]}}}."""
    y3, y4 = sorted(a for a, _ in same), sorted(b for _, b in same)
    cohorts = {
        "INS-W_1": {"INS-W_1": [], "INS-W_2": [], "INS-W_3": [], "INS-W_4": []},
        "INS-W_2": {"INS-W_1": [], "INS-W_2": [], "INS-W_3": [], "INS-W_4": []},
        "INS-W_3": {"INS-W_1": [], "INS-W_2": [], "INS-W_3": y3, "INS-W_4": y4},
        "INS-W_4": {"INS-W_1": [], "INS-W_2": [], "INS-W_3": y3, "INS-W_4": y4},
    }
    return {"dep_endterm": cohorts, "dep_weekly": cohorts}


def write_globem(
    root: Path,
    *,
    n_pids: Sequence[int] = (3, 3, 3, 6),
    n_days: int = 50,
    seed: int = 0,
    demographics: bool | str = True,
    sample: bool = False,
    returning: int = 0,
    overlap_at: Path | None = None,
) -> GlobemFixture:
    """Write ``root/INS-W_{1..4}`` (``INS-W-sample_{1..4}`` with ``sample``) with FeatureData (rapids.csv
    with every feature and a leading unnamed index column, plus one file per feature type), SurveyData
    (dep_weekly.csv: weekly labels, dep True/False in years 1-2 and 1/0 in 3-4, one blank dep;
    dep_endterm.csv: one end-of-term label per pid) and ParticipantsInfoData/platform.csv. Features: the
    fixture's own (GLOBEM_FEATURES, with DAY_CODE holding the day's ordinal), GLOBEM's 54 deep-model
    features (`_norm` ones centred near 0) and one `_dis` text column. About 10% of participant-days have
    no feature row. ``demographics``: True writes ``root/demographics.csv`` (``PID, gender, age, race,
    generation, disability``) covering every pid except the last of INS-W_4; ``"per_year"`` writes the
    same rows split into each year's ``ParticipantsInfoData/demographics.csv``. ``returning`` = r: the
    first r pids of year 4 are the same people as the first r pids of year 3 (new pids, as in GLOBEM),
    and GLOBEM's overlapping_pids.json is written to ``overlap_at`` (default
    ``root/additional_user_setup/overlapping_pids.json``).
    """
    rng = np.random.default_rng(seed)
    pids: dict[str, list[str]] = {}
    labels: dict[str, list[tuple[str, date, int]]] = {}
    endterm: dict[str, list[tuple[str, date, int]]] = {}
    missing: dict[str, set[tuple[str, date]]] = {}
    own = [f for group in GLOBEM_FEATURES.values() for f in group]
    all_features = own + [f for f in GLOBEM_DL_FEATURES if f not in own]
    counter = 1
    folders = []
    for year, n in enumerate(n_pids, start=1):
        name = f"INS-W-sample_{year}" if sample else f"INS-W_{year}"
        folders.append(name)
        for sub in ("FeatureData", "SurveyData", "ParticipantsInfoData"):
            (root / name / sub).mkdir(parents=True, exist_ok=True)
        start = date(2017 + year, 4, 1)
        pids[name] = [f"INS-W_{counter + i:03d}" for i in range(n)]
        counter += n
        labels[name], endterm[name], missing[name] = [], [], set()
        rapids_rows = []
        for pid in pids[name]:
            for d in range(n_days):
                day = start + timedelta(days=d)
                if rng.random() < 0.1:
                    missing[name].add((pid, day))
                    continue
                values = {f: f"{rng.gamma(2.0, 100.0):.3f}" for f in all_features}
                values.update({f: f"{rng.normal(0.0, 0.8):.4f}" for f in all_features if "_norm:" in f})
                values[DAY_CODE] = str(day.toordinal())
                if rng.random() < 0.05:
                    values[own[0]] = ""  # a recorded day with one blank feature
                dis = ["low", "medium", "high"][int(rng.integers(0, 3))]
                rapids_rows.append([pid, f"{day:%Y-%m-%d}", *[values[f] for f in all_features], dis])
            for week in range(1, n_days // 7):
                day = start + timedelta(days=7 * week + int(rng.integers(0, 3)))
                labels[name].append((pid, day, int(rng.random() < 0.4)))
            endterm[name].append((pid, start + timedelta(days=n_days - 3), int(rng.random() < 0.4)))
        with (root / name / "FeatureData" / "rapids.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["", "pid", "date", *all_features, GLOBEM_DIS])
            for k, row in enumerate(rapids_rows):
                writer.writerow([k, *row])
        files: dict[str, list[str]] = {group: list(cols) for group, cols in GLOBEM_FEATURES.items()}
        for f in all_features[len(own) :]:
            files.setdefault(_GLOBEM_FILE_OF[f.split(":")[0]], []).append(f)
        files["location"].append(GLOBEM_DIS)
        header = [*all_features, GLOBEM_DIS]
        for group, cols in files.items():
            idx = [header.index(c) for c in cols]
            _write_rows(
                root / name / "FeatureData" / f"{group}.csv",
                ",".join(["pid", "date", *cols]),
                [[r[0], r[1], *[r[2 + i] for i in idx]] for r in rapids_rows],
            )
        label_rows = []
        for pid, day, dep in labels[name]:
            dep_text = ("True" if dep else "False") if year <= 2 else str(dep)
            label_rows.append(
                [
                    pid,
                    f"{day:%Y-%m-%d}",
                    str(int(rng.integers(0, 12))),
                    str(int(rng.integers(0, 40))),
                    dep_text,
                ]
            )
        label_rows.append(
            [pids[name][0], f"{start + timedelta(days=n_days - 1):%Y-%m-%d}", "3", "", ""]
        )  # blank dep
        _write_rows(root / name / "SurveyData" / "dep_weekly.csv", GLOBEM_LABEL_HEADER, label_rows)
        _write_rows(
            root / name / "SurveyData" / "dep_endterm.csv",
            "pid,date,BDI2,dep",
            [[p, f"{d:%Y-%m-%d}", str(int(rng.integers(0, 40))), str(bool(y))] for p, d, y in endterm[name]],
        )
        _write_rows(
            root / name / "ParticipantsInfoData" / "platform.csv",
            "pid,platform",
            [[p, "ios" if i % 2 else "android"] for i, p in enumerate(pids[name])],
        )
    same: list[tuple[str, str]] = []
    overlap_path = None
    if returning:
        y3, y4 = pids[folders[2]][:returning], pids[folders[3]][:returning]
        same = [(f"{a}#INS-W_3", f"{b}#INS-W_4") for a, b in zip(y3, y4, strict=True)]
        overlap_path = overlap_at or root / "additional_user_setup" / "overlapping_pids.json"
        overlap_path.parent.mkdir(parents=True, exist_ok=True)
        overlap_path.write_text(json.dumps(_globem_overlap(same), indent=4))
    if demographics:
        genders = ["Male", "Female", "female", "Non-binary", "Prefer not to say", "M"]
        races = ["White", "Asian", "Black", "Hispanic/Latinx", "", "White"]
        rows: dict[str, list[list[str]]] = {name: [] for name in folders}
        every = [(name, p) for name in folders for p in pids[name]][:-1]
        for i, (name, pid) in enumerate(every):
            rows[name].append(
                [
                    pid,
                    genders[i % 6],
                    str(18 + i % 12),
                    races[i % 6],
                    "first" if i % 3 == 0 else "continuing",
                    "Yes" if i % 4 == 0 else "No",
                ]
            )
        if demographics == "per_year":
            for name in folders:
                path = root / name / "ParticipantsInfoData" / "demographics.csv"
                _write_rows(path, GLOBEM_DEMO_HEADER, rows[name])
        else:
            _write_rows(root / "demographics.csv", GLOBEM_DEMO_HEADER, [r for n in folders for r in rows[n]])
    return GlobemFixture(
        root=root,
        pids=pids,
        labels=labels,
        missing_days=missing,
        endterm=endterm,
        same_person=same,
        overlap_path=overlap_path,
        features=all_features,
    )
