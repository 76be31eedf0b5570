#!/usr/bin/env bash
# tiny_metabolism with the true log10 k range (1 dex wide) centred at -3, -2.25, -1.5, -0.75;
# the start estimated from the data (default) and, for comparison, the former fixed start -1.5.
# Tuning seeds only: simulation seeds 1 2 3, training seed 42. Then: python summarise.py
set -euo pipefail
OUT=benchmarks/results/blind_start_metabolism
RUNS=${RUNS:-outputs/blind_start_metabolism}
for centre in -3 -2.25 -1.5 -0.75; do
  lo=$(python -c "print($centre - 0.5)"); hi=$(python -c "print($centre + 0.5)")
  for start in estimated fixed; do
    extra=(); [ "$start" = fixed ] && extra=(model.log_k_init=-1.5)
    python benchmarks/robustness.py --regimes tiny_metabolism --sim-seeds 1 2 3 --train-seeds 42 --jobs 1 \
      --override simulation.log_k_min=$lo simulation.log_k_max=$hi "${extra[@]}" \
      --also rate_constants_R2_shifted \
      --out $OUT/centre_${centre}_${start} --runs $RUNS/centre_${centre}_${start}
  done
done
