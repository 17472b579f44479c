"""Coupling tracer and physical removal: shrunk model equals masked model."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcompress import models
from jaxcompress.structured import graph as graph_lib
from jaxcompress.structured import removal as shrink_lib

MNIST = (28, 28, 1)
ZOO = ['mlp_128', 'mlp_64', 'mlp_30_30', 'lenet_300_100', 'lenet5',
       'hinton_teacher', 'hinton_student', 'resnet_small']


def _init(model, seed=0):
  v = jax.jit(model.init)(jax.random.PRNGKey(seed), jnp.zeros((1, 28, 28, 1)))
  # Non-trivial batch-norm statistics and affine terms, so that a removed
  # channel would change the output if any coupled slice were missed.
  leaves, treedef = jax.tree_util.tree_flatten_with_path(v)
  rng = np.random.default_rng(seed)
  out = []
  for path, x in leaves:
    name = '/'.join(str(getattr(k, 'key', k)) for k in path)
    if name.endswith('/var'):
      x = jnp.asarray(rng.uniform(0.5, 2.0, x.shape), jnp.float32)
    elif name.endswith(('/mean', '/scale')) or (
        name.endswith('/bias') and '/bn' in name or 'bn/' in name):
      x = jnp.asarray(rng.normal(0.5, 0.5, x.shape), jnp.float32)
    out.append(x)
  return jax.tree.unflatten(treedef, out)


def _shapes(model):
  return jax.eval_shape(model.init, jax.random.PRNGKey(0),
                        jnp.zeros((1, 28, 28, 1)))


def _random_keep(graph, ties, rng):
  keep = {g.name: rng.random(g.size) < 0.5 for g in graph.prunable}
  for name, k in keep.items():
    if not k.any():
      k[0] = True
  for tie in ties:
    n = int(keep[tie[0]].sum())
    for other in tie[1:]:
      k = np.zeros(graph[other].size, bool)
      k[rng.choice(graph[other].size, n, replace=False)] = True
      keep[other] = k
  return keep


@pytest.mark.parametrize('name,kw', [(n, {}) for n in ZOO] + [
    ('mlp_30_30', {'batch_norm': True}), ('lenet5', {'batch_norm': True})])
def test_shrunk_equals_masked_on_zoo(name, kw):
  model = models.get_model(name, **kw)
  variables = _init(model)
  graph = graph_lib.trace_groups(model, variables, MNIST)
  ties = shrink_lib.tie_groups(model, graph)
  keep = _random_keep(graph, ties, np.random.default_rng(1))
  masked = shrink_lib.mask_variables(graph, variables, keep)
  # keep=None reads the removed units back from the zeros of the masked params.
  small, small_vars = shrink_lib.shrink(model, masked, graph=graph)
  x = jax.random.normal(jax.random.PRNGKey(2), (5, 28, 28, 1))
  want = jax.jit(model.apply)(masked, x)
  got = jax.jit(small.apply)(small_vars, x)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  n_small = sum(x.size for x in jax.tree.leaves(small_vars['params']))
  n_big = sum(x.size for x in jax.tree.leaves(variables['params']))
  assert n_small < n_big
  # The masking was not a no-op: removed channels matter in the dense model.
  assert not np.allclose(jax.jit(model.apply)(variables, x), want, atol=1e-3)


def test_groups_of_lenet5_and_resnet():
  m = models.get_model('lenet5')
  g = graph_lib.trace_groups(m, _shapes(m), MNIST)
  assert [x.name for x in g.prunable] == ['conv1', 'conv2', 'fc1']
  conv2 = g['conv2']
  # Groups and members are immutable values (hashable, safe to share).
  with pytest.raises(dataclasses.FrozenInstanceError):
    conv2.size = 3
  with pytest.raises(dataclasses.FrozenInstanceError):
    conv2.members[0].axis = 0
  assert hash(conv2) == hash(graph_lib.trace_groups(m, _shapes(m),
                                                    MNIST)['conv2'])
  fc1_rows = [x for x in conv2.members if x.path == 'params/fc1/kernel'][0]
  # Flatten of (4, 4, 50) NHWC: row i belongs to channel i % 50.
  assert (fc1_rows.axis, fc1_rows.inner, fc1_rows.outer) == (0, 1, 16)
  np.testing.assert_array_equal(fc1_rows.indices(np.array([1, 3]), 50)[:4],
                                [1, 3, 51, 53])
  assert g['fc2'].blocked is not None  # the logits

  r = models.get_model('resnet_small')
  gr = graph_lib.trace_groups(r, _shapes(r), MNIST)
  res = gr['stem_conv+block1/conv2']
  paths = {(x.path, x.role) for x in res.members}
  assert ('params/stem_bn/scale', 'elementwise') in paths
  assert ('batch_stats/block1/bn2/var', 'elementwise') in paths
  assert ('params/block2/proj_conv/kernel', 'consumer') in paths
  assert ('params/block1/conv1/kernel', 'consumer') in paths
  assert shrink_lib.tie_groups(r, gr) == [
      ['block1/conv1', 'stem_conv+block1/conv2'],
      ['block2/conv1', 'block2/conv2+block2/proj_conv']]


def test_kept_units_reads_zeros():
  m = models.get_model('mlp_30_30')
  v = _init(m)
  g = graph_lib.trace_groups(m, v, MNIST)
  keep = {'fc1': np.arange(30) % 3 == 0}
  masked = shrink_lib.mask_variables(g, v, keep)
  alive = shrink_lib.kept_units(g, masked)
  np.testing.assert_array_equal(alive['fc1'], keep['fc1'])
  assert alive['fc2'].all()
  small, _ = shrink_lib.shrink(m, masked, graph=g)
  assert tuple(small.features) == (10, 30)


def test_mask_variables_zeroes_removed_units_and_keeps_the_rest():
  m = models.get_model('mlp_30_30')
  v = _init(m)
  g = graph_lib.trace_groups(m, v, MNIST)
  keep = {'fc1': np.arange(30) % 3 == 0}
  masked = shrink_lib.mask_variables(g, v, keep)['params']
  p = v['params']
  # fc1's output columns and bias entries, fc2's input rows: kept as they
  # were, removed ones zero; fc3 is untouched.
  np.testing.assert_array_equal(masked['fc1']['kernel'],
                                np.where(keep['fc1'], p['fc1']['kernel'], 0))
  np.testing.assert_array_equal(masked['fc1']['bias'],
                                np.where(keep['fc1'], p['fc1']['bias'], 0))
  np.testing.assert_array_equal(
      masked['fc2']['kernel'],
      np.where(keep['fc1'][:, None], p['fc2']['kernel'], 0))
  np.testing.assert_array_equal(masked['fc3']['kernel'], p['fc3']['kernel'])


def test_member_tiling_by_hand():
  # An axis of outer 2 x size 3 x inner 2 = 12 entries; entry i belongs to
  # channel (i // 2) % 3.
  m = graph_lib.Member('params/fc/kernel', 0, inner=2, outer=2,
                       role='consumer')
  assert m.layer == 'fc'
  np.testing.assert_array_equal(m.indices(np.array([0, 2]), 3),
                                [0, 1, 4, 5, 6, 7, 10, 11])
  e = m.expand(jnp.array([1., 2., 3.]), 2)
  assert e.shape == (12, 1)
  np.testing.assert_array_equal(e[:, 0], [1, 1, 2, 2, 3, 3] * 2)
  np.testing.assert_array_equal(m.fold(jnp.arange(12.)),
                                [0 + 1 + 6 + 7, 2 + 3 + 8 + 9,
                                 4 + 5 + 10 + 11])


class _OffsetAfterFlatten(nn.Module):
  """conv (2 channels) -> flatten -> + a learned offset -> dense."""
  features: int = 2

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.Conv(self.features, (1, 1), name='conv')(x)   # (B, 2, 2, 2)
    offset = self.param('offset', nn.initializers.zeros,
                        (4 * self.features,))
    x = offset + x.reshape((x.shape[0], -1))        # untiled + tiled axis
    return nn.Dense(1, name='fc')(x)


def test_flattened_channels_couple_with_a_plain_vector_on_either_side():
  m = _OffsetAfterFlatten()
  v = m.init(jax.random.PRNGKey(0), jnp.zeros((1, 2, 2, 1)))
  g = graph_lib.trace_groups(m, v, (2, 2, 1))
  conv = g['conv']
  assert conv.blocked is None
  # Flat NHWC index i belongs to channel i % 2: inner 1, outer 4.
  tiling = {(x.path, x.axis): (x.inner, x.outer) for x in conv.members}
  assert tiling[('params/offset', 0)] == (1, 4)
  assert tiling[('params/fc/kernel', 0)] == (1, 4)
  keep = {'conv': np.array([False, True])}
  small, sv = shrink_lib.shrink(m, shrink_lib.mask_variables(g, v, keep),
                                keep, g, input_shape=(2, 2, 1))
  assert small.features == 1 and sv['params']['offset'].shape == (4,)


class _Flat784(nn.Module):
  """An MLP that only takes 28x28 images (it flattens to 784 by name)."""
  features: int = 16

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.relu(nn.Dense(self.features, name='fc1')(
        x.reshape((x.shape[0], 784))))
    return nn.Dense(10, name='fc2')(x)


def test_width_attributes_default_input_is_the_traced_one():
  m = _Flat784()    # takes only 28x28 images
  g = graph_lib.trace_groups(m, _shapes(m), MNIST)
  assert shrink_lib.width_attributes(m, g) == {('features', None): ['fc1']}


def test_error_when_a_rule_removes_a_whole_layer():
  m = models.get_model('lenet_300_100')
  v = _shapes(m)
  with pytest.raises(ValueError, match="'fc2'.*removes all 100"):
    shrink_lib.shrink(m, v, keep={'fc2': np.zeros(100, bool)},
                      input_shape=MNIST)


def test_error_when_pruning_the_logits():
  m = models.get_model('mlp_64')
  v = _shapes(m)
  with pytest.raises(ValueError, match="'fc2' cannot be pruned.*output"):
    shrink_lib.shrink(m, v, keep={'fc2': np.arange(5)},
                      input_shape=MNIST)


class _ChannelSlice(nn.Module):
  """fc1's units are sliced by index: the tracer cannot follow that."""

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.relu(nn.Dense(16, name='fc1')(x.reshape((x.shape[0], -1))))
    x = jnp.cumsum(x, axis=-1)
    return nn.Dense(10, name='fc2')(x)


