#!/bin/bash
# Issue 21's evidence in quick mode (chapter 12b reads what this writes): which BCE recipe, against K, with label
# noise, and the out-of-domain scores. Each sweep resumes: run again to finish or to redo only the report.
# Usage: tools/recipes_evidence.sh [recipes|noise|classes|all]   (from the repository root; CPU, 1 thread per sweep)
# Budgets 1 and 3 epochs fit a shared 2-core machine in about half an hour. The longer version: --epochs 1 3 10 and 0.5 1 2 4 as --lr-factors (each model's own rate).
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 CVL_QUICK=1 MPLBACKEND=Agg
what=${1:-all}
run() {   # run DIR ARGS...: one sweep into results/DIR, its command, date, wall time and the machine's load in DIR/commands.txt
  local dir=results/$1; shift
  local t0=$(date +%s)
  python -m classification_vs_labeling.cli sweep "$@" --seeds 0 1 2 --lr-factors 1 --fast --no-progress --out "$dir"
  mkdir -p "$dir"
  printf '%s\n' "date: $(date -u +%FT%TZ)" "command: cvl sweep $* --seeds 0 1 2 --lr-factors 1 --fast --no-progress --out $dir  (CVL_QUICK=1, OMP_NUM_THREADS=1)" \
    "wall: $(( $(date +%s) - t0 )) s" "machine: $(nproc --all) CPU cores, shared with other jobs (load average now: $(cut -d' ' -f1-3 /proc/loadavg))" "" >> "$dir/commands.txt"
}
case $what in recipes|all) run recipes_quick --data mnist --epochs 1 3 --recipes default prior-bias smooth sum mixup --ood letters+photos;; esac
case $what in noise|all) run noise_quick --data mnist --epochs 3 --recipes default prior-bias mixup --label-noise 0.2 --ood letters+photos;; esac
case $what in classes|all) run classes_quick --data glyphs --epochs 1 3 --classes 2 8 20 49 --recipes default prior-bias;; esac
