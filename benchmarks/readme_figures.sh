#!/usr/bin/env bash
# Every figure in README.md, from its command, in order. Finished runs are
# reused (after their identity check), so an interrupted pass picks up where
# it stopped. `bash benchmarks/readme_figures.sh mlp` runs the MLP figures,
# `conv` the LeNet-5 ones, `docs` reruns the tables of docs/results_*.md that
# were measured on earlier code (hours of CPU); no argument: mlp and conv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
part=${1:-all}
main() { $PY experiments/main.py --config="experiments/configs/$1.py" \
  --workdir="workdirs/$1" "${@:2}"; }

if [[ $part == all || $part == mlp ]]; then
  $PY experiments/compare.py --quick --workdir=workdirs/quick
  $PY experiments/compare.py --workdir=workdirs/compare
  $PY benchmarks/pruning_experiments.py --seeds=0,1,2 --group=movement
  main lenet_300_100
  $PY benchmarks/memory.py
  main structured_lenet_300_100
fi
if [[ $part == all || $part == conv ]]; then
  main lenet5
  for s in 0 1 2; do
    $PY experiments/main.py --config=experiments/configs/quant_lenet5_lsq.py \
      --workdir="workdirs/quant_lenet5_lsq/seed$s" --config.seed="$s"
  done
  $PY benchmarks/quant_table.py --rows=quant_lenet5_lsq --seeds=0,1,2 \
    --root=workdirs
  main structured_lenet5
  $PY experiments/main.py --config=experiments/configs/vit_mnist.py \
    --workdir=workdirs/vit
  for s in 0 1 2; do
    $PY experiments/main.py --config=experiments/configs/vit_mnist.py \
      --workdir="workdirs/vit_mnist_s$s" --config.seed="$s"
    for p in 5 8; do
      $PY experiments/main.py --config="experiments/configs/vit_mnist_gmp.py:0.$p" \
        --workdir="workdirs/vit_mnist_gmp${p}_s$s" --config.seed="$s" \
        --config.init_from="workdirs/vit_mnist_s$s"
    done
    $PY experiments/main.py --config=experiments/configs/vit_mnist_quant.py \
      --workdir="workdirs/vit_mnist_quant_s$s" --config.seed="$s" \
      --config.ptq.float_workdir="workdirs/vit_mnist_s$s"
  done
  $PY benchmarks/vit_mnist_table.py --seeds=0,1,2
  $PY experiments/export.py --workdir=workdirs/lenet5 --format=litert \
    --quantize=int8
  $PY benchmarks/edge_latency.py --rounds 50 --block 10 \
    --pruned=workdirs/pruning/lenet300_gradual_95/seed0
  $PY benchmarks/edge_stages.py
  $PY benchmarks/auto_targets.py --seeds=0,1,2 \
    --rows=auto_lenet300_bytes_64x,auto_lenet5_bytes_100x,auto_lenet5_bytes_162x
  $PY benchmarks/deep_compression_table.py --seeds=0,1,2
  $PY benchmarks/pareto.py --seeds=0,1,2 --out=docs/pareto
fi
if [[ $part == docs ]]; then
  main lenet_300_100
  main lenet5
  main hinton_student
  main hinton_distill
  $PY experiments/report.py workdirs/lenet_300_100 workdirs/lenet5 \
    workdirs/hinton_student workdirs/hinton_distill/teacher \
    workdirs/hinton_distill/student
  $PY benchmarks/distill_table.py --seeds=0,1,2
  $PY benchmarks/pruning_experiments.py --seeds=0,1,2 \
    --group=han300,han5,gradual300,snip,snip5,mlp128,lottery
  $PY benchmarks/deep_compression_table.py --seeds=0,1,2
  $PY benchmarks/structured_results_table.py --seeds=0,1,2
  $PY benchmarks/structured_latency.py --repeats 100
  $PY benchmarks/quant_table.py
fi
