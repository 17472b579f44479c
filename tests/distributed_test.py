"""Multi-process training for real: two processes on loopback (gloo), each
with two CPU devices, against one process with four, through the binaries.

Each run is a subprocess (XLA_FLAGS fixes the device count at start), so
these tests take a minute or two each.
"""

import os
import subprocess
import sys
import time

import flax.serialization
import numpy as np
import pytest
from conftest import REPO

from jaxcompress import files
from jaxcompress.rules import named_leaves

CONFIGS = os.path.join(REPO, 'tests', 'multiprocess', 'configs.py')


def _env(devices):
  return dict(os.environ, JAX_PLATFORMS='cpu',
              XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')


def _one_process(arg, workdir, *flags):
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, 'experiments', 'main.py'),
       f'--config={CONFIGS}:{arg}', f'--workdir={workdir}', *flags],
      env=_env(4), capture_output=True, text=True, timeout=900)
  assert out.returncode == 0, out.stderr[-3000:]


def _two_processes(arg, workdir, *flags, binary=None):
  cmd = [sys.executable, os.path.join(REPO, 'experiments', 'launch_local.py'),
         '--num_processes=2', '--grace_s=20']
  if binary:
    cmd.append(f'--binary={binary}')
  cmd += ['--', f'--config={CONFIGS}:{arg}', f'--workdir={workdir}',
          '--heartbeat_timeout_s=15', *flags]
  return subprocess.run(cmd, env=_env(2), capture_output=True, text=True,
                        timeout=900)


def _params(workdir):
  with open(os.path.join(workdir, 'model.msgpack'), 'rb') as f:
    return dict(named_leaves(flax.serialization.msgpack_restore(f.read())))


def _same_run(a, b, atol=1e-5):
  pa, pb = _params(a), _params(b)
  assert sorted(pa) == sorted(pb)
  for name in pa:
    np.testing.assert_allclose(pa[name], pb[name], atol=atol, err_msg=name)
    np.testing.assert_array_equal(pa[name] == 0, pb[name] == 0,
                                  err_msg=f'{name}: masks differ')
  ra = files.read_json(os.path.join(a, 'results.json'))
  rb = files.read_json(os.path.join(b, 'results.json'))
  assert ra['test_errors'] == rb['test_errors']
  return ra, rb


def test_gmp_two_processes_equal_one_process_replicated_and_sharded(
    tmp_path):
  _one_process('gmp', tmp_path / 'one')
  out = _two_processes('gmp', tmp_path / 'two')
  assert out.returncode == 0, out.stderr[-3000:]
  out = _two_processes('gmp', tmp_path / 'two_sharded',
                       '--config.shard_params=True')
  assert out.returncode == 0, out.stderr[-3000:]
  ra, rb = _same_run(tmp_path / 'one', tmp_path / 'two')
  _same_run(tmp_path / 'one', tmp_path / 'two_sharded')
  assert rb['devices'] == '4 x cpu'
  # 80% of every kernel pruned, and the model trained: its loss fell and
  # its error is far below chance (90%) after 20 steps.
  assert ra['pruning']['pruned_layers']['sparsity'] == pytest.approx(0.8,
                                                                      abs=1e-3)
  assert ra['history'][-1]['loss'] < 0.7 * ra['history'][0]['loss']
  assert ra['test_error'] < 0.5
  # Only process 0 wrote the files (one results.json, one TensorBoard log).
  assert len([f for f in os.listdir(tmp_path / 'two')
              if f.startswith('events.out')]) == 1


def test_qat_with_distillation_two_processes_sharded_equal_one(tmp_path):
  _one_process('teacher', tmp_path / 'teacher')
  teacher = f'qat_distill,{tmp_path / "teacher"}'
  _one_process(teacher, tmp_path / 'one')
  out = _two_processes(teacher, tmp_path / 'two',
                       '--config.shard_params=True')
  assert out.returncode == 0, out.stderr[-3000:]
  ra, rb = _same_run(tmp_path / 'one', tmp_path / 'two')
  assert ra['qat_integer_error'] == rb['qat_integer_error']
  assert ra['qat_integer_bit_exact'] and rb['qat_integer_bit_exact']


def test_a_lost_process_stops_the_other_and_the_rerun_resumes(tmp_path):
  _one_process('gmp', tmp_path / 'whole', '--config.num_train_steps=30')
  t0 = time.time()
  out = _two_processes('gmp', tmp_path / 'lost', '--config.num_train_steps=30',
                       binary=os.path.join(REPO, 'tests', 'multiprocess',
                                           'die.py'))
  assert out.returncode != 0
  assert time.time() - t0 < 300   # no hang
  assert not os.path.exists(tmp_path / 'lost' / 'results.json')
  # The same command again (without the fault) resumes from step 10 ...
  out = _two_processes('gmp', tmp_path / 'lost', '--config.num_train_steps=30')
  assert out.returncode == 0, out.stderr[-3000:]
  r = files.read_json(os.path.join(tmp_path / 'lost', 'results.json'))
  assert [h['step'] for h in r['history']] == [20, 30]
  # ... and ends with the uninterrupted run's model.
  _same_run(tmp_path / 'whole', tmp_path / 'lost')
