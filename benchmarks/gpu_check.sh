#!/usr/bin/env bash
# GPU check: on a machine with an NVIDIA GPU, in under 8 minutes, prints
#   (a) the tiny regimes (tiny_metabolism, tiny_signal, tiny_flyvis) on the CPU and on CUDA:
#       - parity: the trainer's arithmetic on both devices from the same start on the same frames
#         (gpu_probe.py parity; tolerances and why in its docstring);
#       - one full run per device (device=cpu / device=cuda), primary metrics side by side. The
#         trainer's frame sampler draws on the run's device, so these are two training draws: the
#         tolerance is the spread over training seeds on the same data (benchmarks/README.md);
#   (b) steps/s and peak GPU memory (torch.cuda.max_memory_allocated) of oscillatory_rank50,
#       signal_fig2 and flyvis at full size (a short simulation, then timed trainer steps; the
#       peak is also given with the regime's full dataset on the GPU);
#   (c) the end-to-end wall time of signal_fig2 on the GPU: its simulation, then the run under a
#       time limit (what is left of BUDGET_S). A run cut by the limit is reported with its
#       step, steps/s and ETA, and marked "cut".
# Without a CUDA device it prints one line and exits 2. Exit 1 when a comparison or a probe fails.
#
#   benchmarks/gpu_check.sh [OUT_DIR]      (default outputs/gpu_check; the summary: OUT_DIR/summary.txt)
#   env: PYTHON (python), BUDGET_S (450: seconds for the whole script), FIG2_OVERRIDES ("": extra
#        overrides of the signal_fig2 simulation and run, e.g. "training.n_epochs=1"), TINY (the tiny
#        regimes).
#   Rehearsal without a GPU: GPU_CHECK_DEVICE=cpu runs every step with cpu for cuda (the
#   comparisons are then CPU against CPU); SERIAL=1 runs the background jobs one at a time.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
BUDGET_S=${BUDGET_S:-450}
OUT=${1:-outputs/gpu_check}
TINY=${TINY:-tiny_metabolism tiny_signal tiny_flyvis}
DEV=${GPU_CHECK_DEVICE:-cuda}
# Full-run tolerance: twice the range of the primary metric over 4 training seeds on the same data
# (the default simulation seed, CPU: 0.0038, 0.0123, 0.0699; benchmarks/README.md), i.e. what
# another frame sequence alone changes.
declare -A SPREAD=([tiny_metabolism]=0.01 [tiny_signal]=0.025 [tiny_flyvis]=0.15)

if [[ $DEV == cpu ]]; then
    gpu="rehearsal on the CPU (GPU_CHECK_DEVICE=cpu)"
