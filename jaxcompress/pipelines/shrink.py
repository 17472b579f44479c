"""Prune, shrink, fine-tune the smaller model: a two-stage pipeline.

Stage 'prune' trains the dense model under the `structured` section (scores,
schedule, masks) and ends with masked parameters. They are shrunk
(`structured.shrink`) into a smaller module; stage 'finetune' trains that
module alone, starting from the sliced parameters (handed over in memory),
for `structured.finetune_epochs` at `structured.finetune_learning_rate` (its
batch-norm running averages start afresh). Stage 2 costs what the small model
costs, which is the point of physical removal.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxcompress import structured
from jaxcompress.pipelines import stage as stage_lib
from jaxcompress.plugins import registry
from jaxcompress.plugins.structured import StructuredSection


def changed_attributes(model, small) -> dict:
  """The module attributes `shrink` changed (hashable values)."""
  out = {}
  for f in dataclasses.fields(small):
    if f.name in ('parent', 'name'):
      continue
    v = getattr(small, f.name)
    if v != getattr(model, f.name):
      out[f.name] = tuple(v) if isinstance(v, (list, tuple)) else v
  return out


def run(parsed: registry.ParsedConfig, workdir: str | None):
  """Runs both stages; returns stage 2's state and the combined results.

  Results: stage 2's results (test error, parameters and FLOPs of the small
  model, latency), plus ``'prune_stage'`` (stage 1's test error and its
  shrink report) and ``'shrunk_model_kwargs'``.
  """
  sec = parsed.sections['structured']
  s = parsed.settings
  names = ['prune'] + (['finetune'] if sec.finetune_epochs > 0 else [])
  with stage_lib.Pipeline(parsed, workdir, names) as pipe:
    if pipe.finished:
      return None, pipe.results()
    first = pipe.stage('prune', parsed)
    if sec.finetune_epochs <= 0:
      return first.state, pipe.finish(first.results)
    graph = structured.trace_groups(
        first.model, first.variables, tuple(first.results['input_shape']),
        inputs=sec.inputs)
    st = structured.find_state(first.state.opt_state)
    keep = {k: np.asarray(v) for k, v in st.masks.items()}
    small, small_vars = structured.shrink(
        first.model, first.variables, keep, graph,
        tuple(first.results['input_shape']))
    kwargs = changed_attributes(first.model, small)
    # The small model trains alone: the other sections (distillation) stay,
    # the structured one only measures.
    finetune = parsed.replace(
        sections={**parsed.sections,
                  'structured': StructuredSection(sparsity=0.0)},
        settings=s.replace(
            model_kwargs={**s.model_kwargs, **kwargs},
            num_epochs=sec.finetune_epochs, num_train_steps=-1, init_from='',
            learning_rate=(sec.finetune_learning_rate
                           if sec.finetune_learning_rate > 0
                           else s.learning_rate)))
    second = pipe.stage('finetune', finetune, init=small_vars)
    r1 = first.results
    results = dict(second.results)
    results['prune_stage'] = {
        'test_error': r1['test_error'],
        'num_params': r1['num_params'],
        'flops_dense': r1['flops_dense'],
        'latency_ms': r1.get('latency_ms'),
        'structured': r1.get('structured'),
    }
    results['shrunk_model_kwargs'] = kwargs
    results['structured_widths'] = r1.get('structured', {}).get('widths')
    return second.state, pipe.finish(results)
