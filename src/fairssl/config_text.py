"""A config as TOML text: writing resolved configs (``config.toml`` of a run folder, ``fairssl config
--show``) and the commented example study file (``fairssl config --example``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """Serialise a nested dict of TOML-compatible values (None values are left out)."""
    scalars: list[str] = []
    tables: list[str] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            name = f"{prefix}.{key}" if prefix else key
            body = to_toml(value, name)
            tables.append(f"[{name}]\n{body}")
        else:
            scalars.append(f"{_toml_key(key)} = {json.dumps(value)}")
    text = "\n".join(scalars)
    if tables:
        text = (text + "\n\n" if text else "") + "\n\n".join(t.rstrip() for t in tables)
    return text + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def example_toml() -> str:
    """A commented example study file covering every section."""
    return _EXAMPLE


_EXAMPLE = """\
# fairssl study configuration. Every key is optional: missing keys take the profile's default.
# Run with:  fairssl run --config study.toml [--profile quick|paper]

name = "my-study"
profile = "quick"            # quick (minutes on a laptop) | paper (the KDD 2024 settings, full length)
                             # keys shown commented out with "profile: quick ..., paper ..." take the
                             # profile's value; uncommenting one pins it for both profiles
output_dir = "fairssl-runs"  # each run writes a folder <output_dir>/<name>-<hash>/
seeds = [0, 1, 2]            # several seeds give confidence intervals across runs
replicates = 1               # data replicates: each redraws the data (simulator seed or the loader's split
                             # seed) and trains again; 3+ pools them so intervals cover the split too

[data]
source = "simulate"   # simulate | mimic3 | mesa | globem | physionet2012 | nhanes | arrays | long
                      # | pbcseq | folder
# path = "/data/mimic3-benchmarks"   # required for every source but simulate and pbcseq
# [data.options]             # passed to the loader, e.g. window = 24, stride = 12 for source = "long"

[data.simulate]              # only used when source = "simulate"
seed = 0                     # the dataset's seed (the study's seeds above seed the models)
n_subjects = 1000
windows_per_subject = 10
n_steps = 48
pool_fraction = 0.5          # share of subjects whose windows form the unlabelled pre-training pool
labelled_fraction = 1.0      # share of the remaining training subjects that keep their labels
prevalence = 0.2
race_shares = { white = 0.62, black = 0.16, hispanic = 0.11, asian = 0.07, other = 0.04 }
female_share = 0.45
old_share = 0.4
missing_share = 0.02         # share of subjects whose race is unknown (kept as its own 'missing' group)
measurement_bias = { attribute = "race", group = "black", channel = "spo2", offset = 0.6, noise = 0.3 }
label_bias = { attribute = "sex", group = "female", rate = 0.1 }
spurious = { attribute = "age_group", group = ">=65", strength = 0.0 }

[model]
widths = [32, 64, 96]
kernels = [24, 16, 8]
padding = "valid"            # valid | same ('same' for short windows such as GLOBEM's 28 days)
dropout = 0.1
head_hidden = 128
head_dropout = 0.6
projection = [256, 128, 50]

[pretrain]
# epochs = 15                # profile: quick 15, paper 200
batch_size = 128
optimizer = "sgd"            # sgd | adam
lr = 0.1                     # cosine-decayed to 0 over the configured epochs
# momentum = 0.9             # profile: quick 0.9, paper 0.0
method = "simclr"            # simclr (the paper's) | vicreg | byol | masked (fairssl.ssl.objectives)
# objective = { mask_ratio = 0.5, patch_length = 8 }   # the method's own options (here: masked's)
temperature = 0.1            # NT-Xent temperature (simclr)
augmentation = "paper"       # paper (scale+negate) | paper_fixed | default | none | a list such as
                             # ["scaling", { time_warp = { sigma = 0.2 } }]
