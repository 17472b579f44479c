"""The `auto` section: adaptive compression under a budget.

Read by the `auto` pipeline (`jaxcompress.pipelines.auto`): from a trained
model it measures every layer's sensitivity to every option on the
validation split (`validation_examples` held out of the training set),
chooses a plan of least predicted loss within the budget
(`jaxcompress.auto.make_plan`), fine-tunes it in one run and writes the
compressed model.

Fields (`AutoSection`):

  budget: 'bytes' (file bytes: unstructured sparsity, low bits, weight
    sharing and entropy coding), 'flops' (FLOPs per example: kept widths,
    the model physically shrunk) or 'latency' (ms of one batch-1 call of
    the exported LiteRT file on one thread: kept widths, planned on a
    latency model fitted to measured files, the plan measured before it
    trains; `jaxcompress.auto.latency`).
  budget_value: the budget in bytes, FLOPs or ms; or else
  budget_ratio: the budget as "x smaller" than the baseline's float32
    model.msgpack ('bytes'), its dense FLOPs ('flops'), or as "x faster"
    than the baseline's own file ('latency'). The `auto` pipeline needs
    exactly one of the two > 0.
  allocation: 'auto' (exact search over per-layer options) or 'uniform'
    (the baseline allocation: one bit width of `bits` and one sparsity for
    every layer, the sparsity filling the budget; `sparsities` unused).
  baseline_workdir: a finished run of the same model and data settings
    (validation split included) to compress; '' trains one first as stage
    'baseline' from the top-level settings.
  table_cache: a folder of measured tables, keyed by the model's arrays, the
    validation split and the options: runs of several budgets on one
    baseline measure it once ('' measures in every run).
  layers: regex over kernel paths ('bytes'; kernels only) or group names
    ('flops') choosing what to compress; '' takes them all.
  sparsities, bits: the grid of options of a 'bytes' plan (fractions
    removed, bit widths 2..8 = log2 of the weight-sharing clusters, or 32:
    float32 values, pruning alone).
  symmetric: symmetric grids (zero point 0) instead of affine ones.
  quantizer: how QAT finds each kernel's grid ('minmax': the kernel's
    range at every step; 'lsq': learned step sizes, symmetric grids only);
    the sensitivities are measured on min/max grids either way.
  widths: kept fractions of each group's units, the options of a 'flops'
    plan.
  inputs: a 'flops' plan may also drop input features (MLPs: group
    'input').
  distill: fine-tune with distillation from the baseline (temperature,
    alpha as in the `distillation` section).
  teacher_workdir: distill from this finished run's model instead of the
    baseline: any model (a convolutional net for an MLP student, say)
    trained on the same data with the same validation split held out;
    '' the baseline. Needs `distill`.
  finetune_epochs: epochs of the fine-tuning run (pruning + QAT, or
    structured pruning).
  finetune_learning_rate: its peak learning rate (0: the top-level one).
  prune_end: fraction of the fine-tuning by which the cubic pruning
    schedule reaches the plan.
  fit_epochs: when fine-tuning left the weights costlier to code than the
    plan predicted and the file exceeds the budget, the costliest kernel is
    pruned further (by magnitude) and the model retrained this long before
    the file is written again ('bytes' plans; 0: trim without retraining).
  shrunk_epochs: epochs of the shrunk model alone ('flops' and 'latency'
    plans).
  latency_quantize: the LiteRT file a 'latency' budget is for: 'none'
    (float), 'dynamic' or 'int8' (`jaxcompress.export.to_tflite`; int8
    calibrates on training images).
  latency_samples: widths measured to fit the latency model (at least
    one more than the model's Dense/Conv layers).
  latency_tries: plans measured over the budget before the budget is
    declared infeasible.
  latency_margin: a plan must measure this fraction under the budget
    (files of the same widths measured in other loops, and the trained
    model's file, vary by a few percent on a shared machine; the trained
    file is judged against the budget itself).
"""

from __future__ import annotations

import dataclasses

from jaxcompress.auto import ALLOCATIONS
from jaxcompress.plugins import sections as S

