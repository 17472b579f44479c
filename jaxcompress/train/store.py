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
file is written atomically (`jaxcompress.files`). Checkpoints are
`checkpoints.Checkpoints`: verified on restore, with a fallback to the one
before.
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

from jaxcompress import files
from jaxcompress.train import checkpoints as checkpoints_lib
from jaxcompress.train.checkpoints import RunError, save_args, tree_digest

__all__ = ['RunError', 'RunStore', 'fingerprint', 'save_args', 'tree_digest']

# Settings that change how a run is watched, not what it computes: they may
# differ when a run resumes.
_NOT_IDENTITY = ('measure_latency', 'checkpoint_every_steps', 'log_every_steps',
                 'on_nonfinite_loss', 'on_collapse', 'data_dir',
                 'eval_every_steps')


def fingerprint(resolved: dict, inputs_digest: str = '') -> str:
  """SHA-256 of a run's identity: its config without the fields at their
  defaults (`registry.identity`) or that only change how it is watched,
  and the digest of the arrays it starts from."""
  from jaxcompress.plugins import registry
  ident = {k: v for k, v in registry.identity(resolved).items()
           if k not in _NOT_IDENTITY}
  text = json.dumps(ident, sort_keys=True, default=str) + inputs_digest
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_differences(old: dict, new: dict) -> list[str]:
  """'field: old -> new' for every identity field two resolved configs
  disagree on (`registry.differences`)."""
  from jaxcompress.plugins import registry
  return registry.differences(old, new, ignore=_NOT_IDENTITY)


def file_digest(path: str) -> str:
  h = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      h.update(chunk)
  return h.hexdigest()


@dataclasses.dataclass
class RunStore:
  """An open workdir (see the module docstring); use as a context manager."""
  workdir: str
  fingerprint: str
  resolved: dict
  inputs_digest: str = ''
  writes: bool = True
  finished: bool = False
  _lock_fd: int | None = None
  _ckpt: Any = None

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
    store = cls(workdir, fp, resolved, inputs_digest,
                writes=jax.process_index() == 0)
    if store.writes:
      os.makedirs(workdir, exist_ok=True)
      store._lock()
      try:
        store._check_identity()
      except BaseException:
        store.close()
        raise
    if jax.process_count() > 1:
      # The others read what process 0 checked (and wrote).
      from jax.experimental import multihost_utils
      multihost_utils.sync_global_devices(f'open {workdir}')
      if not store.writes:
        store._check_identity()
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
        diffs = config_differences(old.get('config', {}), self.resolved)
        same_inputs = old.get('inputs', '') == self.inputs_digest
        if diffs or not same_inputs:
          what = ('; '.join(diffs[:8]) + (' ...' if len(diffs) > 8 else '')
                  if diffs else 'the arrays it started from (init_from or '
                  'a previous stage) differ')
          raise ValueError(
              f'{self.workdir} holds a run of another configuration '
              f'({what}). Use another --workdir, or delete this one to '
              'start fresh.')
        # The same run, recorded before fields were added at their
        # defaults: its identity is brought up to date.
        if self.writes:
          files.write_json(path, dict(old, fingerprint=self.fingerprint,
                                      config=self.resolved,
                                      inputs=self.inputs_digest))
      self.finished = old.get('status') == 'finished' and os.path.exists(
          os.path.join(self.workdir, 'results.json'))
    elif self._has_checkpoints() or os.path.exists(
        os.path.join(self.workdir, 'results.json')):
      raise ValueError(
          f'{self.workdir} holds files of a run this version cannot '
          'identify (no run.json). Use another --workdir, or delete this '
          'one to start fresh.')
    elif self.writes:
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
        'inputs': self.inputs_digest, 'config': self.resolved})

  def close(self):
    if self._ckpt is not None:
      self._ckpt.close()
      self._ckpt = None
    if self._lock_fd is not None:
      os.close(self._lock_fd)   # releases the flock
      self._lock_fd = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  # -------------------------------------------------------- checkpoints ---

  @property
  def checkpoints(self) -> checkpoints_lib.Checkpoints:
    if self._ckpt is None:
      self._ckpt = checkpoints_lib.Checkpoints(self.workdir)
    return self._ckpt

  @property
  def checkpoint_dir(self) -> str:
    return self.checkpoints.directory

  def save(self, step: int, state, best_accuracy: float | None = None
           ) -> None:
    self.checkpoints.save(step, state, best_accuracy)

  def best_accuracy(self, step: int) -> float | None:
    """The run's best training accuracy by checkpoint `step` (None: not
    recorded)."""
    return self.checkpoints.best_accuracy(step)

  def restore(self, state, *, final: bool = False):
    return self.checkpoints.restore(state, final=final)

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
