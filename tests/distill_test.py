import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from conftest import tiny_config

from jaxcompress import distill


def test_loss_matches_hand_computation():
  s = jnp.array([[1.0, 0.0]])
  t = jnp.array([[0.0, 1.0]])
  y = jnp.array([0])
  T, alpha = 2.0, 0.7
  p = np.exp([0.0, 0.5]) / np.exp([0.0, 0.5]).sum()   # teacher at T
  q = np.exp([0.5, 0.0]) / np.exp([0.5, 0.0]).sum()   # student at T
  kl = float(np.sum(p * np.log(p / q)))
  ce = float(-np.log(np.exp(1.0) / (np.exp(1.0) + 1.0)))
  expected = alpha * T**2 * kl + (1 - alpha) * ce
  got = jax.jit(distill.distillation_loss, static_argnums=(3, 4))(
      s, t, y, T, alpha)
  assert float(got) == pytest.approx(expected, rel=1e-6)


def test_alpha_zero_is_cross_entropy_and_teacher_gets_no_gradient():
  s = jax.random.normal(jax.random.key(0), (4, 10))
  t = jax.random.normal(jax.random.key(1), (4, 10))
  y = jnp.arange(4)
  ce = optax.softmax_cross_entropy_with_integer_labels(s, y).mean()
  assert float(distill.distillation_loss(s, t, y, 4.0, 0.0)) == pytest.approx(
      float(ce), rel=1e-6)
  g = jax.grad(lambda t: distill.distillation_loss(s, t, y, 4.0, 1.0))(t)
  assert float(jnp.abs(g).max()) == 0.0
  # Identical distributions: the soft term vanishes.
  assert float(distill.distillation_loss(t, t, y, 4.0, 1.0)) == pytest.approx(
      0.0, abs=1e-6)


def test_bad_temperature_and_alpha():
  with pytest.raises(ValueError, match='temperature must be > 0'):
    distill.check_config(ml_collections.ConfigDict({'temperature': 0.0,
                                                    'alpha': 0.5}))
  with pytest.raises(ValueError, match=r'alpha must be in \[0, 1\]'):
    distill.check_config(ml_collections.ConfigDict({'temperature': 2.0,
                                                    'alpha': 1.5}))


def test_teacher_then_distilled_student_end_to_end(tmp_path):
  c = tiny_config(model='mlp_64', entry='jaxcompress.distill:run')
  c.teacher = ml_collections.ConfigDict({'model': 'mlp_128'})
  c.distillation = ml_collections.ConfigDict(
      {'teacher_workdir': '', 'temperature': 4.0, 'alpha': 0.9})
  _, r = distill.run(c, str(tmp_path))
  assert r['model'] == 'mlp_64' and r['teacher_model'] == 'mlp_128'
  assert r['history'][-1]['loss'] < r['history'][0]['loss']
  assert r['test_error'] < 0.3
  # The teacher's stored logits reproduce its own test error.
  from jaxcompress import train
  model, variables, _ = train.load_run(str(tmp_path / 'teacher'))
  ds = train.load_data(c)
  logits = distill.teacher_logits(model, variables, ds.test_images)
  errors = int(np.sum(logits.argmax(-1) != ds.test_labels))
  assert errors == r['teacher_test_errors']
