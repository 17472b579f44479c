"""Image-classification datasets through tensorflow-datasets.

Any tfds builder whose examples are an image and a class label (its
supervised keys, else ``'image'`` and ``'label'``) works: mnist,
fashion_mnist, cifar10, cifar100, imagenet2012, ... The input shape and the
number of classes come from the builder's info; the per-channel mean and
standard deviation of the pixels (divided by 255) are computed once over the
training split and cached beside the prepared data as a small JSON
(``jaxcompress_stats.json``), rounded to 4 decimals like the published
constants (MNIST gives its usual 0.1307 / 0.3081).

Offline: the real builder prepares the data from the original files in
`manual_dir`, as tfds documents for each dataset (imagenet2012 needs
ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar there). MNIST's four
files are bundled in data/mnist and are its default, so a fresh checkout
needs no network. An explicit `manual_dir` that lacks a file the builder
needs is an error naming the missing files, never a silent download; pass
``manual_dir=''`` to let tfds download.

Two ways to feed the train step:
  * `load(...)` returns the whole dataset as normalized float32 numpy arrays
    (NHWC), which the train loop puts on the device and indexes inside a
    compiled scan. The decoded uint8 arrays are cached as ``arrays.npz``
    beside the prepared data (a damaged cache is rebuilt). Datasets of
    variable-size images (ImageNet) are center-cropped to 224x224 here.
  * `stream(...)` is a tf.data pipeline (shuffled, augmented per dataset
    family, batched, prefetched) for datasets that do not fit in memory; it
    feeds the same jitted train step.
`info(...)` says how big the decoded dataset is, and `feed_path` which of the
two a run should take.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Iterator

import numpy as np
from absl import logging

from jaxcompress import augment

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED_MNIST = os.path.join(REPO_ROOT, 'data', 'mnist')
BUNDLED = {'mnist': BUNDLED_MNIST}
DEFAULT_DATA_DIR = os.path.join(
    os.path.expanduser('~'), '.cache', 'jaxcompress', 'tensorflow_datasets')
STATS_FILE = 'jaxcompress_stats.json'
ARRAYS_FILE = 'arrays.npz'
# Statistics of larger training splits use their first examples only.
MAX_STATS_EXAMPLES = 100_000
STATS_DECIMALS = 4

# Files a builder needs in manual_dir that its registered checksums do not
# list (datasets tfds cannot download).
MANUAL_FILES = {
    'imagenet2012': ('ILSVRC2012_img_train.tar', 'ILSVRC2012_img_val.tar'),
}
# Augmentation family of known datasets; others by image shape (`family`).
FAMILY = {
    'mnist': 'mnist', 'fashion_mnist': 'mnist', 'kmnist': 'mnist',
    'emnist': 'mnist', 'cifar10': 'cifar', 'cifar100': 'cifar',
    'imagenet2012': 'imagenet', 'imagenet2012_subset': 'imagenet',
    'imagenet_v2': 'imagenet', 'imagenette': 'imagenet',
}
# Evaluation split when the builder does not list its splits (mock data).
EVAL_SPLIT = {'imagenet2012': 'validation', 'imagenet2012_subset':
              'validation', 'imagenette': 'validation'}
# Images at most this large (and of a fixed size) stay at their size.
SMALL_IMAGE_SIDE = 64


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What a run needs to know about a dataset before loading it.

  Attributes:
    name: the tfds name given (may carry a config or version).
    full_name: tfds' ``name[/config]/version``.
    image_shape: (height, width, channels) the model sees.
    num_classes: number of label classes.
    mean, std: per-channel pixel statistics (pixels / 255) of the training
      split, rounded to `STATS_DECIMALS`.
    stats_examples: how many training examples the statistics cover.
    train_split, test_split: tfds split names.
    num_train, num_test: examples per split.
    family: augmentation family (`augment.FAMILIES`).
  """
  name: str
  full_name: str
  image_shape: tuple[int, int, int]
  num_classes: int
  mean: tuple[float, ...]
  std: tuple[float, ...]
  stats_examples: int
  train_split: str
  test_split: str
  num_train: int
  num_test: int
  family: str

  @property
  def decoded_bytes(self) -> int:
    """Bytes of both splits as float32 images and int32 labels (`load`)."""
    per_example = 4 * math.prod(self.image_shape) + 4
    return per_example * (self.num_train + self.num_test)


