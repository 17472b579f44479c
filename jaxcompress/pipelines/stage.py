"""One stage of a multi-stage run, and the run around the stages.

A pipeline (lottery rounds, PTQ variants, prune-shrink-finetune, teacher ->
student) is a Python function over parsed configs: each stage is an ordinary
run of `train.train_and_evaluate` in its own sub-workdir, started from the
variables and arrays the previous stage left in memory (`init`, `inputs`),
and resumable like any run (a finished stage with the same config and the
same inputs is not trained again). `Pipeline` holds the pipeline's own
workdir: its lock, its identity and its results.json.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import jax
import numpy as np
from absl import logging

from jaxcompress import models
from jaxcompress.plugins import registry
from jaxcompress.train import loop
from jaxcompress.train import store as store_lib


@dataclasses.dataclass
class StageResult:
  """What a stage leaves for the next one.

  Attributes:
    model: the flax module it trained.
    state: its final TrainState.
    variables: its final variables, as numpy arrays.
    results: its results dict.
  """
  model: Any
  state: Any
  variables: dict
  results: dict


class Pipeline:
  """A multi-stage run's workdir: lock, identity, stages, results.

  Use as a context manager; `stage(...)` runs one stage, `finish(results)`
  writes the pipeline's results.json.
  """

  def __init__(self, parsed: registry.ParsedConfig, workdir: str | None,
               stages: list[str]):
    self.parsed = parsed
    self.workdir = workdir
    self.t_start = time.time()
    self.names = stages
    self.store = (store_lib.RunStore.open(workdir, registry.resolved(parsed))
                  if workdir else None)

  @property
  def finished(self) -> bool:
    return self.store is not None and self.store.finished

  def results(self) -> dict:
    return self.store.results()

  def stage(self, name: str, parsed: registry.ParsedConfig, *,
            init: dict | None = None, inputs: dict | None = None,
            workdir: str | None = None) -> StageResult:
    """Runs (or reuses) the stage `name` in workdir/name (or `workdir`)."""
    where = workdir or (os.path.join(self.workdir, name) if self.workdir
                        else None)
    index = (self.names.index(name) + 1 if name in self.names
             else len(self.names))
    msg = f'stage {index}/{len(self.names)}: {name}'
    logging.info('%s (%s)', msg, where or 'not written')
    print(msg, flush=True)
    parsed = parsed.with_settings(pipeline='train')
    state, results = loop.train_and_evaluate(parsed, where, init=init,
                                             inputs=inputs)
    s = parsed.settings
    model = models.get_model(s.model, **s.model_kwargs)
    variables = jax.tree.map(np.asarray, jax.device_get(state.variables()))
    return StageResult(model, state, variables, results)

  def finish(self, results: dict) -> dict:
    """Writes the pipeline's results.json (atomically) and returns them."""
    results = dict(results, config=registry.resolved(self.parsed),
                   pipeline_wall_time_s=time.time() - self.t_start)
    if self.store is not None:
      self.store.write_results(results)
    return results

  def close(self):
    if self.store is not None:
      self.store.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def without(parsed: registry.ParsedConfig, *names: str
            ) -> registry.ParsedConfig:
  """`parsed` without the named compression and pipeline sections."""
  return parsed.replace(
      sections={k: v for k, v in parsed.sections.items() if k not in names},
      stages={k: v for k, v in parsed.stages.items() if k not in names},
      teacher=None if 'teacher' in names else parsed.teacher)
