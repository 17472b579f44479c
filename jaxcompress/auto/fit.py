"""Writing a plan's file within its budget.

A plan's bytes are predicted from the trained model's weights put on their
grids before fine-tuning; fine-tuning moves the weights among the grid's
levels, which changes what the entropy coder makes of them (up to 8% more
bytes for LeNet-300-100's largest kernel). `extra_pruning` says how many
more weights of the costliest kernel to remove for the file to fit (the
`auto` pipeline prunes them and retrains briefly, as in Han et al.'s
prune-retrain); `save_within` writes the Deep Compression file and, as a
last resort, removes the smallest nonzero weights of the costliest kernel
without retraining until it fits, reporting how many; everything it keeps
stays on its grid, so the file still holds the trained values exactly.
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


def extra_pruning(params: Any, rules: Sequence[tuple[str, int]],
                  layers: Sequence[str], excess: float,
                  margin: float = 1.2) -> tuple[str, int]:
  """Which kernel to prune further, and by how many weights, to take
  about `margin` x `excess` bytes off a file: the kernel that costs the
  most, at its own bytes per nonzero weight."""
  flat = dict(named_leaves(params))
  costs = {name: dc.kernel_bytes(flat[name], _bits(rules, name))
           for name in layers}
  name = max(costs, key=costs.get)
  nonzero = max(int(np.count_nonzero(flat[name])), 1)
  k = math.ceil(margin * excess / (costs[name] / nonzero)) + 1
  return name, min(k, nonzero)


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
    name, k = extra_pruning(params, rules, layers, n - budget)
    w = dict(named_leaves(params))[name]
    params = replace_leaf(params, name, drop_smallest(w, k))
    removed[name] += k
    n = dc.save(params, rules, path)
  return params, n, removed


def _bits(rules, name):
  return next(b for pattern, b in rules if re.search(pattern, name))
