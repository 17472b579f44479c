"""What a run trains and evaluates on: its dataset, as configured.

`load_data(settings)` gives the run's `data.Dataset` (decoded once per
process and cached), cut to `train_subset` / `test_subset`, less the
validation split (`validation_examples`, the last training images) that
`load_validation` gives. `train_path` says whether the training split goes
on the device (scanned epochs) or streams through tf.data, and why.

`load_inputs(settings)` gives what the train loop and its plugins read: on
the scanned path the decoded dataset; on the stream path only the first
`sample_examples` images of each split (for initialisation, calibration,
activation statistics and saliency scores; each process reads its share and
the shares are all-gathered, so every process computes the same statistics)
while training batches and every whole-test-set measure stream through
tf.data, each process its share, so a dataset larger than memory is never
decoded whole. `evaluation` gives the matching
`(evaluate, test_logits)`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

from jaxcompress import data as data_lib
from jaxcompress.plugins import registry
from jaxcompress.plugins.settings import RunSettings
from jaxcompress.quantization.report import logits_of
from jaxcompress.train import eval_stream
from jaxcompress.train import step as step_lib


@functools.lru_cache(maxsize=4)
def _load_data(name, data_dir, manual_dir):
  return data_lib.load(name, data_dir or None, manual_dir or None)


def _sizes(s: RunSettings) -> tuple[int, int]:
  """(training examples less the validation split, test examples) the run
  uses, from the dataset's info.

  Raises:
    ValueError: a subset larger than its split, or a validation split that
      leaves no training examples.
  """
  inf = data_lib.info(s.dataset, s.data_dir or None, s.manual_dir or None)
  for what, n, have in (('train_subset', s.train_subset, inf.num_train),
                        ('test_subset', s.test_subset, inf.num_test)):
    if n > have:
      raise ValueError(f'{what} {n} is larger than the {have} examples of '
                       f'{s.dataset}')
  n_train = s.train_subset or inf.num_train
  if s.validation_examples >= n_train:
    raise ValueError(f'validation_examples {s.validation_examples} leaves no '
                     f'training examples (the training set has {n_train})')
  return n_train - s.validation_examples, s.test_subset or inf.num_test


def _subset(s: RunSettings) -> data_lib.Dataset:
  n_train, n_test = _sizes(s)
  tr = n_train + s.validation_examples
  ds = _load_data(s.dataset, s.data_dir, s.manual_dir)
  if (tr, n_test) != (len(ds.train_labels), len(ds.test_labels)):
    ds = data_lib.Dataset(ds.train_images[:tr], ds.train_labels[:tr],
                          ds.test_images[:n_test], ds.test_labels[:n_test],
                          ds.mean, ds.std)
  return ds


def load_data(s: RunSettings | Any) -> data_lib.Dataset:
  """The run's dataset (cached per process), subset as configured, without
  the validation split (`validation_examples`) it holds out.

  `s` is a run's settings, or a config they are parsed from."""
  if not isinstance(s, RunSettings):
    s = registry.parse_config(s).settings
  ds = _subset(s)
  n = s.validation_examples
  if n:
    ds = data_lib.Dataset(ds.train_images[:-n], ds.train_labels[:-n],
                          ds.test_images, ds.test_labels, ds.mean, ds.std)
  return ds


def load_validation(s: RunSettings | Any) -> tuple[np.ndarray, np.ndarray]:
  """(images, labels) of the validation split: the last `validation_examples`
  training images (after `train_subset`), which `load_data` holds out.

  Raises:
    ValueError: the settings hold out no validation split.
  """
  if not isinstance(s, RunSettings):
    s = registry.parse_config(s).settings
  n = s.validation_examples
  if not n:
    raise ValueError('validation_examples is 0: no validation split is held '
                     'out of the training set')
  ds = _subset(s)
  return ds.train_images[-n:], ds.train_labels[-n:]


def memory_budget() -> int:
  """Bytes the decoded dataset may take: half the first device's memory
  (GPU/TPU), or a quarter of the host's RAM on CPU."""
  stats = jax.local_devices()[0].memory_stats() or {}
  if stats.get('bytes_limit'):
    return int(stats['bytes_limit']) // 2
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 4


def train_path(s: RunSettings, budget_bytes: int | None = None
               ) -> tuple[bool, str]:
  """(in_memory, why): scanned epochs on the device only when the decoded
  dataset fits in `budget_bytes` (default `memory_budget()`), else the
  tf.data stream; `in_memory=False` always streams. In a multi-process run
  each process reads only its share of the training split on either path
  (`load_inputs`)."""
  if not s.in_memory:
    return False, 'in_memory=False: batches stream through tf.data'
  inf = data_lib.info(s.dataset, s.data_dir or None, s.manual_dir or None)
  path, why = data_lib.feed_path(
      inf, memory_budget() if budget_bytes is None else budget_bytes)
  return path == 'scan', why


@dataclasses.dataclass(frozen=True)
class TrainShare:
  """This process's share of the training split, for scanned epochs over a
  training set sharded across processes.

  Attributes:
    images, labels: the share (`tfds.split_for_jax_process`), zero-padded
      to the same number of rows on every process (a multiple of the local
      device count).
    rows: ``(num_train,)``: the row of the global (process-major) array that
      holds each training example, in the split's order.
    num_own: examples in this process's share (the rest is padding).
  """
  images: np.ndarray
  labels: np.ndarray
  rows: np.ndarray
  num_own: int


