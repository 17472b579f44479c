"""Movement pruning: keep the weights that move away from zero.

Sanh, Wolf & Rush 2020, "Movement pruning: adaptive sparsity by
fine-tuning". Magnitude pruning keeps the weights that are large; movement
pruning keeps the weights that training is pushing away from zero. The
score of a weight accumulates, over every step t of training,

  S = - sum_t  dL/dW_t * W_t,

the first-order change of the loss that W's growth in magnitude has bought
(``-g w > 0`` when the gradient step moves ``w`` away from zero). Masks keep
the top scores (the paper's "hard" movement pruning, with the same cubic
schedule as gradual magnitude pruning), which `jaxcompress.pruning.prune`
does with this score in place of `magnitude`.

Example:

  >>> import jax.numpy as jnp
  >>> s = movement()
  >>> state = s.init({'w': jnp.array([1., -1.])})
  >>> state = s.update(state, {'w': jnp.array([1., -1.])},
  ...                  {'w': jnp.array([-0.5, -0.5])})
  >>> s.compute(state, None, None, None)['w']
  Array([ 0.5, -0.5], dtype=float32)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxcompress.pruning.scores import Score


def movement() -> Score:
  """The movement score ``-sum_t g_t w_t``, accumulated at every step."""

  def init(params):
    return jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), jnp.float32),
                        params)

  def update(state, params, grads):
    return jax.tree.map(lambda s, w, g: s - (g * w).astype(jnp.float32),
                        state, params, grads)

  def compute(state, params, new_params, key):
    del params, new_params, key
    return state

  return Score(init=init, update=update, compute=compute)
