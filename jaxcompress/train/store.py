"""The run store: everything that reads or writes a run's workdir.

A workdir holds one run:

  run.json          the run's identity: the fingerprint of its resolved
                    config (and of any arrays a pipeline handed it), the
                    config itself, and whether it finished
  .lock             held (flock) by the process running in the workdir
  checkpoints/      orbax checkpoints of the TrainState, and digests.json:
                    a SHA-256 of every checkpoint's arrays, recorded at save
  model.msgpack     the final variables
  results.json      the results (strict JSON)

`RunStore.open` refuses a second process (naming the holder), a workdir that
holds a run of another config (naming the fields that differ), and says when
the run has already finished, whose results are then kept as they are. Every
file is written atomically (`jaxcompress.files`). A restore is verified
against the digest recorded at save and checked for non-finite parameters; a
damaged latest checkpoint falls back to the one before, with a warning naming
both.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import socket
import time
from typing import Any

import flax
import flax.serialization
import jax
import numpy as np
from absl import logging

from jaxcompress import files, metrics

# Settings that change how a run is watched, not what it computes: they may
# differ when a run resumes.
_NOT_IDENTITY = ('measure_latency', 'checkpoint_every_steps', 'log_every_steps',
                 'on_nonfinite_loss', 'data_dir', 'eval_every_steps')


class RunError(RuntimeError):
  """A run that cannot go on (diverged, no usable checkpoint, locked)."""


# Top-level fields added after runs were recorded: at these values they
# compute what runs without the field computed, so they are left out of the
# identity and earlier workdirs stay valid.
_ADDED_AT_DEFAULT = {'validation_examples': 0}


def _identity(resolved: dict) -> dict:
  """The identity fields of a resolved config (and of its teacher's)."""
  out = {}
  for k, v in resolved.items():
    if k in _NOT_IDENTITY or _ADDED_AT_DEFAULT.get(k, ...) == v:
      continue
    out[k] = _identity(v) if k == 'teacher' and isinstance(v, dict) else v
  return out


def fingerprint(resolved: dict, inputs_digest: str = '') -> str:
  """SHA-256 of a resolved config (identity fields only) and input arrays."""
  ident = _identity(resolved)
  text = json.dumps(ident, sort_keys=True, default=str) + inputs_digest
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def _diff(old: dict, new: dict, prefix: str = '') -> list[str]:
  if not prefix:
    old, new = _identity(old), _identity(new)
  out = []
  for k in sorted(set(old) | set(new)):
    if prefix + k in _NOT_IDENTITY:
      continue
    a, b = old.get(k, '<absent>'), new.get(k, '<absent>')
    if isinstance(a, dict) and isinstance(b, dict):
      out += _diff(a, b, f'{prefix}{k}.')
    elif json.dumps(a, default=str) != json.dumps(b, default=str):
      out.append(f'{prefix}{k}: {a!r} -> {b!r}')
  return out


def file_digest(path: str) -> str:
  h = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      h.update(chunk)
  return h.hexdigest()


def tree_digest(tree: Any) -> str:
  return files.digest_arrays(metrics.named_leaves(jax.device_get(tree)))


@dataclasses.dataclass
class RunStore:
  """An open workdir (see the module docstring); use as a context manager."""
  workdir: str
  fingerprint: str
  resolved: dict
  writes: bool = True
  finished: bool = False
  _lock_fd: int | None = None
  _mngr: Any = None

  # ------------------------------------------------------------ opening ---

  @classmethod
  def open(cls, workdir: str, resolved: dict, inputs_digest: str = ''
           ) -> RunStore:
    """Locks `workdir` and checks that it holds this run (or none).

    Raises:
      RunError: another process holds the workdir.
      ValueError: the workdir holds a run of another config; the message
        names the fields that differ and how to start fresh.
    """
    fp = fingerprint(resolved, inputs_digest)
    store = cls(workdir, fp, resolved, writes=jax.process_index() == 0)
    os.makedirs(workdir, exist_ok=True)
    store._lock()
    try:
      store._check_identity()
    except BaseException:
      store.close()
      raise
    return store

  def _lock(self):
    path = os.path.join(self.workdir, '.lock')
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      holder = os.read(fd, 4096).decode(errors='replace').strip() or 'unknown'
      os.close(fd)
      raise RunError(f'{self.workdir} is in use by another run ({holder}); '
                     'wait for it to finish or use another --workdir') from None
    os.ftruncate(fd, 0)
    os.write(fd, f'pid {os.getpid()} on {socket.gethostname()} since '
                 f'{time.strftime("%Y-%m-%d %H:%M:%S")}'.encode())
    self._lock_fd = fd

  def _check_identity(self):
    path = os.path.join(self.workdir, 'run.json')
    if os.path.exists(path):
      old = files.read_json(path)
      if old.get('fingerprint') != self.fingerprint:
        diffs = _diff(old.get('config', {}), self.resolved)
        what = ('; '.join(diffs[:8]) + (' ...' if len(diffs) > 8 else '')
                if diffs else 'the arrays it started from (init_from or '
                'a previous stage) differ')
        raise ValueError(
            f'{self.workdir} holds a run of another configuration ({what}). '
            'Use another --workdir, or delete this one to start fresh.')
      self.finished = old.get('status') == 'finished' and os.path.exists(
          os.path.join(self.workdir, 'results.json'))
    elif self._has_checkpoints() or os.path.exists(
        os.path.join(self.workdir, 'results.json')):
      raise ValueError(
          f'{self.workdir} holds files of a run this version cannot '
          'identify (no run.json). Use another --workdir, or delete this '
          'one to start fresh.')
    else:
      self._write_run_json('running')

  def _has_checkpoints(self):
    ckpt = os.path.join(self.workdir, 'checkpoints')
    return os.path.isdir(ckpt) and any(
        d.isdigit() for d in os.listdir(ckpt))

  def _write_run_json(self, status: str):
    if not self.writes:
      return
    files.write_json(os.path.join(self.workdir, 'run.json'), {
        'fingerprint': self.fingerprint, 'status': status,
        'updated': time.strftime('%Y-%m-%d %H:%M:%S'),
        'config': self.resolved})

  def close(self):
    if self._mngr is not None:
      self._mngr.wait_until_finished()
      self._mngr.close()
      self._mngr = None
    if self._lock_fd is not None:
      os.close(self._lock_fd)   # releases the flock
      self._lock_fd = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  # -------------------------------------------------------- checkpoints ---

  @property
  def checkpoint_dir(self) -> str:
    return os.path.join(os.path.abspath(self.workdir), 'checkpoints')

  def _manager(self):
    if self._mngr is None:
      import orbax.checkpoint as ocp
      self._mngr = ocp.CheckpointManager(
          self.checkpoint_dir, options=ocp.CheckpointManagerOptions(
              max_to_keep=2, create=True))
    return self._mngr

  def _digests_path(self):
    return os.path.join(self.checkpoint_dir, 'digests.json')

  def _digests(self) -> dict:
    path = self._digests_path()
    return files.read_json(path) if os.path.exists(path) else {}

  def save(self, step: int, state) -> None:
    """Checkpoints `state` and records the digest of its arrays."""
    import orbax.checkpoint as ocp
    digests = self._digests()
    digests[str(step)] = tree_digest(state)
    mngr = self._manager()
    mngr.save(step, args=save_args(state))
    mngr.wait_until_finished()
    keep = {str(s) for s in mngr.all_steps()}
    if self.writes:
      files.write_json(self._digests_path(),
                       {k: v for k, v in digests.items() if k in keep})
    del ocp

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
      where = os.path.join(self.checkpoint_dir, str(step))
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
        elif not all(np.all(np.isfinite(np.asarray(x))) for x in
                     jax.tree.leaves(restored.params)):
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
                   + f'. Delete {self.workdir} to start the run afresh.')

  # -------------------------------------------------------------- files ---

  def path(self, name: str) -> str:
    return os.path.join(self.workdir, name)

  def write_bytes(self, name: str, data: bytes) -> int:
    if not self.writes:
      return len(data)
    return files.atomic_write(self.path(name), data)

  def write_variables(self, name: str, variables) -> int:
    """Variables as msgpack; returns the file's bytes."""
    return self.write_bytes(name, flax.serialization.to_bytes(
        jax.device_get(variables)))

  def write_results(self, results: dict) -> None:
    """results.json (strict JSON, atomic), then the run marked finished."""
    if self.writes:
      files.write_json(self.path('results.json'), results)
      self._write_run_json('finished')
    self.finished = True

  def results(self) -> dict:
    return files.read_json(self.path('results.json'))


def save_args(state):
  import orbax.checkpoint as ocp
  return ocp.args.StandardSave(state)
