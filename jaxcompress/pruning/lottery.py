"""The masks of lottery-ticket rounds (Frankle & Carbin 2019).

Iterative magnitude pruning (IMP): round ``r`` keeps, in every pruned layer,
the ``round(keep_r * n)`` largest-magnitude weights of round ``r - 1``'s
trained weights among its survivors (``keep_r = (1 - p)^r``; the paper prunes
the output layer at half the rate). The multi-stage run that trains, prunes
and rewinds is `jaxcompress.pipelines.lottery`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxcompress.pruning import masks as masks_lib
from jaxcompress.rules import named_leaves


def lottery_masks(params: Any, masks: Any,
                  keep_fraction: Mapping[str, float]) -> Any:
  """Next round's masks: per-layer exact-count magnitude masks among the
  current survivors.

  Args:
    params: trained parameters of the last round.
    masks: the last round's masks, a bool pytree like `params`.
    keep_fraction: {'/'-joined parameter path: fraction of the layer's
      weights to keep}; other parameters keep their masks.

  Returns:
    Masks (bool numpy arrays) with the structure of `params`.

  Example:
    >>> p = {'w': np.array([3., -1., 2., 0.5])}
    >>> lottery_masks(p, {'w': np.ones(4, bool)}, {'w': 0.5})['w']
    array([ True, False,  True, False])
  """
  leaves, treedef = jax.tree.flatten(params)
  old = jax.tree.leaves(masks)
  out = []
  for (name, w), m in zip(named_leaves(params), old):
    if name not in keep_fraction:
      out.append(np.asarray(m, bool))
      continue
    score = jnp.where(m, jnp.abs(jnp.asarray(w)), -jnp.inf)
    k = int(round(keep_fraction[name] * np.size(w)))
    out.append(np.asarray(masks_lib.topk_mask(score, k)))
  return jax.tree.unflatten(treedef, out)
