"""ResNet-20 / ResNet-56 for CIFAR (He et al. 2016, section 4.2).

A 3x3 conv of 16 filters, then three stages of n basic blocks (two 3x3
convs with batch norm) at 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps
(the first block of stages 2 and 3 has stride 2), global average pooling and
a fully connected classifier: 6n + 2 weighted layers (n = 3: ResNet-20,
0.27M parameters; n = 9: ResNet-56, 0.85M).

Shortcuts are identities, **option A** of the paper: where a block halves the
map and doubles the filters, the shortcut subsamples with stride 2 and pads
the new channels with zeros (half on each side, as in the original Torch
code), so shortcuts add no parameters (269,722 for ResNet-20, 853,018 for
ResNet-56; option B's 1x1 projections would add 2,752 to either).

Layer names: ``stem_conv``, ``stem_bn``, ``stage{s}_block{b}/conv1|bn1|
conv2|bn2``, ``head``. Every conv feeding a residual addition shares its
channels with the whole stage through the identity shortcuts; the zero
padding of option A is not something the structured-pruning tracer follows,
so those groups are blocked, and filter pruning removes the first conv of
each block (what Li et al. 2017 prune in ResNet-56), whose width
``inner_features[i]`` sets block by block.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxcompress import layers

_conv_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


class BasicBlock(nn.Module):
  """conv3x3-bn-relu-conv3x3-bn plus an option-A identity shortcut, relu.

  Attributes:
    features: output channels (the stage's width).
    inner: channels of the first conv (``features`` unless pruned).
    strides: 1, or 2 for the first block of a downsampling stage.
    batch_norm: batch norm after each conv (False: convs with bias instead,
      the model `quantization.fold_batch_norm` folds into).
  """
  features: int
  inner: int
  strides: int = 1
  batch_norm: bool = True

  @nn.compact
  def __call__(self, x, train: bool = False):
    norm = _norm(self.batch_norm, train)
    conv = functools.partial(layers.Conv, kernel_size=(3, 3),
                             use_bias=not self.batch_norm,
                             padding=((1, 1), (1, 1)), kernel_init=_conv_init)
    y = conv(self.inner, strides=self.strides, name='conv1')(x)
    y = nn.relu(norm(name='bn1')(y))
    y = conv(self.features, name='conv2')(y)
    y = norm(name='bn2')(y)
    return nn.relu(option_a_shortcut(x, self.features, self.strides) + y)


def _norm(batch_norm: bool, train: bool):
  """BatchNorm (torch's momentum 0.1), or nothing once it is folded."""
  if not batch_norm:
    return lambda name: (lambda x: x)
  return functools.partial(nn.BatchNorm, use_running_average=not train,
                           momentum=0.9)


def option_a_shortcut(x, features: int, strides: int):
  """Identity shortcut: subsample by `strides`, zero-pad new channels."""
  if strides > 1:
    x = x[:, ::strides, ::strides, :]
  extra = features - x.shape[-1]
  if extra < 0:
    raise ValueError(f'option-A shortcut cannot narrow {x.shape[-1]} '
                     f'channels to {features}')
  if extra:
    x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
  return x


class ResNetCifar(nn.Module):
  """He et al.'s CIFAR ResNet (6n + 2 layers), option-A shortcuts.

  Attributes:
    stage_sizes: blocks per stage (n, n, n).
    stage_features: filters per stage.
    inner_features: filters of each block's first conv, one per block in
      order (None: the stage's width); `structured.shrink` sets it.
    num_classes: classifier width.
    batch_norm: as in `BasicBlock`.
  """
  stage_sizes: Sequence[int] = (3, 3, 3)
  stage_features: Sequence[int] = (16, 32, 64)
  inner_features: Sequence[int] | None = None
  num_classes: int = 10
  batch_norm: bool = True

  @nn.compact
  def __call__(self, x, train: bool = False):
    if len(self.stage_sizes) != len(self.stage_features):
      raise ValueError(f'stage_sizes {tuple(self.stage_sizes)} and '
                       f'stage_features {tuple(self.stage_features)} differ '
                       'in length')
    inner = self.inner_features
    if inner is not None and len(inner) != sum(self.stage_sizes):
      raise ValueError(f'inner_features has {len(inner)} entries, the model '
                       f'{sum(self.stage_sizes)} blocks')
    x = layers.Conv(self.stage_features[0], (3, 3), use_bias=not self.batch_norm,
                padding=((1, 1), (1, 1)), kernel_init=_conv_init,
                name='stem_conv')(x)
    x = nn.relu(_norm(self.batch_norm, train)(name='stem_bn')(x))
    i = 0
    for s, (n, width) in enumerate(zip(self.stage_sizes,
                                       self.stage_features), start=1):
      for b in range(1, n + 1):
        x = BasicBlock(width, width if inner is None else inner[i],
                       strides=2 if (s > 1 and b == 1) else 1,
                       batch_norm=self.batch_norm,
                       name=f'stage{s}_block{b}')(x, train)
        i += 1
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, name='head')(x)


def _cifar_resnet(n: int, **kwargs) -> ResNetCifar:
  features = tuple(kwargs.pop('stage_features', (16, 32, 64)))
  inner = kwargs.pop('inner_features', None)
  if inner is None:  # explicit widths, so that shrink can set them
    inner = tuple(w for w in features for _ in range(n))
  return ResNetCifar(stage_sizes=(n,) * 3, stage_features=features,
                     inner_features=tuple(inner), **kwargs)


def resnet20(**kwargs) -> ResNetCifar:
  """ResNet-20 (n = 3), 269,722 parameters with 10 classes."""
  return _cifar_resnet(3, **kwargs)


def resnet56(**kwargs) -> ResNetCifar:
  """ResNet-56 (n = 9), 853,018 parameters with 10 classes."""
  return _cifar_resnet(9, **kwargs)
