"""Timing on a shared machine: calls taken in turns, medians reported.

Every speed figure of the project (latency in results.json, the benchmark
tables) is measured with `interleaved`: the functions are warmed up, then
called in turn, one call of each per repeat, so that load from other
processes hits them alike, and each gets the median of its repeats. Outputs
are waited for with `jax.block_until_ready`.

Example:

  >>> times = interleaved({'a': lambda: 1, 'b': lambda: 2}, repeats=3)
  >>> sorted(times)
  ['a', 'b']
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax


def interleaved(fns: Mapping[str, Callable[[], Any]], repeats: int = 30, *,
                warmup: int = 2, inner: int = 1,
                reduce: Callable[[list[float]], float] = statistics.median
                ) -> dict[str, float]:
  """Seconds per call of each function, measured in turns.

  Args:
    fns: {name: zero-argument function}.
    repeats: timed rounds; each round calls every function `inner` times.
    warmup: untimed calls of each function first (compilation, caches).
    inner: calls per timing (for calls too short to time alone).
    reduce: how the rounds combine (median; `min` for best-of).

  Returns:
    {name: seconds per call}.
  """
  for f in fns.values():
    for _ in range(warmup):
      jax.block_until_ready(f())
  times = {k: [] for k in fns}
  for _ in range(repeats):
    for k, f in fns.items():
      t0 = time.perf_counter()
      for _ in range(inner):
        out = f()
      jax.block_until_ready(out)
      times[k].append((time.perf_counter() - t0) / inner)
  return {k: float(reduce(v)) for k, v in times.items()}


def ms(seconds: Mapping[str, float]) -> dict[str, float]:
  """The same figures in milliseconds."""
  return {k: 1e3 * v for k, v in seconds.items()}
