"""Quantization-aware training: how the weight grid is found, as a seam.

A `Quantizer` decides the grid of each quantized weight tensor in QAT:

  aux   = quantizer.init(w, spec, method)        # trainable arrays, or None
  w_hat = quantizer.apply(w, aux, spec, method)  # differentiable fake-quant
  s, z  = quantizer.qparams(w, aux, spec, method)  # the grid, for the
                                                   # integer model and files

* `range_quantizer()`: the grid covers the tensor's own range (min/max,
  percentile or MSE, recomputed at every step), no trainable state; the
  default (Jacob et al. 2018).
* `lsq_quantizer()`: learned step sizes (Esser et al. 2020, "Learned Step
  Size Quantization"): one step per tensor or channel, initialised at
  ``2 mean|w| / sqrt(qmax)`` and trained by gradient descent with the
  weights through `quantizers.lsq_fake_quant`.

`qat_params_fn` turns resolved `QuantSettings` and a quantizer into the
train step's ``params_fn(params, aux)`` and ``aux_init(params)``;
`with_weight_qparams` fixes the trained grid into the settings so the integer
model and the files use exactly the grid that was trained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxcompress.quantization import apply as apply_lib
from jaxcompress.quantization import quantizers as qz
from jaxcompress.quantization.quantizers import QuantSpec
from jaxcompress.quantization.report import QuantSettings, params_transform
from jaxcompress.rules import named_leaves, path_str


class Quantizer(NamedTuple):
  """How QAT finds a weight tensor's grid (see the module docstring).

  `trainable` says whether `init` returns arrays that train with the
  weights (then every quantized kernel is fake-quantized by `apply`, also
  those of layers with quantized inputs).
  """
  init: Callable[[jax.Array, QuantSpec, str], Any]
  apply: Callable[[jax.Array, Any, QuantSpec, str], jax.Array]
  qparams: Callable[[jax.Array, Any, QuantSpec, str],
                    tuple[jax.Array, jax.Array]]
  trainable: bool = False


def range_quantizer() -> Quantizer:
  """The grid of the tensor's own range, recomputed at every step."""

  def apply(w, aux, spec, method):
    del aux
    scale, zp = apply_lib.weight_qparams(w, spec, method)
    return scale * qz.quantize_ste(w, scale, zp, spec)

  def qparams(w, aux, spec, method):
    del aux
    return apply_lib.weight_qparams(w, spec, method)

  return Quantizer(init=lambda w, spec, method: None, apply=apply,
                   qparams=qparams)


def lsq_quantizer() -> Quantizer:
  """Learned step sizes (LSQ); symmetric grids only."""

  def check(spec):
    if not spec.symmetric:
      raise ValueError('the lsq quantizer learns symmetric grids; set '
                       'weight_symmetric=True')

  def init(w, spec, method):
    del method
    check(spec)
    return qz.lsq_init_step(w, spec)

  def apply(w, step, spec, method):
    del method
    return qz.lsq_fake_quant(w, jnp.abs(step) + 1e-12, spec)

  def qparams(w, step, spec, method):
    del w, method
    step = jnp.abs(step) + 1e-12
    return step, jnp.zeros_like(step)

  return Quantizer(init=init, apply=apply, qparams=qparams, trainable=True)


def _quantized(settings: QuantSettings) -> list[tuple[str, QuantSpec]]:
  return [(n, s) for n, s in named_leaves(settings.specs) if s is not None]


def qat_params_fn(settings: QuantSettings, quantizer: Quantizer):
  """``(params_fn(params, aux), aux_init(params) or None)`` for QAT.

  With an untrainable quantizer (the range grid), kernels of layers with
  quantized inputs are left to the layer (`apply.fake_quant_layer`,
  bit-exact with the integer model); a trainable one fake-quantizes every
  quantized kernel here, and the layers then quantize only their inputs
  (`train_layers`).
  """
  if not quantizer.trainable:
    inner = params_transform(settings)
    return (lambda params, aux: inner(params)), None
  specs = dict(_quantized(settings))

  def aux_init(params):
    flat = dict(named_leaves(params))
    return {n: quantizer.init(jnp.asarray(flat[n]), s, settings.weight_method)
            for n, s in specs.items()}

  def params_fn(params, aux):
    def one(path, w):
      name = path_str(path)
      if name not in specs:
        return w
      out = quantizer.apply(w, aux[name], specs[name], settings.weight_method)
      if settings.preserve_sparsity:
        out = jnp.where(w != 0, out, 0.0)
      return out
    return jax.tree_util.tree_map_with_path(one, params)

  return params_fn, aux_init


def train_layers(settings: QuantSettings, quantizer: Quantizer
                 ) -> dict[str, apply_lib.LayerQuant]:
  """The layers the train step intercepts: with a stateful quantizer the
  kernels arrive fake-quantized, so the layers quantize only inputs."""
  if not quantizer.trainable:
    return settings.layers
  return {n: dataclasses.replace(lq, weight=None)
          for n, lq in settings.layers.items()}


def with_weight_qparams(settings: QuantSettings, quantizer: Quantizer,
                        aux: Any, params: Any) -> QuantSettings:
  """`settings` with the trained grid of every quantized tensor fixed."""
  if not quantizer.trainable or aux is None:
    return settings
  flat = dict(named_leaves(params))
  qp = {}
  for n, s in _quantized(settings):
    scale, zp = quantizer.qparams(jnp.asarray(flat[n]), aux[n], s,
                                  settings.weight_method)
    qp[n] = (jax.device_get(scale), jax.device_get(zp))
  layers = {}
  for n, lq in settings.layers.items():
    k = f'{n}/kernel'
    layers[n] = (dataclasses.replace(lq, weight_scale=qp[k][0],
                                     weight_zero_point=qp[k][1])
                 if k in qp and lq.weight is not None else lq)
  return settings._replace(weight_qparams=qp, layers=layers)
