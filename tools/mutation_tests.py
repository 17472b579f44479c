"""Which tests import a module: static selection for mutation testing.

A test function is selected for module `M` when its body, its decorators
(parametrize lists), its arguments (same-file fixtures) or a same-file
helper it names (functions, classes, constants, transitively) refer to
something defined in `M`:

  from jaxcompress.pruning import schedules      -> `schedules.X`: M
  from jaxcompress.quantization import apply as A -> `A.X`: M
  from jaxcompress import pruning                -> `pruning.prune`: the
                                                    module defining `prune`
  from jaxcompress.train import TRACE_COUNTS     -> the module assigning it

Names re-exported by a package are resolved to the module that defines them
by importing the package (functions and classes by `__module__`, other
objects by the submodule whose source assigns the name at top level).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import sys
import types
from collections.abc import Iterable

PACKAGE = 'jaxcompress'


def _bindings(nodes: Iterable[ast.AST]) -> dict[str, tuple[str, str | None]]:
  """Import bindings: local name -> (module, attribute or None)."""
  out = {}
  for node in nodes:
    if isinstance(node, ast.Import):
      for a in node.names:
        if a.name.split('.')[0] == PACKAGE:
          if a.asname:
            out[a.asname] = (a.name, None)
          else:
            out[PACKAGE] = (PACKAGE, None)
    elif isinstance(node, ast.ImportFrom) and node.module and (
        node.module.split('.')[0] == PACKAGE) and not node.level:
      for a in node.names:
        out[a.asname or a.name] = (node.module, a.name)
  return out


def _chains(node: ast.AST) -> list[tuple[str, ...]]:
  """Every dotted name chain in `node`: `a.b.c(x)` gives ('a', 'b', 'c')."""
  chains = []
  for n in ast.walk(node):
    parts = []
    while isinstance(n, ast.Attribute):
      parts.append(n.attr)
      n = n.value
    if isinstance(n, ast.Name):
      chains.append((n.id, *reversed(parts)))
  return chains


class Resolver:
  """Maps (module, attribute chain) to the jaxcompress module defining it."""

  def __init__(self):
    self._cache = {}

  def defining_module(self, module: str, attrs: tuple[str, ...]) -> str | None:
    key = (module, attrs)
    if key not in self._cache:
      self._cache[key] = self._resolve(module, attrs)
    return self._cache[key]

  def _resolve(self, module, attrs):
    try:
      obj = importlib.import_module(module)
    except ImportError:
      return None
    for i, name in enumerate(attrs):
      if isinstance(obj, types.ModuleType):
        sub = f'{obj.__name__}.{name}'
        if sub in sys.modules or _is_submodule(obj, name):
          try:
            obj = importlib.import_module(sub)
            continue
          except ImportError:
            pass
        if not hasattr(obj, name):
          return obj.__name__
        parent, obj = obj, getattr(obj, name)
        if not isinstance(obj, types.ModuleType):
          return _owner(parent, name, obj)
      else:
        return None
    return obj.__name__ if isinstance(obj, types.ModuleType) else None


def _is_submodule(pkg: types.ModuleType, name: str) -> bool:
  paths = getattr(pkg, '__path__', None)
  return bool(paths) and any(m.name == name for m in pkgutil.iter_modules(
      paths))


def _owner(parent: types.ModuleType, name: str, obj) -> str | None:
  """The module that defines `obj`, found as `parent.name`."""
  mod = getattr(obj, '__module__', None)
  if (inspect.isfunction(obj) or inspect.isclass(obj)) and mod and (
      mod.split('.')[0] == PACKAGE):
    return mod
  # Constants and instances: the (sub)module whose source assigns `name`.
  candidates = [parent]
  if hasattr(parent, '__path__'):
    candidates += [importlib.import_module(f'{parent.__name__}.{m.name}')
                   for m in pkgutil.iter_modules(parent.__path__)]
  for m in candidates:
    try:
      tree = ast.parse(inspect.getsource(m))
    except (OSError, TypeError):
      continue
    for node in tree.body:
      targets = []
      if isinstance(node, ast.Assign):
        targets = node.targets
      elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
      if any(isinstance(t, ast.Name) and t.id == name for t in targets):
        return m.__name__
  return parent.__name__


def _top_level(tree: ast.Module) -> dict[str, ast.AST]:
  out = {}
  for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
      out[node.name] = node
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
      targets = node.targets if isinstance(node, ast.Assign) else [node.target]
      for t in targets:
        if isinstance(t, ast.Name):
          out[t.id] = node
  return out


def _modules_named(node: ast.AST, bindings, resolver) -> set[str]:
  local = dict(bindings)
  local.update(_bindings(ast.walk(node)))   # imports inside the function
  found = set()
  for chain in _chains(node):
    if chain[0] not in local:
      continue
    module, attr = local[chain[0]]
    attrs = ((attr,) if attr else ()) + chain[1:]
    m = resolver.defining_module(module, attrs)
    if m:
      found.add(m)
  return found


def select(test_dir: str, resolver: Resolver | None = None
           ) -> dict[str, list[str]]:
  """{module name: [test node ids 'tests/x_test.py::test_y', ...]}."""
  resolver = resolver or Resolver()
  selected: dict[str, list[str]] = {}
  for fname in sorted(os.listdir(test_dir)):
    if not (fname.endswith('_test.py') or fname.startswith('test_')):
      continue
    path = os.path.join(test_dir, fname)
    tree = ast.parse(open(path).read())
    bindings = _bindings(tree.body)
    top = _top_level(tree)
    direct = {name: _modules_named(node, bindings, resolver)
              for name, node in top.items()}
    refs = {name: {c[0] for c in _chains(node)} | _args(node)
            for name, node in top.items()}
    rel = os.path.join(os.path.basename(test_dir), fname)
    for name in top:
      if not name.startswith('test'):
        continue
      modules, seen, todo = set(), set(), [name]
      while todo:                        # the helpers it uses, transitively
        n = todo.pop()
        if n in seen:
          continue
        seen.add(n)
        modules |= direct[n]
        todo += [r for r in refs[n] if r in top]
      for m in modules:
        selected.setdefault(m, []).append(f'{rel}::{name}')
  return selected


def _args(node: ast.AST) -> set[str]:
  if isinstance(node, ast.FunctionDef):
    return {a.arg for a in node.args.args}
  return set()
