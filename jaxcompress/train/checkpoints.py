"""Verified orbax checkpoints of a run's TrainState.

`Checkpoints(workdir)` keeps the last two checkpoints in workdir/checkpoints
(orbax saves and restores collectively: with several processes each writes
and reads its own shards) and, beside them, digests.json: a SHA-256 of the
arrays of every checkpoint, recorded at save (each process its own shards,
digests.<i>.json). A restore is verified against it and checked for
non-finite parameters; a damaged latest checkpoint falls back to the one
before, with a warning naming both, and no usable checkpoint is an error
naming them. digests.json also records, per checkpoint, the best training
accuracy the run had reached by then, so that a resumed run still knows
it had learned (`loop.collapsed`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import numpy as np
from absl import logging

from jaxcompress import files, metrics

# What `tree_digest` hashes (bumped when that changes).
DIGEST_FORMAT = 'addressable-shards-sha256-1'


class RunError(RuntimeError):
  """A run that cannot go on (diverged, no usable checkpoint, locked)."""


def tree_digest(tree: Any) -> str:
  """SHA-256 of the arrays of `tree` this process holds (every addressable
  shard, with its index), so each process checks its own part."""
  parts = []
  for name, x in metrics.named_leaves(tree):
    if isinstance(x, jax.Array):
      for shard in sorted(x.addressable_shards, key=lambda d: str(d.index)):
        parts.append((f'{name}{shard.index}', np.asarray(shard.data)))
    else:
      parts.append((name, np.asarray(x)))
  return files.digest_arrays(parts)


def _all_finite(tree: Any) -> bool:
  for x in jax.tree.leaves(tree):
    shards = ([s.data for s in x.addressable_shards]
              if isinstance(x, jax.Array) else [x])
    if not all(np.all(np.isfinite(np.asarray(d))) for d in shards):
      return False
  return True


def save_args(state):
  import orbax.checkpoint as ocp
  return ocp.args.StandardSave(state)


@dataclasses.dataclass
class Checkpoints:
  """The checkpoints of one workdir (see the module docstring)."""
  workdir: str
  _mngr: Any = None

  @property
  def directory(self) -> str:
    return os.path.join(os.path.abspath(self.workdir), 'checkpoints')


  def _manager(self):
    if self._mngr is None:
      import orbax.checkpoint as ocp
      self._mngr = ocp.CheckpointManager(
          self.directory, options=ocp.CheckpointManagerOptions(
              max_to_keep=2, create=True))
    return self._mngr

  def close(self):
    if self._mngr is not None:
      self._mngr.wait_until_finished()
      self._mngr.close()
      self._mngr = None

  def _digests_path(self):
    i = jax.process_index()
    return os.path.join(self.directory,
                        'digests.json' if i == 0 else f'digests.{i}.json')

  def _record(self) -> dict:
    """This process's digests.json as written (empty if none)."""
    path = self._digests_path()
    return files.read_json(path) if os.path.exists(path) else {}

  def _digests(self) -> dict:
    """{step: digest} recorded with this version's digest; digests of
    another format (or none) cannot verify, so they are left out."""
    got = self._record()
    if got.get('format') != DIGEST_FORMAT:
      if got:
        logging.warning('%s: digests of another format, checkpoints there '
                        'are checked for finite parameters only',
                        self._digests_path())
      return {}
    return got.get('steps', {})

  def save(self, step: int, state, best_accuracy: float | None = None
           ) -> None:
    """Checkpoints `state` and records the digest of its arrays (and the
    run's best training accuracy so far, when given)."""
    digests = self._digests()
    digests[str(step)] = tree_digest(state)
    best = self._record().get('best_accuracy', {})
    if best_accuracy is not None:
      best[str(step)] = best_accuracy
    mngr = self._manager()
    mngr.save(step, args=save_args(state))
    mngr.wait_until_finished()
    keep = {str(s) for s in mngr.all_steps()}
    # Every process records the digest of its own shards.
    files.write_json(self._digests_path(), {
        'format': DIGEST_FORMAT,
        'steps': {k: v for k, v in digests.items() if k in keep},
        'best_accuracy': {k: v for k, v in best.items() if k in keep}})

  def best_accuracy(self, step: int) -> float | None:
    """The best training accuracy recorded with checkpoint `step`."""
    return self._record().get('best_accuracy', {}).get(str(step))

  def restore(self, state, *, final: bool = False):
    """The latest verified checkpoint, or `state` if there is none.

    A checkpoint that fails to load, whose digest differs from the one
    recorded at save, or whose parameters are not finite, is skipped with a
    warning naming it and the one used instead.

    Raises:
      RunError: checkpoints exist but none is usable (naming them), or
        `final` and the latest one is damaged.
    """
    import orbax.checkpoint as ocp
    mngr = self._manager()
    steps = sorted(mngr.all_steps(), reverse=True)
    if not steps:
      return state
    digests = self._digests()
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
    problems = []
    for step in steps:
      where = os.path.join(self.directory, str(step))
      try:
        restored = mngr.restore(step, args=ocp.args.StandardRestore(abstract))
      except Exception as e:  # noqa: BLE001  (any failure means damaged)
        problems.append(f'{where}: does not load ({type(e).__name__}: '
                        f'{str(e).splitlines()[0][:200]})')
      else:
        recorded = digests.get(str(step))
        if recorded is not None and tree_digest(restored) != recorded:
          problems.append(f'{where}: its arrays differ from those saved '
                          '(checksum mismatch)')
        elif not _all_finite(restored.params):
          problems.append(f'{where}: its parameters are not finite')
        else:
          if problems:
            if final:
              raise RunError('The final checkpoint is damaged: '
                             + '; '.join(problems))
            logging.warning('Checkpoint damaged, falling back to step %d '
                            '(%s): %s', step, where, '; '.join(problems))
            print(f'warning: {problems[0]}; resuming from step {step} '
                  f'({where}) instead', flush=True)
          else:
            logging.info('Resumed from checkpoint at step %d', step)
          return restored
      if final:
        break
    raise RunError('No usable checkpoint: ' + '; '.join(problems)
                   + f'. Delete {os.path.dirname(self.directory)} to start the run '
                   'afresh.')
