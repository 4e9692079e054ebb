"""Structure SSL can learn that few labels cannot: at a low labelled fraction, SimCLR pre-training on the
unlabelled pool (the "default" augmentations) beats supervised training in AUROC on the clean labels.

Small sizes (about a minute on 2 busy cores): 400 subjects x 6 windows of 24 steps, a 32-wide encoder, 5%
of the training subjects labelled (about 40 windows), pre-training on pool + train windows (labels
unused); the SSL model is setup 3 (pre-trained encoder frozen, head trained), the label-efficient one.
AUROC is measured on an independent simulated cohort (another seed), so the comparison is not decided by
the noise of a tiny test split. At 100% labels SSL need not win (not tested).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fairssl.config import build_config
from fairssl.data.simulate import simulate
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import finetune, predict_proba
from fairssl.ssl.pretrain import pretrain

STUDY = {
    "data": {
        "simulate": {
            "n_subjects": 400,
            "windows_per_subject": 6,
            "n_steps": 24,
            "pool_fraction": 0.5,
            "labelled_fraction": 0.05,
        }
    },
    "model": {"widths": [32, 32, 32], "kernels": [5, 5, 5], "padding": "same"},
    "pretrain": {"epochs": 20, "batch_size": 64, "augmentation": "default"},
    "finetune": {"epochs": 60, "batch_size": 16, "patience": 0},
}


@pytest.mark.slow
def test_ssl_beats_supervised_at_a_low_labelled_fraction() -> None:
    cfg = build_config(STUDY, profile="quick")
    gains = []
    for seed in (0, 1):
        ds = simulate(cfg.data.simulate, seed=seed)
        held_out = simulate(cfg.data.simulate, seed=100 + seed)  # new subjects, all windows
        tr, va = ds.indices("train"), ds.indices("val")
        unlabelled = np.flatnonzero(np.isin(ds.split, ("pool", "train")))
        assert len(tr) < 0.05 * len(unlabelled)  # few labels, a large pool
        encoder, _ = pretrain(ds.X[unlabelled], None, model=cfg.model, config=cfg.pretrain, seed=seed)
        auroc = {}
        for name in ("supervised", "3"):
            net, _ = finetune(
                ds.X[tr],
                ds.y[tr],
                ds.X[va],
                ds.y[va],
                setup=get_setup(name),
                model=cfg.model,
                config=cfg.finetune,
                encoder_state=None if name == "supervised" else encoder.state_dict(),
                seed=seed,
            )
            auroc[name] = roc_auc_score(held_out.y_clean, predict_proba(net, held_out.X)[:, 1])
        gains.append(auroc["3"] - auroc["supervised"])
    assert np.mean(gains) > 0.02 and min(gains) > 0.0, gains
