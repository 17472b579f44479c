"""Deep Compression on LeNet-300-100: prune, share weights, entropy-code.

Reproduces: Han, Mao & Dally 2016, Table 2: LeNet-300-100 1.64% -> 1.58% error,
1070 KB -> 27 KB (40x). ../shared/ANCHORS.md, Combined. Target: >= 40x smaller
than the float32 file at <= 1.7% error.

Pruning: Han et al. 2015's iterative prune-and-retrain
(prune_lenet300_han.py: 92.7% of the weights removed). Storage: 5-bit shared
weights (k-means, linear init) for every kernel, 8-bit index gaps, LZMA;
biases in float32. No fine-tuning of the shared centroids.

  python experiments/main.py \
      --config=experiments/configs/deep_compression_lenet_300_100.py \
      --workdir=workdirs/deep_compression_lenet_300_100

results.json: compressed_test_error (the model decoded from the file),
compression_ratio (over the float32 model.msgpack). Runtime and result:
README.md.
"""

import ml_collections
from configs import prune_lenet300_han


def get_config():
  c = prune_lenet300_han.get_config()
  c.deep_compression = ml_collections.ConfigDict({
      'rules': (('kernel', 5),),
  })
  return c
