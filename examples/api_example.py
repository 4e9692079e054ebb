"""fairssl from Python: a long table from a DataFrame -> audit -> a small study -> a plot of the verdicts.

Run it as a script (python examples/api_example.py) or paste main()'s body into a notebook;
`fairssl.assess` prints nothing unless given `log=print`, and leaves torch, warnings and matplotlib as
it found them.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import fairssl
from fairssl.data.audit import audit
from fairssl.data.loaders.long_table import load_long_table


def main() -> None:
    rng = np.random.default_rng(0)
    n, steps = 300, 24  # subjects x rows per subject: a diary-like cohort with one unscaled channel
    table = pd.DataFrame({"subject": np.repeat(np.arange(n), steps), "time": np.tile(np.arange(steps), n)})
    table["score"] = 25 + 9.5 * rng.standard_normal(len(table)) + np.repeat(rng.normal(0, 5, n), steps)
    table["label"] = (table["score"] + rng.normal(0, 8, len(table)) > 30).astype(int)
    table["sex"] = np.repeat(rng.choice(["female", "male"], n), steps)
    data = load_long_table(table, window=8, stride=8, attributes=["sex"])  # scaled with training statistics
    print(audit(data).summary_text())

    settings = {
        "seeds": [0, 1, 2],
        "pretrain.epochs": 5,
        "model.kernels": [5, 5, 5],
        "finetune.epochs": 8,
        "model.padding": "same",
        "finetune.setups": ["supervised", "0", "3"],
        "evaluation.min_group_size": 10,
    }
    study = fairssl.assess(data, settings=settings, run_dir="fairssl-runs/api-example", force=True)
    print(study.overview.to_string(index=False))
    print(study.headline)
    ax = study.comparison.plot.scatter(x="auroc", y="parity_deviation")
    for _, row in study.comparison.iterrows():
        ax.annotate(row["setup"], (row["auroc"], row["parity_deviation"]))
    plt.savefig("fairssl-runs/api-example/verdicts.png")


if __name__ == "__main__":  # runs train in worker processes, which re-import a script: guard it
    main()