# patience = 0               # profile: quick 0, paper 10 (early stop on the method's val. loss; 0 = off)
# tri_axial = [[0, 1, 2]]    # channel triples of tri-axial sensors, for the rotation_3d augmentation
pool = "full"                # pre-training data: full | balanced:race | group:sex=female | exclude:race=black
# seed = 2                   # one encoder pre-trained with seed 2 serves every seed (the paper); default:
                             # each seed pre-trains its own (intervals then include pre-training variation)
# weights = "/abs/path/encoder.pt"  # assess an existing encoder: loaded instead of pre-training
                             # (a state dict for [model]'s architecture; other pretrain keys unused)

[finetune]
setups = ["supervised", "0", "1-first", "1-middle", "2-first-middle", "2-first-last", "3"]
# epochs = 12                # profile: quick 12, paper 200
batch_size = 128
# optimizer = "adam"         # profile: quick "adam", paper "adadelta" (adadelta | adam | sgd; the same
                             # for every setup: a controlled comparison)
# lr = 0.001                 # profile: quick 0.001, paper 0.1
# patience = 4               # profile: quick 4, paper 10 (early stopping on validation loss)
selection = "loss"           # loss | auroc, on the validation split only
class_weights = true         # w_c = N / (K N_c)
l2_conv = 1e-4
l2_head = 1e-2
unfreeze_every = 0           # >0: gradual unfreezing, one layer every k epochs from the top
mitigation = "none"          # none | reweigh | balanced | group_dro | penalty | thresholds
mitigation_attributes = []   # the attribute(s) targeted, e.g. ["sex"]; several = intersection groups
mitigation_options = {}      # group_dro {eta = 0.01}; penalty {lambda = 1.0,
                             # relaxation = "demographic_parity"}; thresholds {rate = "tpr"}

[evaluation]
# attributes = ["sex", "age_group", "race"]   # default: every attribute of the dataset
reference = "majority"       # majority | rest | best | { sex = "male", race = "white" }
threshold = 0.5
min_group_size = 30          # windows per compared group and reference (at least 4)
min_subjects = 5             # distinct subjects per compared group and reference (0 = no check)
min_positives = 5            # positive windows per compared group and reference (0 = no check)
parity = "pairwise"          # pairwise (each group vs reference) | paper (privileged group vs the rest)
# privileged = { sex = "male", age_group = "<65", race = "white" }   # paper parity: one per attribute
deviation = "abs"            # abs: |1 - r| (the paper's) | log: |log r| (symmetric)
include_missing = false
# n_boot = 200               # profile: quick 200, paper 1000 (resamples of test subjects behind every
                             # interval and test)
cluster = "subject"          # subject | window (per-group metric table only; verdicts resample subjects)
alpha = 0.05                 # family-wise error rate of the verdicts
correction = "holm"          # holm | bonferroni | none, over the family (SSL setups x {PD, AUROC})
power = 0.8                  # power of the minimum detectable change beside every null
target_change = 0.15         # relative PD change for which the seeds needed are reported

[similarity]
enabled = true
debiased = true
# n_per_group = 200          # default: the smallest eligible group's size
# n_draws = 5                # profile: quick 5, paper 10
# n_permutations = 19        # profile: quick 19, paper 20 (>= 19 for a 5% permutation test; labels
                             # permuted between subjects)

[grid]                       # optional: each key a dotted config key and a list of values; the study
                             # runs the cartesian product (each point a "variant") x seeds x setups,
                             # sharing pre-training between variants that only differ downstream
# "pretrain.augmentation" = ["paper", "default"]
# "data.simulate.labelled_fraction" = [0.1, 1.0]

[probes]                     # linear probes of each model's frozen test activations
enabled = true
n_splits = 5                 # subject-disjoint folds
n_boot = 200
n_permutations = 0           # > 0: permutation p-values for the demographic probes (R refits each)
max_features = 64            # PCA of wider layers, fitted on the training folds

[runtime]
device = "auto"              # auto | cpu | cuda
# threads = 2
# workers = 1
executor = "local"           # local | ray
# ray_address = "auto"
"""


__all__ = ["example_toml", "to_toml"]
