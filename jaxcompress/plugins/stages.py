"""The sections of multi-stage pipelines, parsed with everything else.

They are read here, with the rest of the config, so that a bad field of a
later stage (the student's temperature, a PTQ variant's bit width) is named
before the first stage trains.

  lottery   `LotterySection`: rounds of iterative magnitude pruning
  ptq       `PTQSection`: float_workdir, PTQ variants, QAT fine-tunings
  teacher   overrides of the top-level settings for the teacher of a
            teacher -> student pipeline (parsed as a full `RunSettings`)
"""

from __future__ import annotations

import dataclasses

from jaxcompress.plugins import sections as S
from jaxcompress.plugins.quantization import QuantizationSection


@dataclasses.dataclass(frozen=True)
class LotterySection:
  """Lottery-ticket rounds (Frankle & Carbin 2019).

  Attributes:
    rounds: pruning rounds after the dense one.
    prune_rate: share of each layer's survivors pruned per round.
    output_prune_rate: the same for the output layer.
    output_layer: regex naming the output layer's parameters.
    rewind_step: the step whose weights the survivors are reset to.
    reinit_control: also train every round's mask from a fresh init.
  """
  rounds: int = 5
  prune_rate: float = 0.2
  output_prune_rate: float = 0.1
  output_layer: str = 'fc3'
  rewind_step: int = 0
  reinit_control: bool = True

  def __post_init__(self):
    if self.rounds < 1:
      raise ValueError(f'rounds must be >= 1, got {self.rounds}')
    S.check_range(self.prune_rate, 'prune_rate', 0.0, 1.0, True, True)
    S.check_range(self.output_prune_rate, 'output_prune_rate', 0.0, 1.0,
                  hi_open=True)
    S.check_nonnegative(self.rewind_step, 'rewind_step')
    S.check_rules(((self.output_layer, None),), 'output_layer')


QAT_FIELDS = ('epochs', 'learning_rate')


@dataclasses.dataclass(frozen=True)
class PTQSection:
  """Post-training quantization variants and QAT fine-tunings.

  Attributes:
    float_workdir: a finished float run to quantize ('' trains one into
      workdir/float).
    variants: ((name, overrides of the quantization section), ...) measured
      after training.
    qat: ((name, overrides), ...) fine-tuned quantization-aware from the
      float weights; overrides may also set 'epochs' and 'learning_rate'.
  """
  float_workdir: str = ''
  variants: tuple = ()
  qat: tuple = ()

  def __post_init__(self):
    for what in ('variants', 'qat'):
      names = [v[0] for v in getattr(self, what)]
      if len(set(names)) != len(names):
        raise ValueError(f'{what} names repeat: {names}')
      for v in getattr(self, what):
        if len(v) != 2 or not isinstance(v[0], str) or not isinstance(
            v[1], dict):
          raise ValueError(f'{what} entries must be (name, overrides), got '
                           f'{v!r}')

  def variant_sections(self, base: QuantizationSection, what: str
                       ) -> list[tuple[str, QuantizationSection, dict]]:
    """(name, quantization section, QAT schedule) of every variant."""
    out = []
    for name, overrides in getattr(self, what):
      q = {k: v for k, v in overrides.items() if k not in QAT_FIELDS}
      sched = {k: v for k, v in overrides.items() if k in QAT_FIELDS}
      if what == 'variants' and sched:
        raise ValueError(f'ptq.variants {name!r}: {sorted(sched)} only apply '
                         'to qat variants')
      merged = dict(S.as_dict(base), **q)
      out.append((name, S.parse(QuantizationSection, merged,
                                f'ptq.{what}[{name}]'), sched))
    for name, _, sched in out:
      for k, v in sched.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
          raise ValueError(f'ptq.qat[{name}].{k} must be > 0, got {v!r}')
    return out
