"""Deep Compression on LeNet-5: prune, share weights, entropy-code.

Reproduces: Han, Mao & Dally 2016, Table 3: LeNet-5 0.80% -> 0.74% error,
1720 KB -> 44 KB (39x), 8-bit shared conv weights and 5-bit fc weights.
../shared/ANCHORS.md, Combined. Target: >= 39x smaller than the float32 file
at <= 0.9% error.

Pruning: Han et al. 2015's iterative prune-and-retrain from the trained
baseline (prune_lenet5_han.py). Storage (jaxcompress.deep_compression):
8-bit shared weights for the convolutions, 5-bit for the dense layers
(k-means, linear init), 8-bit index gaps, LZMA; biases in float32. No
fine-tuning of the shared centroids.

  python experiments/main.py --config=experiments/configs/lenet5.py \
      --workdir=workdirs/lenet5
  python experiments/main.py \
      --config=experiments/configs/deep_compression_lenet5.py \
      --workdir=workdirs/deep_compression_lenet5

results.json: compressed_test_error (the model decoded from the file),
compression_ratio (over the float32 model.msgpack).

Runtime: 4 min 22 s on the 2-core CPU after the baseline.
Result (seed 0, measured): 43,666 bytes, 39.5x smaller than the 1,724,563-byte
float32 file; 0.87% error pruned, 0.85% decoded from the file; README.md.
"""

import ml_collections
from configs import prune_lenet5_han


def get_config():
  c = prune_lenet5_han.get_config()
  c.deep_compression = ml_collections.ConfigDict({
      'rules': (('conv.*kernel', 8), ('fc.*kernel', 5)),
  })
  return c
