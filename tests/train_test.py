"""End-to-end tests of the real train loop on a slice of real MNIST."""

import dataclasses
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from conftest import REPO, assert_trained, tiny_config

from jaxcompress import data, models, optim, train
from jaxcompress.train import checkpoints as store


def test_mnist_through_tfds_is_normalized():
  ds = data.load()
  assert ds.train_images.shape == (60000, 28, 28, 1)
  assert ds.test_images.shape == (10000, 28, 28, 1)
  assert ds.train_images.dtype == np.float32
  # Normalized with the training set's own mean and std.
  assert abs(ds.train_images.mean()) < 1e-3
  assert abs(ds.train_images.std() - 1.0) < 1e-3
  assert np.bincount(ds.test_labels).tolist()[:3] == [980, 1135, 1032]


def test_stream_yields_normalized_batches():
  batch = next(iter(data.stream('train', 32, seed=0)))
  assert batch['image'].shape == (32, 28, 28, 1)
  assert batch['label'].dtype == np.int32
  assert batch['image'].min() == pytest.approx(-0.1307 / 0.3081, abs=1e-5)


def test_train_and_evaluate_learns_and_writes_results(tmp_path):
  before = train.TRACE_COUNTS['train_step']
  # 1,000 test images in batches of 384: the last batch is padded.
  config = tiny_config(eval_batch_size=384)
  state, results = train.train_and_evaluate(config, str(tmp_path))
  # Four compiled calls of ten steps, traced once.
  assert train.TRACE_COUNTS['train_step'] - before == 1
  assert int(state.step) == 40
  losses = [h['loss'] for h in results['history']]
  assert losses[-1] < 0.5 * losses[0]
  assert_trained(results['test_error'], 0.2)  # 40 steps on 2k images
  # Errors counted by hand from the final model's logits.
  ds = train.load_data(config)
  logits = models.get_model('lenet_300_100').apply(state.variables(),
                                                   ds.test_images)
  errors = int(np.sum(np.argmax(logits, -1) != ds.test_labels))
  assert results['test_errors'] == errors
  assert results['test_error'] == pytest.approx(errors / 1000)
  assert results['num_params'] == 266_610
  on_disk = json.load(open(tmp_path / 'results.json'))
  assert on_disk['test_error'] == results['test_error']
  assert on_disk['config']['model'] == 'lenet_300_100'
  assert on_disk['model_file_bytes'] == os.path.getsize(
      tmp_path / 'model.msgpack')
  # TensorBoard reads back every logged step's loss and the final error.
  from tensorboard.backend.event_processing import event_accumulator
  from tensorboard.util import tensor_util
  tb = event_accumulator.EventAccumulator(str(tmp_path))
  tb.Reload()
  logged = lambda tag: [(e.step, float(tensor_util.make_ndarray(
      e.tensor_proto))) for e in tb.Tensors(tag)]
  assert logged('loss') == [(h['step'], pytest.approx(h['loss']))
                            for h in results['history']]
  assert logged('final_test_error') == [
      (40, pytest.approx(results['test_error']))]


def test_killed_run_resumes_to_same_result(tmp_path, monkeypatch):
  config = tiny_config(checkpoint_every_steps=10)
  _, uninterrupted = train.train_and_evaluate(config, str(tmp_path / 'a'))

  real_save_args = store.save_args

  def crash_at_30(state):
    if int(state.step) == 30:
      raise KeyboardInterrupt('simulated kill after step 30')
    return real_save_args(state)

  monkeypatch.setattr(store, 'save_args', crash_at_30)
  with pytest.raises(KeyboardInterrupt):
    train.train_and_evaluate(config, str(tmp_path / 'b'))
  monkeypatch.setattr(store, 'save_args', real_save_args)
  state, resumed = train.train_and_evaluate(config, str(tmp_path / 'b'))
  # Only the steps after the last checkpoint (20) ran again.
  assert [h['step'] for h in resumed['history']] == [30, 40]
  assert resumed['test_error'] == uninterrupted['test_error']
  assert resumed['test_loss'] == pytest.approx(uninterrupted['test_loss'],
                                               rel=1e-6)


def test_checkpoint_of_another_model_is_refused(tmp_path):
  train.train_and_evaluate(tiny_config(num_train_steps=10), str(tmp_path))
  before = train.TRACE_COUNTS['train_step']
  with pytest.raises(ValueError, match="another configuration.*model: "
                     "'lenet_300_100' -> 'mlp_128'"):
    train.train_and_evaluate(tiny_config(model='mlp_128', num_train_steps=10),
                             str(tmp_path))
  assert train.TRACE_COUNTS['train_step'] == before  # refused before compiling
  assert os.path.exists(tmp_path / 'results.json')   # earlier output kept


