"""Multi-stage runs over the train loop, and the registry of pipelines.

  stage      `Pipeline` (the pipeline's workdir) and its stages
  lottery    lottery-ticket rounds (train, prune, rewind, retrain)
  ptq        post-training quantization variants and QAT fine-tunings
  shrink     prune, shrink physically, fine-tune the small model
  distill    teacher, then student
  auto       adaptive compression: measure, plan under a budget, fine-tune
  suite      a suite of experiments side by side (the comparison binary)

`run(config, workdir)` runs the pipeline a config names
(`config.pipeline`; 'train' is a single run of `train_and_evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jaxcompress.pipelines import auto, distill, lottery, ptq, shrink
from jaxcompress.plugins import registry
from jaxcompress.train import loop


def _train(parsed, workdir):
  return loop.train_and_evaluate(parsed, workdir)


PIPELINES: dict[str, Callable[[registry.ParsedConfig, str | None], Any]] = {
    'train': _train,
    'lottery': lottery.run,
    'ptq': ptq.run,
    'prune_shrink_finetune': shrink.run,
    'teacher_student': distill.run,
    'auto': auto.run,
}

# The section each pipeline cannot run without.
_NEEDS = {'lottery': 'lottery', 'ptq': 'ptq',
          'prune_shrink_finetune': 'structured',
          'teacher_student': 'distillation', 'auto': 'auto'}


def check(parsed: registry.ParsedConfig) -> None:
  """Raises ValueError for an unknown pipeline or a missing section."""
  name = parsed.settings.pipeline
  if name not in PIPELINES:
    raise ValueError(f'Unknown pipeline {name!r}; known: {sorted(PIPELINES)}')
  need = _NEEDS.get(name)
  if need and need not in parsed.sections and need not in parsed.stages:
    raise ValueError(f'pipeline {name!r} needs a {need!r} section')
  if name == 'teacher_student' and parsed.teacher is None:
    raise ValueError("pipeline 'teacher_student' needs a 'teacher' section")
  for stage in parsed.stages:
    if _NEEDS.get(name) != stage:
      raise ValueError(f'the {stage!r} section belongs to the '
                       f'{[k for k, v in _NEEDS.items() if v == stage][0]!r} '
                       f'pipeline, but config.pipeline is {name!r}')


def run(config: Any, workdir: str | None):
  """Runs the config's pipeline; returns (final state, results)."""
  parsed = registry.parse_config(config)
  check(parsed)
  return PIPELINES[parsed.settings.pipeline](parsed, workdir)
