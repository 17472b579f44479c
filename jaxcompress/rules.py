"""Choosing parameters by path: `(regex, setting)` rules, first match wins.

Every compression method in jaxcompress decides which parameters it touches
with the same engine. A parameter's path is its '/'-joined key path in the
pytree (``'params/fc1/kernel'`` for Linen variables, ``'fc1/kernel'`` for a
bare params dict). Rules are tried in order with ``re.search``; the first that
matches gives the setting, ``None`` means "leave this parameter alone", and a
parameter no rule matches gets ``default``. A rule that matches no parameter
at all is almost always a typo, so it raises.

Example:

  >>> params = {'fc1': {'kernel': 1, 'bias': 2}, 'fc2': {'kernel': 3}}
  >>> apply_rules(params, [('fc2', 0.5), ('kernel', 0.9)])
  {'fc1': {'bias': None, 'kernel': 0.9}, 'fc2': {'kernel': 0.5}}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jax

Rules = Sequence[tuple[str, Any]]


def path_str(path: tuple[Any, ...]) -> str:
  """'/'-joined name of a jax key path (dict keys, attributes, indices)."""
  parts = []
  for key in path:
    for attr in ('key', 'name', 'idx'):
      if hasattr(key, attr):
        parts.append(str(getattr(key, attr)))
        break
    else:
      parts.append(str(key))
  return '/'.join(parts)


def named_leaves(tree: Any) -> list[tuple[str, Any]]:
  """(path, leaf) pairs of a pytree, in tree order."""
  flat, _ = jax.tree_util.tree_flatten_with_path(tree)
  return [(path_str(p), leaf) for p, leaf in flat]


def apply_rules(tree: Any, rules: Rules, default: Any = None) -> Any:
  """A pytree of settings shaped like `tree`, one per leaf, chosen by `rules`.

  Args:
    tree: any pytree (Linen variables, NNX state, nested dicts).
    rules: `(regex, setting)` pairs; the first regex found in a leaf's path
      gives its setting.
    default: the setting of leaves that no rule matches.

  Returns:
    A pytree with the structure of `tree` whose leaves are settings.

  Raises:
    ValueError: if a rule matches no leaf, or a regex does not compile.
  """
  compiled = []
  for pattern, setting in rules:
    try:
      compiled.append((re.compile(pattern), setting))
    except re.error as e:
      raise ValueError(f'Rule {pattern!r} is not a valid regex: {e}') from e
  used = [False] * len(compiled)

  def choose(path, _):
    name = path_str(path)
    for i, (regex, setting) in enumerate(compiled):
      if regex.search(name):
        used[i] = True
        return setting
    return default

  # Settings may be None, which jax treats as an empty subtree; wrap them so
  # the result keeps one leaf per parameter, then unwrap.
  boxed = jax.tree_util.tree_map_with_path(lambda p, x: _Box(choose(p, x)), tree)
  unused = [pattern for (pattern, _), u in zip(rules, used) if not u]
  if unused:
    names = [n for n, _ in named_leaves(tree)]
    raise ValueError(
        f'Rule(s) {unused} match no parameter. Parameter paths are: {names}')
  return jax.tree.map(lambda b: b.value, boxed,
                      is_leaf=lambda x: isinstance(x, _Box))


class _Box:
  __slots__ = ('value',)

  def __init__(self, value):
    self.value = value


jax.tree_util.register_pytree_node(
    _Box, lambda b: ((), b.value), lambda value, _: _Box(value))
