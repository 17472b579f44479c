"""Deep Compression on LeNet-300-100: prune, share weights, entropy-code.

Reproduces: Han, Mao & Dally 2016, Table 2: LeNet-300-100 1.64% -> 1.58% error,
1070 KB -> 27 KB (40x). ../shared/ANCHORS.md, Combined.

Pruning: gradual magnitude pruning (Zhu & Gupta cubic schedule) over epochs
2-12 to per-layer targets close to Han et al.'s (fc1 93%, fc2 90%, fc3 75%
removed), retraining the survivors to the end. Storage: 5-bit shared weights
for every kernel, 8-bit index gaps, LZMA; biases in float32.

  python experiments/main.py \
      --config=experiments/configs/deep_compression_lenet_300_100.py \
      --workdir=workdirs/deep_compression_lenet_300_100

results.json: compressed_test_error (the decoded file), compression_ratio
(over the float32 model.msgpack). Runtime and result: README.md.
"""

import ml_collections
from configs import lenet_300_100


def get_config():
  c = lenet_300_100.get_config()
  c.num_epochs = 20.0
  c.pruning = ml_collections.ConfigDict({
      'score': 'magnitude',
      'distribution': 'uniform',
      'sparsity': 0.9,
      'rules': (('fc1/kernel', 0.93), ('fc2/kernel', 0.9),
                ('fc3/kernel', 0.75), ('bias', None)),
      'schedule': 'polynomial',
      'units': 'epochs',
      'begin': 2.0,
      'end': 12.0,
      'every': 0.5,
      'power': 3.0,
  })
  c.deep_compression = ml_collections.ConfigDict({
      'rules': (('kernel', 5),),
  })
  return c
