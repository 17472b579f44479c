"""Prune, shrink, fine-tune the smaller model: a two-stage experiment entry.

Stage 1 trains the dense model under `config.structured` (scores, schedule,
masks: see `config.py`) and ends with masked parameters. They are shrunk
(`removal.shrink`) into a smaller module; stage 2 trains that module alone,
starting from the sliced parameters, for `structured.finetune_epochs` at
`structured.finetune_learning_rate` (its batch-norm running averages start
afresh). Stage 2 costs what the small model costs, which is the point of
physical removal.

Point an experiment config at it with
``config.entry = 'jaxcompress.structured.experiment:prune_shrink_finetune'``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile

import flax.serialization
import jax
import ml_collections
import numpy as np

from jaxcompress import models, train
from jaxcompress.structured import graph as graph_lib
from jaxcompress.structured import removal, transform

__all__ = ['prune_shrink_finetune']


def _sub(workdir, name):
  return os.path.join(workdir, name) if workdir else None


def prune_shrink_finetune(config: ml_collections.ConfigDict,
                          workdir: str | None):
  """Runs both stages; returns stage 2's state and the combined results.

  Results: stage 2's results (test error, parameters and FLOPs of the small
  model, latency), plus ``'prune_stage'`` (stage 1's test error and its
  shrink report) and ``'shrunk_model_kwargs'``.
  """
  s = config.structured
  state1, r1 = train.train_and_evaluate(config, _sub(workdir, 'prune'))
  if float(s.get('finetune_epochs', 0.0)) <= 0:
    return state1, r1
  model = models.get_model(config.model, **config.model_kwargs)
  variables = jax.device_get(state1.variables())
  input_shape = (28, 28, 1)  # the zoo's MNIST input
  graph = graph_lib.trace_groups(model, variables, input_shape,
                                 inputs=bool(s.get('inputs', False)))
  st = transform.find_state(state1.opt_state)
  keep = {k: np.asarray(v) for k, v in st.masks.items()}
  small, small_vars = removal.shrink(model, variables, keep, graph,
                                     input_shape)
  kwargs = {f.name: getattr(small, f.name) for f in dataclasses.fields(small)
            if f.name not in ('parent', 'name')
            and getattr(small, f.name) != getattr(model, f.name)}
  kwargs = {k: tuple(v) if isinstance(v, (list, tuple)) else v
            for k, v in kwargs.items()}

  tmp = None
  if workdir:
    os.makedirs(workdir, exist_ok=True)
    init_file = os.path.join(workdir, 'shrunk_init.msgpack')
  else:
    tmp = tempfile.TemporaryDirectory()
    init_file = os.path.join(tmp.name, 'shrunk_init.msgpack')
  with open(init_file, 'wb') as f:
    f.write(flax.serialization.to_bytes(small_vars))

  c2 = ml_collections.ConfigDict(config.to_dict())
  c2.entry = 'jaxcompress.train:train_and_evaluate'
  for k, v in kwargs.items():
    c2.model_kwargs[k] = v
  c2.num_epochs = float(s.finetune_epochs)
  c2.num_train_steps = -1
  if float(s.get('finetune_learning_rate', 0.0)) > 0:
    c2.learning_rate = float(s.finetune_learning_rate)
  c2.init_from = init_file
  c2.structured = ml_collections.ConfigDict({
      'sparsity': 0.0, 'slimming_l1': 0.0})
  state2, r2 = train.train_and_evaluate(c2, _sub(workdir, 'finetune'))
  if tmp is not None:
    tmp.cleanup()
  results = dict(r2)
  results['prune_stage'] = {
      'test_error': r1['test_error'],
      'num_params': r1['num_params'],
      'flops_dense': r1['flops_dense'],
      'latency_ms': r1.get('latency_ms'),
      'structured': r1.get('structured'),
  }
  results['shrunk_model_kwargs'] = kwargs
  results['structured_widths'] = r1.get('structured', {}).get('widths')
  if workdir:
    with open(os.path.join(workdir, 'results.json'), 'w') as f:
      json.dump(results, f, indent=1, default=str)
  return state2, results
