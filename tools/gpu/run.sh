#!/usr/bin/env bash
# Run THERE, on the GPU machine, from the repository root (issue 15): every measurement in one script.
#   bash tools/gpu/run.sh bench       cvl bench --device cuda --seeds 0 1 2 at its defaults (7,390 images, resnet34, 224px)
#   bash tools/gpu/run.sh decoder     the nvJPEG store against PIL's (chapter 03f's check), on the GPU
#   bash tools/gpu/run.sh profile     torch.profiler over one epoch of (b), the fast path: where the time goes
#   bash tools/gpu/run.sh rehearsal [GLOB]   every chapter (or those matching GLOB, e.g. '0[0-7]_*') in full mode on
#                                     full-size stand-ins (7,390 PETS images, 224px, planted weights), each timed
# Each step writes under $OUT (the device tool's folder; out/gpu elsewhere). With the device tool: carry ".whl" (made
# by tools/gpu/fetch_wheels.sh), one step per call (each stays inside the 10-minute limit of a call).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-out/gpu}; mkdir -p "$OUT"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
fi
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1 || true
python3 -c "import torch, torchvision, fastai; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'fastai', fastai.__version__)" >> "$OUT/gpu.txt"
case "${1:-}" in
  bench)
    python3 -m classification_vs_labeling.cli bench --device cuda --seeds 0 1 2 --out "$OUT/bench_gpu.jsonl" 2> "$OUT/bench.log"
    tail -c 2000 "$OUT/bench.log" ;;
  decoder)
    python3 tools/gpu/decoder_check.py | tee "$OUT/decoder.txt" ;;
  profile)
    python3 tools/gpu/profile_fastpath.py "$OUT" ;;
  rehearsal)
    rm -rf /tmp/fh /tmp/th /tmp/course && mkdir -p /tmp/course
    python3 tools/standins.py --fastai-home /tmp/fh --torch-home /tmp/th --n-per-class 200 --size 500x375
    git ls-files nbs results pyproject.toml tests/nbrun.py | tar -cf - -T - | tar -xf - -C /tmp/course   # outputs stay out of the repo
    cd /tmp/course
    env -u CVL_QUICK -u CVL_SCALE FASTAI_HOME=/tmp/fh TORCH_HOME=/tmp/th CVL_RUNS=/tmp/runs \
        python3 tests/nbrun.py "$OUT/chapters.jsonl" "$PWD"/nbs/${2:-[0-9][0-9]_*}.ipynb 2> "$OUT/rehearsal.log" || true
    cat "$OUT/chapters.jsonl" ;;
  *) echo "usage: bash tools/gpu/run.sh bench|decoder|profile|rehearsal" >&2; exit 2 ;;
esac
