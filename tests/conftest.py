"""Shared fixtures: a tiny real-MNIST config that trains in seconds."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'experiments'))
sys.path.insert(0, REPO)


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


@pytest.fixture
def tiny():
  return tiny_config