class _FixedWidth(nn.Module):
  """A width that is not an attribute: shrinking it cannot be expressed."""
  features: int = 12

  @nn.compact
  def __call__(self, x, train=False):
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(self.features, name='fc1')(x))
    x = nn.relu(nn.Dense(8, name='fc2')(x))
    return nn.Dense(10, name='fc3')(x)


def test_error_when_tracer_cannot_resolve_the_structure():
  m = _ChannelSlice()
  v = m.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)))
  g = graph_lib.trace_groups(m, v, MNIST)
  assert 'cumsum' in g['fc1'].blocked
  with pytest.raises(ValueError, match="'fc1' cannot be pruned.*cumsum"):
    shrink_lib.shrink(m, v, keep={'fc1': np.arange(8)}, graph=g)


def test_input_shape_is_required_and_checked():
  m = models.get_model('mlp_64')
  v = _shapes(m)
  with pytest.raises(ValueError, match='shape of one example'):
    shrink_lib.shrink(m, v, keep={'fc1': np.arange(5)})
  with pytest.raises(ValueError, match='positive integers'):
    graph_lib.trace_groups(m, v, (28, 0, 1))
  g = graph_lib.trace_groups(m, v, MNIST)
  assert g.input_shape == MNIST
  with pytest.raises(ValueError, match=r'differs from the \(28, 28, 1\)'):
    shrink_lib.shrink(m, v, keep={'fc1': np.arange(5)}, graph=g,
                      input_shape=(32, 32, 3))


