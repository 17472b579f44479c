"""Mutation testing of jaxcompress's core with Cosmic Ray, in bounded time.

  .venv/bin/pip install -e '.[test,mutation]'
  .venv/bin/python tools/mutation.py --fraction 0.15 --budget-minutes 240

Copies the working tree to `--workdir` (the checkout is never mutated), lists
every mutant of the core modules (CORE) with Cosmic Ray's operators
(OPERATORS: a selective set, one replacement per operator kind), draws a
seeded sample of `--fraction` of each module's mutants, and runs each
sampled mutant against the tests that import its module
(`mutation_tests.select`), fastest first, stopping at the first failure.
A mutant whose tests run longer than `--timeout-factor` times the unmutated
run (plus `--timeout-slack` seconds) counts as killed by timeout. No new
mutant starts after `--budget-minutes`; running the command again resumes.
`--rerun-survivors` tests the survivors again with the current tests.

Results live in Cosmic Ray session files (`WORKDIR/sessions/*.sqlite`, also
readable with `cr-report`); the report (`--report`, default
docs/mutation.md) gives the score, every survivor with its diff, and the
reason it is equivalent where `mutation_equivalents.EQUIVALENT` gives one.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import math
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cosmic_ray import commands
from cosmic_ray.mutating import mutate_and_test
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutation_report  # noqa: E402
import mutation_tests  # noqa: E402
from mutation_report import session_path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CORE = ('jaxcompress/pruning/*.py', 'jaxcompress/quantization/*.py',
        'jaxcompress/structured/*.py', 'jaxcompress/distill.py',
        'jaxcompress/deep_compression.py', 'jaxcompress/rules.py',
        'jaxcompress/metrics.py', 'jaxcompress/train/step.py')
_B, _C, _U = ('core/ReplaceBinaryOperator_', 'core/ReplaceComparisonOperator_',
              'core/ReplaceUnaryOperator_')
OPERATORS = tuple(
    [_B + p for p in ('Add_Sub', 'Sub_Add', 'Mul_Div', 'Div_Mul',
                      'FloorDiv_Div', 'Mod_FloorDiv', 'Pow_Mul',
                      'LShift_RShift', 'RShift_LShift', 'BitOr_BitAnd',
                      'BitAnd_BitOr', 'BitXor_BitOr')]
    + [_C + p for p in ('Eq_NotEq', 'NotEq_Eq', 'Lt_LtE', 'LtE_Lt', 'Gt_GtE',
                        'GtE_Gt', 'Lt_GtE', 'LtE_Gt', 'Gt_LtE', 'GtE_Lt',
                        'Is_IsNot', 'IsNot_Is')]
    + [_U + p for p in ('USub_UAdd', 'Delete_Not', 'Delete_Invert')]
    + ['core/' + p for p in ('ReplaceTrueWithFalse', 'ReplaceFalseWithTrue',
                             'ReplaceAndWithOr', 'ReplaceOrWithAnd',
                             'ReplaceBreakWithContinue',
                             'ReplaceContinueWithBreak', 'NumberReplacer',
                             'ZeroIterationForLoop', 'AddNot')])


def core_files() -> list[str]:
  files = sorted({f for pattern in CORE for f in glob.glob(pattern)})
  return [f for f in files if not f.endswith('__init__.py')]


def copy_tree(src: Path) -> None:
  """The checkout's files (tracked and untracked, not ignored) into `src`."""
  listed = subprocess.run(
      ['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=REPO,
      check=True, capture_output=True).stdout.decode().split('\0')
  if src.exists():
    shutil.rmtree(src)
  for rel in filter(None, listed):
    if rel.startswith('data/') or not (REPO / rel).is_file():
      continue
    (src / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / rel, src / rel)
  (src / 'data').symlink_to(REPO / 'data')   # MNIST files, read only


def init_session(path: Path, module_file: str, fraction: float,
                 seed: int) -> None:
  """All mutants of one module; those outside the sample marked skipped."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with use_db(str(path), WorkDB.Mode.create) as db:
    commands.init([Path(module_file)], db, {})
    items = sorted(db.pending_work_items, key=lambda w: (
        w.mutations[0].operator_name, w.mutations[0].occurrence))
    ours = [w for w in items if w.mutations[0].operator_name in OPERATORS]
    rng = random.Random(f'{seed}:{module_file}')
    sample = set(w.job_id for w in rng.sample(
        ours, math.ceil(fraction * len(ours))))
    candidates = set(w.job_id for w in ours)
    for w in items:
      if w.job_id not in sample:
        db.set_result(w.job_id, WorkResult(
            worker_outcome=WorkerOutcome.SKIPPED,
            output=(mutation_report.NOT_SAMPLED if w.job_id in candidates
                    else mutation_report.OTHER_OPERATOR)))


def pytest_command(node_ids: list[str], extra: str = '') -> str:
  return ' '.join([shlex.quote(sys.executable), '-m', 'pytest',
                   '-p', 'no:cacheprovider', extra]
                  + [shlex.quote(n) for n in node_ids])


def baseline(node_ids: list[str], workdir: Path) -> dict:
  """Runs the selected tests once, unmutated: per-test seconds, failures."""
  log = workdir / 'baseline.txt'
  start = time.time()
  with open(log, 'w') as out:
    subprocess.run(shlex.split(pytest_command(
        node_ids, '--durations=0 -rf')), stdout=out, stderr=subprocess.STDOUT,
                   env=dict(os.environ, PYTHONDONTWRITEBYTECODE='1'))
  text = log.read_text()
  seconds = {}
  for m in re.finditer(r'^([\d.]+)s \w+ +(\S+?)(\[.*\])?$', text, re.M):
    seconds[m.group(2)] = seconds.get(m.group(2), 0.0) + float(m.group(1))
  failed = sorted({m.group(1) for m in re.finditer(
      r'^FAILED (\S+?)(\[.*?\])?( - .*)?$', text, re.M)})
  return {'seconds': seconds, 'failed': failed, 'wall': time.time() - start}


def plan(selection: dict, base: dict, factor: float, slack: float,
         module_file: str) -> tuple[str | None, float, list[str]]:
  """(test command, timeout, tests) for one module's mutants."""
  name = module_file[:-3].replace('/', '.')
  tests = [t for t in selection.get(name, []) if t not in base['failed']]
  if not tests:
    return None, 0.0, []
  tests.sort(key=lambda t: base['seconds'].get(t, 0.0))
  total = sum(base['seconds'].get(t, 0.0) for t in tests)
  return pytest_command(tests, '-x'), factor * total + slack, tests


def run_mutants(args, workdir: Path, modules: list[str], plans: dict) -> int:
  """Round-robin over modules, one mutant each, until done or out of time."""
  queues = {}
  for m in modules:
    with use_db(str(session_path(workdir, m)), WorkDB.Mode.open) as db:
      if args.rerun_survivors:
        todo = [w for w, r in db.completed_work_items
                if r.test_outcome == TestOutcome.SURVIVED]
      else:
        todo = list(db.pending_work_items)
    queues[m] = sorted(todo, key=lambda w: (w.mutations[0].start_pos,
                                            w.mutations[0].operator_name))
  deadline = time.time() + 60 * args.budget_minutes
  done = 0
  total = sum(len(q) for q in queues.values())
  while any(queues.values()) and time.time() < deadline:
    for m in modules:
      if not queues[m] or time.time() >= deadline:
        continue
      item = queues[m].pop(0)
      command, timeout, _ = plans[m]
      before = Path(m).read_bytes()
      start = time.time()
      if command is None:
        result = WorkResult(worker_outcome=WorkerOutcome.NORMAL,
                            test_outcome=TestOutcome.SURVIVED,
                            output='no test imports this module')
      else:
        result = mutate_and_test(item.mutations, command, timeout)
      if Path(m).read_bytes() != before:   # never leave a mutant behind
        Path(m).write_bytes(before)
        raise RuntimeError(f'{m} was left mutated; restored, stopping')
      with use_db(str(session_path(workdir, m)), WorkDB.Mode.open) as db:
        if args.rerun_survivors:
          mutation_report.note_rerun(workdir, item.job_id, result)
        db.set_result(item.job_id, result)
      done += 1
      outcome = result.test_outcome.value if result.test_outcome else (
          result.worker_outcome.value)
      if result.output == 'timeout':
        outcome = 'killed (timeout)'
      mut = item.mutations[0]
      print(f'[{done}/{total} {time.strftime("%H:%M")}] {m}:'
            f'{mut.start_pos[0]} {mut.operator_name}: {outcome} '
            f'({time.time() - start:.0f}s)', flush=True)
  return done


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--workdir', default='/tmp/jaxcompress-mutation')
  p.add_argument('--fraction', type=float, default=0.15)
  p.add_argument('--seed', type=int, default=0)
  p.add_argument('--modules', default='',
                 help='regex: only core files whose path matches')
  p.add_argument('--budget-minutes', type=float, default=240)
  p.add_argument('--timeout-factor', type=float, default=3.0)
  p.add_argument('--timeout-slack', type=float, default=60.0)
  p.add_argument('--rerun-survivors', action='store_true')
  p.add_argument('--fresh', action='store_true',
                 help='new sessions (a new sample), dropping all results')
  p.add_argument('--report', default='docs/mutation.md')
  p.add_argument('--report-only', action='store_true')
  args = p.parse_args(argv)
  workdir = Path(args.workdir).resolve()
  report = (REPO / args.report).resolve()
  command = 'python tools/mutation.py ' + ' '.join(
      shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
  if args.fresh and workdir.exists():
    shutil.rmtree(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  src = workdir / 'src'
  if not args.report_only:
    copy_tree(src)
  os.chdir(src)
  os.environ['PYTHONPATH'] = str(src)
  modules = [m for m in core_files() if re.search(args.modules, m)]
  for m in modules:
    if not session_path(workdir, m).exists():
      init_session(session_path(workdir, m), m, args.fraction, args.seed)
  if args.report_only:
    mutation_report.write(report, workdir, modules, None)
    return
  origin = subprocess.run(
      [sys.executable, '-c', 'import jaxcompress; print(jaxcompress.__file__)'],
      capture_output=True, text=True, check=True).stdout.strip()
  if not origin.startswith(str(src)):   # an installed copy would win
    raise RuntimeError(f'tests would import {origin}, not the copy in {src}')
  sys.path.insert(0, str(src))
  selection = mutation_tests.select('tests')
  node_ids = sorted({t for m in modules for t in selection.get(
      m[:-3].replace('/', '.'), [])})
  print(f'baseline: {len(node_ids)} tests, unmutated', flush=True)
  base = baseline(node_ids, workdir)
  if base['failed']:
    print('failing unmutated, left out:', base['failed'], flush=True)
  plans = {m: plan(selection, base, args.timeout_factor, args.timeout_slack,
                   m) for m in modules}
  (workdir / 'plans.json').write_text(json.dumps(
      {m: {'timeout': t, 'tests': tests} for m, (_, t, tests) in
       plans.items()}, indent=1))
  start = datetime.datetime.now()
  done = run_mutants(args, workdir, modules, plans)
  mutation_report.log_invocation(workdir, {
      'command': command, 'start': start.isoformat(timespec='seconds'),
      'minutes': round((datetime.datetime.now() - start).seconds / 60, 1),
      'mutants_run': done, 'rerun_survivors': args.rerun_survivors,
      'baseline_failed': base['failed'], 'fraction': args.fraction,
      'seed': args.seed, 'commit': subprocess.run(
          ['git', 'describe', '--always', '--dirty'], cwd=REPO,
          capture_output=True, text=True).stdout.strip()})
  mutation_report.write(report, workdir, modules, plans)


if __name__ == '__main__':
  main()