BUDGETS = ('bytes', 'flops', 'latency')
LATENCY_FILES = ('none', 'dynamic', 'int8')


@dataclasses.dataclass(frozen=True)
class AutoSection:
  """The `auto` section (see the module docstring)."""
  budget: str = 'bytes'
  budget_value: float = 0.0
  budget_ratio: float = 0.0
  allocation: str = 'auto'
  baseline_workdir: str = ''
  table_cache: str = ''
  layers: str = ''
  sparsities: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94,
                                   0.95, 0.96, 0.97, 0.98, 0.99)
  bits: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
  symmetric: bool = False
  quantizer: str = 'minmax'
  widths: tuple[float, ...] = (1.0, 0.8, 0.6, 0.5, 0.4, 0.33, 0.25, 0.2,
                               0.15, 0.1, 0.05)
  inputs: bool = False
  distill: bool = True
  teacher_workdir: str = ''
  temperature: float = 4.0
  alpha: float = 0.7
  finetune_epochs: float = 10.0
  finetune_learning_rate: float = 0.0
  prune_end: float = 0.5
  fit_epochs: float = 2.0
  shrunk_epochs: float = 2.0
  latency_quantize: str = 'none'
  latency_samples: int = 12
  latency_tries: int = 8
  latency_margin: float = 0.05

  def __post_init__(self):
    S.check_choice(self.budget, BUDGETS, 'auto budget')
    S.check_choice(self.allocation, ALLOCATIONS, 'auto allocation')
    S.check_choice(self.quantizer, ('minmax', 'lsq'), 'auto quantizer')
    S.check_choice(self.latency_quantize, LATENCY_FILES,
                   'auto latency_quantize')
    for name in ('latency_samples', 'latency_tries'):
      v = getattr(self, name)
      if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f'{name} must be a positive integer, got {v!r}')
    S.check_range(self.latency_margin, 'latency_margin', 0.0, 1.0,
                  hi_open=True)
    if self.teacher_workdir and not self.distill:
      raise ValueError('auto.teacher_workdir is set but distill is False: '
                       'set distill=True to learn from the teacher')
    if self.quantizer == 'lsq' and not self.symmetric:
      raise ValueError("quantizer 'lsq' learns symmetric grids: set "
                       'symmetric=True')
    S.check_nonnegative(self.budget_value, 'budget_value')
    S.check_nonnegative(self.budget_ratio, 'budget_ratio')
    if self.budget_value > 0 and self.budget_ratio > 0:
      raise ValueError('give one of budget_value (bytes or FLOPs) and '
                       'budget_ratio (x smaller than the baseline), not both: '
                       f'got {self.budget_value} and {self.budget_ratio}')
    if 0 < self.budget_ratio <= 1:
      raise ValueError(f'budget_ratio must be > 1 (x smaller), got '
                       f'{self.budget_ratio}')
    S.check_rules(((self.layers, None),), 'layers')
    if not self.sparsities or not self.bits or not self.widths:
      raise ValueError('sparsities, bits and widths need at least one value')
    for v in self.sparsities:
      S.check_range(v, 'sparsities', 0.0, 1.0, hi_open=True)
    for b in self.bits:
      if isinstance(b, bool) or not (2 <= b <= 8 or b == 32):
        raise ValueError(f'bits must be in 2..8, or 32 (float32 values), got '
                         f'{b!r}')
    for v in self.widths:
      S.check_range(v, 'widths', 0.0, 1.0, lo_open=True)
    S.check_positive(self.temperature, 'temperature')
    S.check_range(self.alpha, 'alpha', 0.0, 1.0)
    S.check_positive(self.finetune_epochs, 'finetune_epochs')
    S.check_nonnegative(self.finetune_learning_rate, 'finetune_learning_rate')
    S.check_range(self.prune_end, 'prune_end', 0.0, 1.0, True, True)
    S.check_positive(self.shrunk_epochs, 'shrunk_epochs')
    S.check_nonnegative(self.fit_epochs, 'fit_epochs')
