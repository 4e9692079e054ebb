#!/usr/bin/env bash
# Regenerates every number and figure of docs/findings.md with fairssl's own commands.
#   bash examples/run_findings.sh [RUNS_DIR]      (default RUNS_DIR: findings-runs)
# Re-running resumes: finished runs are kept. The studies run one after another; docs/findings.md states
# each one's wall time on 2 CPU cores.
set -euo pipefail
runs=${1:-findings-runs}
here=$(dirname "$0")/findings

# the unbiased control first (every other simulated study is read against it), then one bias at a time,
# the realistic mix, the paper's recipe with both augmentation presets, and the real cohort
for study in none label representation measurement realistic presets pbcseq; do
  fairssl run --config "$here/$study.toml" --out "$runs/$study" --workers 2
done

# each bias source against the unbiased control: the studies side by side and the difference in
# differences of every setup's change (docs/findings/comparison.md, did.csv)
fairssl compare "$runs/none" "$runs/label" "$runs/representation" "$runs/measurement" "$runs/realistic" \
  --name none --name label --name representation --name measurement --name realistic \
  --against none --out docs/findings

# the realistic mix's figures shown in docs/findings.md (5% labels)
for v in "$runs"/realistic/variants/*/; do
  if grep -q '"data.simulate.labelled_fraction": 0.05' "$v/variant.json"; then
    for fig in fairness_accuracy cka_best_worst probe_demographic_by_layer; do
      cp "$v/figures/$fig.png" "docs/findings/realistic_5pct_$fig.png"
    done
  fi
done
