import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from conftest import assert_trained, tiny_config

from jaxcompress import distill, models, pipelines
from jaxcompress.plugins import parse_config


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
  c = tiny_config()
  c.distillation = ml_collections.ConfigDict({'temperature': 0.0,
                                              'alpha': 0.5})
  with pytest.raises(ValueError, match='temperature must be > 0'):
    parse_config(c)
  c.distillation = ml_collections.ConfigDict({'temperature': 2.0,
                                              'alpha': 1.5})
  with pytest.raises(ValueError, match=r'alpha must lie in \[0.0, 1.0\]'):
    parse_config(c)


def test_student_distils_and_teacher_logits_give_its_error(tmp_path):
  c = tiny_config(model='mlp_64', pipeline='teacher_student')
  c.teacher = ml_collections.ConfigDict({'model': 'mlp_128'})
  c.distillation = ml_collections.ConfigDict(
      {'teacher_workdir': '', 'temperature': 4.0, 'alpha': 0.9})
  _, r = pipelines.run(c, str(tmp_path))
  assert r['model'] == 'mlp_64' and r['teacher_model'] == 'mlp_128'
  assert r['history'][-1]['loss'] < r['history'][0]['loss']
  assert_trained(r['test_error'], 0.24, model='mlp_64')
  # The teacher's stored logits reproduce its own test error.
  from jaxcompress import train
  model, variables, _ = train.load_run(str(tmp_path / 'teacher'))
  ds = train.load_data(c)
  logits = distill.teacher_logits(model, variables, ds.test_images)
  errors = int(np.sum(logits.argmax(-1) != ds.test_labels))
  assert errors == r['teacher_test_errors']


def test_hint_losses_by_hand():
  h = jnp.array([[1.0, 0.0], [0.0, 2.0]])
  # h h^T = diag(1, 4); rows normalized -> identity.
  np.testing.assert_allclose(distill.similarity_matrix(h), np.eye(2),
                             atol=1e-6)
  g = jnp.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])   # rows parallel
  # G(g) = [[2, 2], [2, 2]] / sqrt(8) per row = 1/sqrt(2) everywhere.
  expected = ((1 - 2**-0.5) ** 2 * 2 + (2**-0.5) ** 2 * 2) / 4
  assert float(distill.hint_loss(h, g, 'similarity')) == pytest.approx(
      expected, rel=1e-5)
  # Widths may differ; equal features give zero.
  assert float(distill.hint_loss(g, g, 'similarity')) == pytest.approx(
      0.0, abs=1e-7)
  assert float(distill.hint_loss(h, 2 * h, 'mse')) == pytest.approx(
      (1 + 4) / 4, rel=1e-6)


def test_hint_distillation_adds_the_named_layers_term(tmp_path):
  from jaxcompress import train
  c = tiny_config(model='mlp_128', num_train_steps=10)
  train.train_and_evaluate(c, str(tmp_path / 'teacher'))
  teacher, t_vars, _ = train.load_run(str(tmp_path / 'teacher'))
  c_student = tiny_config(model='mlp_64')
  c_student.distillation = ml_collections.ConfigDict({
      'teacher_workdir': str(tmp_path / 'teacher'), 'temperature': 4.0,
      'alpha': 0.5, 'hints': (('fc1', 'fc1'),), 'hint_weight': 3.0})
  ds = train.load_data(c_student)
  model = models.get_model('mlp_64')
  variables = model.init(jax.random.key(0), ds.train_images[:1])
  wrap = distill.hint_apply(teacher, t_vars, (('fc1', 'fc1'),), 3.0,
                            'similarity')
  x = ds.train_images[:16]
  _, new_vars = wrap(model.apply)(variables, x, train=True,
                                  mutable=['batch_stats'])
  # By hand: the outputs of both first dense layers.
  flat = x.reshape(16, -1)
  s = flat @ variables['params']['fc1']['kernel'] + variables['params'][
      'fc1']['bias']
  t = flat @ t_vars['params']['fc1']['kernel'] + t_vars['params']['fc1'][
      'bias']
  expected = 3.0 * float(distill.hint_loss(s, t, 'similarity'))
  assert float(new_vars['losses']['hint']) == pytest.approx(expected,
                                                            rel=1e-4)
  # Evaluation (no `mutable`) is the plain model, and so are a train-mode
  # call without `mutable` and an eval-mode call with one.
  np.testing.assert_allclose(wrap(model.apply)(variables, x),
                             model.apply(variables, x), rtol=1e-6)
  np.testing.assert_allclose(wrap(model.apply)(variables, x, train=True),
                             model.apply(variables, x), rtol=1e-6)
  _, eval_vars = wrap(model.apply)(variables, x, train=False,
                                   mutable=['batch_stats'])
  assert 'losses' not in eval_vars
  # The train loop adds the term and trains.
  _, r = train.train_and_evaluate(c_student, None)
  assert r['history'][-1]['loss'] < r['history'][0]['loss']


def test_unknown_hint_layer_is_named_before_compiling(tmp_path):
  from jaxcompress import train
  train.train_and_evaluate(tiny_config(model='mlp_128', num_train_steps=10),
                           str(tmp_path))
  c = tiny_config(model='mlp_64', num_train_steps=10)
  c.distillation = ml_collections.ConfigDict({
      'teacher_workdir': str(tmp_path), 'temperature': 4.0, 'alpha': 0.5,
      'hints': (('fc1', 'fc9'),)})
  before = train.TRACE_COUNTS['train_step']
  with pytest.raises(ValueError, match="the teacher has no layer 'fc9'"):
    train.train_and_evaluate(c, None)
  assert train.TRACE_COUNTS['train_step'] == before
