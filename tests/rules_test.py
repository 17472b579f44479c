import jax.numpy as jnp
import pytest

from jaxcompress import rules

PARAMS = {'params': {'fc1': {'kernel': jnp.ones((3, 2)), 'bias': jnp.ones(2)},
                     'bn1': {'scale': jnp.ones(2)},
                     'fc2': {'kernel': jnp.ones((2, 1))}}}


def test_first_match_wins_and_default():
  s = rules.apply_rules(PARAMS, [('fc2/kernel', 0.5), ('kernel', 0.9)],
                        default='dense')
  assert s['params']['fc1']['kernel'] == 0.9
  assert s['params']['fc2']['kernel'] == 0.5
  assert s['params']['fc1']['bias'] == 'dense'
  assert s['params']['bn1']['scale'] == 'dense'


def test_none_setting_keeps_one_entry_per_leaf():
  s = rules.apply_rules(PARAMS, [('bias', None), ('.*', 1)])
  assert s['params']['fc1']['bias'] is None
  assert s['params']['fc1']['kernel'] == 1


def test_unused_rule_raises_with_paths():
  with pytest.raises(ValueError,
                     match=r"conv9.*match no parameter.*params/fc1/kernel"):
    rules.apply_rules(PARAMS, [('conv9', 0.5)])


def test_bad_regex_raises():
  with pytest.raises(ValueError, match='not a valid regex'):
    rules.apply_rules(PARAMS, [('fc(', 0.5)])


def test_named_leaves_paths():
  names = [n for n, _ in rules.named_leaves(PARAMS)]
  assert names == ['params/bn1/scale', 'params/fc1/bias', 'params/fc1/kernel',
                   'params/fc2/kernel']
