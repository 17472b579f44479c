"""The CIFAR-10 and ImageNet configs (not run here) validate, and the filter
pruning config's rules give Li et al.'s ResNet-56-pruned-B widths."""

import importlib

import jax
import jax.numpy as jnp
import pytest

from jaxcompress import models, structured
from jaxcompress.plugins import registry
from jaxcompress.train import loop

CONFIGS = ('cifar10_resnet56', 'cifar10_resnet56_l1filter',
           'imagenet_resnet50', 'imagenet_resnet50_int8')


def _config(name):
  return importlib.import_module(f'configs.{name}').get_config()


@pytest.mark.parametrize('name', CONFIGS)
def test_config_validates_before_anything_runs(name):
  c = _config(name)
  parsed = registry.parse_config(c)   # every section, unknown keys refused
  loop.check_settings(parsed.settings)
  assert parsed.settings.dataset in ('cifar10', 'imagenet2012')
  assert 'NOT RUN HERE' in importlib.import_module(f'configs.{name}').__doc__


def test_l1filter_rules_give_li_et_al_pruned_b():
  c = _config('cifar10_resnet56_l1filter')
  model = models.get_model(c.model, **c.model_kwargs)
  v = jax.eval_shape(lambda: model.init(jax.random.key(0),
                                        jnp.zeros((1, 32, 32, 3))))
  graph = structured.trace_groups(model, v, (32, 32, 3))
  s = registry.parse_config(c).sections['structured']
  removed = structured.group_targets(graph, s.sparsity,
                                     [tuple(r) for r in s.rules])
  kept = {n: graph[n].size - k for n, k in removed.items()}
  skip = {'stage1_block8', 'stage1_block9', 'stage2_block1', 'stage2_block8',
          'stage3_block1', 'stage3_block9'}
  want = {f'stage{st}_block{b}/conv1': n
          for st, n in ((1, 6), (2, 22), (3, 57)) for b in range(1, 10)
          if f'stage{st}_block{b}' not in skip}
  assert kept == want
