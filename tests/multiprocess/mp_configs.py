"""Tiny configs for the multi-process tests (a config file for main.py).

  --config=tests/multiprocess/mp_configs.py:gmp
  --config=tests/multiprocess/mp_configs.py:qat_distill,<teacher workdir>
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), 'experiments'))

import ml_collections  # noqa: E402
from configs import default  # noqa: E402


def get_config(arg: str = 'gmp'):
  kind, *rest = arg.split(',')
  c = default.get_config()
  c.train_subset = 2048
  c.test_subset = 1000
  c.batch_size = 64
  c.num_train_steps = 20
  c.steps_per_call = 10
  c.measure_latency = False
  if kind == 'teacher':
    c.model = 'mlp_128'
  elif kind == 'stream':   # each process streams its share of the split
    c.in_memory = False
    c.num_train_steps = 40
    c.test_subset = 999     # shares of 500 and 499: one padded image
  elif kind == 'stream_snip':   # SNIP scores from the all-gathered sample
    c.in_memory = False
    c.sample_examples = 301     # shares of 151 and 150
    c.pruning = ml_collections.ConfigDict(dict(
        score='snip', saliency_batch_size=100, sparsity=0.9,
        distribution='global', schedule='one_shot', step=0))
  elif kind == 'gmp':
    c.pruning = ml_collections.ConfigDict(dict(
        sparsity=0.8, schedule='polynomial', begin=0.0, end=15.0, every=5.0))
  elif kind == 'qat_distill':
    c.quantization = ml_collections.ConfigDict(dict(
        weight_bits=8, act_bits=8, calib_images=128, save_files=False))
    c.distillation = ml_collections.ConfigDict(dict(
        teacher_workdir=rest[0], temperature=4.0, alpha=0.7))
  else:
    raise ValueError(f'unknown test config {kind!r}')
  return c
