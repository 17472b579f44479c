"""Datasets through tfds: MNIST bundled, others on tfds' generated mock data.

The non-MNIST datasets run their real builders' code (features, splits,
image shapes) with `tfds.testing.mock_data` generating the examples, so no
test needs the network.
"""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from jaxcompress import augment, data

MOCK = {  # name: (image shape the model sees, classes, family, eval split)
    'fashion_mnist': ((28, 28, 1), 10, 'mnist', 'test'),
    'cifar10': ((32, 32, 3), 10, 'cifar', 'test'),
    'cifar100': ((32, 32, 3), 100, 'cifar', 'test'),
    'imagenet2012': ((224, 224, 3), 1000, 'imagenet', 'validation'),
}
N = 12  # mock examples per split


def _raw_pixels(name, split):
  """The mock split's images, straight from tfds (no jaxcompress code)."""
  b = tfds.builder(name)
  return [ex['image'] for ex in tfds.as_numpy(b.as_dataset(split=split))]


@pytest.fixture(scope='module', params=sorted(MOCK))
def mock(request, tmp_path_factory):
  """(name, data_dir, info, dataset) under tfds mock data.

  The mock ends before the fixture returns: a module-scoped fixture lives
  while the module's other tests run, and those read real MNIST (under a
  live mock, on a fresh machine, they wrote the mock's statistics into the
  real data dir). Tests that read the mock dataset again enter it again.
  """
  name = request.param
  data_dir = str(tmp_path_factory.mktemp(name))
  with tfds.testing.mock_data(num_examples=N):
    return name, data_dir, data.info(name, data_dir), data.load(name, data_dir)


def test_mnist_is_bundled_and_its_statistics_are_the_published_ones():
  inf = data.info('mnist')
  assert inf.image_shape == (28, 28, 1) and inf.num_classes == 10
  assert (inf.num_train, inf.num_test) == (60000, 10000)
  # Computed over the 60,000 training images, equal to the usual constants.
  assert inf.mean == (0.1307,) and inf.std == (0.3081,)
  assert inf.stats_examples == 60000 and inf.family == 'mnist'
  assert inf.decoded_bytes == 70000 * (28 * 28 * 4 + 4)


def test_shapes_classes_and_splits_come_from_the_builder(mock):
  name, _, inf, ds = mock
  shape, classes, family, test_split = MOCK[name]
  assert inf.image_shape == shape and inf.num_classes == classes
  assert inf.family == family and inf.test_split == test_split
  assert (inf.num_train, inf.num_test) == (N, N)
  assert ds.train_images.shape == (N, *shape)
  assert ds.test_images.shape == (N, *shape)
  assert ds.train_images.dtype == np.float32
  assert ds.train_labels.dtype == np.int32 and ds.num_classes == classes
  assert len(inf.mean) == len(inf.std) == shape[-1]
  assert inf.decoded_bytes == 2 * N * (4 * np.prod(shape) + 4)


def test_statistics_are_those_of_the_train_split_and_cached(mock):
  name, data_dir, inf, ds = mock
  with tfds.testing.mock_data(num_examples=N):
    pixels = np.concatenate([x.reshape(-1, x.shape[-1]) / 255.0
                             for x in _raw_pixels(name, 'train')])
  np.testing.assert_allclose(inf.mean, pixels.mean(0), atol=5e-5)
  np.testing.assert_allclose(inf.std, pixels.std(0), atol=5e-5)
  path = os.path.join(data_dir, inf.full_name, data.STATS_FILE)
  with open(path) as f:
    cached = json.load(f)
  assert cached['num_examples'] == N and cached['split'] == 'train'
  # The cache is what later calls read: change it and info follows.
  cached['mean'] = [0.25] * len(inf.mean)
  with open(path, 'w') as f:
    json.dump(cached, f)
  with tfds.testing.mock_data(num_examples=N):
    assert data.info(name, data_dir).mean == (0.25,) * len(inf.mean)
    # A cache for another number of channels is stale: recomputed.
    cached['mean'] = [0.25] * (len(inf.mean) + 1)
    with open(path, 'w') as f:
      json.dump(cached, f)
    assert data.info(name, data_dir).mean == inf.mean


def test_loaded_images_are_normalized_per_channel(mock):
  name, _, inf, ds = mock
  if inf.family == 'imagenet':  # center crops, not the statistics' pixels
    pytest.skip('ImageNet arrays are center crops')
  flat = ds.train_images.reshape(-1, inf.image_shape[-1])
  np.testing.assert_allclose(flat.mean(0), 0.0, atol=2e-3)
  np.testing.assert_allclose(flat.std(0), 1.0, atol=2e-3)


