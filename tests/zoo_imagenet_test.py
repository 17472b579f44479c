"""ImageNet ResNets on tfds mock data of imagenet2012: ResNet-18 through the
real train loop (streamed Inception crops, center-cropped evaluation),
ResNet-50 through one local optax step (its compile alone is half a minute
on a CPU, the loop would add two more)."""

import jax
import numpy as np
import optax
import tensorflow_datasets as tfds
from zoo_test import check_run, mock_run

from jaxcompress import data, models


def test_resnet18_trains_on_imagenet_shape(tmp_path):
  config, (state, results) = mock_run(
      tmp_path, 'imagenet2012', 'resnet18', steps=2, in_memory=False,
      batch_size=2, eval_batch_size=2)
  check_run(state, results, config, 11_689_512)


def test_resnet50_takes_an_optax_step_on_imagenet_batches(tmp_path):
  with tfds.testing.mock_data(num_examples=4):
    batch = next(iter(data.stream('train', 2, name='imagenet2012',
                                  data_dir=str(tmp_path))))
  assert batch['image'].shape == (2, 224, 224, 3)
  model = models.get_model('resnet50')
  variables = jax.jit(model.init)(jax.random.key(0), batch['image'][:1])
  tx = optax.sgd(0.1, momentum=0.9)

  @jax.jit
  def step(params, stats, opt_state):
    def loss_fn(p):
      logits, new = model.apply({'params': p, 'batch_stats': stats},
                                batch['image'], train=True,
                                mutable=['batch_stats'])
      return optax.softmax_cross_entropy_with_integer_labels(
          logits, batch['label']).mean(), new['batch_stats']
    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state, loss

  params, stats = variables['params'], variables['batch_stats']
  new_params, new_stats, _, loss = step(params, stats, tx.init(params))
  assert np.isfinite(float(loss))
  moved = jax.tree.map(lambda a, b: bool(np.any(a != b)), params, new_params)
  assert all(jax.tree.leaves(moved))  # every parameter got a gradient
  assert not np.array_equal(new_stats['stem_bn']['mean'],
                            stats['stem_bn']['mean'])