@dataclasses.dataclass
class Dataset:
  """A dataset held as numpy arrays (images NHWC float32, normalized).

  `mean` and `std` are per channel; `info` is None for a hand-made subset.
  """
  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray
  mean: tuple[float, ...]
  std: tuple[float, ...]
  info: DatasetInfo | None = None

  @property
  def num_classes(self) -> int:
    if self.info is not None:
      return self.info.num_classes
    return int(self.train_labels.max()) + 1


# ----------------------------------------------------------------- names ---


def base_name(name: str) -> str:
  """'cifar10:3.0.2' or 'emnist/balanced' -> the builder's name."""
  return name.split(':')[0].split('/')[0]


def _keys(b) -> tuple[str, str]:
  keys = b.info.supervised_keys
  if (isinstance(keys, (tuple, list)) and len(keys) == 2
      and all(isinstance(k, str) for k in keys)):
    return keys[0], keys[1]
  return 'image', 'label'


def _check_features(b, name: str) -> tuple[str, str]:
  """(image key, label key), or a ValueError if not image classification."""
  import tensorflow_datasets as tfds
  image_key, label_key = _keys(b)
  features = b.info.features
  names = set(features.keys())
  image = features[image_key] if image_key in names else None
  label = features[label_key] if label_key in names else None
  if not isinstance(image, tfds.features.Image) or not isinstance(
      label, tfds.features.ClassLabel):
    raise ValueError(
        f'Dataset {name!r} is not an image classification dataset: its '
        f'examples ({image_key!r}, {label_key!r}) are not an Image and a '
        f'ClassLabel; its features are {sorted(names)}')
  if image.shape[-1] is None:
    raise ValueError(f'Dataset {name!r}: images have an unknown number of '
                     'channels')
  return image_key, label_key


def check_name(name: str, data_dir: str | None = None) -> None:
  """Raises ValueError unless `name` is a tfds image-classification builder.

  Cheap: reads the builder's code and info, prepares nothing.
  """
  import tensorflow_datasets as tfds
  if not isinstance(name, str) or not name:
    raise ValueError(f'dataset must be a tfds builder name, got {name!r}')
  try:
    tfds.builder_cls(base_name(name))
  except tfds.core.registered.DatasetNotFoundError:
    raise ValueError(f'Unknown dataset {name!r}: no tensorflow-datasets '
                     'builder has that name (tfds.list_builders() lists '
                     'them)') from None
  _check_features(tfds.builder(name, data_dir=_data_dir(data_dir)), name)


def family(name: str, image_shape: tuple) -> str:
  """Augmentation family: known datasets by name, others by image shape.

  Variable-size or larger than 64x64 images: 'imagenet'; small colour
  images: 'cifar'; small grayscale images: 'mnist' (no augmentation).
  """
  base = base_name(name)
  if base in FAMILY:
    return FAMILY[base]
  h, w, c = image_shape
  if h is None or w is None or max(h, w) > SMALL_IMAGE_SIDE:
    return 'imagenet'
  return 'cifar' if c == 3 else 'mnist'


# --------------------------------------------------------------- builder ---


def _data_dir(data_dir: str | None) -> str:
  return data_dir or os.environ.get('TFDS_DATA_DIR') or DEFAULT_DATA_DIR


def _cache_dir(b, data_dir: str | None) -> str:
  """Where our caches go: beside the prepared data (``data_dir/full_name``)."""
  return os.path.join(_data_dir(data_dir), b.info.full_name)


def manual_files(b) -> tuple[str, ...]:
  """Files the builder reads from manual_dir (empty if unknown)."""
  base = base_name(b.name)
  if base in MANUAL_FILES:
    return MANUAL_FILES[base]
  return tuple(sorted({i.filename for i in b.url_infos.values()
                       if i.filename})) if b.url_infos else ()


