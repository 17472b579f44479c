"""VGG-16 for CIFAR as in Li et al. 2017 ("Pruning Filters for Efficient
ConvNets", section 4.1 and Table 2).

Zagoruyko's CIFAR variant of VGG-16 with batch norm after every convolution
and after the first linear layer, without dropout: 13 3x3 convs
(64-64-M-128-128-M-256-256-256-M-512-512-512-M-512-512-512-M, M a 2x2 max
pool) on 32x32 inputs, then linear 512 -> 512, batch norm, ReLU, linear
512 -> classes. Li et al. give 1.5e7 parameters and 3.13e8 FLOPs (counted as
multiply-accumulates) for CIFAR-10; this module has 14,987,722 parameters
(convs without bias: the batch norm that follows makes one redundant) and
313,463,808 multiply-accumulates per image.

Layer names: ``conv1`` ... ``conv13`` with ``bn1`` ... ``bn13``, ``fc1``,
``bn14``, ``fc2``. Li et al.'s VGG-16-pruned-A removes 50% of the filters of
conv1 and conv8-conv13 (widths: `features`).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn

from jaxcompress import layers

# 1-based indices of the convs followed by a 2x2 max pool.
POOL_AFTER = (2, 4, 7, 10, 13)
VGG16_FEATURES = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512,
                  512)


class VGGCifar(nn.Module):
  """VGG with batch norm for 32x32 inputs.

  Attributes:
    features: filters of the 13 convs.
    fc_features: width of the hidden linear layer.
    num_classes: classifier width.
    batch_norm: batch norm after every conv and fc1 (False: convs with
      bias and no norm, the model `quantization.fold_batch_norm` folds
      into).
  """
  features: Sequence[int] = VGG16_FEATURES
  fc_features: int = 512
  num_classes: int = 10
  batch_norm: bool = True

  @nn.compact
  def __call__(self, x, train: bool = False):
    if len(self.features) != len(VGG16_FEATURES):
      raise ValueError(f'VGG-16 has {len(VGG16_FEATURES)} convs, got '
                       f'{len(self.features)} widths')
    def norm(x, name):
      if not self.batch_norm:
        return x
      return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                          name=name)(x)

    for i, width in enumerate(self.features, start=1):
      x = layers.Conv(width, (3, 3), padding=((1, 1), (1, 1)),
                  use_bias=not self.batch_norm, name=f'conv{i}')(x)
      x = nn.relu(norm(x, f'bn{i}'))
      if i in POOL_AFTER:
        x = nn.max_pool(x, (2, 2), (2, 2))
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(norm(nn.Dense(self.fc_features, name='fc1')(x), 'bn14'))
    return nn.Dense(self.num_classes, name='fc2')(x)


def vgg16_cifar(**kwargs) -> VGGCifar:
  """VGG-16 for CIFAR (Li et al. 2017), 14,987,722 parameters."""
  return VGGCifar(**kwargs)