def test_a_damaged_or_stale_arrays_cache_is_rebuilt(tmp_path):
  with tfds.testing.mock_data(num_examples=N):
    first = data.load('cifar10', str(tmp_path))
    path = tmp_path / 'cifar10' / '3.0.2' / data.ARRAYS_FILE
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])  # truncated
    again = data.load('cifar10', str(tmp_path))
    np.testing.assert_array_equal(again.train_images, first.train_images)
    assert path.stat().st_size == size
    np.savez(path, train_image=np.zeros((3, 32, 32, 3), np.uint8))  # stale
    again = data.load('cifar10', str(tmp_path))
    np.testing.assert_array_equal(again.test_images, first.test_images)
    assert path.stat().st_size == size


def test_an_empty_or_incomplete_manual_dir_names_the_missing_files(tmp_path):
  empty = tmp_path / 'empty'
  empty.mkdir()
  files = ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
           'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']
  with pytest.raises(ValueError, match=r'lacks \[' + ', '.join(
      f"'{f}'" for f in files) + r'\]'):
    data.builder('mnist', str(tmp_path / 'tfds'), str(empty))
  some = tmp_path / 'some'
  some.mkdir()
  for f in files[1:]:
    os.symlink(os.path.join(data.BUNDLED_MNIST, f), some / f)
  with pytest.raises(ValueError, match=r"lacks \['t10k-images-idx3-ubyte.gz"
                     r"'\]"):
    data.builder('mnist', str(tmp_path / 'tfds'), str(some))
  with pytest.raises(ValueError, match="ILSVRC2012_img_train.tar', "
                     "'ILSVRC2012_img_val.tar'"):
    data.builder('imagenet2012', str(tmp_path / 'tfds'), str(empty))
  with pytest.raises(ValueError, match='not a directory'):
    data.builder('cifar10', str(tmp_path / 'tfds'), str(tmp_path / 'nope'))
  assert not (tmp_path / 'tfds').exists()  # nothing was prepared


def test_unknown_and_non_image_datasets_are_refused_by_name():
  with pytest.raises(ValueError, match="Unknown dataset 'no_such_data'"):
    data.check_name('no_such_data')
  with pytest.raises(ValueError, match="'imdb_reviews' is not an image "
                     'classification dataset'):
    data.check_name('imdb_reviews')


def test_feed_path_scans_what_fits_and_streams_the_rest():
  inf = data.info('mnist')
  path, why = data.feed_path(inf, 2**30)
  assert path == 'scan' and 'fits in 1.00 GiB' in why
  path, why = data.feed_path(inf, inf.decoded_bytes - 1)
  assert path == 'stream' and 'exceeds' in why


# ---------------------------------------------------------- augmentation ---


def test_device_crop_is_a_shift_of_the_padded_image_and_flip_mirrors():
  x = jax.random.normal(jax.random.key(0), (16, 8, 8, 3))
  fill = np.array([-1.0, -2.0, -3.0], np.float32)
  key = jax.random.key(1)
  out = np.asarray(augment.random_crop(x, key, 2, fill))
  assert out.shape == x.shape
  padded = np.broadcast_to(fill, (16, 12, 12, 3)).copy()
  padded[:, 2:10, 2:10] = x
  windows = [[padded[i, a:a + 8, b:b + 8] for a in range(5) for b in range(5)]
             for i in range(16)]
  for i in range(16):
    assert any(np.array_equal(out[i], w) for w in windows[i])
  assert len({out[i].tobytes() for i in range(16)}) > 1
  np.testing.assert_array_equal(out, augment.random_crop(x, key, 2, fill))
  flipped = np.asarray(augment.random_flip(x, key))
  for i in range(16):
    assert (np.array_equal(flipped[i], x[i])
            or np.array_equal(flipped[i], np.asarray(x[i])[:, ::-1]))
  assert not np.array_equal(flipped, x)


def test_device_augment_per_family():
  x = jax.random.normal(jax.random.key(0), (8, 32, 32, 3))
  key = jax.random.key(3)
  mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
  cifar = jax.jit(augment.device_augment('cifar', mean, std))
  out = cifar(x, key)
  assert out.shape == x.shape
  np.testing.assert_array_equal(out, cifar(x, key))
  assert not np.array_equal(out, cifar(x, jax.random.key(4)))
  # Padding is black: -mean / std once normalized.
  black = (-np.asarray(mean) / np.asarray(std)).astype(np.float32)
  nines = np.full((64, 4, 4, 3), 9.0, np.float32)
  shifted = np.asarray(cifar(nines, key))
  padded = shifted != 9.0
  assert padded.any()
  np.testing.assert_array_equal(
      shifted[padded], np.broadcast_to(black, shifted.shape)[padded])
  np.testing.assert_array_equal(augment.device_augment('mnist')(x, key), x)
  with pytest.raises(ValueError, match="Unknown augmentation family 'svhn'"):
    augment.device_augment('svhn')


