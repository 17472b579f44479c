"""The inference forward pass with batch norm folded into its layers.

The LiteRT converter folds inference batch norm into a preceding
convolution but leaves it after a Dense layer as SUB, MUL, ADD ops (TF 2.21,
measured). Export therefore folds it itself, before lowering, for every
BatchNorm that directly follows a Dense or Conv layer (Jacob et al. 2018,
section 3.2):

  W' = W f,   b' = (b - mean) f + beta,   f = gamma / sqrt(var + eps),

the layer computing ``x W' + b'`` (a bias is added even where the layer has
none, as ResNet convolutions) and the BatchNorm becoming the identity. The
pairs are found from the model itself (`quantization.fold_bn.find_pairs`);
the module is not changed, its calls are intercepted. For quantized
exports the same interceptor writes a convolution of one input channel on
the space-to-depth input (`space_to_depth`), and a shrunk MLP's input gather
becomes zero rows of fc1 (`ungathered`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from jaxcompress import models
from jaxcompress.export import space_to_depth
from jaxcompress.quantization import apply as apply_lib
from jaxcompress.quantization import fold_bn


def _get(tree, path: str):
  for k in path.split('/'):
    tree = tree[k]
  return tree


def folded_layers(model: nn.Module, variables: Any,
                  input_shape: Sequence[int]) -> dict[str, tuple]:
  """``{layer: (bn, W', b')}`` for every BatchNorm that follows a layer.

  Raises:
    ValueError: if a BatchNorm does not follow a Dense or Conv directly.
  """
  if not variables.get('batch_stats'):
    return {}
  x = np.zeros((1,) + tuple(input_shape), np.float32)
  pairs = fold_bn.find_pairs(model, variables, x)
  params, stats = variables['params'], variables['batch_stats']
  out = {}
  for bn, (layer, eps) in pairs.items():
    p, s = _get(params, bn), _get(stats, bn)
    mean = np.asarray(s['mean'], np.float32)
    var = np.asarray(s['var'], np.float32)
    gamma = np.asarray(p.get('scale', np.ones_like(mean)), np.float32)
    beta = np.asarray(p.get('bias', np.zeros_like(mean)), np.float32)
    lp = _get(params, layer)
    f = gamma / np.sqrt(var + np.float32(eps))
    kernel = np.asarray(lp['kernel'], np.float32) * f
    bias = (np.asarray(lp.get('bias', np.zeros_like(mean)), np.float32)
            - mean) * f + beta
    out[layer] = (bn, kernel, bias)
  return out


def ungathered(model: nn.Module, variables: Any, input_shape: Sequence[int]
               ) -> tuple[nn.Module, Any]:
  """An MLP that gathers its input pixels (`models.MLP.inputs`, a shrunk
  model's) as the same MLP reading every pixel, fc1's kernel zero on the
  rows it skipped; any other model as it is.

  LiteRT runs the gather (GATHER_ND) outside XNNPACK, between two of its
  partitions; a zero row costs one multiply-add per unit in the int8 kernel.
  """
  inputs = getattr(model, 'inputs', None)
  if not isinstance(model, models.MLP) or inputs is None:
    return model, variables
  p = variables['params']
  kernel = np.asarray(p['fc1']['kernel'])
  full = np.zeros((int(np.prod(input_shape)), kernel.shape[1]), kernel.dtype)
  full[np.asarray(inputs)] = kernel
  params = {**p, 'fc1': {**p['fc1'], 'kernel': full}}
  return model.clone(inputs=None), {**variables, 'params': params}


def inference_fn(model: nn.Module, variables: Any,
                 input_shape: Sequence[int],
                 int8_lowering: bool = False) -> Callable:
  """`x -> model.apply(variables, x, train=False)` with batch norm folded.

  With `int8_lowering` (quantized exports), two lowerings that LiteRT's int8
  kernels run faster than the model's own graph: a convolution of one input
  channel on the space-to-depth input (`space_to_depth`), and an MLP's input
  gather as zero rows of fc1 (`ungathered`).

  Raises:
    ValueError: if a BatchNorm does not follow a Dense or Conv directly
      (nothing to fold it into).
  """
  if int8_lowering:
    model, variables = ungathered(model, variables, input_shape)
  folded = folded_layers(model, variables, input_shape)
  identity = {bn for bn, _, _ in folded.values()}

  def interceptor(next_fun, args, kwargs, context):
    module = context.module
    if context.method_name != '__call__':
      return next_fun(*args, **kwargs)
    name = '/'.join(module.path)
    if name in identity:
      return args[0]
    if not isinstance(module, (nn.Dense, nn.Conv)):
      return next_fun(*args, **kwargs)
    x = args[0]
    s2d = int8_lowering and space_to_depth.applies(module, x.shape)
    if name in folded:
      if getattr(module, 'feature_group_count', 1) != 1:
        raise ValueError(f'Cannot fold batch norm into {name!r}: grouped '
                         'convolutions are not supported')
      _, kernel, bias = folded[name]
    elif s2d:
      p = module.variables['params']
      kernel, bias = p['kernel'], p.get('bias')
    else:
      return next_fun(*args, **kwargs)
    if s2d:
      return space_to_depth.conv(module, x, kernel, bias)
    return apply_lib.contract(module, x, jnp.asarray(kernel)) + bias

  def forward(x):
    with nn.intercept_methods(interceptor):
      return model.apply(variables, x, train=False)

  return forward