def check_manual_dir(b, manual_dir: str) -> None:
  """Raises ValueError if `manual_dir` lacks a file the builder needs."""
  if not os.path.isdir(manual_dir):
    raise ValueError(f'manual_dir {manual_dir!r} for dataset {b.name!r} is '
                     'not a directory')
  needed = manual_files(b)
  missing = [f for f in needed
             if not os.path.exists(os.path.join(manual_dir, f))]
  if missing:
    raise ValueError(
        f'manual_dir {manual_dir!r} lacks {missing}, which tfds needs to '
        f'prepare {b.name!r} offline; put the files there, or pass '
        "manual_dir='' to let tfds download them")
  if not needed and not os.listdir(manual_dir):
    raise ValueError(f'manual_dir {manual_dir!r} for dataset {b.name!r} is '
                     'empty')


def builder(name: str = 'mnist', data_dir: str | None = None,
            manual_dir: str | None = None):
  """The prepared tfds builder; prepares it (offline if possible) on first use.

  Args:
    name: tfds dataset name.
    data_dir: where tfds keeps prepared data (default
      ~/.cache/jaxcompress/tensorflow_datasets, or $TFDS_DATA_DIR if set).
    manual_dir: folder with the original files. None: the bundled copy if
      the repository has one (MNIST), else tfds' default. '' lets tfds
      download.

  Raises:
    ValueError: an unknown or non-image-classification dataset, or an
      explicit manual_dir that lacks the files the builder needs.
  """
  import tensorflow_datasets as tfds
  check_name(name, data_dir)
  if manual_dir is None:
    manual_dir = BUNDLED.get(base_name(name))
    if manual_dir and not os.path.isdir(manual_dir):
      manual_dir = None
  with _prepare_lock(_data_dir(data_dir)):
    b = tfds.builder(name, data_dir=_data_dir(data_dir))
    if manual_dir:
      check_manual_dir(b, manual_dir)
    if not b.is_prepared():
      b.download_and_prepare(download_config=tfds.download.DownloadConfig(
          manual_dir=manual_dir or None))
  return b


@contextlib.contextmanager
def _prepare_lock(data_dir: str):
  """Exclusive, across the processes of this host, per data_dir.

  Held while `builder` makes its builder and, if needed, prepares. tfds
  prepares into a temporary folder and renames it into place: a second
  process preparing at once fails on the rename, and a builder made before
  the rename has no splits even once it is done. Both happen to the
  processes of one multi-process run, or to parallel tests, on a fresh
  machine. The lock file is in the temporary directory, so a read-only
  data_dir works.
  """
  key = hashlib.sha1(os.path.abspath(data_dir).encode()).hexdigest()[:16]
  path = os.path.join(tempfile.gettempdir(), f'jaxcompress-tfds-{key}.lock')
  with open(path, 'a') as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------ info ---


def _num_examples(b, split: str) -> int:
  splits = b.info.splits
  if splits and split in splits:
    return int(splits[split].num_examples)
  n = int(b.as_dataset(split=split).cardinality())
  if n < 0:
    raise ValueError(f'Dataset {b.name!r}: cannot tell the size of split '
                     f'{split!r}')
  return n


def _splits(b) -> tuple[str, str]:
  splits = b.info.splits
  if not splits:  # not listed (mock data): by name
    return 'train', EVAL_SPLIT.get(base_name(b.name), 'test')
  for needed in ('train',):
    if needed not in splits:
      raise ValueError(f'Dataset {b.name!r} has no train split; splits: '
                       f'{sorted(splits)}')
  for test in ('test', 'validation'):
    if test in splits:
      return 'train', test
  raise ValueError(f'Dataset {b.name!r} has no test or validation split; '
                   f'splits: {sorted(splits)}')


def _model_shape(feature_shape, fam: str) -> tuple[int, int, int]:
  h, w, c = feature_shape
  if fam == 'imagenet':
    return (augment.IMAGENET_SIZE, augment.IMAGENET_SIZE, int(c))
  return (int(h), int(w), int(c))


