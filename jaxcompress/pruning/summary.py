"""Sparsity report: per-layer and total sizes, nonzeros and sparsity."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxcompress import rules as rules_lib
from jaxcompress.pruning import distributions


def sparsity_summary(params: Any, specs: Any = None,
                     max_kept: Any = None) -> dict:
  """Counts nonzeros of every parameter (on the host, exactly).

  Args:
    params: parameter pytree.
    specs: optional spec tree; marks which layers are pruned and their target.
    max_kept: optional `PruneState.max_kept`: the largest mask size seen over
      training, per layer (a bound on nnz at every step).

  Returns:
    ``{'layers': {path: {'size', 'nnz', 'sparsity', 'pruned', 'target',
    'max_kept'}}, 'total': {'size', 'nnz', 'sparsity'}, 'pruned_layers':
    {...same over pruned layers...}}``.
  """
  names = rules_lib.named_leaves(params)
  leaves = [leaf for _, leaf in names]
  spec_l = (jax.tree.leaves(specs, is_leaf=distributions.is_spec)
            if specs is not None else [None] * len(leaves))
  kept_l = (jax.tree.leaves(max_kept) if max_kept is not None
            else [None] * len(leaves))
  layers = {}
  tot = np.zeros(2, np.int64)
  pruned = np.zeros(2, np.int64)
  for (name, leaf), spec, kept in zip(names, spec_l, kept_l):
    x = np.asarray(leaf)
    size, nnz = int(x.size), int(np.count_nonzero(x))
    row = {'size': size, 'nnz': nnz,
           'sparsity': 1.0 - nnz / size if size else 0.0,
           'pruned': spec is not None}
    if spec is not None:
      row['target'] = (None if spec.quality is not None or spec.pool
                       else size - spec.num_pruned)
      if kept is not None:
        row['max_kept'] = int(kept)
      pruned += (size, nnz)
    layers[name] = row
    tot += (size, nnz)

  def agg(a):
    return {'size': int(a[0]), 'nnz': int(a[1]),
            'sparsity': 1.0 - a[1] / a[0] if a[0] else 0.0}
  return {'layers': layers, 'total': agg(tot), 'pruned_layers': agg(pruned)}


def format_summary(summary: dict) -> str:
  """A markdown table of `sparsity_summary`."""
  lines = ['| parameter | size | nonzero | sparsity | target nonzero | '
           'max kept in training |', '|---|---|---|---|---|---|']
  for name, r in summary['layers'].items():
    lines.append(f"| {name} | {r['size']} | {r['nnz']} | "
                 f"{100 * r['sparsity']:.2f}% | {r.get('target', '')} | "
                 f"{r.get('max_kept', '')} |")
  for key in ('pruned_layers', 'total'):
    r = summary[key]
    lines.append(f"| **{key}** | {r['size']} | {r['nnz']} | "
                 f"{100 * r['sparsity']:.2f}% | | |")
  return '\n'.join(lines)
