"""ResNet-18 / ResNet-50 for ImageNet, as torchvision builds them.

He et al. 2016 ("Deep Residual Learning for Image Recognition", Table 1) with
torchvision's choices, so that parameter counts match its model cards
(ResNet-18 11,689,512; ResNet-50 25,557,032 with 1000 classes, counting
batch-norm scale and bias but not running statistics): a 7x7/2 conv of 64
filters, batch norm, ReLU, 3x3/2 max pool; four stages at 64, 128, 256, 512
filters of basic blocks (ResNet-18: 2-2-2-2) or bottlenecks with expansion 4
(ResNet-50: 3-4-6-3; the stride sits on the 3x3 conv, "ResNet v1.5"); a 1x1
conv + batch norm projects the shortcut where the shape changes (option B);
global average pooling and a fully connected classifier. Convolutions have no
bias and He (fan-out) initialization; padding is torchvision's (3 for the
stem, 1 for 3x3 convs).

Layer names: ``stem_conv``, ``stem_bn``, ``stage{s}_block{b}/conv1|bn1|...``
with ``proj_conv`` / ``proj_bn`` on projected shortcuts, ``head``.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxcompress import layers

_conv_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')
# torchvision pads 3x3 convs by one pixel on every side; Flax's 'SAME' pads
# a stride-2 conv only at the end, which shifts the sampling grid.
_PAD1 = ((1, 1), (1, 1))


class _Layers:
  """Conv and norm factories: batch norm after bias-free convs, or (once
  it is folded, ``batch_norm=False``) convs with bias and no norm."""

  def __init__(self, batch_norm: bool, train: bool):
    self.batch_norm, self.train = batch_norm, train

  def conv(self, *args, **kwargs) -> layers.Conv:
    return layers.Conv(*args, use_bias=not self.batch_norm,
                   kernel_init=_conv_init, **kwargs)

  def norm(self, name: str):
    if not self.batch_norm:
      return lambda x: x
    return nn.BatchNorm(use_running_average=not self.train, momentum=0.9,
                        name=name)

  def shortcut(self, x, features: int, strides: int):
    if x.shape[-1] == features and strides == 1:
      return x
    x = self.conv(features, (1, 1), strides, name='proj_conv')(x)
    return self.norm('proj_bn')(x)


class BasicBlock(nn.Module):
  """Two 3x3 convs (ResNet-18/34). Output width: `features`."""
  features: int
  strides: int = 1
  batch_norm: bool = True

  @nn.compact
  def __call__(self, x, train: bool = False):
    k = _Layers(self.batch_norm, train)
    y = k.conv(self.features, (3, 3), self.strides, padding=_PAD1,
               name='conv1')(x)
    y = nn.relu(k.norm('bn1')(y))
    y = k.conv(self.features, (3, 3), padding=_PAD1, name='conv2')(y)
    y = k.norm('bn2')(y)
    return nn.relu(k.shortcut(x, self.features, self.strides) + y)


class Bottleneck(nn.Module):
  """1x1, 3x3 (strided), 1x1 convs (ResNet-50). Output: 4 * `features`."""
  features: int
  strides: int = 1
  batch_norm: bool = True

  @nn.compact
  def __call__(self, x, train: bool = False):
    k = _Layers(self.batch_norm, train)
    out = 4 * self.features
    y = k.conv(self.features, (1, 1), name='conv1')(x)
    y = nn.relu(k.norm('bn1')(y))
    y = k.conv(self.features, (3, 3), self.strides, padding=_PAD1,
               name='conv2')(y)
    y = nn.relu(k.norm('bn2')(y))
    y = k.conv(out, (1, 1), name='conv3')(y)
    y = k.norm('bn3')(y)
    return nn.relu(k.shortcut(x, out, self.strides) + y)


BLOCKS = {'basic': BasicBlock, 'bottleneck': Bottleneck}


class ResNet(nn.Module):
  """An ImageNet ResNet.

  Attributes:
    stage_sizes: blocks per stage.
    block: 'basic' or 'bottleneck'.
    stage_features: filters per stage (a bottleneck's output is 4x).
    num_classes: classifier width.
    batch_norm: batch norm after every conv (False: convs with bias, the
      model `quantization.fold_batch_norm` folds into).
  """
  stage_sizes: Sequence[int] = (2, 2, 2, 2)
  block: str = 'basic'
  stage_features: Sequence[int] = (64, 128, 256, 512)
  num_classes: int = 1000
  batch_norm: bool = True

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.block not in BLOCKS:
      raise ValueError(f'Unknown block {self.block!r}; known: '
                       f'{sorted(BLOCKS)}')
    block = BLOCKS[self.block]
    k = _Layers(self.batch_norm, train)
    x = k.conv(self.stage_features[0], (7, 7), 2, padding=((3, 3), (3, 3)),
               name='stem_conv')(x)
    x = nn.relu(k.norm('stem_bn')(x))
    x = nn.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))
    for s, (n, width) in enumerate(zip(self.stage_sizes,
                                       self.stage_features), start=1):
      for b in range(1, n + 1):
        x = block(width, strides=2 if (s > 1 and b == 1) else 1,
                  batch_norm=self.batch_norm,
                  name=f'stage{s}_block{b}')(x, train)
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, name='head')(x)


def resnet18(**kwargs) -> ResNet:
  """ResNet-18: basic blocks 2-2-2-2, 11,689,512 parameters."""
  return ResNet(**{'stage_sizes': (2, 2, 2, 2), 'block': 'basic', **kwargs})


def resnet50(**kwargs) -> ResNet:
  """ResNet-50: bottlenecks 3-4-6-3, 25,557,032 parameters."""
  return ResNet(**{'stage_sizes': (3, 4, 6, 3), 'block': 'bottleneck',
                   **kwargs})