def test_init_from_starts_at_a_finished_runs_variables(tmp_path):
  _, first = train.train_and_evaluate(tiny_config(), str(tmp_path / 'a'))
  # Zero learning rate: the run keeps the loaded variables, so it evaluates
  # exactly as the run it started from.
  state, again = train.train_and_evaluate(
      tiny_config(init_from=str(tmp_path / 'a'), learning_rate=0.0,
                  num_train_steps=10), None)
  assert again['test_errors'] == first['test_errors']
  assert again['test_loss'] == pytest.approx(first['test_loss'], rel=1e-6)


def test_init_from_another_model_is_refused(tmp_path):
  train.train_and_evaluate(tiny_config(num_train_steps=10), str(tmp_path))
  before = train.TRACE_COUNTS['train_step']
  with pytest.raises(ValueError, match=r'another model: params/fc1/bias has '
                     r'shape \(300,\), the configured model \(128,\)'):
    train.train_and_evaluate(tiny_config(model='mlp_128',
                                         init_from=str(tmp_path)), None)
  with pytest.raises(ValueError, match='no such file'):
    train.train_and_evaluate(tiny_config(init_from=str(tmp_path / 'x')), None)
  assert train.TRACE_COUNTS['train_step'] == before


@pytest.mark.parametrize('field,value,message', [
    ('model', 'lenet7', "Unknown model 'lenet7'"),
    ('dataset', 'imagenet', "Unknown dataset 'imagenet'"),
    ('optimizer', 'adagrad9', "Unknown optimizer 'adagrad9'"),
    ('schedule', 'exp', "Unknown schedule 'exp'"),
    ('num_train_steps', 45, 'not a multiple of steps_per_call'),
    ('steps_per_call', 64, 'exceeds one epoch'),
])
def test_bad_config_raises_before_compiling(field, value, message):
  before = train.TRACE_COUNTS['train_step']
  with pytest.raises(ValueError, match=message):
    train.train_and_evaluate(tiny_config(**{field: value}), None)
  assert train.TRACE_COUNTS['train_step'] == before


def test_streaming_path_matches_in_memory_path_on_the_same_data():
  # Full batches of the 256 images: each step of either path sees the same
  # images (in its own order), so both take the same steps, up to the order
  # of float sums.
  config = dict(train_subset=256, batch_size=256, num_train_steps=8,
                steps_per_call=1)
  _, scanned = train.train_and_evaluate(tiny_config(**config), None)
  _, streamed = train.train_and_evaluate(
      tiny_config(in_memory=False, **config), None)
  losses = [h['loss'] for h in scanned['history']]
  assert [h['step'] for h in streamed['history']] == list(range(1, 9))
  np.testing.assert_allclose([h['loss'] for h in streamed['history']],
                             losses, rtol=1e-4)
  assert losses[-1] < 0.5 * losses[0]
  assert streamed['test_error'] == pytest.approx(scanned['test_error'],
                                                 abs=2e-3)


def test_learning_rate_schedules_hand_computed():
  c = tiny_config(learning_rate=1.0)
  c.schedule = 'step'
  s = optim.make_schedule(c, 100)
  assert float(s(0)) == 1.0 and float(s(60)) == pytest.approx(0.1)
  assert float(s(80)) == pytest.approx(0.01)
  c.schedule = 'cosine'
  assert float(optim.make_schedule(c, 100)(100)) == pytest.approx(0.0)
  c.schedule, c.warmup_steps = 'warmup_cosine', 10
  s = optim.make_schedule(c, 100)
  assert float(s(0)) == 0.0 and float(s(10)) == pytest.approx(1.0)
  c.schedule = 'polynomial'
  assert float(optim.make_schedule(c, 100)(50)) == pytest.approx(0.5)


_SHARDED = """
import json, sys
sys.path[:0] = [{repo!r}, {repo!r} + '/tests', {repo!r} + '/experiments']
import jax
from conftest import tiny_config
from jaxcompress import train
assert jax.device_count() == 4, jax.devices()
{body}
"""


def _run_on_4_cpus(body):
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4',
             JAX_PLATFORMS='cpu')
  out = subprocess.run([sys.executable, '-c', _SHARDED.format(repo=REPO,
                                                              body=body)],
                       env=env, capture_output=True, text=True, timeout=600)
  return out


