"""The one interface through which a compression strategy enters training.

A strategy (pruning, quantization, distillation, structured pruning, ...)
builds a `Plugin` from its config section; `jaxcompress.train` composes any
number of them into the same jitted train step:

  updates  = optimizer, then each plugin's `tx`, chained with optax.chain
             (its `update` also gets the raw gradients as `grads=`)
  forward  = model.apply on `params_fn(params, aux)`, inside every
             `wrap_apply`
  aux      = the plugin's own trainable arrays (`aux_init`), differentiated
             beside the parameters and updated by the same optimizer
             (learned quantization step sizes)
  loss     = `loss_fn(logits, batch)` (default cross-entropy)
             + sum of `penalty(params)`
  results  = results.json gets every `report(state, ctx)` dict merged in

Nothing in the model definitions knows about compression.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import optax

Params = Any
Batch = Mapping[str, jax.Array]   # {'image': (B, H, W, C) f32, 'label': (B,) i32, ...}
ApplyFn = Callable[..., Any]       # signature of flax's module.apply


@dataclasses.dataclass(frozen=True)
class Plugin:
  """How one strategy changes training. Every field is optional.

  Attributes:
    name: short name used in logs and result keys.
    tx: a GradientTransformation chained after the optimizer (masks,
      projections, rewinding); its state lives in the optimizer state.
    params_fn: ``(params, aux) -> params`` maps trainable params (and the
      plugin's aux arrays, None without `aux_init`) to the params the model
      computes with (fake quantization); gradients flow through it.
    aux_init: ``params -> aux``, trainable arrays the plugin owns (LSQ step
      sizes); the train state keeps them beside the parameters.
    wrap_apply: maps flax's `apply` to another `apply` with the same
      signature (activation quantization by method interception, capture of
      intermediates for hint losses). In training (called with `mutable`),
      it may return a `losses` collection beside the mutable variables; its
      leaves are added to the train loss.
    loss_fn: `(logits, batch) -> scalar` replacing the cross-entropy task
      loss (distillation reads `batch['teacher_logits']`).
    penalty: `params -> scalar` added to the loss (L1, group lasso, L1 on
      batch-norm scales).
    report: `(state, ctx) -> dict` of extra results after training (e.g. the
      accuracy of the integer model, bytes of a compressed file).
    train_arrays: `images -> {key: per-example array}` for the scanned
      epochs: called on the training images the process holds (the whole
      set, or its share in a multi-process run), and the arrays are stored
      on the device beside them and gathered into every batch under their
      key (precomputed teacher logits).
  """
  name: str
  tx: optax.GradientTransformation | None = None
  params_fn: Callable[[Params, Any], Params] | None = None
  aux_init: Callable[[Params], Any] | None = None
  wrap_apply: Callable[[ApplyFn], ApplyFn] | None = None
  loss_fn: Callable[[jax.Array, Batch], jax.Array] | None = None
  penalty: Callable[[Params], jax.Array] | None = None
  report: Callable[[Any, 'Context'], dict] | None = None
  train_arrays: Callable[[np.ndarray], Mapping[str, np.ndarray]] | None = None


@dataclasses.dataclass
class Context:
  """What a strategy may look at when it builds its plugin.

  Attributes:
    settings: the run's parsed top-level settings
      (`jaxcompress.plugins.settings.RunSettings`).
    model: the flax module being trained.
    variables: freshly initialised variables ({'params': ..., maybe
      'batch_stats': ...}).
    train_images, train_labels: the (normalized) training set as numpy
      arrays, for calibration, activation statistics or SNIP scores; on the
      stream path (`settings.in_memory=False`) and in a multi-process run
      only its first `settings.sample_examples` images.
    test_images, test_labels: the test set (or, as above, its first
      `sample_examples`), for shapes and spot checks in `report`; measures
      over the whole test set go through `evaluate` and `test_logits`.
    loss: `(params, images, labels) -> scalar`, the task loss of the model
      in train mode with fixed batch statistics; for saliency scores.
    evaluate: `(variables, apply_fn=None) -> {'error': ..., 'loss': ...}`
      on the whole test set; for `report` functions.
    test_logits: `(apply_fn, variables) -> (logits, labels)` of every test
      image (numpy, the same order on every call), for reports that compare
      models image by image.
    workdir: the run's directory, for files a report writes.
    num_train_steps, steps_per_epoch: the run's length.
    inputs: arrays a multi-stage pipeline hands to this stage in memory,
      keyed by section ({'pruning': {'initial_masks': ..., 'reset_params':
      ...}, 'distillation': {'teacher': (model, variables)}}).
  """
  settings: Any
  model: nn.Module
  variables: Any
  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray
  loss: Callable[..., jax.Array]
  evaluate: Callable[..., dict]
  test_logits: Callable[..., tuple]
  workdir: str | None
  num_train_steps: int
  steps_per_epoch: int
  inputs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
