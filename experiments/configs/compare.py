"""The comparison suite: the write-ups' strategies side by side on MLP
784-128-10 at matched size (90% of the weights removed, about 10k nonzero
parameters), plus distilled and combined rows.

  python experiments/compare.py --workdir=workdirs/compare           # full
  python experiments/compare.py --quick --workdir=workdirs/quick     # preset

Full: 20 epochs per run, median of 3 seeds, about 30 min of runs on the
loaded 2-core CPU (the wall s column is per run).
--quick: 3 epochs, 1 seed, 2 min 21 s. Output: comparison.md / .csv / .png
in the workdir; both tables are in README.md.

Rows (strategy: what it is):
  dense: the 784-128-10 baseline, also the teacher of the distilled rows;
  smaller architecture: 784-13-10 trained from scratch (10,335 parameters, the
    budget of the pruned rows);
  weight-based: gradual magnitude pruning to 90% (Zhu & Gupta cubic schedule);
  sparsity-based: training under nnz(w) <= k per layer (projection after
    every update, iterative hard thresholding);
  activation-based: remove the 90% of hidden neurons with the highest APoZ
    (share of zeros after ReLU) half-way, shrink to 784-13-10, fine-tune;
  structured: the same with the L1 norm of each neuron's weights as score;
  quantized: int8 weights and inputs, trained quantization-aware, run as an
    integer model and stored as int8 + scales;
  distillation: 784-13-10 distilled from the dense row (T = 4);
  auto: the `auto` pipeline (jaxcompress/pipelines/auto.py) at the suite's
    90% budget: a file of a tenth of the dense float32 model's bytes
    (40,720), what 10% of the weights take in float32; per-layer sparsity
    and bits chosen by the exact knapsack over sensitivities measured on a
    validation split (5,000 training images held out of its own baseline),
    pruning + QAT + distillation in one run, weight sharing and entropy
    coding into a file;
  combined: the auto plan at the bytes of the hand-set Deep Compression row
    it replaces (407,204 / 33.5 = 12,155 bytes; that row, gradual pruning +
    distillation + 5-bit sharing, wrote 12,146), on the auto row's baseline
    and sensitivity table.
"""

import ml_collections
from configs import auto_common, mlp_128

from jaxcompress.pipelines.suite import Row

SPARSITY = 0.9
AUTO_RATIO = 10.0                 # the 90% budget: 1 - SPARSITY of the bytes
COMBINED_RATIO = 33.5             # the bytes of the hand-set combined file
SMALL = (13,)   # 784*13 + 13 + 13*10 + 10 = 10,335 parameters


def get_config(preset: str = 'full') -> ml_collections.ConfigDict:
  if preset not in ('full', 'quick'):
    raise ValueError(f"compare preset must be 'full' or 'quick', got {preset!r}")
  epochs = 3.0 if preset == 'quick' else 20.0
  prune = {'score': 'magnitude', 'sparsity': SPARSITY,
           'rules': (('bias', None),),
           'schedule': 'polynomial', 'units': 'epochs',
           'begin': 0.1 * epochs, 'end': 0.6 * epochs,
           'every': epochs / 30, 'power': 3.0}
  distill = {'teacher_workdir': '{row:dense}', 'temperature': 4.0,
             'alpha': 0.7}
  small = {'model': 'mlp', 'model_kwargs': {'features': SMALL}}
  base = mlp_128.get_config()
  rows = [
      Row('dense', base, strategy='baseline'),
      Row('smaller_784_13_10', base, small, 'smaller architecture'),
      Row('magnitude_90', base, {'pruning': prune}, 'weight-based'),
      Row('constrained_90', base,
          {'pruning': {'sparsity': SPARSITY, 'constrained': True,
                       'rules': (('bias', None),)}}, 'sparsity-based'),
      Row('distilled_784_13_10', base, {**small, 'distillation': distill},
          'distillation'),
  ]
  finetune = 1.0 if preset == 'quick' else 10.0
  tables = {'table_cache': '{row:auto_90}/tables'}
  rows += [
      Row('auto_90', auto_common.config('mlp_128', 'bytes', AUTO_RATIO,
                                        finetune_epochs=finetune),
          {'auto': tables}, 'auto'),
      Row('auto_combined_33x', auto_common.config(
          'mlp_128', 'bytes', COMBINED_RATIO, finetune_epochs=finetune),
          {'auto': {**tables, 'baseline_workdir': '{row:auto_90}/baseline'}},
          'combined'),
  ]
  shrink = {'pipeline': 'prune_shrink_finetune',
            'structured': {'sparsity': SPARSITY, 'schedule': 'one_shot',
                           'units': 'epochs', 'step': 0.5 * epochs,
                           'finetune_epochs': max(1.0, epochs / 4)}}
  rows += [
      Row('apoz_shrunk_784_13_10', base,
          {**shrink, 'structured': {**shrink['structured'], 'score': 'apoz'}},
          'activation-based'),
      Row('l1_shrunk_784_13_10', base,
          {**shrink, 'structured': {**shrink['structured'], 'score': 'l1'}},
          'structured'),
      Row('qat_int8', base,
          {'quantization': {'weight_bits': 8, 'act_bits': 8}}, 'quantized'),
  ]
  c = ml_collections.ConfigDict()
  c.rows = tuple(rows)
  c.seeds = (0,) if preset == 'quick' else (0, 1, 2)
  c.common = ml_collections.ConfigDict({'num_epochs': epochs})
  return c