def test_tf_augmentations_are_deterministic_per_seed():
  image = tf.constant(np.random.default_rng(0).integers(
      0, 256, (40, 60, 3)), tf.uint8)
  small = image[:32, :32]
  seed = tf.constant([7, 3], tf.int64)
  a = augment.tf_crop_and_flip(small, seed).numpy()
  assert a.shape == (32, 32, 3)
  np.testing.assert_array_equal(a, augment.tf_crop_and_flip(small, seed))
  crops = {augment.tf_crop_and_flip(small, tf.constant([7, i], tf.int64))
           .numpy().tobytes() for i in range(8)}
  assert len(crops) > 1
  b = augment.tf_inception_crop(image, seed).numpy()
  assert b.shape == (224, 224, 3) and b.dtype == np.float32
  np.testing.assert_array_equal(b, augment.tf_inception_crop(image, seed))


def test_tf_center_crop_takes_the_middle_of_the_shorter_side():
  # 64 x 128 image whose value is its column: the central 56 x 56 square
  # spans columns 36..91, resized to 224 wide.
  cols = np.tile(np.arange(128, dtype=np.uint8)[None, :, None], (64, 1, 1))
  out = augment.tf_center_crop(tf.constant(cols), size=56).numpy()
  assert out.shape == (56, 56, 1)
  np.testing.assert_allclose(out[0, :, 0], np.arange(36, 92), atol=1e-4)


# --------------------------------------------------------------- stream ---


def test_stream_batches_per_dataset(mock):
  name, data_dir, inf, ds = mock
  with tfds.testing.mock_data(num_examples=N):
    s = iter(data.stream('train', 4, seed=5, name=name, data_dir=data_dir))
    b1 = [next(s) for _ in range(3)]
    b2 = iter(data.stream('train', 4, seed=5, name=name, data_dir=data_dir))
    again = [next(b2) for _ in range(3)]
    test = list(data.stream('test', 5, name=name, data_dir=data_dir,
                            repeat=False, drop_remainder=False))
  for b, c in zip(b1, again):
    assert b['image'].shape == (4, *inf.image_shape)
    assert b['image'].dtype == np.float32 and b['label'].dtype == np.int32
    np.testing.assert_array_equal(b['image'], c['image'])
  assert [len(b['label']) for b in test] == [5, 5, 2]
  images = np.concatenate([b['image'] for b in test])
  labels = np.concatenate([b['label'] for b in test])
  np.testing.assert_array_equal(labels, ds.test_labels)
  # Evaluation batches are the loaded test set (ImageNet: the same center
  # crop, rounded to uint8 in the cache).
  tol = 0.51 / 255 / min(inf.std) if inf.family == 'imagenet' else 1e-6
  np.testing.assert_allclose(images, ds.test_images, atol=tol)
  if inf.family == 'cifar':  # training batches are cropped and flipped
    train = np.concatenate([b['image'] for b in b1])
    assert not any(np.array_equal(t, x) for t in train
                   for x in ds.train_images)


TINY_BUILDER = '''
import time
import numpy as np
import tensorflow_datasets as tfds


class TinyImages(tfds.core.GeneratorBasedBuilder):
  VERSION = tfds.core.Version('1.0.0')

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(4, 4, 1)),
            'label': tfds.features.ClassLabel(num_classes=2)}),
        supervised_keys=('image', 'label'))

  def _split_generators(self, dl_manager):
    return {'train': self._generate_examples(8),
            'test': self._generate_examples(4)}

  def _generate_examples(self, n):
    for i in range(n):
      time.sleep(0.25)  # a preparation long enough for the two to overlap
      yield i, {'image': np.full((4, 4, 1), i, np.uint8), 'label': i % 2}
'''

PREPARE = '''
import sys
import tinyds
from jaxcompress import data
print('train examples', data.builder('tiny_images', sys.argv[1])
      .info.splits['train'].num_examples)
'''


def test_two_processes_preparing_one_dataset_at_once_both_succeed(tmp_path):
  # The processes of a multi-process run (or parallel tests) on a fresh
  # machine prepare the same data_dir at once. Without a lock, tfds' rename
  # of its temporary folder fails in the later one ("Destination ... already
  # exists").
  (tmp_path / 'tinyds').mkdir()
  (tmp_path / 'tinyds' / '__init__.py').write_text(TINY_BUILDER)
  (tmp_path / 'prepare.py').write_text(PREPARE)
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), repo]))
  cmd = [sys.executable, str(tmp_path / 'prepare.py'), str(tmp_path / 'tfds')]
  procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
           for _ in range(2)]
  outs = [p.communicate(timeout=300)[0] for p in procs]
  for p, out in zip(procs, outs):
    assert p.returncode == 0, out[-2000:]
    assert 'train examples 8' in out
  assert os.listdir(tmp_path / 'tfds' / 'tiny_images') == ['1.0.0']
