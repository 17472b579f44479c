"""Starting JAX on several processes (hosts), before anything touches a device.

`initialize` wraps `jax.distributed.initialize`: with an explicit
coordinator address, process count and process id (what
experiments/launch_local.py passes to each local process), or, with none of
them, from the cluster's own environment as `jax.distributed.initialize()`
reads it (SLURM, TPU pod slices, Open MPI) when that environment names more
than one process. On the CPU the collectives between processes go through
gloo. A process that dies stops the others within `heartbeat_timeout_s`
seconds (the coordination service aborts them), so a broken run never hangs.

It must run before the first `jax.devices()`, array or jit of the process.
"""

from __future__ import annotations

import os

_CLUSTER_ENV = ('SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE')


def cluster_processes() -> int:
  """How many processes the environment's scheduler started (1 if none)."""
  for var in _CLUSTER_ENV:
    if os.environ.get(var, '').isdigit():
      return int(os.environ[var])
  hosts = os.environ.get('TPU_WORKER_HOSTNAMES', '')
  return len(hosts.split(',')) if hosts else 1


def initialize(coordinator_address: str = '', num_processes: int = 0,
               process_id: int = -1, heartbeat_timeout_s: int = 60) -> bool:
  """Joins the processes of a multi-process run; returns whether it did.

  Args:
    coordinator_address: 'host:port' of process 0's coordinator ('' to
      read the cluster's environment).
    num_processes: the number of processes (0: from the environment).
    process_id: this process's index (-1: from the environment).
    heartbeat_timeout_s: seconds after which a silent process is declared
      dead and every other process stops with an error.

  Raises:
    ValueError: only some of the three explicit settings are given, or they
      are inconsistent.
  """
  import jax
  explicit = (bool(coordinator_address), num_processes > 0, process_id >= 0)
  if any(explicit) and not all(explicit):
    raise ValueError('give all of --coordinator_address, --num_processes and '
                     '--process_id, or none of them (then the cluster '
                     'environment decides)')
  if all(explicit):
    if not 0 <= process_id < num_processes:
      raise ValueError(f'process_id {process_id} is not in [0, '
                       f'{num_processes})')
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(coordinator_address, num_processes,
                               process_id,
                               heartbeat_timeout_seconds=heartbeat_timeout_s)
    return True
  if cluster_processes() > 1:
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(heartbeat_timeout_seconds=heartbeat_timeout_s)
    return True
  return False