def test_same_losses_on_one_and_four_devices():
  assert jax.device_count() == 1
  _, one = train.train_and_evaluate(tiny_config(), None)
  out = _run_on_4_cpus(
      "_, r = train.train_and_evaluate(tiny_config(), None)\n"
      "print('RESULT', json.dumps([h['loss'] for h in r['history']]"
      " + [r['test_error']]))")
  assert out.returncode == 0, out.stderr[-3000:]
  line = [s for s in out.stdout.splitlines() if s.startswith('RESULT')][0]
  four = json.loads(line.split(' ', 1)[1])
  np.testing.assert_allclose(four[:-1], [h['loss'] for h in one['history']],
                             rtol=1e-4)
  assert four[-1] == pytest.approx(one['test_error'], abs=2e-3)


def test_batch_not_divisible_by_devices_raises():
  out = _run_on_4_cpus(
      "try:\n"
      "  train.train_and_evaluate(tiny_config(batch_size=66), None)\n"
      "except ValueError as e:\n"
      "  print('ERROR', e)\n"
      "print('TRACES', train.TRACE_COUNTS['train_step'])")
  assert out.returncode == 0, out.stderr[-3000:]
  assert 'ERROR batch_size 66 is not divisible by the 4 devices' in out.stdout
  assert 'TRACES 0' in out.stdout


def test_scanned_epochs_only_when_the_data_fits():
  from jaxcompress.plugins import registry
  from jaxcompress.train import feed
  s = registry.parse_config(tiny_config()).settings
  need = data.info('mnist').decoded_bytes    # 70,000 x (28*28*4 + 4) bytes
  assert need == 70_000 * (28 * 28 * 4 + 4)
  fits, why = feed.train_path(s, budget_bytes=need)
  assert fits and 'fits' in why
  fits, why = feed.train_path(s, budget_bytes=need - 1)
  assert not fits and 'stream through tf.data' in why
  s = dataclasses.replace(s, in_memory=False)
  assert feed.train_path(s, budget_bytes=10 * need)[0] is False


def test_each_process_streams_a_disjoint_share_of_the_split():
  def epoch(i, n):
    return list(data.stream('train', 100, subset=1000, repeat=False,
                            training=False, process_index=i,
                            process_count=n))
  whole = epoch(0, 1)
  rows = lambda batches: [b.tobytes() for x in batches
                          for b in x['image']]
  halves = [rows(epoch(i, 2)) for i in (0, 1)]
  assert [len(h) for h in halves] == [500, 500]
  assert not set(halves[0]) & set(halves[1])
  assert set(halves[0]) | set(halves[1]) == set(rows(whole))


def test_streamed_test_set_counts_every_image_once_as_in_memory():
  # 999 test images in batches of 400: the last batch is padded. Errors,
  # loss and logits (in the split's order, one process) equal the decoded
  # arrays' evaluation.
  from jaxcompress.plugins import registry
  from jaxcompress.train import feed, step
  s = registry.parse_config(tiny_config(test_subset=999,
                                        eval_batch_size=400)).settings
  memory = feed.load_inputs(s)
  streamed = feed.load_inputs(dataclasses.replace(s, in_memory=False))
  model = models.get_model('lenet_300_100')
  v = model.init(jax.random.key(1), memory.test_images[:1])
  sharding = jax.sharding.NamedSharding(step.data_mesh(),
                                        jax.sharding.PartitionSpec('data'))
  ev_m, logits_m = feed.evaluation(s, memory, model, sharding)
  ev_s, logits_s = feed.evaluation(
      dataclasses.replace(s, in_memory=False), streamed, model, sharding)
  a, b = ev_m(v), ev_s(v)
  assert a['errors'] == b['errors'] and 0 < a['errors'] < 999
  assert b['error'] == b['errors'] / 999
  assert b['loss'] == pytest.approx(a['loss'], rel=1e-6)
  (la, ya), (lb, yb) = logits_m(model.apply, v), logits_s(model.apply, v)
  assert lb.shape == (999, 10)
  np.testing.assert_array_equal(ya, yb)
  np.testing.assert_allclose(la, lb, atol=1e-5)


def test_the_stream_path_decodes_only_a_sample_of_each_split():
  from jaxcompress.plugins import registry
  from jaxcompress.train import feed
  s = registry.parse_config(tiny_config(
      train_subset=0, test_subset=0, validation_examples=100,
      sample_examples=300, in_memory=False)).settings
  x = feed.load_inputs(s)
  assert (x.num_train, x.num_test) == (59_900, 10_000)
  assert x.train_images.shape == (300, 28, 28, 1)
  assert x.test_images.shape == (300, 28, 28, 1)
  full = feed.load_data(dataclasses.replace(s, in_memory=True))
  np.testing.assert_allclose(x.train_images, full.train_images[:300],
                             atol=1e-6)
  np.testing.assert_array_equal(x.test_labels, full.test_labels[:300])
