"""Evaluation of a test split that is never held whole: tf.data, per process.

`StreamedTestSet` reads the test split through tf.data each time it is
measured. Every process reads its own share of the split
(`tfds.split_for_jax_process`, no example dropped) in local batches of
``eval_batch_size / process_count``; a share's last batch, and the batches a
shorter share lacks, are padded with zero-weight examples, and each global
batch is assembled on the mesh with `jax.make_array_from_process_local_data`.
So every test image is counted exactly once, whatever the process count.

`evaluate` gives error, loss and errors as `step.make_evaluate` does for a
test set in memory; `logits` gathers the logits of every test image (and
their labels, in the same order) on every process, for reports that compare
models image by image (the quantized model's report).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxcompress import data as data_lib
from jaxcompress.train import step as step_lib


class StreamedTestSet:
  """The test split of a run's dataset, streamed for each measurement."""

  def __init__(self, s, num_test: int, image_shape: tuple, data_sharding,
               model):
    """`s`: the run's settings (dataset, test_subset, eval_batch_size);
    `num_test`: examples the test split holds (after `test_subset`);
    `image_shape`: of one normalized image."""
    n = jax.process_count()
    if s.eval_batch_size % n:
      raise ValueError(f'eval_batch_size {s.eval_batch_size} is not divisible'
                       f' by the {n} processes')
    self._s, self._sharding, self._model = s, data_sharding, model
    self.num_test = num_test
    self._shape = tuple(image_shape)
    self._local = s.eval_batch_size // n
    # The longest share (tfds gives the first num_test % n processes one
    # more example) sets how many global batches every process contributes.
    self._num_batches = math.ceil(math.ceil(num_test / n) / self._local)

  def _local_batches(self) -> Iterator[tuple[np.ndarray, ...]]:
    s = self._s
    it = iter(data_lib.stream(
        'test', self._local, name=s.dataset, data_dir=s.data_dir or None,
        manual_dir=s.manual_dir or None, repeat=False, training=False,
        drop_remainder=False, subset=s.test_subset,
        process_index=jax.process_index(), process_count=jax.process_count()))
    for _ in range(self._num_batches):
      b = next(it, None)
      if b is None:   # a shorter share: all-padding batches
        b = {'image': np.zeros((0,) + self._shape, np.float32),
             'label': np.zeros((0,), np.int32)}
      x, y = b['image'], b['label']
      pad = self._local - len(y)
      yield (np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)]),
             np.concatenate([y, np.zeros(pad, y.dtype)]),
             np.concatenate([np.ones(len(y), np.float32),
                             np.zeros(pad, np.float32)]))

  def _global_batches(self):
    put = lambda a: jax.make_array_from_process_local_data(self._sharding, a)
    for batch in self._local_batches():
      yield tuple(put(a) for a in batch)

  def evaluate(self, variables, apply_fn=None) -> dict:
    """`{'error', 'loss', 'errors'}` over the whole test split."""
    apply_fn = apply_fn or self._model.apply
    wrong = loss = 0.0
    for x, y, w in self._global_batches():
      a, b = _eval_sums(apply_fn, variables, x, y, w)
      wrong += float(a)
      loss += float(b)
    return {'error': wrong / self.num_test, 'loss': loss / self.num_test,
            'errors': wrong}

  def logits(self, apply_fn: Callable, variables) -> tuple[np.ndarray,
                                                           np.ndarray]:
    """(logits, labels) of every test image, on every process, in the
    order the global batches hold them (padding removed)."""
    f = jax.jit(lambda v, x: apply_fn(v, x, train=False))
    out, labels = [], []
    for x, y, w in self._global_batches():
      keep = _gather(w) > 0
      out.append(_gather(f(variables, x))[keep])
      labels.append(_gather(y)[keep])
    return np.concatenate(out), np.concatenate(labels)


_eval_sums = jax.jit(step_lib.eval_sums, static_argnums=0)


def _gather(x) -> np.ndarray:
  if jax.process_count() == 1:
    return np.asarray(x)
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))
