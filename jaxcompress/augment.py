"""Standard augmentation per dataset family, in JAX and in tf.data.

Two places where images are augmented:

* on the device, inside the compiled train step, for datasets held in memory:
  pure JAX functions ``(images, key) -> images`` on a normalized NHWC batch
  (`device_augment` picks the family's);
* in the tf.data pipeline of datasets that stream (`jaxcompress.data.stream`),
  one example at a time with stateless random ops seeded per example, so a
  stream is reproducible from its seed whatever the parallelism.

Families (`jaxcompress.data.family` assigns one to each dataset):

* ``'mnist'`` (grayscale digits and the like): none.
* ``'cifar'``: random crop after 4 pixels of zero padding, and horizontal
  flip (He et al. 2016, section 4.2; the padding is a black pixel, i.e.
  ``-mean / std`` once normalized).
* ``'imagenet'``: for training, Inception-style random resized crop
  (Szegedy et al. 2015: 8%-100% of the area, aspect ratio 3/4-4/3) to 224x224
  and horizontal flip; for evaluation, the central 224/256 of the shorter side
  resized to 224x224 (the same as resizing to 256 and center-cropping 224).
  Only the flip runs on the device: the random resized crop needs the
  full-resolution image, which only the stream has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

FAMILIES = ('mnist', 'cifar', 'imagenet')
IMAGENET_SIZE = 224
IMAGENET_CROP_FRACTION = 224 / 256

Augment = Callable[[jax.Array, jax.Array], jax.Array]


def check_family(family: str) -> None:
  if family not in FAMILIES:
    raise ValueError(f'Unknown augmentation family {family!r}; known: '
                     f'{FAMILIES}')


# ------------------------------------------------------------- on device ---


def random_flip(images: jax.Array, key: jax.Array) -> jax.Array:
  """Flips each image of an NHWC batch left-right with probability 1/2."""
  flip = jax.random.bernoulli(key, 0.5, (images.shape[0], 1, 1, 1))
  return jnp.where(flip, images[:, :, ::-1, :], images)


def random_crop(images: jax.Array, key: jax.Array, padding: int = 4,
                fill: float | Sequence[float] | jax.Array = 0.0
                ) -> jax.Array:
  """Pads each image by `padding` pixels and crops it back at a random offset.

  Args:
    images: (batch, height, width, channels).
    key: PRNG key.
    padding: pixels added on every side.
    fill: value of the padded pixels, a scalar or one per channel (a black
      pixel after normalization is ``-mean / std``).

  Returns:
    Images of the input shape, each shifted by up to `padding` pixels.
  """
  if padding <= 0:
    return images
  b, h, w, c = images.shape
  fill = jnp.broadcast_to(jnp.asarray(fill, images.dtype), (c,))
  canvas = jnp.broadcast_to(fill, (b, h + 2 * padding, w + 2 * padding, c))
  padded = jax.lax.dynamic_update_slice(canvas, images,
                                        (0, padding, padding, 0))
  offsets = jax.random.randint(key, (b, 2), 0, 2 * padding + 1)
  crop = lambda im, o: jax.lax.dynamic_slice(im, (o[0], o[1], 0), (h, w, c))
  return jax.vmap(crop)(padded, offsets)


def crop_and_flip(images: jax.Array, key: jax.Array, padding: int = 4,
                  fill: float | Sequence[float] | jax.Array = 0.0
                  ) -> jax.Array:
  """CIFAR augmentation: `random_crop` then `random_flip`."""
  crop_key, flip_key = jax.random.split(key)
  return random_flip(random_crop(images, crop_key, padding, fill), flip_key)


def _identity(images: jax.Array, key: jax.Array) -> jax.Array:
  del key
  return images


def device_augment(family: str, mean: Sequence[float] = (0.0,),
                   std: Sequence[float] = (1.0,)) -> Augment:
  """The family's on-device training augmentation, ``(images, key) -> images``.

  Args:
    family: 'mnist' (identity), 'cifar' (4-pixel crop and flip, padding with
      black), or 'imagenet' (flip).
    mean, std: the per-channel normalization of the images (for the black
      padding of CIFAR crops).

  Raises:
    ValueError: an unknown family.
  """
  check_family(family)
  if family == 'cifar':
    fill = -np.asarray(mean, np.float32) / np.asarray(std, np.float32)
    return lambda images, key: crop_and_flip(images, key, 4, fill)
  if family == 'imagenet':
    return random_flip
  return _identity


# -------------------------------------------------------------- tf.data ---


def tf_crop_and_flip(image, seed, padding: int = 4):
  """CIFAR training augmentation of one uint8 HWC image (stateless).

  Pads with zeros (black), crops back at a random offset, flips at random.
  `seed` is a shape (2,) int tensor; the result is a function of it alone.
  """
  import tensorflow as tf
  seeds = tf.random.experimental.stateless_split(seed, 2)
  shape = tf.shape(image)
  padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
  image = tf.image.stateless_random_crop(padded, shape, seeds[0])
  return tf.image.stateless_random_flip_left_right(image, seeds[1])


def tf_inception_crop(image, seed, size: int = IMAGENET_SIZE,
                      area_range: tuple[float, float] = (0.08, 1.0),
                      aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)):
  """ImageNet training augmentation of one uint8 HWC image (stateless).

  A random crop covering `area_range` of the image with an aspect ratio in
  `aspect_ratio_range` (Szegedy et al. 2015, "Going deeper with
  convolutions"), resized bilinearly to `size` x `size`, flipped at random.
  Returns float32 pixel values in [0, 255].
  """
  import tensorflow as tf
  seeds = tf.random.experimental.stateless_split(seed, 2)
  begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.shape(image), tf.zeros([1, 0, 4], tf.float32), seeds[0],
      min_object_covered=0.1, aspect_ratio_range=aspect_ratio_range,
      area_range=area_range, max_attempts=10,
      use_image_if_no_bounding_boxes=True)
  image = tf.slice(image, begin, crop_size)
  image = tf.image.resize(image, [size, size], method='bilinear')
  return tf.image.stateless_random_flip_left_right(image, seeds[1])


def tf_center_crop(image, size: int = IMAGENET_SIZE,
                   fraction: float = IMAGENET_CROP_FRACTION):
  """ImageNet evaluation preprocessing of one uint8 HWC image.

  The central `fraction` of the shorter side, as a square, resized bilinearly
  to `size` x `size`. Returns float32 pixel values in [0, 255].
  """
  import tensorflow as tf
  shape = tf.shape(image)
  h, w = shape[0], shape[1]
  side = tf.cast(fraction * tf.cast(tf.minimum(h, w), tf.float32), tf.int32)
  side = tf.maximum(side, 1)
  top, left = (h - side + 1) // 2, (w - side + 1) // 2
  image = tf.slice(image, tf.stack([top, left, 0]), tf.stack([side, side, -1]))
  return tf.image.resize(image, [size, size], method='bilinear')
