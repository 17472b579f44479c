"""The zoo beyond MNIST: parameter counts against the papers, layer names,
and a few steps of the real train loop on tfds mock data of each model's
dataset shape (ResNet-56 and VGG-16: zoo_train_test.py; ImageNet ResNets:
zoo_imagenet_test.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from conftest import tiny_config

from jaxcompress import metrics, models, train

CIFAR = (32, 32, 3)
IMAGENET = (224, 224, 3)


def _shapes(name, input_shape, **kw):
  m = models.get_model(name, **kw)
  return m, jax.eval_shape(
      lambda: m.init(jax.random.key(0), jnp.zeros((1, *input_shape))))


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def _cifar_resnet_params(n, classes=10):
  """He et al.'s 6n+2 CIFAR ResNet with option-A (parameter-free) shortcuts,
  batch norm scale and offset after every conv, counted by hand."""
  conv = lambda cin, cout: 9 * cin * cout + 2 * cout   # 3x3, no bias, BN
  total = conv(3, 16)
  cin = 16
  for width in (16, 32, 64):
    for _ in range(n):
      total += conv(cin, width) + conv(width, width)
      cin = width
  return total + 64 * classes + classes


def test_cifar_resnets_match_he_et_al():
  # He et al. 2016, Table 6: ResNet-20 0.27M, ResNet-56 0.85M parameters.
  for name, n, paper in (('resnet20', 3, 0.27), ('resnet56', 9, 0.85)):
    _, v = _shapes(name, CIFAR)
    count = _count(v['params'])
    assert count == _cifar_resnet_params(n)
    assert round(count / 1e6, 2) == paper
  assert _cifar_resnet_params(3) == 269_722
  _, v = _shapes('resnet56', CIFAR, num_classes=100)
  assert _count(v['params']) == _cifar_resnet_params(9, 100)


def test_vgg16_matches_li_et_al():
  # Li et al. 2017, Tables 1-2: 1.5e7 parameters, 3.13e8 FLOPs (counted as
  # multiply-accumulates), 13 convs then linear 512-512 and 512-10.
  m, v = _shapes('vgg16_cifar', CIFAR)
  count = _count(v['params'])
  assert float(f'{count:.2g}') == 1.5e7
  assert v['params']['fc1']['kernel'].shape == (512, 512)
  assert v['params']['fc2']['kernel'].shape == (512, 10)
  assert 'bn14' in v['batch_stats']  # batch norm after the first linear
  assert sorted(k for k in v['params'] if k.startswith('conv')) == sorted(
      f'conv{i}' for i in range(1, 14))
  variables = jax.jit(m.init)(jax.random.key(0), jnp.zeros((1, *CIFAR)))
  macs = sum(d for d, _ in metrics.layer_macs(
      m, variables, np.zeros((1, *CIFAR), np.float32)).values())
  assert float(f'{macs:.3g}') == 3.13e8


@pytest.mark.parametrize('name,expected', [
    ('resnet18', 11_689_512),   # torchvision.models.resnet18
    ('resnet50', 25_557_032),   # torchvision.models.resnet50
])
def test_imagenet_resnets_match_torchvision(name, expected):
  _, v = _shapes(name, IMAGENET)
  assert _count(v['params']) == expected


def _vit_params(h, w, c, patch=4, d=64, depth=4, mlp=128, classes=10):
  tokens = (h // patch) * (w // patch) + 1
  embed = patch * patch * c * d + d
  block = 2 * 2 * d + 4 * (d * d + d) + (d * mlp + mlp) + (mlp * d + d)
  return embed + d + tokens * d + depth * block + 2 * d + d * classes + classes


@pytest.mark.parametrize('shape', [(28, 28, 1), CIFAR])
def test_vit_parts_and_stable_dense_names(shape):
  m, v = _shapes('vit_tiny', shape)
  assert _count(v['params']) == _vit_params(*shape)
  p = v['params']
  assert set(p['block1']['attn']) == {'query', 'key', 'value', 'out'}
  assert set(p['block4']['mlp']) == {'fc1', 'fc2'}
  assert p['block1']['attn']['query']['kernel'].shape == (64, 64)
  assert p['embed']['kernel'].shape == (16 * shape[-1], 64)
  assert p['pos_embedding'].shape == (1, (shape[0] // 4) ** 2 + 1, 64)
  x = jax.random.normal(jax.random.key(1), (3, *shape))
  variables = m.init(jax.random.key(0), x[:1])
  assert m.apply(variables, x).shape == (3, 10)
  mean_pool = models.get_model('vit_tiny', pool='mean')
  vm = mean_pool.init(jax.random.key(0), x[:1])
  assert 'cls' not in vm['params']
  assert vm['params']['pos_embedding'].shape[1] == (shape[0] // 4) ** 2


def test_zoo_errors_name_the_problem():
  x = jnp.zeros((1, 30, 30, 3))
  with pytest.raises(ValueError, match='patch_size 4 does not divide the '
                     '30x30 image'):
    models.get_model('vit_tiny').init(jax.random.key(0), x)
  with pytest.raises(ValueError, match='inner_features has 2 entries, the '
                     'model 9 blocks'):
    models.get_model('resnet20', inner_features=(8, 8)).init(
        jax.random.key(0), jnp.zeros((1, *CIFAR)))


def test_resnet_layers_are_named_by_stage_and_block():
  _, v = _shapes('resnet56', CIFAR)
  p = v['params']
  assert {'stem_conv', 'stem_bn', 'head'} <= set(p)
  assert sum(k.startswith('stage') for k in p) == 27
  assert set(p['stage2_block1']) == {'conv1', 'bn1', 'conv2', 'bn2'}
  _, v = _shapes('resnet50', IMAGENET)
  assert set(v['params']['stage2_block1']) == {
      'conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3', 'proj_conv', 'proj_bn'}


def mock_run(tmp_path, dataset, model, steps=3, **overrides):
  """A few steps of the real loop on tfds mock data of `dataset`."""
  c = tiny_config(dataset=dataset, data_dir=str(tmp_path), model=model,
                  batch_size=4, eval_batch_size=4, num_train_steps=steps,
                  steps_per_call=1, train_subset=0, test_subset=0,
                  learning_rate=0.01)
  for k, v in overrides.items():
    c[k] = v
  with tfds.testing.mock_data(num_examples=8):
    return c, train.train_and_evaluate(c, None)


def check_run(state, results, config, num_params):
  assert int(state.step) == config.num_train_steps
  assert results['num_params'] == num_params
  losses = [h['loss'] for h in results['history']]
  assert len(losses) == config.num_train_steps
  assert np.all(np.isfinite(losses))
  assert 0.0 <= results['test_error'] <= 1.0


@pytest.mark.parametrize('dataset,shape', [('fashion_mnist', (28, 28, 1)),
                                           ('cifar10', CIFAR)])
def test_vit_trains_on_28_and_32_pixel_datasets(tmp_path, dataset, shape):
  config, (state, results) = mock_run(tmp_path, dataset, 'vit_tiny')
  check_run(state, results, config, _vit_params(*shape))


def test_resnet20_trains_on_cifar10_shape(tmp_path):
  config, (state, results) = mock_run(tmp_path, 'cifar10', 'resnet20',
                                      in_memory=False)
  check_run(state, results, config, _cifar_resnet_params(3))
