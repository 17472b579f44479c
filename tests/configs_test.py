"""Every experiment config parses and its settings validate, without
running: a misspelt field or a bad value in a config no test trains would
otherwise surface only when someone runs it."""

import importlib
import os

import pytest
from conftest import REPO

from jaxcompress.plugins import registry
from jaxcompress.train import loop

CONFIG_DIR = os.path.join(REPO, 'experiments', 'configs')
# Shared pieces (no get_config) and compare.py's suite config, which
# experiments/compare.py reads, not main.py.
NOT_MAIN = ('auto_common', 'prune_common', 'quant_common', 'compare')
NAMES = sorted(f[:-3] for f in os.listdir(CONFIG_DIR)
               if f.endswith('.py') and f[:-3] not in NOT_MAIN)


@pytest.mark.parametrize('name', NAMES)
def test_config_parses_and_validates(name):
  module = importlib.import_module(f'configs.{name}')
  parsed = registry.parse_config(module.get_config())
  loop.check_settings(parsed.settings)
  # benchmarks/auto_targets.py trains the runs these name from auto_common;
  # a BASELINE is the model this config compresses.
  from configs import auto_common
  teacher = getattr(module, 'TEACHER', None)
  if teacher:
    assert teacher in auto_common.BASELINES, teacher
  base = getattr(module, 'BASELINE', None)
  if base:
    assert auto_common.baseline(base).model == parsed.settings.model, base


def test_there_are_configs():
  assert len(NAMES) > 40 and 'lenet_300_100' in NAMES
