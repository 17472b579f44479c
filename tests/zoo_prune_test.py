"""Pruning the zoo with the library functions, on tfds mock CIFAR-10 batches:
unstructured magnitude pruning of ResNet-20 and the ViT, and Li et al.'s
L1 filter pruning of ResNet-56 with its residual coupling found by the
tracer and the shrunk network equal to the masked one."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import tensorflow_datasets as tfds

from jaxcompress import data, metrics, models, pruning, structured

CIFAR = (32, 32, 3)


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
  with tfds.testing.mock_data(num_examples=16):
    ds = data.load('cifar10', str(tmp_path_factory.mktemp('cifar10')))
  return ds.train_images[:8], ds.train_labels[:8]


def _init(model, x, seed=0):
  """Variables with non-trivial batch-norm statistics and affine terms, so
  that a channel the shrink missed would change the output."""
  v = jax.jit(model.init)(jax.random.key(seed), x[:1])
  rng = np.random.default_rng(seed)

  def perturb(path, leaf):
    name = '/'.join(str(getattr(k, 'key', k)) for k in path)
    if name.endswith('/var'):
      return jnp.asarray(rng.uniform(0.5, 2.0, leaf.shape), leaf.dtype)
    if '/bn' in name or 'stem_bn' in name:
      return jnp.asarray(rng.normal(0.5, 0.5, leaf.shape), leaf.dtype)
    return leaf
  return jax.tree_util.tree_map_with_path(perturb, v)


@pytest.mark.parametrize('name', ['resnet20', 'vit_tiny'])
def test_unstructured_magnitude_pruning_keeps_kernels_exactly_sparse(
    cifar, name):
  x, y = cifar
  model = models.get_model(name)
  variables = _init(model, x)
  params, stats = variables['params'], variables.get('batch_stats', {})
  specs = pruning.layer_specs(params, 0.5)       # every kernel, 50%
  tx = optax.chain(optax.sgd(0.05, momentum=0.9),
                   pruning.prune(specs, pruning.magnitude(1),
                                 pruning.OneShot(0)))

  @jax.jit
  def step(params, stats, opt_state):
    def loss_fn(p):
      v = {'params': p, **({'batch_stats': stats} if stats else {})}
      logits, new = model.apply(v, x, train=True, mutable=['batch_stats'])
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y)
      return loss.mean(), new.get('batch_stats', stats)
    (loss, stats), g = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(g, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state, loss

  opt_state = tx.init(params)
  first = None
  for _ in range(3):
    params, stats, opt_state, loss = step(params, stats, opt_state)
    assert np.isfinite(float(loss))
    zeros = {n: np.asarray(p) == 0 for n, p in metrics.named_leaves(params)}
    first = first or zeros
    for n, z in zeros.items():
      if n.endswith('kernel'):
        assert z.sum() == round(0.5 * z.size), n    # exactly 50% removed
        np.testing.assert_array_equal(z, first[n])  # and they stay removed
      else:
        assert not z.all(), n
  kernels = [n for n in first if n.endswith('kernel')]
  if name == 'vit_tiny':
    assert 'block1/attn/query/kernel' in kernels
    assert 'block4/mlp/fc2/kernel' in kernels
  else:
    assert 'stage3_block3/conv2/kernel' in kernels


# Li et al. 2017, ResNet-56-pruned-B: the first conv of every block loses
# 60% / 30% / 10% of its filters in stages 1 / 2 / 3 (kept: int(16 * 0.4),
# int(32 * 0.7), int(64 * 0.9) = 6, 22, 57), except the sensitive layers
# 16, 18, 20, 34, 38 and 54 (the first convs of these blocks).
LI_SKIP = ('stage1_block8', 'stage1_block9', 'stage2_block1', 'stage2_block8',
           'stage3_block1', 'stage3_block9')
LI_RULES = tuple((f'^{b}/conv1$', None) for b in LI_SKIP) + (
    (r'^stage1_block\d/conv1$', 10 / 16),
    (r'^stage2_block\d/conv1$', 10 / 32),
    (r'^stage3_block\d/conv1$', 7 / 64))


def test_resnet56_filter_pruning_coupling_found_and_shrunk_equals_masked(
    cifar):
  x, _ = cifar
  model = models.get_model('resnet56')
  variables = _init(model, x)
  graph = structured.trace_groups(model, variables, CIFAR)

  # The residual coupling, found from the model: the stem and the second
  # conv of every stage-1 block write one tensor (identity shortcuts), read
  # by every stage-1 first conv and by stage 2's first block.
  stream = graph.groups[0]
  assert stream.name == '+'.join(
      ['stem_conv'] + [f'stage1_block{b}/conv2' for b in range(1, 10)])
  consumers = {m.layer for m in stream.consumers}
  assert consumers == ({f'stage1_block{b}/conv1' for b in range(1, 10)}
                       | {'stage2_block1/conv1'})
  assert {m.path for m in stream.members} >= {
      'params/stem_bn/scale', 'batch_stats/stage1_block9/bn2/var'}
  # Option A pads these channels with zeros into stage 2: not removable.
  assert 'zero padding' in stream.blocked
  streams = [g for g in graph.groups if '/conv2' in g.name]
  assert len(streams) == 3 and not any(g.prunable for g in streams)
  assert sorted(g.name for g in graph.prunable) == sorted(
      f'stage{s}_block{b}/conv1' for s in (1, 2, 3) for b in range(1, 10))
  with pytest.raises(ValueError, match="'stem_conv\\+stage1_block1/conv2.*"
                     'cannot be pruned: zero padding'):
    structured.group_targets(graph, 0.0, [('^stem_conv', 0.5)])

  # Li et al.'s L1-norm filter pruning, one-shot, inside an optax chain.
  targets = structured.group_targets(graph, 0.0, LI_RULES)
  assert len(targets) == 27 - len(LI_SKIP)
  tx = optax.chain(optax.sgd(0.1), structured.structured_mask(
      graph, targets, structured.weight_norm(graph, 1), pruning.OneShot(0)))
  params = variables['params']
  zero = jax.tree.map(jnp.zeros_like, params)
  updates, opt_state = jax.jit(tx.update)(zero, tx.init(params), params)
  params = optax.apply_updates(params, updates)
  masks = structured.find_state(opt_state).masks
  kernel = lambda p, b: np.asarray(p[b]['conv1']['kernel'])
  for b, n in (('stage1_block1', 6), ('stage2_block4', 22),
               ('stage3_block2', 57), ('stage1_block9', 16)):
    alive = np.abs(kernel(params, b)).sum(axis=(0, 1, 2)) > 0
    assert alive.sum() == n, b
    if n < alive.size:  # the filters with the smallest L1 norms went
      l1 = np.abs(kernel(variables['params'], b)).sum(axis=(0, 1, 2))
      assert l1[~alive].max() <= l1[alive].min()
      np.testing.assert_array_equal(masks[f'{b}/conv1'], alive)
  masked = {**variables, 'params': params}

  small, small_vars = structured.shrink(model, masked, graph=graph)
  inner = [16 if f'stage1_block{b}' in LI_SKIP else 6 for b in range(1, 10)]
  inner += [32 if f'stage2_block{b}' in LI_SKIP else 22 for b in range(1, 10)]
  inner += [64 if f'stage3_block{b}' in LI_SKIP else 57 for b in range(1, 10)]
  assert tuple(small.inner_features) == tuple(inner)
  want = jax.jit(model.apply)(masked, x)
  got = jax.jit(small.apply)(small_vars, x)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  assert not np.allclose(jax.jit(model.apply)(variables, x), want, atol=1e-3)
  # Li et al. Table 1: 1.25e8 -> 9.09e7 FLOPs (multiply-accumulates), 27.6%.
  dense = metrics.summarize(model, variables, x[:1])['flops_dense'] / 2
  pruned = metrics.summarize(small, small_vars, x[:1])['flops_dense'] / 2
  assert (float(f'{dense:.3g}'), float(f'{pruned:.3g}')) == (1.25e8, 9.09e7)
  assert round(100 * (1 - pruned / dense), 1) == 27.6


def test_vit_mlp_units_shrink_and_attention_heads_are_refused(cifar):
  x, _ = cifar
  model = models.get_model('vit_tiny')
  variables = _init(model, x)
  graph = structured.trace_groups(model, variables, CIFAR)
  ties = structured.tie_groups(model, graph)
  assert ties == [[f'block{i}/mlp/fc1' for i in range(1, 5)]]
  rng = np.random.default_rng(0)
  keep = {f'block{i}/mlp/fc1': np.sort(rng.choice(128, 96, replace=False))
          for i in range(1, 5)}
  masked = structured.mask_variables(graph, variables, keep)
  small, small_vars = structured.shrink(model, masked, keep, graph)
  assert small.mlp_dim == 96
  np.testing.assert_allclose(jax.jit(small.apply)(small_vars, x),
                             jax.jit(model.apply)(masked, x),
                             rtol=1e-4, atol=1e-4)
  with pytest.raises(ValueError, match="Layer 'block1/attn/query' cannot be "
                     'pruned: a reshape splits or merges its channel axis '
                     r'\(as attention splits channels into heads\)'):
    structured.shrink(model, variables, {'block1/attn/query': np.arange(32)},
                      graph)
