"""What every result reports: parameters, sparsity, FLOPs, bytes, latency.

FLOPs are counted from the model itself: every Dense and Conv call is
intercepted (flax.linen.intercept_methods) and contributes
2 * (output elements per example) * (kernel fan-in) * density(kernel), so a
pruned kernel counts only its nonzero weights and a shrunk model counts its
real sizes. Element-wise work (bias, ReLU, pooling, batch norm) is ignored, as
in the pruning literature.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import numpy as np

from jaxcompress import conv_pool, timing
from jaxcompress.rules import named_leaves

__all__ = ['named_leaves', 'layer_macs', 'summarize', 'save_variables',
           'latency_ms']


def layer_macs(model: nn.Module, variables: Any, x: np.ndarray) -> dict:
  """Per-layer multiply-accumulates per example: {path: (dense, nonzero)}."""
  out = {}

  def interceptor(next_fun, args, kwargs, context):
    y = next_fun(*args, **kwargs)
    mod = context.module
    if (context.method_name == '__call__' and isinstance(
        mod, (nn.Dense, nn.Conv, conv_pool.ConvPool2x2))):
      kernel = mod.variables['params']['kernel']
      fan_in = kernel.size // kernel.shape[-1]
      per_example = y.size // y.shape[0]
      if isinstance(mod, conv_pool.ConvPool2x2):
        per_example *= 4   # the convolution's outputs, before the pooling
      dense = per_example * fan_in
      density = np.count_nonzero(np.asarray(kernel)) / kernel.size
      out['/'.join(mod.path)] = (dense, dense * density)
    return y

  with nn.intercept_methods(interceptor):
    model.apply(variables, x, train=False)
  return out


def summarize(model: nn.Module, variables: Any, x: np.ndarray) -> dict:
  """Parameter counts, sparsity and FLOPs of a model.

  Returns:
    {'num_params', 'nonzero_params', 'sparsity' (of all params),
     'flops_dense', 'flops' (nonzero weights only; per example),
     'layers': {path: {'params', 'nonzero', 'sparsity'}}}.
  """
  layers = {}
  total = nonzero = 0
  for name, leaf in named_leaves(variables['params']):
    leaf = np.asarray(leaf)
    nz = int(np.count_nonzero(leaf))
    layers[name] = {'params': int(leaf.size), 'nonzero': nz,
                    'sparsity': 1.0 - nz / max(leaf.size, 1)}
    total += leaf.size
    nonzero += nz
  macs = layer_macs(model, variables, np.asarray(x)[:1])
  return {
      'num_params': int(total),
      'nonzero_params': int(nonzero),
      'sparsity': 1.0 - nonzero / total,
      'flops_dense': int(2 * sum(d for d, _ in macs.values())),
      'flops': int(round(2 * sum(s for _, s in macs.values()))),
      'layers': layers,
  }


def save_variables(variables: Any, path: str) -> int:
  """Writes variables as msgpack (float32 as stored), atomically; returns the
  file's bytes."""
  from jaxcompress import files
  return files.atomic_write(path, flax.serialization.to_bytes(
      jax.device_get(variables)))


def latency_ms(apply_fn, variables: Any, images: np.ndarray,
               batch_sizes=(1, 1024), repeats: int = 20) -> dict:
  """Median wall time of a jitted forward pass, after warm-up, per batch size.

  Returns:
    {'batch_1': ms, 'batch_1024': ms, ...}.
  """
  fwd = jax.jit(lambda v, x: apply_fn(v, x, train=False))
  xs = {f'batch_{bs}': jax.device_put(np.asarray(images[:bs]))
        for bs in batch_sizes}
  return {k: timing.ms(timing.interleaved(
      {k: lambda x=x: fwd(variables, x)}, repeats, warmup=1))[k]
          for k, x in xs.items()}
