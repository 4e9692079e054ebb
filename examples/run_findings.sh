#!/usr/bin/env bash
# Regenerates every number and figure of docs/findings.md with fairssl's own commands.
#   bash examples/run_findings.sh [RUNS_DIR]      (default RUNS_DIR: findings-runs)
# Wall time on 2 CPU cores: about 3-4 hours, one study after another (docs/findings.md lists each one).
# Re-running resumes: finished runs are kept.
set -euo pipefail
runs=${1:-findings-runs}

fairssl run --config examples/simulated_realistic.toml --out "$runs/sim-realistic" --workers 2
for bias in none representation label measurement; do
  fairssl run --config "examples/simulated_bias_$bias.toml" --out "$runs/sim-bias-$bias" --workers 2
done
fairssl run --config examples/pbcseq.toml --out "$runs/pbcseq" --workers 2

# the studies side by side (docs/findings/comparison.md, figures/fairness_across_studies.png)
fairssl compare "$runs/sim-bias-none" "$runs/sim-bias-representation" "$runs/sim-bias-label" \
  "$runs/sim-bias-measurement" "$runs/sim-realistic" \
  --name "no bias" --name "representation" --name "label" --name "measurement" --name "realistic mix" \
  --out docs/findings
