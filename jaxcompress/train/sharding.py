"""Where the train state lives on the mesh: replicated, or FSDP-style.

With `shard_params`, every large array of the TrainState (parameters,
optimizer moments, and the compression state that has their shapes: masks,
movement scores, LSQ steps of a channel axis) is split along its largest
axis that the device count divides, over the mesh's 'data' axis; arrays
under `min_size` elements (biases, counters, keys, per-tensor ranges) stay
replicated. Since masks and moments have their parameter's shape, the same
rule shards them exactly like the parameter they belong to. XLA then
gathers each layer's weights where the step needs them (fully sharded data
parallelism, as in ZeRO-3 / FSDP), and per-device memory for parameters and
optimizer state falls as 1/N (benchmarks/memory.py).
"""

from __future__ import annotations

from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

MIN_SHARDED_SIZE = 2 ** 14


def leaf_spec(shape: tuple[int, ...], n: int,
              min_size: int = MIN_SHARDED_SIZE) -> P:
  """The PartitionSpec of one array: its largest axis divisible by n over
  'data', or replicated.

  Example:
    >>> leaf_spec((784, 300), 4)
    PartitionSpec('data', None)
    >>> leaf_spec((300,), 4)
    PartitionSpec()
  """
  size = 1
  for d in shape:
    size *= d
  if n <= 1 or size < min_size:
    return P()
  for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):
    if shape[axis] % n == 0:
      return P(*[('data' if a == axis else None) for a in range(len(shape))])
  return P()


def state_shardings(state: Any, mesh: Mesh, shard_params: bool) -> Any:
  """A NamedSharding per leaf of `state` (replicated unless
  `shard_params`)."""
  n = mesh.shape['data']

  def one(x):
    shape = tuple(getattr(x, 'shape', ()))
    spec = leaf_spec(shape, n) if shard_params else P()
    return NamedSharding(mesh, spec)

  return jax.tree.map(one, state)


def to_host(tree: Any) -> Any:
  """Every array of `tree` as a whole numpy array on this host.

  With several processes the arrays are global (each process holds its
  shards), so this is a collective: every process must call it.
  """
  if jax.process_count() == 1:
    return jax.device_get(tree)
  from jax.experimental import multihost_utils
  return multihost_utils.process_allgather(tree, tiled=True)
