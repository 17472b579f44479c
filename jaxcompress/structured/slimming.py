"""Network slimming: an L1 penalty on batch-norm scales.

Liu et al. 2017, "Learning Efficient Convolutional Networks through Network
Slimming": train with

    L = L_task + lambda * sum_c |gamma_c|

over the scales ``gamma`` of the batch norms that follow prunable layers, so
that many channels' scales go to (near) zero; then remove the channels with
the smallest ``|gamma|`` under one global threshold (`scores.bn_scale` with
the ``'global'`` distribution) and fine-tune. Enters training as
``Plugin.penalty``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxcompress.structured.graph import Graph
from jaxcompress.structured.scores import bn_scale_members, get_leaf

__all__ = ['bn_scale_penalty']


def bn_scale_penalty(graph: Graph, strength: float,
                     groups: Sequence[str] | None = None
                     ) -> Callable[[Any], jax.Array]:
  """``params -> strength * sum |gamma|`` over the groups' batch-norm scales.

  Raises:
    ValueError: a negative strength, or a group without batch norm.
  """
  if strength < 0:
    raise ValueError(f'slimming strength must be >= 0, got {strength}')
  paths = sorted({m.path for ms in bn_scale_members(graph, groups).values()
                  for m in ms})

  def penalty(params):
    return strength * sum(jnp.sum(jnp.abs(get_leaf(params, p))) for p in paths)
  return penalty