def _compute_stats(b, split: str, image_key: str, channels: int,
                   limit: int) -> dict:
  """Per-channel mean and std of pixels / 255 over a split's first examples."""
  import tensorflow as tf
  import tensorflow_datasets as tfds
  ds = b.as_dataset(split=split, shuffle_files=False).take(limit)

  def moments(ex):
    x = tf.cast(ex[image_key], tf.float64)
    n = tf.cast(tf.shape(x)[0] * tf.shape(x)[1], tf.float64)
    return (tf.reduce_sum(x, axis=(0, 1)), tf.reduce_sum(x * x, axis=(0, 1)),
            n)

  ds = ds.map(moments, num_parallel_calls=tf.data.AUTOTUNE).batch(4096)
  s = np.zeros(channels)
  ss = np.zeros(channels)
  n = 0.0
  count = 0
  for a, b2, m in tfds.as_numpy(ds):
    s += a.sum(0)
    ss += b2.sum(0)
    n += m.sum()
    count += len(m)
  if count == 0:
    raise ValueError(f'Dataset {b.name!r}: split {split!r} is empty')
  mean = s / n
  std = np.sqrt(np.maximum(ss / n - mean ** 2, 0.0))
  mean, std = mean / 255.0, std / 255.0
  if np.any(std <= 0):
    raise ValueError(f'Dataset {b.name!r}: a channel of {split!r} is '
                     'constant; cannot normalize it')
  r = lambda v: [round(float(x), STATS_DECIMALS) for x in v]
  return {'full_name': b.info.full_name, 'split': split,
          'num_examples': count, 'mean': r(mean), 'std': r(std),
          'decimals': STATS_DECIMALS}


def _read_json(path: str) -> dict | None:
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def _write_atomic(path: str, write) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = f'{path}.tmp{os.getpid()}'
  write(tmp)
  os.replace(tmp, path)


def _stats(b, cache: str, split: str, image_key: str, channels: int,
           limit: int) -> dict:
  path = os.path.join(cache, STATS_FILE)
  got = _read_json(path)
  ok = (isinstance(got, dict) and got.get('full_name') == b.info.full_name
        and got.get('split') == split
        and got.get('decimals') == STATS_DECIMALS
        and len(got.get('mean', ())) == channels
        and len(got.get('std', ())) == channels
        and all(s > 0 for s in got['std']))
  if ok:
    return got
  logging.info('Computing pixel statistics of %s %s (once; cached in %s)',
               b.info.full_name, split, path)
  stats = _compute_stats(b, split, image_key, channels, limit)

  def write(tmp):
    with open(tmp, 'w') as f:
      json.dump(stats, f, indent=1)

  _write_atomic(path, write)
  return stats


def _info(b, name: str, data_dir: str | None,
          max_stats_examples: int) -> DatasetInfo:
  image_key, label_key = _check_features(b, name)
  feature_shape = b.info.features[image_key].shape
  fam = family(name, feature_shape)
  train_split, test_split = _splits(b)
  channels = int(feature_shape[-1])
  stats = _stats(b, _cache_dir(b, data_dir), train_split, image_key,
                 channels, max_stats_examples)
  return DatasetInfo(
      name=name, full_name=b.info.full_name,
      image_shape=_model_shape(feature_shape, fam),
      num_classes=int(b.info.features[label_key].num_classes),
      mean=tuple(stats['mean']), std=tuple(stats['std']),
      stats_examples=int(stats['num_examples']),
      train_split=train_split, test_split=test_split,
      num_train=_num_examples(b, train_split),
      num_test=_num_examples(b, test_split), family=fam)


def info(name: str = 'mnist', data_dir: str | None = None,
         manual_dir: str | None = None,
         max_stats_examples: int = MAX_STATS_EXAMPLES) -> DatasetInfo:
  """Shapes, classes, statistics and sizes of a dataset (prepares it).

  The statistics are computed on first use over the first
  `max_stats_examples` training examples (all of them for MNIST and CIFAR)
  and cached as ``jaxcompress_stats.json`` beside the prepared data.

  Raises:
    ValueError: as `builder`, or for a dataset without train and test (or
      validation) splits.
  """
  return _info(builder(name, data_dir, manual_dir), name, data_dir,
               max_stats_examples)


def feed_path(dataset_info: DatasetInfo, budget_bytes: int
              ) -> tuple[str, str]:
  """Which input path a run should take, and a sentence for the log.

  Args:
    dataset_info: from `info`.
    budget_bytes: memory the decoded dataset may take (e.g. a fraction of
      the accelerator's memory).

  Returns:
    ``('scan', why)`` when `DatasetInfo.decoded_bytes` fits in the budget
    (the epoch runs as one compiled scan over the data on the device), else
    ``('stream', why)`` (batches through tf.data).
  """
  need = dataset_info.decoded_bytes
  gib = lambda n: f'{n / 2**30:.2f} GiB'
  if need <= budget_bytes:
    return 'scan', (f'{dataset_info.full_name}: {gib(need)} decoded fits in '
                    f'{gib(budget_bytes)}; the epoch runs as one scan on the '
                    'device')
  return 'stream', (f'{dataset_info.full_name}: {gib(need)} decoded exceeds '
                    f'{gib(budget_bytes)}; batches stream through tf.data')


