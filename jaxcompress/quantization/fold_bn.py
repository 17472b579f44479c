"""Folding batch norm into the preceding Dense or Conv layer.

In inference mode batch norm is the affine map
``gamma (y - mean) / sqrt(var + eps) + beta``; applied to ``y = x W + b`` it
folds into the layer (Jacob et al. 2018, section 3.2; Krishnamoorthi 2018):

  W' = W * f,   b' = (b - mean) * f + beta,   f = gamma / sqrt(var + eps)

with ``f`` broadcast over the output channels (the kernel's last axis). The
result is quantized as one layer, as integer hardware runs it.

Which layer feeds which batch norm is found from the model itself: the model
runs once with every call intercepted, and a BatchNorm whose input is exactly
the output of a Dense/Conv layer is paired with it.
"""

from __future__ import annotations

from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxcompress.rules import named_leaves


def find_pairs(model: nn.Module, variables: Any, x: np.ndarray
               ) -> dict[str, tuple[str, float]]:
  """``{bn_path: (layer_path, epsilon)}`` for every BatchNorm fed by a layer.

  Raises:
    ValueError: if a BatchNorm's input does not come straight from a Dense or
      Conv layer (nothing to fold it into).
  """
  produced: dict[int, str] = {}
  keep = []  # holds outputs alive so their ids stay unique
  pairs: dict[str, tuple[str, float]] = {}

  def interceptor(next_fun, args, kwargs, context):
    module = context.module
    if context.method_name != '__call__':
      return next_fun(*args, **kwargs)
    name = '/'.join(module.path)
    if isinstance(module, nn.BatchNorm):
      source = produced.get(id(args[0]))
      if source is None:
        raise ValueError(f'BatchNorm {name} does not follow a Dense or Conv '
                         'layer directly; it cannot be folded')
      pairs[name] = (source, module.epsilon)
    y = next_fun(*args, **kwargs)
    if isinstance(module, (nn.Dense, nn.Conv)):
      produced[id(y)] = name
      keep.append(y)
    return y

  with nn.intercept_methods(interceptor):
    model.apply(variables, jnp.asarray(x)[:1], train=False)
  return pairs


def _get(tree, path):
  for k in path.split('/'):
    tree = tree[k]
  return tree


def _set(tree, path, value):
  keys = path.split('/')
  for k in keys[:-1]:
    tree = tree.setdefault(k, {})
  tree[keys[-1]] = value


def fold_batch_norm(model: nn.Module, variables: Any, x: np.ndarray
                    ) -> tuple[nn.Module, dict]:
  """The model without batch norm and variables with it folded in.

  Args:
    model: a zoo model with a `batch_norm` attribute (MLP, LeNet5, the CIFAR
      and ImageNet ResNets, VGG); with ``batch_norm=False`` it must give
      every layer that fed a batch norm a bias.
    variables: its trained variables, with 'batch_stats'.
    x: one example input (to trace which layer feeds which batch norm).

  Returns:
    `(model.clone(batch_norm=False), {'params': folded})`; a model without
    batch norm is returned unchanged.

  Raises:
    ValueError: if the model has batch norm it cannot drop, a batch norm
      that does not follow a Dense or Conv layer, or a model without batch
      norm whose parameters differ from the folded ones (naming the array).
  """
  if 'batch_stats' not in variables or not variables['batch_stats']:
    return model, variables
  if not getattr(model, 'batch_norm', False):
    raise ValueError(f'{type(model).__name__} has batch statistics but no '
                     '`batch_norm` switch to build the folded model with')
  pairs = find_pairs(model, variables, x)
  # tree.map rebuilds every dict, so the edits below leave `variables` alone.
  params = jax.tree.map(np.array, flax.core.unfreeze(variables['params']))
  stats = variables['batch_stats']
  for bn, (layer, eps) in pairs.items():
    bn_params = _get(params, bn)
    bn_stats = _get(stats, bn)
    mean = np.asarray(bn_stats['mean'], np.float32)
    var = np.asarray(bn_stats['var'], np.float32)
    gamma = np.asarray(bn_params.get('scale', np.ones_like(mean)))
    beta = np.asarray(bn_params.get('bias', np.zeros_like(mean)))
    layer_params = _get(params, layer)
    # A layer without bias (a conv before batch norm) gets one: b = 0.
    bias = np.asarray(layer_params.get('bias', np.zeros_like(mean)))
    f = gamma / np.sqrt(var + eps)
    _set(params, f'{layer}/kernel', np.asarray(layer_params['kernel']) * f)
    _set(params, f'{layer}/bias', (bias - mean) * f + beta)
    parent = params
    keys = bn.split('/')
    for k in keys[:-1]:
      parent = parent[k]
    del parent[keys[-1]]
  folded = model.clone(batch_norm=False)
  want = jax.eval_shape(lambda: folded.init(
      jax.random.key(0), jnp.asarray(x)[:1], train=False))['params']
  want = {n: tuple(a.shape) for n, a in named_leaves(want)}
  got = {n: tuple(np.shape(a)) for n, a in named_leaves(params)}
  for name in sorted(set(want) | set(got)):
    if want.get(name) != got.get(name):
      raise ValueError(
          f'{type(model).__name__}(batch_norm=False) does not hold the folded '
          f'parameters: {name} is {got.get(name)} folded, '
          f'{want.get(name)} in the model (a layer before batch norm needs '
          'a bias when batch_norm=False)')
  return folded, {'params': params}

