"""Adaptive compression of LeNet-5 (Caffe) into a file 100x smaller.

Compares with ../shared/ANCHORS.md "The compression frontier on MNIST",
LeNet-5: Deep Compression 39x at 0.74% (Han et al. 2016; ours
deep_compression_lenet5.py: 39.5x at 0.85%), soft weight-sharing 162x at
0.97%, Bayesian compression 419x at 1.0%. Target (issue 16): >= 100x
smaller than the float32 model.msgpack (1,724,563 / 100 = 17,246 bytes) at
<= 0.9% test error.

Procedure: the `auto` pipeline (see auto_lenet300_bytes_64x.py) on the
LeNet-5 baseline (lenet5.py, 10 epochs, with the last 5,000 training images
held out as the validation split, and the gradient's global norm clipped at
2: auto_common.py): per-kernel sparsity and bits (conv1, conv2, fc1, fc2)
by the exact knapsack over the measured table, 10 epochs of pruning + QAT +
distillation in the scanned epoch, weight sharing and entropy coding.

  python experiments/main.py \
      --config=experiments/configs/auto_lenet5_bytes_100x.py \
      --workdir=workdirs/auto_lenet5_bytes_100x

Three seeds: python benchmarks/auto_targets.py --rows=auto_lenet5_bytes_100x
--seeds=0,1,2. Runtime: about 7.5 min per seed after its baseline (about 3
min) on the 2-core CPU shared with one other job. Result (median of seeds
0-2): 0.85% test error, every seed's file at least 100x smaller; README.md.
"""

from configs import auto_common


def get_config():
  return auto_common.config('lenet5', 'bytes', 100)
