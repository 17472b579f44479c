"""The README's code example runs as written."""

import os
import re

import jax
import numpy as np
import optax
from conftest import REPO


def test_readme_example_runs_and_masks():
  text = open(os.path.join(REPO, 'README.md')).read()
  code = re.search(r'```python\n(.*?)```', text, re.S).group(1)
  scope = {}
  exec(code, scope)  # noqa: S102
  params, tx, opt_state = scope['params'], scope['tx'], scope['opt_state']
  grads = jax.tree.map(np.ones_like, params)

  def step(_, carry):
    p, s = carry
    updates, s = tx.update(grads, s, p)
    return optax.apply_updates(p, updates), s

  run = jax.jit(lambda p, s, n: jax.lax.fori_loop(0, n, step, (p, s)))
  params, opt_state = run(params, opt_state, 1000)
  assert np.count_nonzero(params['fc1']['kernel']) == 784 * 300
  params, opt_state = run(params, opt_state, 101)  # pruning began at 1000
  kernel = np.asarray(params['fc1']['kernel'])
  assert 0 < np.mean(kernel == 0) < 0.1
  params, opt_state = run(params, opt_state, 50)   # adamw momentum: still 0
  assert np.all(np.asarray(params['fc1']['kernel'])[kernel == 0] == 0)
  # The rule names fc3's kernel: its biases (and every other bias) stay
  # dense, while the kernel reaches its own 50%.
  params, opt_state = run(params, opt_state, 7000)   # schedule ends at 8000
  for layer in ('fc1', 'fc2', 'fc3'):
    assert np.count_nonzero(params[layer]['bias']) == params[layer][
        'bias'].size, layer
  assert np.mean(np.asarray(params['fc3']['kernel']) == 0) == 0.5
