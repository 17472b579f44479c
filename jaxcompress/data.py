"""MNIST through tensorflow-datasets, offline from the bundled original files.

The real tfds `mnist` builder prepares the dataset. With no network it reads
the four original MNIST files from `manual_dir` (the repo ships them in
data/mnist; tfds verifies their registered sha256 sums); with a network and no
manual_dir it downloads them as tfds always does.

Two ways to feed the train step:
  * `load(...)` returns the whole dataset as normalized numpy arrays, which
    `jaxcompress.train` puts on the device and indexes inside a compiled scan;
  * `stream(...)` is a tf.data pipeline (shuffled, batched, prefetched) for
    datasets that do not fit in memory; it feeds the same jitted train step.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED_MNIST = os.path.join(REPO_ROOT, 'data', 'mnist')
DEFAULT_DATA_DIR = os.path.join(
    os.path.expanduser('~'), '.cache', 'jaxcompress', 'tensorflow_datasets')

DATASETS = ('mnist',)
# Pixel statistics of the MNIST training set after dividing by 255.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclasses.dataclass
class Dataset:
  """A dataset held as numpy arrays (images NHWC float32, normalized)."""
  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray
  mean: float
  std: float

  @property
  def num_classes(self) -> int:
    return int(self.train_labels.max()) + 1


def check_name(name: str) -> None:
  if name not in DATASETS:
    raise ValueError(f'Unknown dataset {name!r}; known datasets: {DATASETS}')


def builder(name: str = 'mnist', data_dir: str | None = None,
            manual_dir: str | None = None):
  """The prepared tfds builder; prepares it (offline if possible) on first use.

  Args:
    name: tfds dataset name.
    data_dir: where tfds keeps prepared data (default
      ~/.cache/jaxcompress/tensorflow_datasets, or $TFDS_DATA_DIR if set).
    manual_dir: folder with the original files; defaults to the bundled
      data/mnist, so no network is needed. Pass '' to let tfds download.
  """
  check_name(name)
  import tensorflow_datasets as tfds  # heavy import, only when data is needed
  data_dir = data_dir or os.environ.get('TFDS_DATA_DIR') or DEFAULT_DATA_DIR
  if manual_dir is None and os.path.isdir(BUNDLED_MNIST):
    manual_dir = BUNDLED_MNIST
  b = tfds.builder(name, data_dir=data_dir)
  b.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=manual_dir or None))
  return b


def _normalize(images: np.ndarray) -> np.ndarray:
  return ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)


def load(name: str = 'mnist', data_dir: str | None = None,
         manual_dir: str | None = None) -> Dataset:
  """The whole dataset as normalized float32 numpy arrays.

  Decoding the prepared records through tf.data takes seconds, so the decoded
  uint8 arrays are kept beside the prepared dataset (`arrays.npz` in the
  builder's versioned data_dir) and read from there afterwards.
  """
  import tensorflow_datasets as tfds
  b = builder(name, data_dir, manual_dir)
  cache = os.path.join(b.data_dir, 'arrays.npz')
  if not os.path.exists(cache):
    raw = {}
    for split in ('train', 'test'):
      d = tfds.as_numpy(b.as_dataset(split=split, batch_size=-1))
      raw[f'{split}_image'], raw[f'{split}_label'] = d['image'], d['label']
    tmp = cache + '.tmp.npz'
    np.savez(tmp, **raw)
    os.replace(tmp, cache)
  with np.load(cache) as raw:
    arrays = [(_normalize(raw[f'{s}_image']), raw[f'{s}_label'].astype(
        np.int32)) for s in ('train', 'test')]
  return Dataset(*arrays[0], *arrays[1], MNIST_MEAN, MNIST_STD)


load_mnist = load


def stream(split: str, batch_size: int, *, seed: int = 0,
           name: str = 'mnist', data_dir: str | None = None,
           manual_dir: str | None = None,
           repeat: bool = True,
           subset: int = 0) -> Iterator[dict[str, np.ndarray]]:
  """A tf.data pipeline of normalized numpy batches: shuffled, batched,
  prefetched, never materialising the whole split in memory.

  Each epoch is shuffled anew and holds every example once, as the
  in-memory path's per-epoch permutations do.

  Args:
    subset: >0: only the first `subset` examples of the split (the examples
      `load` gives, sliced `[:subset]`).

  Yields:
    {'image': (batch_size, 28, 28, 1) float32, 'label': (batch_size,) int32}.
  """
  import tensorflow as tf
  import tensorflow_datasets as tfds
  b = builder(name, data_dir, manual_dir)
  ds = b.as_dataset(split=f'{split}[:{subset}]' if subset else split,
                    shuffle_files=True,
                    read_config=tfds.ReadConfig(shuffle_seed=seed))
  ds = ds.shuffle(10_000, seed=seed)
  if repeat:
    ds = ds.repeat()
  ds = ds.map(lambda ex: {
      'image': (tf.cast(ex['image'], tf.float32) / 255.0 - MNIST_MEAN)
               / MNIST_STD,
      'label': tf.cast(ex['label'], tf.int32)},
              num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  return tfds.as_numpy(ds)
