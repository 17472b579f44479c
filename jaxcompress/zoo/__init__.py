"""Networks that compression papers use beyond MNIST.

One module per family, each a Flax Linen module taking NHWC images and a
``train`` flag, with stable layer names (compression rules select parameters
by path) and ``num_classes`` set from the dataset:

| module           | models                  | params (paper)                 |
|------------------|-------------------------|--------------------------------|
| resnet_cifar     | resnet20, resnet56      | 0.27M, 0.85M (He et al. 2016)  |
| vgg_cifar        | vgg16_cifar             | 1.5e7 (Li et al. 2017)         |
| resnet_imagenet  | resnet18, resnet50      | 11,689,512, 25,557,032         |
|                  |                         | (torchvision)                  |
| vit              | vit_tiny (28x28, 32x32) | (ours: 0.1M)                   |

`jaxcompress.models.MODELS` registers them by name.
"""

from jaxcompress.zoo.resnet_cifar import ResNetCifar, resnet20, resnet56
from jaxcompress.zoo.resnet_imagenet import ResNet, resnet18, resnet50
from jaxcompress.zoo.vgg_cifar import VGGCifar, vgg16_cifar
from jaxcompress.zoo.vit import ViT, vit_tiny

__all__ = ['ResNet', 'ResNetCifar', 'VGGCifar', 'ViT', 'resnet18', 'resnet20',
           'resnet50', 'resnet56', 'vgg16_cifar', 'vit_tiny']