def test_error_when_width_is_not_an_attribute():
  m = _FixedWidth()
  v = m.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)))
  small, _ = shrink_lib.shrink(m, v, keep={'fc1': np.arange(6)},
                               input_shape=MNIST)
  assert small.features == 6
  with pytest.raises(ValueError, match="'fc2'.*no integer attribute"):
    shrink_lib.shrink(m, v, keep={'fc2': np.arange(4)},
                      input_shape=MNIST)


def test_error_when_tied_widths_differ():
  m = models.get_model('resnet_small')
  v = _shapes(m)
  with pytest.raises(ValueError, match='block1/conv1.*share the width'):
    shrink_lib.shrink(m, v, keep={'block1/conv1': np.arange(8)},
                      input_shape=MNIST)


MLPS = ['mlp_128', 'mlp_30_30', 'lenet_300_100', 'hinton_student']


@pytest.mark.parametrize('name', MLPS)
def test_input_pixels_are_removed_from_mlps(name):
  model = models.get_model(name)
  variables = _init(model)
  graph = graph_lib.trace_groups(model, variables, MNIST, inputs=True)
  assert graph.groups[0].name == 'input' and graph['input'].prunable
  assert [(m.path, m.axis, m.role) for m in graph['input'].members] == [
      ('params/fc1/kernel', 0, 'consumer')]
  keep = _random_keep(graph, [], np.random.default_rng(3))
  masked = shrink_lib.mask_variables(graph, variables, keep)
  small, small_vars = shrink_lib.shrink(model, masked, keep, graph)
  assert small.inputs == tuple(np.flatnonzero(keep['input']))
  assert small_vars['params']['fc1']['kernel'].shape == (
      keep['input'].sum(), keep['fc1'].sum())
  x = jax.random.normal(jax.random.PRNGKey(2), (5, 28, 28, 1))
  np.testing.assert_allclose(jax.jit(small.apply)(small_vars, x),
                             jax.jit(model.apply)(masked, x),
                             rtol=1e-4, atol=1e-4)
  # Without inputs=True the graph has no input group (widths as before).
  assert 'input' not in graph_lib.trace_groups(model, variables,
                                               MNIST).names()


@pytest.mark.parametrize('name', ['lenet5', 'resnet_small'])
def test_input_pixels_of_convnets_are_blocked_with_a_reason(name):
  model = models.get_model(name)
  variables = _shapes(model)
  graph = graph_lib.trace_groups(model, variables, MNIST, inputs=True)
  assert graph['input'].blocked == ('the input is not flattened into a '
                                    'Dense layer')
  with pytest.raises(ValueError, match="'input' cannot be pruned: the input "
                     'is not flattened'):
    shrink_lib.shrink(model, variables, {'input': np.arange(100)}, graph)
