"""Choosing one option per layer: least predicted loss within a budget.

Two exact solvers over a measured table (`jaxcompress.auto.table`):

* `knapsack`: additive costs (bytes): the multiple-choice knapsack
  ``min sum_l d[l][o_l]  s.t.  sum_l c[l][o_l] <= B``, solved exactly by
  dynamic programming over Pareto frontiers: after each layer, keep every
  (cost, loss) of the layers so far that no other choice beats on both;
  extending a frontier by a layer's options and pruning the dominated ones
  again keeps the optimum (an optimal plan's prefix is on its frontier). The
  integer program HAWQ-V3 solves for bit widths (Yao et al. 2021), solved
  here without a solver and without rounding the costs.
* `exhaustive`: any cost function of all the choices together (FLOPs, where
  a layer's cost is the product of two widths): every combination is
  evaluated, vectorized; exact, for tables of up to `max_combinations`.

`uniform` is the baseline allocation: the same option in every layer, the
one of least predicted loss that fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


class InfeasibleBudget(ValueError):
  """No choice of options fits the budget."""


def _frontier(cost: np.ndarray, loss: np.ndarray) -> np.ndarray:
  """Indices of the Pareto-optimal points (no other has both less or equal
  cost and strictly less loss), by increasing cost."""
  order = np.lexsort((loss, cost))
  best = np.minimum.accumulate(loss[order])
  keep = np.ones(len(order), bool)
  keep[1:] = loss[order][1:] < best[:-1]
  return order[keep]


def knapsack(delta: Sequence[Sequence[float]], cost: Sequence[Sequence[float]],
             budget: float) -> tuple[list[int], float, float]:
  """Exact multiple-choice knapsack.

  Args:
    delta: per layer, per option, the predicted loss increase.
    cost: per layer, per option, the cost (same shape).
    budget: the most the chosen options may cost together.

  Returns:
    (chosen option index per layer, its total loss, its total cost).

  Raises:
    InfeasibleBudget: even the cheapest options cost more than `budget`.
  """
  costs = np.zeros(1)
  losses = np.zeros(1)
  choices = np.zeros((1, 0), np.int64)
  for d, c in zip(delta, cost):
    d, c = np.asarray(d, np.float64), np.asarray(c, np.float64)
    cc = (costs[:, None] + c[None, :]).reshape(-1)
    ll = (losses[:, None] + d[None, :]).reshape(-1)
    prev = np.repeat(np.arange(len(costs)), len(c))
    opt = np.tile(np.arange(len(c)), len(costs))
    fits = cc <= budget
    if not fits.any():
      cheapest = costs.min() + sum(float(np.min(x)) for x in cost[
          choices.shape[1]:])
      raise InfeasibleBudget(f'the budget {budget:,.0f} is below the '
                             f'cheapest plan ({cheapest:,.0f})')
    cc, ll, prev, opt = cc[fits], ll[fits], prev[fits], opt[fits]
    keep = _frontier(cc, ll)
    costs, losses = cc[keep], ll[keep]
    choices = np.concatenate([choices[prev[keep]], opt[keep, None]], axis=1)
  best = int(np.argmin(losses))
  return [int(i) for i in choices[best]], float(losses[best]), float(
      costs[best])


def exhaustive(delta: Sequence[Sequence[float]],
               cost_fn: Callable[[list[np.ndarray]], np.ndarray],
               budget: float, max_combinations: int = 2_000_000
               ) -> tuple[list[int], float, float]:
  """Exact search over every combination of options.

  Args:
    delta: per layer, per option, the predicted loss increase.
    cost_fn: given one index array per layer (broadcastable), the cost of
      each combination.
    budget: the most a combination may cost.
    max_combinations: refuse larger searches.

  Returns:
    (chosen option index per layer, total loss, total cost).

  Raises:
    ValueError: more than `max_combinations` combinations.
    InfeasibleBudget: nothing fits.
  """
  sizes = [len(d) for d in delta]
  n = int(np.prod(sizes))
  if n > max_combinations:
    raise ValueError(f'{n:,} combinations of options exceed the exhaustive '
                     f'search limit {max_combinations:,}; use fewer options')
  idx = np.meshgrid(*[np.arange(s) for s in sizes], indexing='ij')
  idx = [i.reshape(-1) for i in idx]
  loss = sum(np.asarray(d, np.float64)[i] for d, i in zip(delta, idx))
  cost = np.broadcast_to(np.asarray(cost_fn(idx), np.float64), loss.shape)
  fits = cost <= budget
  if not fits.any():
    raise InfeasibleBudget(f'the budget {budget:,.0f} is below the cheapest '
                           f'plan ({cost.min():,.0f})')
  loss = np.where(fits, loss, np.inf)
  # Least loss; among equal losses the cheapest.
  best = int(np.lexsort((cost, loss))[0])
  return [int(i[best]) for i in idx], float(loss[best]), float(cost[best])


def uniform(delta: Sequence[Sequence[float]],
            cost_fn: Callable[[list[int]], float], budget: float
            ) -> tuple[list[int], float, float]:
  """The same option index in every layer (a shared grid), least loss.

  Raises:
    InfeasibleBudget: no single option fits in every layer at once.
  """
  n_opts = len(delta[0])
  if any(len(d) != n_opts for d in delta):
    raise ValueError('uniform allocation needs the same options per layer')
  best = None
  for o in range(n_opts):
    choice = [o] * len(delta)
    c = float(cost_fn(choice))
    if c > budget:
      continue
    loss = float(sum(d[o] for d in delta))
    if best is None or (loss, c) < (best[1], best[2]):
      best = (choice, loss, c)
  if best is None:
    cheapest = min(float(cost_fn([o] * len(delta))) for o in range(n_opts))
    raise InfeasibleBudget(f'the budget {budget:,.0f} is below the cheapest '
                           f'uniform plan ({cheapest:,.0f})')
  return best
