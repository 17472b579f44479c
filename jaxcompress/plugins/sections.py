"""Config sections parsed once into frozen dataclasses.

Every section of an experiment config (the top level, `pruning`,
`quantization`, ...) has a frozen dataclass whose fields are the section's
keys, with their defaults and types. `parse(cls, section, where)` turns a
ConfigDict (or dict, or None) into that dataclass:

  * a key the dataclass does not have is an error that names it and, when a
    field is spelled alike, suggests it (``pruning.sparsty``: did you mean
    ``pruning.sparsity``?);
  * every value is checked against the field's type (``int``, ``float``,
    ``bool``, ``str``, tuples, dicts, ``X | None``); lists become tuples so
    the result hashes and compares by value;
  * ranges are the dataclass's own business, in its `__post_init__`, with the
    `check_*` helpers below, so a bad value is named before anything runs.

Nothing below this layer reads a ConfigDict: the library gets the parsed
values as plain arguments.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any


def to_plain(value: Any) -> Any:
  """ConfigDicts and mappings to dicts, lists to tuples, recursively."""
  if hasattr(value, 'to_dict'):
    value = value.to_dict()
  if isinstance(value, Mapping):
    return {k: to_plain(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return tuple(to_plain(v) for v in value)
  return value


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
  return typing.get_type_hints(cls)


def _type_name(t) -> str:
  return getattr(t, '__name__', None) or str(t).replace('typing.', '')


def _coerce(value: Any, t: Any, where: str) -> Any:
  """`value` checked against (and lightly converted to) the type `t`."""
  if t is Any:
    return value
  origin = typing.get_origin(t)
  if origin in (typing.Union, types.UnionType):
    options = typing.get_args(t)
    if value is None and type(None) in options:
      return None
    errors = []
    for option in options:
      if option is type(None):
        continue
      try:
        return _coerce(value, option, where)
      except ValueError as e:
        errors.append(str(e))
    raise ValueError(errors[0] if errors else f'{where} must not be None')
  if t is bool:
    if isinstance(value, bool):
      return value
    raise ValueError(f'{where} must be True or False, got {value!r}')
  if t is int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise ValueError(f'{where} must be an integer, got {value!r}')
    if value != int(value):
      raise ValueError(f'{where} must be an integer, got {value!r}')
    return int(value)
  if t is float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise ValueError(f'{where} must be a number, got {value!r}')
    return float(value)
  if t is str:
    if not isinstance(value, str):
      raise ValueError(f'{where} must be a string, got {value!r}')
    return value
  if origin is tuple or t is tuple:
    if not isinstance(value, (list, tuple)):
      raise ValueError(f'{where} must be a tuple, got {value!r}')
    args = typing.get_args(t)
    if len(args) == 2 and args[1] is Ellipsis:
      return tuple(_coerce(v, args[0], f'{where}[{i}]')
                   for i, v in enumerate(value))
    if args:
      if len(args) != len(value):
        raise ValueError(f'{where} must have {len(args)} entries, got '
                         f'{value!r}')
      return tuple(_coerce(v, a, f'{where}[{i}]')
                   for i, (v, a) in enumerate(zip(value, args)))
    return to_plain(value)
  if origin is dict or t is dict:
    if value is None:
      return {}
    if not isinstance(value, Mapping) and not hasattr(value, 'to_dict'):
      raise ValueError(f'{where} must be a dict, got {value!r}')
    return to_plain(value)
  if dataclasses.is_dataclass(t):
    if isinstance(value, t):
      return value
    return parse(t, value, where)
  raise TypeError(f'{where}: unsupported field type {_type_name(t)}')


def parse(cls, section: Any, where: str):
  """A `cls` instance from a section; every key checked.

  Args:
    cls: a frozen dataclass describing the section.
    section: a ConfigDict, a mapping, an instance of `cls`, or None (all
      defaults).
    where: the section's name in messages ('pruning', 'config').

  Returns:
    The parsed, validated `cls`.

  Raises:
    ValueError: an unknown key (with the closest known one), a value of the
      wrong type, or one its `__post_init__` rejects.
  """
  if isinstance(section, cls):
    return section
  data = {} if section is None else to_plain(section)
  if not isinstance(data, dict):
    raise ValueError(f'{where} must be a section (a dict), got {section!r}')
  names = [f.name for f in dataclasses.fields(cls) if f.init]
  unknown = [k for k in data if k not in names]
  if unknown:
    raise ValueError(unknown_key_message(unknown[0], names, where))
  hints = _hints(cls)
  kwargs = {k: _coerce(v, hints[k], f'{where}.{k}') for k, v in data.items()}
  try:
    return cls(**kwargs)
  except ValueError as e:
    msg = str(e)
    raise ValueError(msg if msg.startswith(where) else f'{where}: {msg}'
                     ) from None


def unknown_key_message(key: str, known, where: str) -> str:
  close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
  hint = f'; did you mean {where}.{close[0]}?' if close else ''
  return (f'Unknown field {where}.{key}{hint} Known fields of {where}: '
          f'{", ".join(sorted(known))}')


def as_dict(parsed) -> dict:
  """A parsed section as a plain dict (nested sections too)."""
  return dataclasses.asdict(parsed)


# ------------------------------------------------------- range helpers ---


def check_choice(value: str, choices, what: str) -> None:
  if value not in choices:
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    hint = f' (did you mean {close[0]!r}?)' if close else ''
    raise ValueError(f'Unknown {what} {value!r}{hint}; known: '
                     f'{", ".join(map(str, choices))}')


def check_range(value: float, what: str, lo: float | None = None,
                hi: float | None = None, lo_open: bool = False,
                hi_open: bool = False) -> None:
  """Raises ValueError unless lo <= value <= hi (open ends on request)."""
  bad = ((lo is not None and (value < lo or (lo_open and value == lo)))
         or (hi is not None and (value > hi or (hi_open and value == hi)))
         or value != value)
  if bad:
    left = '(' if lo_open else '['
    right = ')' if hi_open else ']'
    span = (f'{left}{"-inf" if lo is None else lo}, '
            f'{"inf" if hi is None else hi}{right}')
    raise ValueError(f'{what} must lie in {span}, got {value}')


def check_positive(value: float, what: str) -> None:
  if not value > 0:
    raise ValueError(f'{what} must be > 0, got {value}')


def check_nonnegative(value: float, what: str) -> None:
  if not value >= 0:
    raise ValueError(f'{what} must be >= 0, got {value}')


def check_rules(rules, what: str, check_value=None) -> None:
  """`rules` must be (regex, value) pairs with compiling regexes."""
  import re
  for i, rule in enumerate(rules):
    if not isinstance(rule, tuple) or len(rule) != 2 or not isinstance(
        rule[0], str):
      raise ValueError(f'{what}[{i}] must be a (regex, value) pair, got '
                       f'{rule!r}')
    try:
      re.compile(rule[0])
    except re.error as e:
      raise ValueError(f'{what}[{i}]: {rule[0]!r} is not a valid regex: {e}'
                       ) from None
    if check_value is not None and rule[1] is not None:
      check_value(rule[1], f'{what} value of {rule[0]!r}')
