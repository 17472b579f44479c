#!/usr/bin/env bash
# Every figure in README.md, from its command, in order. Finished runs are
# reused (after their identity check), so an interrupted pass picks up where
# it stopped. `bash benchmarks/readme_figures.sh mlp` runs the MLP rows only,
# `conv` the LeNet-5 / residual-net ones, no argument both. Hours of CPU on a
# 2-core machine; each block prints its table.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
part=${1:-all}
main() { $PY experiments/main.py --config="experiments/configs/$1.py" \
  --workdir="workdirs/$1" "${@:2}"; }

if [[ $part == all || $part == mlp ]]; then
  $PY experiments/compare.py --quick --workdir=workdirs/quick
  $PY experiments/compare.py --workdir=workdirs/compare
  main lenet_300_100
  main hinton_student
  main hinton_distill
  $PY experiments/report.py workdirs/lenet_300_100 workdirs/hinton_student \
    workdirs/hinton_distill/teacher workdirs/hinton_distill/student
  $PY benchmarks/distill_table.py --seeds=0,1,2
  $PY benchmarks/pruning_experiments.py --seeds=0,1,2 \
    --group=han300,gradual300,snip,mlp128,lottery,movement
  $PY benchmarks/deep_compression_table.py --seeds=0,1,2 \
    --rows=deep_compression_lenet_300_100
  $PY benchmarks/structured_results_table.py --seeds=0,1,2 \
    --rows=structured_mlp128_apoz,structured_mlp128_mean,structured_mlp128_mean_abs,structured_mlp128_taylor,structured_mlp128_l2,structured_mlp128_dense,structured_mlp64_scratch,structured_lenet_300_100
fi
if [[ $part == all || $part == conv ]]; then
  main lenet5
  $PY experiments/report.py workdirs/lenet5
  $PY benchmarks/pruning_experiments.py --seeds=0,1,2 --group=han5,snip5
  $PY benchmarks/deep_compression_table.py --seeds=0,1,2 \
    --rows=deep_compression_lenet5
  $PY benchmarks/structured_results_table.py --seeds=0,1,2 \
    --rows=structured_lenet5,structured_resnet_slimming,structured_resnet_dense
  $PY benchmarks/quant_table.py --rows=quant_lenet5_lsq --seeds=0,1,2 \
    --root=workdirs
  $PY benchmarks/quant_table.py
fi