elif ! gpu=$($PY -c "import torch, sys; ok = torch.cuda.is_available()
print(torch.cuda.get_device_name(0) if ok else ''); sys.exit(0 if ok else 3)" 2>/dev/null); then
    echo "gpu_check: no CUDA device (torch.cuda.is_available() is false, or $PY cannot import torch); nothing run"
    exit 2
fi

mkdir -p "$OUT"/logs
export NEURALGRAPH_CACHE="$OUT/cache" OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
failed=0
pids=()
say() { echo "$*" | tee -a "$SUMMARY"; }
probe() { timeout 150 $PY benchmarks/gpu_probe.py "$@" | tee -a "$SUMMARY"; }  # a stuck probe fails
spawn() {  # spawn LOG CMD...: CMD in the background (SERIAL=1: now), its output in LOG
    local log=$1; shift
    if [[ ${SERIAL:-0} == 1 ]]; then "$@" > "$log" 2>&1; else "$@" > "$log" 2>&1 & pids+=($!); fi
}
run() {  # run NAME REGIME DEVICE [overrides...]: one training run, spawned
    local name=$1 regime=$2 device=$3; shift 3
    spawn "$OUT/logs/$name.log" timeout 240 $PY -m neuralgraph.train +regime="$regime" device="$device" progress=false \
        plots=false resume=false hydra.run.dir="$OUT/runs/$name" "$@"
}

versions=$($PY -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)')
say "gpu_check $(date -u +%FT%TZ): $gpu; $versions; $(env -u OMP_NUM_THREADS nproc) CPUs; budget ${BUDGET_S} s"

# The signal_fig2 dataset for (c), simulated on the CPU (one thread: more only slows a 1000 x 1000
# matrix-vector product per step) while (a) and (b) run.
fig2_over=()
for o in ${FIG2_OVERRIDES:-}; do fig2_over+=(--override "$o"); done
spawn "$OUT/logs/fig2_sim.log" $PY benchmarks/gpu_probe.py simulate --regime signal_fig2 \
    "${fig2_over[@]}" --json "$OUT/fig2_sim.json"
fig2_sim=("${pids[@]}")
pids=()

# (a) full runs on both devices, spawned (one CPU thread each); parity meanwhile.
for r in $TINY; do
    run "$r-cpu" "$r" cpu
    run "$r-$DEV" "$r" "$DEV"
done
say "(a) parity: same start, same frames, CPU vs $DEV"
for r in $TINY; do
    probe parity --regime "$r" --devices cpu "$DEV" --steps 300 || failed=1
done
[[ ${#pids[@]} -gt 0 ]] && wait "${pids[@]}"  # every tiny run: the GPU is then free for (b)
say "(a) full runs, device=cpu vs device=$DEV (other frame draws; tolerance: 2x the training-seed range)"
for r in $TINY; do
    if [[ -f "$OUT/runs/$r-cpu/results.npz" && -f "$OUT/runs/$r-$DEV/results.npz" ]]; then
        probe compare --regime "$r" "$OUT/runs/$r-cpu" "$OUT/runs/$r-$DEV" --tol "${SPREAD[$r]}" || failed=1
    else
        say "compare $r: a run failed, see $OUT/logs/$r-cpu.log and $r-$DEV.log"; failed=1
    fi
done

# (b) full-size speed, the GPU to itself.
say "(b) full size on $DEV: steps/s and peak GPU memory"
probe speed --regime oscillatory_rank50 --device "$DEV" --steps 500 --max-seconds 20 || failed=1
probe speed --regime signal_fig2 --device "$DEV" --frames 5000 --steps 500 --max-seconds 20 || failed=1
probe speed --regime flyvis_reference --device "$DEV" --frames 400 --override simulation.n_test_frames=10 \
    --steps 200 --max-seconds 30 || failed=1

# (c) signal_fig2 end to end: the simulation (above), then training and evaluation in the time left.
[[ ${#fig2_sim[@]} -gt 0 ]] && wait "${fig2_sim[@]}"
sim_s=$($PY -c "import json; print(round(json.load(open('$OUT/fig2_sim.json'))['seconds']))" 2>/dev/null || echo "?")
left=$((BUDGET_S - SECONDS - 15))
say "(c) signal_fig2 on $DEV end to end: simulation ${sim_s} s (CPU, one thread); run limited to ${left} s"
t0=$SECONDS
# shellcheck disable=SC2086  # FIG2_OVERRIDES is a list of overrides
timeout --signal=TERM --kill-after=60 "$((left > 30 ? left : 30))" \
    $PY -m neuralgraph.train +regime=signal_fig2 device="$DEV" progress=false \
    plots=false resume=false log_every=2000 hydra.run.dir="$OUT/runs/signal_fig2" \
    ${FIG2_OVERRIDES:-} \
    > "$OUT/logs/signal_fig2.log" 2>&1
rc=$?
wall=$((SECONDS - t0))
last=$(grep -o "step [0-9]*/[0-9]* .*" "$OUT/logs/signal_fig2.log" | tail -1)
if [[ $rc -eq 0 ]]; then
    metric=$($PY -c "import json; m = json.load(open('$OUT/runs/signal_fig2/metrics.json'))
print(f\"connectivity_R2 {m['connectivity_R2']:.4f}, training {m['training_time_min']:.1f} min\")")
    say "(c) signal_fig2 finished: run ${wall} s + simulation ${sim_s} s; $metric"
elif [[ $rc -eq 124 ]]; then
    say "(c) signal_fig2 cut by the time limit after ${wall} s: ${last:-no training step logged}"
    say "    end to end ≥ simulation ${sim_s} s + ${wall} s + the ETA above + the evaluation (not measured)"
else
    say "(c) signal_fig2 failed (rc $rc) after ${wall} s: see $OUT/logs/signal_fig2.log"; failed=1
fi
say "summary in $SUMMARY; logs in $OUT/logs"
exit $failed