# ------------------------------------------------------------------ load ---


def _preprocess_fixed(dataset_info: DatasetInfo):
  """uint8 HWC -> uint8 at the model's shape (ImageNet: center crop)."""
  import tensorflow as tf
  if dataset_info.family != 'imagenet':
    return lambda image: image
  return lambda image: tf.cast(tf.round(tf.clip_by_value(
      augment.tf_center_crop(image), 0.0, 255.0)), tf.uint8)


def _decode(b, split: str, dataset_info: DatasetInfo) -> tuple[np.ndarray,
                                                               np.ndarray]:
  import tensorflow as tf
  import tensorflow_datasets as tfds
  image_key, label_key = _keys(b)
  prep = _preprocess_fixed(dataset_info)
  ds = b.as_dataset(split=split, shuffle_files=False)
  ds = ds.map(lambda ex: (prep(ex[image_key]), ex[label_key]),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  images, labels = [], []
  for x, y in tfds.as_numpy(ds.batch(4096)):
    images.append(x)
    labels.append(y)
  shape = (0, *dataset_info.image_shape)
  return (np.concatenate(images) if images else np.zeros(shape, np.uint8),
          np.concatenate(labels) if labels else np.zeros((0,), np.int64))


def _read_arrays(path: str, dataset_info: DatasetInfo) -> dict | None:
  """The cached uint8 arrays, or None if missing, damaged or stale."""
  if not os.path.exists(path):
    return None
  want = {'train': dataset_info.num_train, 'test': dataset_info.num_test}
  try:
    with np.load(path) as raw:
      out = {k: raw[k] for k in ('train_image', 'train_label', 'test_image',
                                 'test_label')}
  except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
    logging.warning('Rebuilding %s: %s', path, e)
    return None
  for split, n in want.items():
    if (out[f'{split}_image'].shape != (n, *dataset_info.image_shape)
        or out[f'{split}_label'].shape != (n,)):
      logging.warning('Rebuilding %s: its %s arrays have shape %s, expected '
                      '%s', path, split, out[f'{split}_image'].shape,
                      (n, *dataset_info.image_shape))
      return None
  return out


def normalize(images: np.ndarray, mean, std) -> np.ndarray:
  """uint8 pixels -> float32 ``(x / 255 - mean) / std`` per channel."""
  mean = np.asarray(mean, np.float32)
  std = np.asarray(std, np.float32)
  return (images.astype(np.float32) / 255.0 - mean) / std


def load(name: str = 'mnist', data_dir: str | None = None,
         manual_dir: str | None = None) -> Dataset:
  """The whole dataset as normalized float32 numpy arrays.

  Decoding the prepared records through tf.data takes seconds to minutes,
  so the decoded uint8 arrays are kept beside the prepared dataset
  (``arrays.npz``) and read from there afterwards; a truncated or stale
  file is rebuilt. Check `info(...).decoded_bytes` (or `feed_path`) first
  for large datasets: this holds both splits in host memory.

  Raises:
    ValueError: as `info`.
  """
  b = builder(name, data_dir, manual_dir)
  inf = _info(b, name, data_dir, MAX_STATS_EXAMPLES)
  path = os.path.join(_cache_dir(b, data_dir), ARRAYS_FILE)
  raw = _read_arrays(path, inf)
  if raw is None:
    raw = {}
    for split, tfds_split in (('train', inf.train_split),
                              ('test', inf.test_split)):
      raw[f'{split}_image'], raw[f'{split}_label'] = _decode(b, tfds_split,
                                                             inf)

    def write(tmp):
      with open(tmp, 'wb') as f:
        np.savez(f, **raw)

    _write_atomic(path, write)
  arrays = [(normalize(raw[f'{s}_image'], inf.mean, inf.std),
             raw[f'{s}_label'].astype(np.int32)) for s in ('train', 'test')]
  return Dataset(*arrays[0], *arrays[1], inf.mean, inf.std, inf)


load_mnist = load


# ---------------------------------------------------------------- stream ---


def _tf_preprocess(dataset_info: DatasetInfo, training: bool):
  """(uint8 image, per-example seed) -> float32 image at the model's shape,
  augmented as its family trains."""
  import tensorflow as tf
  fam = dataset_info.family
  if fam == 'imagenet':
    if training:
      return augment.tf_inception_crop
    return lambda image, seed: augment.tf_center_crop(image)
  if fam == 'cifar' and training:
    return lambda image, seed: tf.cast(augment.tf_crop_and_flip(image, seed),
                                       tf.float32)
  return lambda image, seed: tf.cast(image, tf.float32)


def stream(split: str, batch_size: int, *, seed: int = 0,
           name: str = 'mnist', data_dir: str | None = None,
           manual_dir: str | None = None, repeat: bool = True,
           training: bool | None = None, drop_remainder: bool = True,
           shuffle_buffer: int = 10_000, subset: int = 0,
           process_index: int = 0, process_count: int = 1
           ) -> Iterator[dict[str, np.ndarray]]:
  """A tf.data pipeline of normalized numpy batches, never materialising the
  whole split in memory.

  Training batches are shuffled (files and a `shuffle_buffer`; each epoch is
  shuffled anew and holds every example once, as the in-memory path's
  per-epoch permutations do) and augmented as the dataset's family trains
  (`augment`: CIFAR crop and flip, ImageNet random resized crop and flip;
  stateless, seeded by `seed` and the example's position, so the stream is
  reproducible); evaluation batches keep the split's order (ImageNet:
  center crop).

  Args:
    split: 'train', 'test' (the dataset's evaluation split: 'validation' for
      ImageNet), or any tfds split.
    batch_size: examples per batch.
    seed: shuffling and augmentation seed.
    name, data_dir, manual_dir: as `builder`.
    repeat: loop over the split forever.
    training: shuffle and augment (default: `split` is the training split).
    drop_remainder: drop a last, smaller batch (and, reading a process's
      share, the examples left over after equal shares; without it the
      first processes read one example more).
    shuffle_buffer: examples in tf.data's shuffle buffer.
    subset: >0: only the first `subset` examples of the split (the examples
      `load` gives, sliced `[:subset]`).
    process_index, process_count: read only this process's share of the
      split (`tfds.split_for_jax_process`: disjoint slices, equal with
      `drop_remainder`); `batch_size` is then this process's part of the
      global batch.

  Yields:
    {'image': (batch_size, *image_shape) float32, 'label': (batch_size,)
    int32}.
  """
  import tensorflow as tf
  import tensorflow_datasets as tfds
  b = builder(name, data_dir, manual_dir)
  inf = _info(b, name, data_dir, MAX_STATS_EXAMPLES)
  split = {'train': inf.train_split, 'test': inf.test_split}.get(split, split)
  if training is None:
    training = split == inf.train_split
  image_key, label_key = _keys(b)
  split = f'{split}[:{subset}]' if subset else split
  if process_count > 1:
    split = tfds.split_for_jax_process(
        split, process_index=process_index, process_count=process_count,
        drop_remainder=drop_remainder)
  ds = b.as_dataset(split=split, shuffle_files=training,
                    read_config=tfds.ReadConfig(shuffle_seed=seed))
  if training:   # before repeat: every epoch reshuffled, each example once
    ds = ds.shuffle(shuffle_buffer, seed=seed)
  if repeat:
    ds = ds.repeat()
  prep = _tf_preprocess(inf, training)
  mean = tf.constant(inf.mean, tf.float32)
  std = tf.constant(inf.std, tf.float32)

  def example(i, ex):
    image = prep(ex[image_key], tf.stack([tf.constant(seed, tf.int64), i]))
    return {'image': (image / 255.0 - mean) / std,
            'label': tf.cast(ex[label_key], tf.int32)}

  ds = ds.enumerate().map(example, num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.batch(batch_size, drop_remainder=drop_remainder)
  return tfds.as_numpy(ds.prefetch(tf.data.AUTOTUNE))
