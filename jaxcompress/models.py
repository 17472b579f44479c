"""The model zoo: the networks the write-ups and papers compress.

All models are Flax Linen modules taking NHWC images (``(batch, 28, 28, 1)``)
and returning logits, with ``train`` switching dropout and batch-norm mode.
Layers have stable names (``fc1``, ``conv2``, ``block1/bn1``) because
compression rules select parameters by path.

| name            | architecture                                   | params  |
|-----------------|------------------------------------------------|---------|
| mlp             | 784-(features)-10, widths set by model_kwargs  |         |
| mlp_128         | 784-128-10                                     | 101,770 |
| mlp_64          | 784-64-10                                      |  50,890 |
| lenet_300_100   | 784-300-100-10 (Han et al. 2015)               | 266,610 |
| lenet5          | Caffe LeNet: conv20@5 pool conv50@5 pool 500 10 | 431,080 |
| hinton_teacher  | 784-1200-1200-10 (Hinton et al. 2015)          |         |
| hinton_student  | 784-800-800-10                                 |         |
| resnet_small    | conv stem, 2 residual stages with batch norm   |         |
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcompress import conv_pool, layers, zoo


class MLP(nn.Module):
  """Fully connected ReLU network, layers named fc1, fc2, ...

  Attributes:
    features: hidden layer widths.
    num_classes: width of the output layer.
    batch_norm: add BatchNorm (``bn1``, ...) after each hidden Dense.
    dropout_rate: dropout after each hidden activation.
    input_dropout_rate: dropout on the flattened input.
    inputs: indices of the flattened input features the first layer reads
      (None: all); set by `structured.shrink` when input pixels are pruned.
  """
  features: Sequence[int] = (300, 100)
  num_classes: int = 10
  batch_norm: bool = False
  dropout_rate: float = 0.0
  input_dropout_rate: float = 0.0
  inputs: Sequence[int] | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = x.reshape((x.shape[0], -1))
    if self.inputs is not None:
      x = jnp.take(x, jnp.asarray(self.inputs, jnp.int32), axis=1)
      # Keep the gather out of fc1's dot: XLA CPU fuses it into a loop that
      # runs the matmul about 3x slower than its library call
      # (benchmarks/structured_latency.py).
      x = jax.lax.optimization_barrier(x)
    x = nn.Dropout(self.input_dropout_rate, deterministic=not train)(x)
    for i, width in enumerate(self.features, start=1):
      x = nn.Dense(width, name=f'fc{i}')(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train, name=f'bn{i}')(x)
      x = nn.relu(x)
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, name=f'fc{len(self.features) + 1}')(x)


class LeNet5(nn.Module):
  """LeNet-5 as in Caffe's examples/mnist (used by Han et al. 2015).

  conv1 20@5x5 -> maxpool 2 -> conv2 50@5x5 -> maxpool 2 -> fc1 500 -> ReLU
  -> fc2 10, valid padding, no nonlinearity after the convolutions (as in
  Caffe's prototxt). 431,080 parameters.

  `lowering='blocked'` computes each convolution and the pooling after it
  on pixel blocks (`conv_pool.ConvPool2x2`, the same parameters), for CPU
  inference only: faster for narrow (shrunk) convolutions compiled with
  nothing in YNNPACK (docs/results_structured.md).
  """
  features: Sequence[int] = (20, 50, 500)
  num_classes: int = 10
  batch_norm: bool = False
  dropout_rate: float = 0.0
  lowering: str = 'xla'

  @nn.compact
  def __call__(self, x, train: bool = False):
    c1, c2, f1 = self.features
    if self.lowering == 'blocked':
      if train or self.batch_norm:
        raise ValueError("LeNet5(lowering='blocked') is for inference "
                         'without batch norm: it pools right after each '
                         'convolution')
      x = conv_pool.ConvPool2x2(c1, (5, 5), name='conv1')(x)
      x = conv_pool.ConvPool2x2(c2, (5, 5), name='conv2')(x)
    elif self.lowering == 'xla':
      x = layers.Conv(c1, (5, 5), padding='VALID', name='conv1')(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train, name='bn1')(x)
      x = layers.max_pool_2x2(x)
      x = layers.Conv(c2, (5, 5), padding='VALID', name='conv2')(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train, name='bn2')(x)
      x = layers.max_pool_2x2(x)
    else:
      raise ValueError(f"LeNet5: lowering {self.lowering!r} is not 'xla' or "
                       "'blocked'")
    x = x.reshape((x.shape[0], -1))
    x = nn.Dense(f1, name='fc1')(x)
    if self.batch_norm:
      x = nn.BatchNorm(use_running_average=not train, name='bn3')(x)
    x = nn.relu(x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, name='fc2')(x)


class ResidualBlock(nn.Module):
  """conv-bn-relu-conv-bn plus a (projected, if the shape changes) shortcut."""
  features: int
  strides: int = 1

  @nn.compact
  def __call__(self, x, train: bool = False):
    norm = functools.partial(nn.BatchNorm, use_running_average=not train)
    y = layers.Conv(self.features, (3, 3), self.strides, use_bias=False,
                    name='conv1')(x)
    y = nn.relu(norm(name='bn1')(y))
    y = layers.Conv(self.features, (3, 3), use_bias=False, name='conv2')(y)
    y = norm(name='bn2')(y)
    if x.shape[-1] != self.features or self.strides != 1:
      x = layers.Conv(self.features, (1, 1), self.strides, use_bias=False,
                      name='proj_conv')(x)
      x = norm(name='proj_bn')(x)
    return nn.relu(x + y)


class ResNetSmall(nn.Module):
  """A small residual conv net with batch norm, for structured pruning.

  stem conv 3x3 + bn + relu, then one ResidualBlock per stage (the first at
  stride 1, later ones at stride 2), global average pool, dense classifier.
  """
  stage_features: Sequence[int] = (16, 32)
  num_classes: int = 10
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = layers.Conv(self.stage_features[0], (3, 3), use_bias=False,
                    name='stem_conv')(x)
    x = nn.BatchNorm(use_running_average=not train, name='stem_bn')(x)
    x = nn.relu(x)
    for i, width in enumerate(self.stage_features, start=1):
      x = ResidualBlock(width, strides=1 if i == 1 else 2,
                        name=f'block{i}')(x, train)
    x = jnp.mean(x, axis=(1, 2))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, name='head')(x)


MODELS: dict[str, Callable[..., nn.Module]] = {
    'mlp': MLP,  # any widths: model_kwargs.features
    'mlp_128': functools.partial(MLP, features=(128,)),
    'mlp_64': functools.partial(MLP, features=(64,)),
    'mlp_30_30': functools.partial(MLP, features=(30, 30)),
    'lenet_300_100': functools.partial(MLP, features=(300, 100)),
    'lenet5': LeNet5,
    'hinton_teacher': functools.partial(MLP, features=(1200, 1200)),
    'hinton_student': functools.partial(MLP, features=(800, 800)),
    'resnet_small': ResNetSmall,
    # Beyond MNIST (jaxcompress/zoo): num_classes from the dataset.
    'resnet20': zoo.resnet20,          # CIFAR, He et al. 2016
    'resnet56': zoo.resnet56,
    'vgg16_cifar': zoo.vgg16_cifar,    # CIFAR, Li et al. 2017
    'resnet18': zoo.resnet18,          # ImageNet, torchvision
    'resnet50': zoo.resnet50,
    'vit_tiny': zoo.vit_tiny,          # 28x28 and 32x32 inputs
}


def get_model(name: str, **kwargs) -> nn.Module:
  """Builds a zoo model by name, with module attributes overridden by kwargs.

  Raises:
    ValueError: if `name` is not in the zoo.
  """
  if name not in MODELS:
    raise ValueError(f'Unknown model {name!r}; known models: {sorted(MODELS)}')
  return MODELS[name](**kwargs)
