"""Timing on a shared machine: calls taken in turns, medians reported.

Every speed figure of the project (latency in results.json, the benchmark
tables, LiteRT latency) is measured with `interleaved`: the functions are
warmed up, then timed in rounds; each round gives every function a block of
`block` consecutive calls (keeping its working set warm, as an application
calling it again and again would), starting from a different function each
round, so that load from other processes hits them alike. Outputs are
waited for with `jax.block_until_ready`; each function gets the median (or
`reduce`) of its timed calls.

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
                warmup: int = 2, block: int = 1, inner: int = 1,
                prepare: Mapping[str, Callable[[], Any]] | None = None,
                reduce: Callable[[list[float]], float] = statistics.median
                ) -> dict[str, float]:
  """Seconds per call of each function, measured in turns.

  Args:
    fns: {name: zero-argument function}.
    repeats: rounds; each round gives every function `block` timings.
    warmup: untimed calls of each function first (compilation, caches).
    block: consecutive timings of one function per round.
    inner: calls per timing (for calls too short to time alone).
    prepare: {name: an untimed call made before each of that function's
      blocks} (e.g. setting a runtime's thread count).
    reduce: how the timings combine (median; `min` for best-of).

  Returns:
    {name: seconds per call}.

  Raises:
    ValueError: nothing to time, or repeats, block or inner < 1.
  """
  if not fns or min(repeats, block, inner) < 1:
    raise ValueError('need a function to time and repeats, block, inner '
                     '>= 1')
  prepare = prepare or {}
  names = list(fns)
  for name in names:
    if name in prepare:
      prepare[name]()
    for _ in range(warmup):
      jax.block_until_ready(fns[name]())
  times = {k: [] for k in names}
  for r in range(repeats):
    for k in range(len(names)):
      name = names[(r + k) % len(names)]
      if name in prepare:
        prepare[name]()
      f = fns[name]
      for _ in range(block):
        t0 = time.perf_counter()
        for _ in range(inner):
          out = f()
        jax.block_until_ready(out)
        times[name].append((time.perf_counter() - t0) / inner)
  return {k: float(reduce(v)) for k, v in times.items()}


def fastest(fns: Mapping[str, Callable[[], Any]], repeats: int = 5,
            **kwargs) -> str:
  """The name of the fastest function under `interleaved` (e.g. one
  computation compiled in several ways, to keep the best per model)."""
  times = interleaved(fns, repeats, **kwargs)
  return min(times, key=times.get)


def ms(seconds: Mapping[str, float]) -> dict[str, float]:
  """The same figures in milliseconds."""
  return {k: 1e3 * v for k, v in seconds.items()}
