"""Bad inputs and faults, as a new user meets them: one table, one test.

Every row is a call a user could make, the words its error must contain,
and whether the error must come before anything compiles. For every row,
the files of a finished run written earlier are checked byte for byte
afterwards: a failed run never changes a good run's files.
"""

import fcntl
import hashlib
import os
import shutil

import ml_collections
import pytest
from conftest import tiny_config

from jaxcompress import deep_compression, files, pipelines, train
from jaxcompress.quantization import storage


def _cfg(**kw):
  return tiny_config(**kw)


def _with(section, **fields):
  c = tiny_config()
  c[section] = ml_collections.ConfigDict(fields)
  return c


def _run(config, workdir=None):
  return pipelines.run(config, workdir)


@pytest.fixture(scope='module')
def good(tmp_path_factory):
  """A finished run (40 steps, checkpoints, results, model file) and the
  compressed files of a tiny QAT + Deep Compression run."""
  root = tmp_path_factory.mktemp('good')
  train.train_and_evaluate(tiny_config(), str(root / 'run'))
  c = tiny_config(num_train_steps=10)
  c.quantization = ml_collections.ConfigDict(dict(weight_bits=8, act_bits=8,
                                                  calib_images=64))
  c.deep_compression = ml_collections.ConfigDict({'rules': (('kernel', 5),)})
  train.train_and_evaluate(c, str(root / 'files'))
  return root


def _snapshot(root):
  out = {}
  for folder, _, names in os.walk(root):
    for n in names:
      if n == '.lock':
        continue
      path = os.path.join(folder, n)
      with open(path, 'rb') as f:
        out[path] = hashlib.sha256(f.read()).hexdigest()
  return out


