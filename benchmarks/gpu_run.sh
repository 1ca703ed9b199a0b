#!/usr/bin/env bash
# bench_gpu.py as ONE prepared call on a lent GPU machine (the device tool's `run`), from the repo root:
#   run(command="bash benchmarks/gpu_run.sh", carry=[".whl"], timeout_s=540)
# The machine's python3 has torch, transformers, safetensors and huggingface_hub but not diffusers:
# carry it as wheels in .whl/ (ignored by git; see benchmarks/README.md "bench_gpu.py on a lent GPU").
# Results come back through $OUT: gpu_<card>.json/.md and the log; commit them to benchmarks/results/.
set -o pipefail
OUT=${OUT:-/tmp/bench-gpu-out}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || exit 1
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)" | tee -a "$OUT/gpu.txt" || exit 1
python3 benchmarks/bench_gpu.py --budget-seconds "${BUDGET:-420}" --model-folder /tmp/bench-models "$@" 2>&1 | tee "$OUT/bench_gpu.log"
status=$?
cp benchmarks/results/gpu_*.json benchmarks/results/gpu_*.md "$OUT/" 2>/dev/null
exit $status
