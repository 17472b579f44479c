"""Multi-process training for real: two processes on loopback (gloo), each
with two CPU devices, against one process with four, through the binaries.

The one-process reference also runs its collectives through gloo
(experiments/launch_local.py with one process): XLA's in-process all-reduce
sums the four devices' gradients in another order, and quantization-aware
training turns those last-bit differences into loss differences of 1e-4
after 20 steps (measured: 0.663945 against 0.663827, 223 against 224 test
errors), while with the same collectives one and two processes agree to the
last bit; one process with replicated state and two with sharded state
agree to the last bit too. Each run is a subprocess (XLA_FLAGS fixes the
device count at start), so these tests take a minute or more each; the
runs are as few as the checks allow.
"""

import os
import subprocess
import sys
import time

import flax.serialization
import numpy as np
import pytest
from conftest import REPO

from jaxcompress import files, saved_runs, train
from jaxcompress.quantization.report import logits_of
from jaxcompress.rules import named_leaves
from jaxcompress.train import feed

CONFIGS = os.path.join(REPO, 'tests', 'multiprocess', 'mp_configs.py')
sys.path.insert(0, os.path.dirname(CONFIGS))
import mp_configs  # noqa: E402  (tests/multiprocess, beside the binary)


def _env(devices):
  return dict(os.environ, JAX_PLATFORMS='cpu',
              XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')


def _one_process(arg, workdir, *flags):
  out = _processes(1, arg, workdir, *flags)
  assert out.returncode == 0, out.stderr[-3000:]


def _two_processes(arg, workdir, *flags, binary=None):
  return _processes(2, arg, workdir, *flags, binary=binary)


def _processes(n, arg, workdir, *flags, binary=None):
  """`n` processes with 4 / n devices each, through launch_local."""
  cmd = [sys.executable, os.path.join(REPO, 'experiments', 'launch_local.py'),
         f'--num_processes={n}', '--grace_s=20']
  if binary:
    cmd.append(f'--binary={binary}')
  cmd += ['--', f'--config={CONFIGS}:{arg}', f'--workdir={workdir}',
          '--heartbeat_timeout_s=15', *flags]
  return subprocess.run(cmd, env=_env(4 // n), capture_output=True,
                        text=True, timeout=900)


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


def _decoded_shares(out):
  # Scanned epochs, yet each process decoded only its half of the 2,048
  # training images; the batches are gathered across the processes.
  for i in (0, 1):
    assert (f'process {i} decoded its share of the training split: 1024 '
            'of the 2048 examples') in out.stderr


def test_gmp_two_processes_sharded_and_resumed_equal_one_process(tmp_path):
  # One reference, one process with four devices and replicated state,
  # against two processes with two devices each: sharded state, and
  # replicated state with a process lost mid-run and the run resumed.
  steps = '--config.num_train_steps=30'
  _one_process('gmp', tmp_path / 'one', steps)
  out = _two_processes('gmp', tmp_path / 'sharded', steps,
                       '--config.shard_params=True')
  assert out.returncode == 0, out.stderr[-3000:]
  _decoded_shares(out)
  ra, rb = _same_run(tmp_path / 'one', tmp_path / 'sharded')
  assert rb['devices'] == '4 x cpu'
  # 80% of every kernel pruned, and the model trained: its loss fell and
  # its error is far below chance (90%) after 30 steps.
  assert ra['pruning']['pruned_layers']['sparsity'] == pytest.approx(0.8,
                                                                      abs=1e-3)
  assert ra['history'][-1]['loss'] < ra['history'][0]['loss']
  assert ra['test_error'] < 0.5
  # Only process 0 wrote the files (one results.json, one TensorBoard log).
  assert len([f for f in os.listdir(tmp_path / 'sharded')
              if f.startswith('events.out')]) == 1

  # Process 1 dies as it saves step 20: process 0 is stopped, no hang, no
  # results.
  t0 = time.time()
  out = _two_processes('gmp', tmp_path / 'lost', steps,
                       binary=os.path.join(REPO, 'tests', 'multiprocess',
                                           'die.py'))
  assert out.returncode != 0
  assert time.time() - t0 < 300   # no hang
  assert not os.path.exists(tmp_path / 'lost' / 'results.json')
  # The same command again (without the fault) resumes from step 10 ...
  out = _two_processes('gmp', tmp_path / 'lost', steps)
  assert out.returncode == 0, out.stderr[-3000:]
  _decoded_shares(out)
  r = files.read_json(os.path.join(tmp_path / 'lost', 'results.json'))
  assert [h['step'] for h in r['history']] == [20, 30]
  # ... and ends with the uninterrupted run's model.
  _same_run(tmp_path / 'one', tmp_path / 'lost')


def test_qat_with_distillation_two_processes_equal_one(tmp_path):
  # Sharded state: the quantizer's and teacher's state is what sharding
  # splits here. The teacher is trained in this process (any teacher will
  # do: both runs read the same one).
  train.train_and_evaluate(mp_configs.get_config('teacher'),
                           str(tmp_path / 'teacher'))
  arg, flags = f'qat_distill,{tmp_path / "teacher"}', (
      '--config.shard_params=True',)
  _one_process(arg, tmp_path / 'one', *flags)
  out = _two_processes(arg, tmp_path / 'two', *flags)
  assert out.returncode == 0, out.stderr[-3000:]
  _decoded_shares(out)
  ra, rb = _same_run(tmp_path / 'one', tmp_path / 'two')
  assert ra['qat_integer_error'] == rb['qat_integer_error']
  assert ra['qat_integer_bit_exact'] and rb['qat_integer_bit_exact']


def test_two_processes_stream_their_shares_into_global_batches(tmp_path):
  out = _two_processes('stream', tmp_path / 'two')
  assert out.returncode == 0, out.stderr[-3000:]
  r = files.read_json(os.path.join(tmp_path / 'two', 'results.json'))
  assert r['devices'] == '4 x cpu' and r['num_train_steps'] == 40
  assert r['history'][-1]['loss'] < r['history'][0]['loss']
  assert r['test_error'] < 0.5
  assert 'in_memory=False: batches stream through tf.data' in out.stderr
  # The test split streamed too, each process its share (500 and 499
  # images): every image counted once, as the decoded split in this process
  # counts the saved model's errors.
  model, variables, _ = saved_runs.load_run(str(tmp_path / 'two'))
  ds = feed.load_data(mp_configs.get_config('stream'))
  assert len(ds.test_labels) == 999
  wrong = logits_of(model.apply, variables, ds.test_images).argmax(-1) != \
      ds.test_labels
  assert r['test_errors'] == int(wrong.sum())


def test_snip_masks_from_the_stream_sample_match_one_process(tmp_path):
  # On the stream path each process reads its share of the first
  # sample_examples images and the shares are all-gathered: SNIP's scores,
  # and so its masks (fixed at step 0), equal one process's. (The weights
  # differ: each process shuffles its own share of the training split.)
  _one_process('stream_snip', tmp_path / 'one')
  out = _two_processes('stream_snip', tmp_path / 'two')
  assert out.returncode == 0, out.stderr[-3000:]
  pa, pb = _params(tmp_path / 'one'), _params(tmp_path / 'two')
  kernels = [n for n in pa if n.endswith('kernel')]
  assert kernels
  for name in kernels:
    np.testing.assert_array_equal(pa[name] == 0, pb[name] == 0,
                                  err_msg=f'{name}: masks differ')
  zero = sum((pa[n] == 0).sum() for n in kernels)
  assert zero / sum(pa[n].size for n in kernels) == pytest.approx(0.9,
                                                                  abs=1e-3)
