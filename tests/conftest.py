"""Shared fixtures: a tiny real-MNIST config that trains in seconds, and the
error of the same run untrained (the reference end-to-end tests beat)."""

import atexit
import functools
import os
import shutil
import sys
import tempfile

import jax
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'experiments'))
sys.path.insert(0, REPO)

# One XLA compilation cache for the test session (JAX's persistent cache):
# a program compiled by one test, or one process, is loaded by the next
# instead of compiled again. The xdist workers and the processes the tests
# start inherit the folder through the environment; the process that made it
# removes it at exit. Entries are keyed by the program, its compile options
# and the jax/XLA version; an entry that cannot be read is compiled again
# (jax warns). Set JAX_COMPILATION_CACHE_DIR to keep a cache between runs.
# Every program is kept, not only those that took a second to compile (jax's
# default): a run compiles some eighty small ones.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(
      prefix='jaxcompress-tests-xla-cache-')
  atexit.register(shutil.rmtree, os.environ['JAX_COMPILATION_CACHE_DIR'],
                  ignore_errors=True)
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
jax.config.update('jax_compilation_cache_dir',
                  os.environ['JAX_COMPILATION_CACHE_DIR'])
jax.config.update('jax_persistent_cache_min_compile_time_secs',
                  float(os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS']))

# Ten balanced classes: a model that has learnt nothing errs on ~90%.
CHANCE_ERROR = 0.9


def tiny_config(**overrides):
  """LeNet-300-100 on the first 2,048 training and 1,000 test images."""
  from configs import default
  c = default.get_config()
  c.train_subset = 2048
  c.test_subset = 1000
  c.batch_size = 64
  c.num_train_steps = 40
  c.steps_per_call = 10
  c.learning_rate = 0.05
  c.measure_latency = False
  for k, v in overrides.items():
    c[k] = v
  return c


@functools.lru_cache(maxsize=None)
def untrained_error(model='lenet_300_100', test_subset=1000):
  """Test error of the same seed's model after 10 steps at learning rate 0
  (its initialisation), through the same `train_and_evaluate`."""
  from jaxcompress import train
  _, r = train.train_and_evaluate(tiny_config(
      model=model, test_subset=test_subset, learning_rate=0.0,
      num_train_steps=10), None)
  return r['test_error']


def assert_trained(error, bound, model='lenet_300_100', test_subset=1000):
  """`error` is one only training reaches: below `bound`, which lies well
  below chance, and far below the same seed's untrained model."""
  reference = untrained_error(model, test_subset)
  print(f'test error {error:.3f} (bound {bound}), untrained {reference:.3f}')
  assert reference > CHANCE_ERROR - 0.1, reference   # it learnt nothing
  assert bound <= CHANCE_ERROR - 0.4
  assert error < bound, (error, bound, reference)
  assert error < reference - 0.4, (error, reference)


@pytest.fixture
def tiny():
  return tiny_config