def _copy_damaged(good, tmp, name, damage):
  src = good / 'files' / name
  dst = tmp / name
  shutil.copy(src, dst)
  data = bytearray(dst.read_bytes())
  if damage == 'truncate':
    data = data[:len(data) // 2]
  else:
    data[len(data) // 3] ^= 0x10
  dst.write_bytes(bytes(data))
  return str(dst)


def _lenet_init(good, tmp):
  del tmp
  return _run(_cfg(model='mlp_128', init_from=str(good / 'run')))


def _locked(good, tmp):
  del tmp
  wd = str(good / 'run')
  fd = os.open(os.path.join(wd, '.lock'), os.O_RDWR)
  fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  try:
    return _run(tiny_config(), wd)
  finally:
    os.close(fd)


def _foreign_files(good, tmp):
  del good
  wd = tmp / 'old'
  (wd / 'checkpoints' / '40').mkdir(parents=True)
  (wd / 'results.json').write_text('{}')
  return _run(tiny_config(), str(wd))


def _damaged_results(good, tmp):
  shutil.copytree(good / 'run', tmp / 'copy')
  p = tmp / 'copy' / 'results.json'
  p.write_bytes(p.read_bytes()[:100])
  return train.load_run(str(tmp / 'copy'))


def _lottery(**fields):
  c = tiny_config(pipeline='lottery')
  c.lottery = ml_collections.ConfigDict(fields)
  return c


def _ptq(**variant):
  c = tiny_config(pipeline='ptq')
  c.ptq = ml_collections.ConfigDict({'variants': (('v', variant),)})
  return c


def _student(**distill):
  c = tiny_config(pipeline='teacher_student', model='mlp_64')
  c.teacher = ml_collections.ConfigDict({'model': 'mlp_128'})
  c.distillation = ml_collections.ConfigDict(distill)
  return c


def _entry():
  c = tiny_config()
  c.entry = 'jaxcompress.train:train_and_evaluate'
  return c


# (id, call(good, tmp), words of the error, raised before compiling)
def _collapsing(**kw):
  """Ten steps at learning rate 0.05 (46.9% training accuracy), then 50
  with the gradient's norm clipped at 10: the weights blow up, every unit
  dies and the logits go constant, a finite loss at chance accuracy (11.3%
  and 10.8% in the last two calls)."""
  return _cfg(schedule='step', step_boundaries=[0.25], step_factor=1000.0,
              grad_clip_norm=10.0, **kw)


ROWS = [
    ('unknown model', lambda g, t: _run(_cfg(model='lenet7')),
     "Unknown model 'lenet7'", True),
    ('unknown dataset', lambda g, t: _run(_cfg(dataset='imagenet_x')),
     "Unknown dataset 'imagenet_x'", True),
    ('unknown optimizer', lambda g, t: _run(_cfg(optimizer='adagrad9')),
     "Unknown optimizer 'adagrad9'", True),
    ('unknown schedule', lambda g, t: _run(_cfg(schedule='exp')),
     "Unknown schedule 'exp'", True),
    ('steps not a multiple', lambda g, t: _run(_cfg(num_train_steps=45)),
     'num_train_steps 45 is not a multiple of steps_per_call 10', True),
    ('call longer than an epoch', lambda g, t: _run(_cfg(steps_per_call=64)),
     'steps_per_call 64 exceeds one epoch', True),
    ('zero epochs', lambda g, t: _run(_cfg(num_train_steps=-1,
                                           num_epochs=0.0)),
     'num_epochs must be > 0', True),
    ('negative epochs', lambda g, t: _run(_cfg(num_train_steps=-1,
                                               num_epochs=-2.0)),
     'num_epochs must be > 0', True),
    ('zero steps', lambda g, t: _run(_cfg(num_train_steps=0)),
     'num_train_steps must be > 0', True),
    ('negative train_subset', lambda g, t: _run(_cfg(train_subset=-5)),
     'train_subset must be >= 0', True),
    ('test_subset too large', lambda g, t: _run(_cfg(test_subset=20000)),
     'test_subset 20000 is larger than the 10000 examples', True),
    ('zero batch', lambda g, t: _run(_cfg(batch_size=0)),
     'batch_size must be >= 1, got 0', True),
    ('zero eval batch', lambda g, t: _run(_cfg(eval_batch_size=0)),
     'eval_batch_size must be >= 1, got 0', True),
    ('negative batch', lambda g, t: _run(_cfg(batch_size=-8)),
     'batch_size must be >= 1, got -8', True),
    ('batch larger than the data', lambda g, t: _run(_cfg(batch_size=4096)),
     'batch_size 4096 is larger than the 2048 training examples', True),
    ('misspelt top-level field',
     lambda g, t: _run(ml_collections.ConfigDict(
         dict(tiny_config().to_dict(), lerning_rate=0.1))),
     'Unknown field config.lerning_rate; did you mean config.learning_rate',
     True),
    ('negative learning rate', lambda g, t: _run(_cfg(learning_rate=-0.1)),
     'learning_rate must be >= 0', True),
    ('momentum of 1.5', lambda g, t: _run(_cfg(momentum=1.5)),
     r'momentum must lie in \[0.0, 1.0\)', True),
    ('string where a number goes', lambda g, t: _run(dict(
        tiny_config().to_dict(), weight_decay='a')),
     'config.weight_decay must be a number', True),
    ('bad model kwargs',
     lambda g, t: _run(_cfg(model_kwargs=ml_collections.ConfigDict(
         {'featurs': (10,)}))),
     "do not fit lenet_300_100.*featurs", True),
    ('negative jitter', lambda g, t: _run(_cfg(jitter_pixels=-1)),
     'jitter_pixels must be >= 0', True),
    ('unknown divergence policy',
     lambda g, t: _run(_cfg(on_nonfinite_loss='ignore')),
     "Unknown on_nonfinite_loss 'ignore'", True),
    ('the removed entry field', lambda g, t: _run(_entry()),
     'config.entry is gone', True),
    ('unknown pipeline', lambda g, t: _run(_cfg(pipeline='lotery')),
     "Unknown pipeline 'lotery'", True),
    ('pipeline without its section', lambda g, t: _run(_cfg(
        pipeline='lottery')), "pipeline 'lottery' needs a 'lottery' section",
     True),
    ('misspelt pruning field',
     lambda g, t: _run(_with('pruning', sparsty=0.5)),
     'Unknown field pruning.sparsty; did you mean pruning.sparsity', True),
    ('sparsity of 1', lambda g, t: _run(_with('pruning', sparsity=1.0)),
     r'sparsity must lie in \[0.0, 1.0\), got 1.0', True),
    ('misspelt score', lambda g, t: _run(_with('pruning', score='magnitud')),
     "Unknown pruning score 'magnitud' .did you mean 'magnitude'", True),
    ('schedule past the run',
     lambda g, t: _run(_with('pruning', schedule='polynomial', begin=0.0,
                             end=100.0, every=10.0)),
     'reaches its target at step 100, but the run has only 40 steps', True),
    ('bad rule regex', lambda g, t: _run(_with('pruning', rules=(('(', 0.5),
                                                                 ))),
     'not a valid regex', True),
    ('rule matching nothing',
     lambda g, t: _run(_with('pruning', rules=(('conv7', 0.5),))),
     'match no parameter', True),
    ('33-bit weights', lambda g, t: _run(_with('quantization',
                                               weight_bits=33)),
     'weight_bits must be 0 .float. or in 2..8, got 33', True),
    ('inputs without weights',
     lambda g, t: _run(_with('quantization', weight_bits=0, act_bits=8)),
     'act_bits without weight_bits', True),
    ('unknown quantizer', lambda g, t: _run(_with('quantization',
                                                  quantizer='lsq2')),
     "Unknown quantizer 'lsq2'", True),
    ('affine LSQ', lambda g, t: _run(_with(
        'quantization', quantizer='lsq', weight_symmetric=False)),
     'lsq quantizer learns symmetric grids', True),
    ('structured sparsity 1.5', lambda g, t: _run(_with('structured',
                                                        sparsity=1.5)),
     r'sparsity must lie in \[0.0, 1.0\]', True),
    ('unknown structured score', lambda g, t: _run(_with('structured',
                                                         score='xyz')),
     "Unknown structured score 'xyz'", True),
    ('prune rate of 1', lambda g, t: _run(_lottery(prune_rate=1.0)),
     r'prune_rate must lie in \(0.0, 1.0\)', True),
    ('a PTQ variant of 1 bit', lambda g, t: _run(_ptq(weight_bits=1)),
     r'ptq.variants\[v\]: weight_bits must be 0', True),
    ("student's temperature before the teacher trains",
     lambda g, t: _run(_student(temperature=0.0), str(t / 'ts')),
     'temperature must be > 0', True),
    ('teacher workdir that holds no run',
     lambda g, t: _run(_with('distillation', teacher_workdir=str(t / 'no'))),
     'No finished run in', True),
    ('init_from a missing file',
     lambda g, t: _run(_cfg(init_from=str(t / 'missing'))),
     'init_from: no such file', True),
    ('init_from another model', _lenet_init,
     r'another model: params/fc1/bias has shape \(300,\)', True),
    ('another config in a finished workdir',
     lambda g, t: _run(_cfg(seed=1), str(g / 'run')),
     'holds a run of another configuration .seed: 0 -> 1', True),
    ('another model in a finished workdir',
     lambda g, t: _run(_cfg(model='mlp_128'), str(g / 'run')),
     "model: 'lenet_300_100' -> 'mlp_128'", True),
    ('a workdir in use', _locked, 'is in use by another run .pid', True),
    ('a workdir of unknown origin', _foreign_files,
     'holds files of a run this version cannot identify', True),
    ('a diverging run', lambda g, t: _run(_cfg(learning_rate=1e6),
                                          str(t / 'nan')),
     'The loss became nan in the steps up to 10', False),
    ('a run that collapses to chance with a finite loss',
     lambda g, t: _run(_collapsing(), str(t / 'collapse')),
     r'The training accuracy fell from 46.9% to 10.8% \(chance: 10.0%\) in '
     r'the steps up to 40.*training collapsed', False),
    ('a truncated quantized file',
     lambda g, t: storage.load(_copy_damaged(g, t, 'qat_quantized.jxq',
                                             'truncate')),
     'qat_quantized.jxq: no integrity trailer', True),
    ('a bit flip in a quantized file',
     lambda g, t: storage.load(_copy_damaged(g, t, 'qat_quantized.jxq',
                                             'flip')),
     'qat_quantized.jxq: checksum mismatch', True),
    ('a truncated deep-compression file',
     lambda g, t: deep_compression.load(_copy_damaged(
         g, t, 'model.deepcompressed', 'truncate'), {}),
     'model.deepcompressed: no integrity trailer', True),
    ('a bit flip in a deep-compression file',
     lambda g, t: deep_compression.load(_copy_damaged(
         g, t, 'model.deepcompressed', 'flip'), {}),
     'model.deepcompressed: checksum mismatch', True),
    ('a truncated results.json', _damaged_results,
     'results.json is not valid JSON', True),
]


@pytest.mark.parametrize('call,words,before_compiling',
                         [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_or_fault_is_named(good, tmp_path, call, words,
                                     before_compiling):
  before = _snapshot(good)
  traces = train.TRACE_COUNTS['train_step']
  with pytest.raises((ValueError, RuntimeError), match=words):
    call(good, tmp_path)
  if before_compiling:
    assert train.TRACE_COUNTS['train_step'] == traces
  assert _snapshot(good) == before


def test_the_table_is_large():
  assert len(ROWS) >= 40


def test_diverged_run_writes_no_results_and_continues_on_request(tmp_path):
  with pytest.raises(train.DivergedError, match='diverged'):
    train.train_and_evaluate(tiny_config(learning_rate=1e6),
                             str(tmp_path / 'a'))
  assert not os.path.exists(tmp_path / 'a' / 'results.json')
  _, r = train.train_and_evaluate(
      tiny_config(learning_rate=1e6, on_nonfinite_loss='continue',
                  measure_latency=False), str(tmp_path / 'b'))
  on_disk = files.read_json(str(tmp_path / 'b' / 'results.json'))
  assert on_disk['test_loss'] is None   # strict JSON: NaN written as null
  assert r['diverged'] is True and on_disk['diverged'] is True


def test_collapsed_run_writes_no_results_and_continues_on_request(tmp_path):
  with pytest.raises(train.DivergedError, match='training collapsed'):
    train.train_and_evaluate(_collapsing(), str(tmp_path / 'a'))
  assert not os.path.exists(tmp_path / 'a' / 'results.json')
  # The calls at chance were not checkpointed; the same command again
  # resumes from step 20, remembers the 46.9% it had reached, and stops.
  assert sorted(os.listdir(tmp_path / 'a' / 'checkpoints')) == [
      '10', '20', 'digests.json']
  with pytest.raises(train.DivergedError,
                     match='fell from 46.9% to 10.8% .* up to 40'):
    train.train_and_evaluate(_collapsing(), str(tmp_path / 'a'))
  assert not os.path.exists(tmp_path / 'a' / 'results.json')
  _, r = train.train_and_evaluate(_collapsing(on_collapse='continue'),
                                  str(tmp_path / 'b'))
  assert [round(h['accuracy'], 3) for h in r['history']][::2] == [0.469,
                                                                    0.113]
  assert r['test_error'] > 0.85   # the model it would have written
  assert files.read_json(str(tmp_path / 'b' / 'results.json'))['diverged']


@pytest.mark.parametrize('accuracies,last_call,expected', [
    ([0.47, 0.24, 0.11, 0.11], False, True),    # two calls at chance
    ([0.47, 0.24, 0.11], False, False),         # one may recover
    ([0.47, 0.24, 0.11], True, True),           # ... but not the last
    ([0.47, 0.11, 0.60, 0.11], False, False),   # it did recover
    ([0.12, 0.11, 0.11, 0.11], True, False),    # never learned
    ([0.32, 0.11, 0.11], True, False),          # never reached 32.5%
    ([0.33, 0.145, 0.145], False, True),        # 14.5% is chance's level
    ([0.33, 0.146, 0.145], False, False),
])
def test_collapsed_at_ten_classes(accuracies, last_call, expected):
  assert train.collapsed(accuracies, 10, last_call) is expected


def test_collapsed_scales_with_the_classes():
  # 1,000 classes: chance 0.1%, at chance up to 5.1%, learned from 25.1%.
  assert train.collapsed([0.26, 0.05, 0.05], 1000, False)
  assert not train.collapsed([0.25, 0.05, 0.05], 1000, False)
  assert not train.collapsed([0.26, 0.052, 0.05], 1000, False)
  # 2 classes: at chance up to 52.5%, learned from 62.5%.
  assert train.collapsed([0.9, 0.52, 0.51], 2, False)
  assert not train.collapsed([0.9, 0.53, 0.51], 2, False)


def test_finished_run_is_kept_not_retrained(good):
  before = _snapshot(good)
  traces = train.TRACE_COUNTS['train_step']
  state, r = train.train_and_evaluate(tiny_config(), str(good / 'run'))
  assert train.TRACE_COUNTS['train_step'] == traces
  assert int(state.step) == 40
  assert [h['step'] for h in r['history']] == [10, 20, 30, 40]
  assert _snapshot(good) == before


def _killed_before_saving(step, config, workdir, monkeypatch):
  """Runs `config` into `workdir`, killed as it saves checkpoint `step`."""
  from jaxcompress.train import checkpoints
  real = checkpoints.save_args

  def crash(state):
    if int(state.step) == step:
      raise KeyboardInterrupt(f'simulated kill at step {step}')
    return real(state)

  monkeypatch.setattr(checkpoints, 'save_args', crash)
  with pytest.raises(KeyboardInterrupt):
    train.train_and_evaluate(config, str(workdir))
  monkeypatch.setattr(checkpoints, 'save_args', real)


def test_damaged_latest_checkpoint_falls_back_to_the_previous(
    tmp_path, capsys, monkeypatch):
  config = tiny_config(checkpoint_every_steps=10)
  _, uninterrupted = train.train_and_evaluate(config, str(tmp_path / 'a'))
  wd = tmp_path / 'b'
  _killed_before_saving(40, config, wd, monkeypatch)
  # A bit flip in the latest checkpoint (step 30): fc1's kernel.
  flipped = 0
  for folder, _, names in os.walk(wd / 'checkpoints' / '30'):
    for n in names:
      p = os.path.join(folder, n)
      if os.path.getsize(p) > 200_000:
        data = bytearray(open(p, 'rb').read())
        data[len(data) // 2] ^= 0x01
        open(p, 'wb').write(bytes(data))
        flipped += 1
  assert flipped
  _, resumed = train.train_and_evaluate(config, str(wd))
  out = capsys.readouterr().out
  assert 'checkpoints/30' in out and 'resuming from step 20' in out
  assert [h['step'] for h in resumed['history']] == [30, 40]
  assert resumed['test_errors'] == uninterrupted['test_errors']
  assert resumed['test_loss'] == pytest.approx(uninterrupted['test_loss'],
                                               rel=1e-6)


def test_no_usable_checkpoint_is_an_error_naming_it(tmp_path, monkeypatch):
  config = tiny_config(checkpoint_every_steps=10)
  _killed_before_saving(20, config, tmp_path, monkeypatch)
  for folder, _, names in os.walk(tmp_path / 'checkpoints' / '10'):
    for n in names:
      p = os.path.join(folder, n)
      open(p, 'wb').write(open(p, 'rb').read()[:10])   # truncated
  with pytest.raises(train.RunError, match='No usable checkpoint: .*'
                     'checkpoints/10'):
    train.train_and_evaluate(config, str(tmp_path))


def test_a_field_added_later_at_its_default_keeps_the_run(tmp_path):
  train.train_and_evaluate(tiny_config(num_train_steps=10), str(tmp_path))
  run = files.read_json(str(tmp_path / 'run.json'))
  # As a version without the shard_params field would have recorded it.
  old = {k: v for k, v in run['config'].items() if k != 'shard_params'}
  files.write_json(str(tmp_path / 'run.json'),
                   dict(run, config=old, fingerprint='0' * 16))
  traces = train.TRACE_COUNTS['train_step']
  _, r = train.train_and_evaluate(tiny_config(num_train_steps=10),
                                  str(tmp_path))
  assert train.TRACE_COUNTS['train_step'] == traces   # finished, kept
  assert files.read_json(str(tmp_path / 'run.json'))['fingerprint'] != \
      '0' * 16
  with pytest.raises(ValueError, match='shard_params: False -> True'):
    train.train_and_evaluate(tiny_config(num_train_steps=10,
                                         shard_params=True), str(tmp_path))
