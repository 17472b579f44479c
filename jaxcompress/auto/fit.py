"""Writing a plan's file within its budget.

A plan's bytes are predicted from the trained model's weights put on their
grids before fine-tuning; fine-tuning moves the weights among the grid's
levels, which changes what the entropy coder makes of them (a few percent
either way on MNIST MLPs). `save_within` writes the Deep Compression file
and, when it exceeds the budget, removes the smallest-magnitude nonzero
weights of the largest kernel (zeros cost least in the file), in as many
rounds as it takes, reporting how many; everything it keeps stays on its
grid, so the file still holds the trained values exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxcompress import deep_compression as dc
from jaxcompress.auto.sensitivity import replace_leaf
from jaxcompress.rules import named_leaves


def drop_smallest(w: np.ndarray, n: int) -> np.ndarray:
  """`w` with its `n` smallest-|w| nonzero entries set to zero."""
  flat = np.asarray(w, np.float32).reshape(-1).copy()
  nz = np.flatnonzero(flat)
  n = min(int(n), nz.size)
  flat[nz[np.argsort(np.abs(flat[nz]), kind='stable')[:n]]] = 0.0
  return flat.reshape(np.shape(w))


def save_within(params: Any, rules: Sequence[tuple[str, int]],
                layers: Sequence[str], path: str, budget: float,
                max_rounds: int = 20) -> tuple[Any, int, dict[str, int]]:
  """Writes `params` with `dc.save`, trimmed to fit `budget` bytes.

  Args:
    params: the parameters as they are to be stored (kernels on their grids).
    rules: the `(regex, bits)` rules of `dc.save`.
    layers: the kernels that may be trimmed (paths).
    path: the file.
    budget: its largest allowed size.
    max_rounds: give up (keep the last file) after this many rounds.

  Returns:
    (the parameters written, the file's bytes, {kernel: weights removed}).
  """
  removed = {name: 0 for name in layers}
  n = dc.save(params, rules, path)
  for _ in range(max_rounds):
    if n <= budget:
      break
    flat = dict(named_leaves(params))
    costs = {name: dc.kernel_bytes(flat[name], _bits(rules, name))
             for name in layers}
    name = max(costs, key=costs.get)
    w = np.asarray(flat[name])
    per_weight = costs[name] / max(np.count_nonzero(w), 1)
    k = math.ceil(1.2 * (n - budget) / per_weight) + 1
    params = replace_leaf(params, name, drop_smallest(w, k))
    removed[name] += min(k, int(np.count_nonzero(w)))
    n = dc.save(params, rules, path)
  return params, n, removed


def _bits(rules, name):
  return next(b for pattern, b in rules if re.search(pattern, name))