@dataclasses.dataclass(frozen=True)
class RunInputs:
  """What a run's loop and plugins read of its dataset.

  Attributes:
    train_images, train_labels: the training split (less the validation
      split) on the scanned path of one process; otherwise (the stream path,
      or several processes) its first `sample_examples`, in the split's
      order, unaugmented, the same on every process.
    test_images, test_labels: the test split on the scanned path of one
      process; otherwise its first `sample_examples` (shapes, spot checks,
      latency). Whole-test-set measures go through `evaluation`.
    num_train, num_test: examples in the splits the run uses.
    in_memory: the scanned path (the training split decoded in memory).
    share: on the scanned path of a multi-process run, this process's share
      of the training split (each process decodes only its own).
  """
  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray
  num_train: int
  num_test: int
  in_memory: bool
  share: TrainShare | None = None


def _read(s: RunSettings, split: str, n: int, batch: int, subset: int):
  """This process's share of the first `n` examples of a split (all of them
  with one process), in order, in batches of up to `batch` per read."""
  return data_lib.stream(
      split, batch, name=s.dataset, data_dir=s.data_dir or None,
      manual_dir=s.manual_dir or None, repeat=False, training=False,
      drop_remainder=False, subset=subset, process_index=jax.process_index(),
      process_count=jax.process_count())


def _first(s: RunSettings, split: str, n: int):
  """The first `n` examples of a split, in order, on every process: each
  process reads its share (`tfds.split_for_jax_process`, contiguous, the
  first ones one longer) and the shares are all-gathered."""
  p = jax.process_count()
  share = -(-n // p)
  batch = next(iter(_read(s, split, n, share, n)))
  x, y = batch['image'], batch['label']
  if p == 1:
    return x, y
  have = len(y)
  pad = lambda a: np.concatenate([a, np.zeros((share - have,) + a.shape[1:],
                                              a.dtype)])
  xs, ys, counts = multihost_utils.process_allgather(
      (pad(x), pad(y), np.array([have])))
  return (np.concatenate([a[:c] for a, c in zip(xs, counts[:, 0])]),
          np.concatenate([a[:c] for a, c in zip(ys, counts[:, 0])]))


def _train_share(s: RunSettings, n_train: int) -> TrainShare:
  """This process's share of the training split, decoded, and where every
  example sits in the global array the processes' shares make."""
  subset = n_train if s.train_subset or s.validation_examples else 0
  parts = list(_read(s, 'train', n_train, 4096, subset))
  x = np.concatenate([b['image'] for b in parts])
  y = np.concatenate([b['label'] for b in parts])
  counts = multihost_utils.process_allgather(np.array([len(y)]))[:, 0]
  per = jax.local_device_count()
  rows_per = -(-int(counts.max()) // per) * per
  pad = lambda a: np.concatenate([a, np.zeros((rows_per - len(a),)
                                              + a.shape[1:], a.dtype)])
  rows = np.concatenate([k * rows_per + np.arange(c)
                         for k, c in enumerate(counts)]).astype(np.int32)
  return TrainShare(pad(x), pad(y), rows, len(y))


def load_inputs(s: RunSettings) -> RunInputs:
  """The run's inputs on its path (`s.in_memory`, as `train_path` chose).

  One process on the scanned path: the decoded dataset (`load_data`).
  Several processes on the scanned path: each decodes its share of the
  training split (`TrainShare`). The stream path decodes no split. Except
  with one process in memory, the plugins get the first `sample_examples`
  of each split.

  Raises:
    ValueError: as `load_data` (subsets larger than the splits, a
      validation split that leaves nothing to train on).
  """
  if s.in_memory and jax.process_count() == 1:
    ds = load_data(s)
    return RunInputs(ds.train_images, ds.train_labels, ds.test_images,
                     ds.test_labels, len(ds.train_labels),
                     len(ds.test_labels), True)
  n_train, n_test = _sizes(s)
  k = s.sample_examples
  share = _train_share(s, n_train) if s.in_memory else None
  return RunInputs(*_first(s, 'train', min(k, n_train)),
                   *_first(s, 'test', min(k, n_test)), n_train, n_test,
                   s.in_memory, share)


def inputs_on_path(s: RunSettings) -> tuple[RunSettings, RunInputs]:
  """The run's settings with `in_memory` as `train_path` chooses (logged),
  and its inputs on that path."""
  in_memory, why = train_path(s)
  logging.info('input path: %s', why)
  s = dataclasses.replace(s, in_memory=in_memory)
  return s, load_inputs(s)


def evaluation(s: RunSettings, inputs: RunInputs, model, data_sharding
               ) -> tuple[Callable[..., dict], Callable]:
  """`(evaluate, test_logits)` over the whole test split of the run.

  `evaluate(variables, apply_fn=None) -> {'error', 'loss', 'errors'}`;
  `test_logits(apply_fn, variables) -> (logits, labels)` of every test
  image. One process in memory: over the decoded arrays; otherwise read
  through tf.data for each call, each process its share
  (`eval_stream.StreamedTestSet`).
  """
  if inputs.in_memory and inputs.share is None:
    x, y = inputs.test_images, inputs.test_labels
    return (step_lib.make_evaluate(model, s.eval_batch_size, data_sharding,
                                   x, y),
            lambda apply_fn, variables: (logits_of(apply_fn, variables, x),
                                         y))
  test = eval_stream.StreamedTestSet(s, inputs.num_test,
                                     inputs.test_images.shape[1:],
                                     data_sharding, model)
  return test.evaluate, test.logits
