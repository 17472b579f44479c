"""Adaptive compression: exact allocation, tables, plans, and the pipeline.

Unit tests on hand-made tables and tiny pytrees; end-to-end runs of the
`auto` pipeline (bytes and FLOPs budgets) on a slice of real MNIST.
"""

import dataclasses
import itertools
import json
import os

import jax
import numpy as np
import pytest
from conftest import tiny_config

from jaxcompress import auto, metrics, models, pipelines, structured
from jaxcompress import deep_compression as dc
from jaxcompress.auto import Option, Table
from jaxcompress.plugins import default_section, registry

# ------------------------------------------------------------ allocation ---


def _brute_force(delta, cost, budget):
  best = None
  for combo in itertools.product(*[range(len(d)) for d in delta]):
    c = sum(cost[i][o] for i, o in enumerate(combo))
    loss = sum(delta[i][o] for i, o in enumerate(combo))
    if c <= budget and (best is None or loss < best[1] - 1e-12):
      best = (list(combo), loss)
  return best


def test_knapsack_hand_example():
  # Layer A: cheap and robust; layer B: expensive to compress.
  delta = [[0.0, 0.1, 0.5], [0.0, 1.0, 3.0]]
  cost = [[10, 5, 2], [10, 6, 3]]
  # Budget 13: A at 2 (0.5) + B at 10 would be 12 -> loss 0.5; A at 5 + B
  # at 6 = 11 -> 1.1; so the robust layer gives way.
  choice, loss, c = auto.knapsack(delta, cost, 13)
  assert choice == [2, 0] and loss == pytest.approx(0.5) and c == 12
  choice, loss, c = auto.knapsack(delta, cost, 20)
  assert choice == [0, 0] and loss == 0.0 and c == 20


@pytest.mark.parametrize('seed', range(5))
def test_knapsack_is_exact_against_brute_force(seed):
  rng = np.random.default_rng(seed)
  delta = rng.exponential(size=(4, 6)).tolist()
  cost = rng.integers(1, 50, size=(4, 6)).tolist()
  for budget in (40, 80, 120, 160):
    try:
      choice, loss, c = auto.knapsack(delta, cost, budget)
    except auto.InfeasibleBudget:
      assert _brute_force(delta, cost, budget) is None
      continue
    ref_choice, ref_loss = _brute_force(delta, cost, budget)
    assert loss == pytest.approx(ref_loss)
    assert c <= budget
    assert c == sum(cost[i][o] for i, o in enumerate(choice))


def test_knapsack_infeasible_names_the_cheapest_plan():
  with pytest.raises(auto.InfeasibleBudget, match=r'below the cheapest plan'
                     r' \(5\)'):
    auto.knapsack([[0.0, 1.0], [0.0, 1.0]], [[4, 2], [4, 3]], 4)


def test_exhaustive_with_a_product_cost():
  # Two widths w1, w2 with FLOPs w1 * w2 + w2: not additive.
  widths = [np.array([4, 2, 1]), np.array([4, 2, 1])]
  delta = [[0.0, 0.2, 1.0], [0.0, 0.3, 0.9]]
  cost = lambda idx: widths[0][idx[0]] * widths[1][idx[1]] + widths[1][idx[1]]
  # Budget 10: (4,2)->10 loss 0.3; (2,4)->12 no; (2,2)->6 loss 0.5.
  choice, loss, c = auto.exhaustive(delta, cost, 10)
  assert choice == [0, 1] and loss == pytest.approx(0.3) and c == 10
  with pytest.raises(ValueError, match='exceed the exhaustive search limit'):
    auto.exhaustive(delta, cost, 10, max_combinations=8)


def test_uniform_takes_one_option_everywhere():
  delta = [[0.0, 0.1, 0.5], [0.0, 1.0, 3.0]]
  cost = [[10, 5, 2], [10, 6, 3]]
  total = lambda ch: sum(cost[i][o] for i, o in enumerate(ch))
  assert auto.uniform(delta, total, 13)[0] == [1, 1]     # 11 bytes, loss 1.1
  with pytest.raises(auto.InfeasibleBudget, match='uniform'):
    auto.uniform(delta, total, 4)


# ------------------------------------------------------- kernels, tables ---


def test_prune_and_compress_kernel():
  w = np.array([[1.0, -3.0], [0.5, 2.0]], np.float32)
  np.testing.assert_array_equal(auto.prune_kernel(w, 0.5),
                                [[0.0, -3.0], [0.0, 2.0]])
  rng = np.random.default_rng(0)
  w = rng.normal(size=(64, 32)).astype(np.float32)
  for bits in (2, 3, 5):
    k = auto.compress_kernel(w, Option(0.75, bits))
    assert np.count_nonzero(k) <= w.size // 4
    # An affine grid has 2^bits levels, one of which is zero.
    assert 1 < np.unique(k[k != 0]).size <= 2**bits - 1
  np.testing.assert_array_equal(auto.compress_kernel(w, Option(0.5, None)),
                                auto.prune_kernel(w, 0.5))


def test_grid_weights_are_shared_exactly_and_float_bits_store_values(
    tmp_path):
  rng = np.random.default_rng(1)
  k = auto.compress_kernel(rng.normal(size=(300, 40)).astype(np.float32),
                           Option(0.9, 4))
  params = {'fc': {'kernel': k, 'bias': np.ones(40, np.float32)}}
  for bits in (4, dc.FLOAT_BITS):
    path = str(tmp_path / f'm{bits}')
    n = dc.save(params, [('kernel', bits)], path)
    jax.tree.map(np.testing.assert_array_equal, dc.load(path, params), params)
    # The kernel's own bytes plus the rest of the file (40 float biases).
    assert abs(n - dc.kernel_bytes(k, bits) - 40 * 4) < 400
  # Trained float values cost far more than 4-bit codes of the same mask.
  f = auto.prune_kernel(rng.normal(size=(300, 40)).astype(np.float32), 0.9)
  assert dc.kernel_bytes(f, dc.FLOAT_BITS) > 2 * dc.kernel_bytes(f, 4)


def test_save_within_trims_the_largest_kernel_to_the_budget(tmp_path):
  rng = np.random.default_rng(2)
  params = {'a': {'kernel': auto.compress_kernel(
      rng.normal(size=(200, 100)).astype(np.float32), Option(0.5, 4))},
            'b': {'kernel': auto.compress_kernel(
                rng.normal(size=(100, 10)).astype(np.float32),
                Option(0.0, 4))}}
  rules = [('kernel', 4)]
  path = str(tmp_path / 'f')
  full = dc.save(params, rules, path)
  out, n, removed = auto.save_within(params, rules, ['a/kernel', 'b/kernel'],
                                     path, 0.9 * full)
  assert n <= 0.9 * full and n == os.path.getsize(path)
  assert removed['b/kernel'] == 0 and removed['a/kernel'] > 0
  a0, a1 = params['a']['kernel'], out['a']['kernel']
  assert np.count_nonzero(a1) == np.count_nonzero(a0) - removed['a/kernel']
  kept = a1 != 0
  np.testing.assert_array_equal(a1[kept], a0[kept])
  # What went is the smallest of what was there.
  assert np.abs(a0[(a0 != 0) & ~kept]).max() <= np.abs(a1[kept]).min()
  out, n, removed = auto.save_within(params, rules, ['a/kernel'], path,
                                     full)
  assert n == full and removed == {'a/kernel': 0}


def test_fill_sparsity_is_the_least_that_fits():
  rng = np.random.default_rng(3)
  params = {'a': {'kernel': rng.normal(size=(100, 50)).astype(np.float32)},
            'b': {'kernel': rng.normal(size=(50, 10)).astype(np.float32)}}
  layers = ['a/kernel', 'b/kernel']

  def cost(s):
    return sum(dc.kernel_bytes(auto.compress_kernel(
        params[n[0]]['kernel'], Option(s, 4)), 4) for n in layers)

  room = cost(0.8)
  s = auto.fill_sparsity(params, layers, 4, room)
  assert cost(s) <= room and 0.78 < s < 0.82
  assert cost(s - 2 / 2048) > room
  assert auto.fill_sparsity(params, layers, 4, 1e9) == 0.0
  assert auto.fill_sparsity(params, layers, 4, 10) is None


def test_table_checks_its_shape():
  with pytest.raises(ValueError, match='one row per layer'):
    Table('bytes', ('a', 'b'), ((Option(),),), ((0.0,),), ((1.0,),))
  with pytest.raises(ValueError, match="needs a cost per layer"):
    Table('bytes', ('a',), ((Option(),),), ((0.0,),))
  t = Table('flops', ('a',), ((Option(width=3), Option(width=1)),),
            ((0.0, 0.5),), (), 1.0, 0.0, (3,))
  assert Table.from_json(json.loads(json.dumps(t.to_json()))) == t


def test_measure_unstructured_on_a_linear_model():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(256, 20)).astype(np.float32)
  params = {'a': {'kernel': rng.normal(size=(20, 30)).astype(np.float32)},
            'b': {'kernel': rng.normal(size=(30, 5)).astype(np.float32)}}
  target = x @ params['a']['kernel'] @ params['b']['kernel']
  loss = lambda p: float(np.mean(
      (x @ np.asarray(p['a']['kernel']) @ np.asarray(p['b']['kernel'])
       - target) ** 2))
  opts = auto.unstructured_options((0.0, 0.5, 0.9), (2, 8))
  table = auto.measure_unstructured(params, loss, ['a/kernel', 'b/kernel'],
                                    opts)
  assert table.base_loss == 0.0
  d = np.array(table.delta_loss)
  # Unpruned at 8 bits barely hurts; more pruning and fewer bits hurt more.
  assert d[:, opts.index(Option(0.0, 8))].max() < 0.05 * d.max()
  assert (d[:, opts.index(Option(0.9, 2))] > d[:, opts.index(Option(0.5, 8))]
          ).all()
  c = np.array(table.cost)
  assert (c[:, opts.index(Option(0.9, 2))] < c[:, opts.index(Option(0.0, 8))]
          ).all()
  with pytest.raises(ValueError, match="no parameter 'c/kernel'"):
    auto.measure_unstructured(params, loss, ['c/kernel'], opts)


def test_flops_model_matches_the_shrunk_model():
  model = models.get_model('lenet_300_100')
  x = np.zeros((1, 28, 28, 1), np.float32)
  variables = jax.jit(model.init)(jax.random.key(0), x)
  graph = structured.trace_groups(model, variables, (28, 28, 1), inputs=True)
  fm = auto.FlopsModel.from_model(model, variables, graph, x)
  assert fm.dense() == metrics.summarize(model, variables, x)['flops_dense']
  widths = {'input': 266, 'fc1': 88, 'fc2': 33}
  rng = np.random.default_rng(0)
  keep = {g: np.sort(rng.choice(graph[g].size, w, replace=False))
          for g, w in widths.items()}
  small, small_vars = structured.shrink(model, variables, keep, graph,
                                        (28, 28, 1))
  assert fm(widths) == metrics.summarize(small, small_vars, x)['flops_dense']


# ---------------------------------------------------------------- latency ---

_MLP_FLOPS = auto.FlopsModel(
    (('fc1', 784.0, None, 'fc1'), ('fc2', 1.0, 'fc1', 'fc2'),
     ('fc3', 10.0, 'fc2', None)), {'fc1': 300, 'fc2': 100})
_SLOPES = (1e-8, 5e-8, 2e-7)   # ms per FLOP of fc1, fc2, fc3


def _true_ms(w):
  return 0.003 + sum(s * f for s, f in zip(_SLOPES,
                                           _MLP_FLOPS.per_layer(w)))


def test_sample_widths_start_dense_then_uniform_then_distinct():
  sizes = {'fc1': 300, 'fc2': 100}
  w = auto.sample_widths(sizes, (1.0, 0.5, 0.1), 7)
  assert w[:3] == [sizes, {'fc1': 150, 'fc2': 50}, {'fc1': 30, 'fc2': 10}]
  assert len(w) == 7
  assert len({tuple(x.values()) for x in w}) == 7
  assert all(x['fc1'] in (300, 150, 30) and x['fc2'] in (100, 50, 10)
             for x in w)


def test_latency_model_recovers_per_layer_slopes():
  widths = auto.sample_widths(_MLP_FLOPS.sizes, (1.0, 0.6, 0.3, 0.1), 10)
  m = auto.LatencyModel.fit(_MLP_FLOPS, widths, [_true_ms(w) for w in widths])
  np.testing.assert_allclose(m.intercept, 0.003, rtol=1e-6)
  np.testing.assert_allclose(m.slopes, _SLOPES, rtol=1e-6)
  # Arrays of widths broadcast, as the exhaustive search calls it.
  grid = {'fc1': np.array([300, 30]), 'fc2': np.array([100, 10])}
  np.testing.assert_allclose(
      m(grid), [_true_ms({'fc1': 300, 'fc2': 100}),
                _true_ms({'fc1': 30, 'fc2': 10})], rtol=1e-6)
  assert auto.make_plan(
      Table('flops', ('fc1', 'fc2'), ((Option(width=300),),
                                      (Option(width=100),)),
            ((0.0,), (0.0,)), (), 0.1, 0.0, (300, 100)),
      1.0, cost_model=m).kind == 'latency'


def test_latency_model_finds_the_tile_its_kernels_step_by():
  def tiled_ms(w):   # every width costs what a multiple of 16 costs
    return _true_ms({g: -(-v // 16) * 16 for g, v in w.items()})

  widths = auto.sample_widths(_MLP_FLOPS.sizes, (1.0, 0.6, 0.3, 0.2, 0.1,
                                                 0.05), 14)
  m = auto.LatencyModel.fit(_MLP_FLOPS, widths, [tiled_ms(w) for w in widths])
  assert m.granule == 16
  np.testing.assert_allclose(m.slopes, _SLOPES, rtol=1e-6)
  # 33 units cost what 48 cost, not what 32 cost.
  assert m({'fc1': 300, 'fc2': 33}) == pytest.approx(
      _true_ms({'fc1': 304, 'fc2': 48}))
  assert m({'fc1': 300, 'fc2': 33}) > m({'fc1': 300, 'fc2': 32})


def test_latency_model_needs_one_more_measurement_than_layers():
  widths = auto.sample_widths(_MLP_FLOPS.sizes, (1.0, 0.5, 0.1), 3)
  with pytest.raises(ValueError, match='at least 4 measurements, got 3'):
    auto.LatencyModel.fit(_MLP_FLOPS, widths, [1.0] * 3)


def _widths_table():
  opts = tuple(Option(width=w) for w in (300, 150, 60, 30))
  opts2 = tuple(Option(width=w) for w in (100, 50, 20, 10))
  # fc1 is the more sensitive group.
  return Table('flops', ('fc1', 'fc2'), (opts, opts2),
               ((0.0, 0.05, 0.2, 0.6), (0.0, 0.01, 0.03, 0.1)), (), 0.1, 0.0,
               (300, 100))


def test_plan_by_measurement_replans_until_a_plan_measures_within_budget():
  widths = auto.sample_widths(_MLP_FLOPS.sizes, (1.0, 0.5, 0.2, 0.1), 8)
  model = auto.LatencyModel.fit(_MLP_FLOPS, widths,
                                [_true_ms(w) for w in widths])
  budget = _true_ms({'fc1': 150, 'fc2': 50}) * 1.001
  first = auto.make_plan(_widths_table(), budget, cost_model=model).widths()
  assert first == {'fc1': 150, 'fc2': 50}
  calls = []

  def measure(w):   # the model's best plan runs slower than predicted
    calls.append(dict(w))
    return _true_ms(w) * (2.0 if w == first else 1.0)

  table = _widths_table()
  plan, refit, tried = auto.plan_by_measurement(
      table, budget, model, measure,
      samples=list(zip(widths, [_true_ms(w) for w in widths])))
  assert calls[0] == first and len(tried) == 2
  assert tried[0]['measured_ms'] > budget >= tried[1]['measured_ms']
  assert plan.widths() == calls[1] != first
  # The least predicted loss among the other plans the refitted model (fit
  # to the samples and the slow measurement) puts within the budget.
  best = min((sum(d[i] for d, i in zip(table.delta_loss, combo)), w)
             for combo in itertools.product(range(4), range(4))
             for w in [{g: table.options[k][i].width for k, (g, i)
                        in enumerate(zip(table.layers, combo))}]
             if w != first and refit(w) <= budget)
  assert plan.widths() == best[1]
  assert plan.kind == 'latency'
  assert plan.predicted_cost == pytest.approx(tried[1]['predicted_ms'])


def test_plan_by_measurement_gives_up_naming_what_it_measured():
  widths = auto.sample_widths(_MLP_FLOPS.sizes, (1.0, 0.5, 0.2, 0.1), 8)
  model = auto.LatencyModel.fit(_MLP_FLOPS, widths,
                                [_true_ms(w) for w in widths])
  budget = _true_ms({'fc1': 150, 'fc2': 50}) * 1.001
  with pytest.raises(auto.InfeasibleBudget,
                     match='3 plans were measured over the latency budget'):
    auto.plan_by_measurement(_widths_table(), budget, model,
                             lambda w: 10.0, max_tries=3)


# ---------------------------------------------------------------- section ---


@pytest.mark.parametrize('fields,words', [
    ({'budget': 'byte'}, "did you mean 'bytes'"),
    ({'allocation': 'unifrom'}, "did you mean 'uniform'"),
    ({'budget_value': 1000.0, 'budget_ratio': 10.0}, 'not both'),
    ({'budget_ratio': 0.5}, 'budget_ratio must be > 1'),
    ({'bits': (4, 9)}, 'bits must be in 2..8, or 32'),
    ({'sparsities': (0.5, 1.0)}, r'sparsities must lie in \[0.0, 1.0\)'),
    ({'widths': (0.0,)}, r'widths must lie in \(0.0, 1.0\]'),
    ({'layers': '('}, 'not a valid regex'),
    ({'budgett': 'bytes'}, 'did you mean auto.budget'),
    ({'latency_quantize': 'fp16'}, "auto latency_quantize"),
    ({'latency_samples': 0}, 'latency_samples must be a positive integer'),
    ({'latency_margin': 1.0}, r'latency_margin must lie in \[0.0, 1.0\)'),
    ({'teacher_workdir': '/x', 'distill': False}, 'distill is False'),
])
def test_bad_section_is_named_at_parse(fields, words):
  c = _auto_config(**fields)
  with pytest.raises(ValueError, match=words):
    registry.parse_config(c)


def _auto_config(model='mlp_128', **fields):
  c = tiny_config(model=model, validation_examples=512, num_train_steps=-1,
                  num_epochs=1.0, steps_per_call=-1)
  c.pipeline = 'auto'
  c.auto = default_section('auto')
  c.auto.budget_ratio = 10.0
  c.auto.finetune_epochs = 1.0
  c.auto.sparsities = (0.0, 0.9)
  c.auto.bits = (2, 8)
  for k, v in fields.items():
    c.auto[k] = v
  return c


# --------------------------------------------------------------- pipeline ---


@pytest.fixture(scope='module')
def baseline(tmp_path_factory):
  """A tiny MLP 784-128-10 trained with the validation split held out."""
  where = str(tmp_path_factory.mktemp('auto') / 'baseline')
  c = tiny_config(model='mlp_128', validation_examples=512,
                  num_train_steps=-1, num_epochs=2.0, steps_per_call=-1)
  pipelines.run(c, where)
  return where


@pytest.mark.parametrize('change,words', [
    (lambda c: setattr(c, 'validation_examples', 0), 'validation split'),
    (lambda c: setattr(c.auto, 'budget_ratio', 0.0), 'no budget'),
    (lambda c: setattr(c, 'pruning', default_section('pruning')),
     "remove the sections \\['pruning'\\]"),
    (lambda c: setattr(c, 'validation_examples', 256),
     'trained on \\(part of\\) the validation split'),
    (lambda c: setattr(c, 'model', 'mlp_64'), 'ran with model='),
])
def test_bad_pipeline_input_is_named_before_training(baseline, tmp_path,
                                                     change, words):
  c = _auto_config(baseline_workdir=baseline)
  change(c)
  with pytest.raises(ValueError, match=words):
    pipelines.run(c, str(tmp_path / 'w'))
  assert not os.path.exists(tmp_path / 'w' / 'finetune')


def test_a_teacher_of_another_model_is_checked_then_distilled_from(
    baseline, tmp_path):
  # A teacher that saw the validation split is refused before training.
  seen = str(tmp_path / 'teacher_seen')
  pipelines.run(tiny_config(model='mlp_64', validation_examples=0,
                            num_train_steps=5, steps_per_call=-1), seen)
  c = _auto_config(baseline_workdir=baseline, teacher_workdir=seen)
  with pytest.raises(ValueError, match='teacher trained on \\(part of\\) '
                     'the validation split'):
    pipelines.run(c, str(tmp_path / 'w'))
  assert not os.path.exists(tmp_path / 'w' / 'finetune')
  # One of another model on the same split is the fine-tuning's teacher.
  teacher = str(tmp_path / 'teacher')
  _, t = pipelines.run(tiny_config(model='mlp_64', validation_examples=512,
                                   num_train_steps=5, steps_per_call=-1),
                       teacher)
  c = _auto_config(baseline_workdir=baseline, teacher_workdir=teacher)
  where = str(tmp_path / 'taught')
  _, r = pipelines.run(c, where)
  assert r['teacher_model'] == 'mlp_64'
  assert r['teacher_test_error'] == t['test_error']
  ft = json.load(open(f'{where}/finetune/results.json'))['config']
  assert ft['distillation']['teacher_workdir'] == teacher


def test_infeasible_budget_is_named(baseline, tmp_path):
  c = _auto_config(baseline_workdir=baseline, budget_value=100.0,
                   budget_ratio=0.0)
  with pytest.raises(auto.InfeasibleBudget,
                     match='budget 100 bytes is below the smallest file'):
    pipelines.run(c, str(tmp_path / 'w'))


def test_bytes_budget_plans_sparsity_and_bits_and_writes_the_file(
    baseline, tmp_path, capsys):
  c = _auto_config(baseline_workdir=baseline, budget_ratio=25.0,
                   sparsities=(0.0, 0.5, 0.8, 0.9, 0.95), bits=(2, 4, 8),
                   table_cache=str(tmp_path / 'tables'))
  where = str(tmp_path / 'bytes')
  _, r = pipelines.run(c, where)
  assert 'sensitivity table from' not in capsys.readouterr().out
  plan = r['plan']
  assert plan['kind'] == 'bytes' and all(
      c['option']['width'] is None for c in plan['layers'])
  # The plan is the optimum of the measured table under the budget.
  table = Table.from_json(json.load(open(f'{where}/sensitivity.json')))
  ref, _ = _brute_force(table.delta_loss, table.cost,
                        r['budget_bytes'] - table.fixed_cost)
  chosen = [list(table.options[i]).index(Option(**c['option']))
            for i, c in enumerate(plan['layers'])]
  assert sum(table.delta_loss[i][o] for i, o in enumerate(chosen)) == (
      pytest.approx(sum(table.delta_loss[i][o] for i, o in enumerate(ref))))
  # The file holds exactly the weights that trained (unless trimmed to fit):
  # the same test error.
  assert r['within_budget']
  if not any(x['trimmed_to_fit'] for x in r['layers_plan']):
    assert r['compressed_test_error'] == r['finetune_test_error']
  assert r['compressed_file_bytes'] == os.path.getsize(
      f'{where}/model.deepcompressed')
  # The cost model: the kernels' own bytes plus the rest of the file, here
  # for the fine-tuned kernels (the plan predicted them from the trained
  # model's, before fine-tuning moved the weights on their grids).
  assert r['compressed_file_bytes'] == pytest.approx(
      table.fixed_cost + sum(x['measured_bytes'] for x in r['layers_plan']),
      rel=0.02)
  assert r['compression_ratio'] == pytest.approx(
      r['float_file_bytes'] / r['compressed_file_bytes'])
  for layer in r['layers_plan']:
    assert layer['measured_sparsity'] >= layer['sparsity'] - 1e-3
    assert layer['distinct_nonzero_values'] <= 2**layer['bits'] - 1
  # Export reads the file back into the fine-tuned model: the decoded
  # weights are the file's (as many distinct values per kernel).
  from jaxcompress.export import runs as export_runs
  from jaxcompress.rules import named_leaves
  run = export_runs.load(where)
  assert run.kind == 'deep_compression'
  kernels = dict(named_leaves(run.variables['params']))
  for layer in r['layers_plan']:
    w = np.asarray(kernels[layer['layer']])
    assert len(np.unique(w[w != 0])) == layer['distinct_nonzero_values']
  # Uniform allocation at the same budget, through the pipeline: one
  # sparsity and bits everywhere.
  c.auto.allocation = 'uniform'
  c.auto.bits = (4, 8)
  _, u = pipelines.run(c, str(tmp_path / 'uniform'))
  assert len({(x['sparsity'], x['bits']) for x in u['layers_plan']}) == 1
  # At 4 or 8 bits the kernels do not fit unpruned: the sparsity fills the
  # budget (to the bisection's precision).
  assert u['layers_plan'][0]['sparsity'] > 0
  assert 0.97 * u['budget_bytes'] <= u['predicted_file_bytes'] <= u[
      'budget_bytes']
  assert u['within_budget']


def test_flops_budget_plans_widths_and_shrinks(baseline, tmp_path):
  c = _auto_config(baseline_workdir=baseline, budget='flops',
                   budget_ratio=4.0, widths=(1.0, 0.5, 0.25, 0.1),
                   shrunk_epochs=1.0)
  _, r = pipelines.run(c, str(tmp_path / 'flops'))
  plan = r['plan']
  assert plan['kind'] == 'flops' and all(
      c['option']['bits'] is None and c['option']['sparsity'] == 0.0
      for c in plan['layers'])
  widths = {c['layer']: c['option']['width'] for c in plan['layers']}
  assert r['shrunk_model_kwargs']['features'] == (widths['fc1'],)
  # The shrunk model computes exactly the FLOPs the plan predicted.
  assert r['flops_dense'] == r['predicted_flops'] <= r['budget_flops']
  assert r['within_budget'] and r['flops_ratio'] >= 4.0


def test_latency_budget_plans_widths_on_measured_files(baseline, tmp_path):
  c = _auto_config(baseline_workdir=baseline, budget='latency',
                   budget_ratio=1.5, widths=(1.0, 0.5, 0.25, 0.1),
                   shrunk_epochs=1.0, latency_samples=6)
  _, r = pipelines.run(c, str(tmp_path / 'latency'))
  plan = r['plan']
  assert plan['kind'] == 'latency' and plan['layers'][0]['layer'] == 'fc1'
  width = plan['layers'][0]['option']['width']
  assert width < 128
  assert r['shrunk_model_kwargs']['features'] == (width,)
  assert r['budget_ms'] == pytest.approx(r['dense_latency_ms'] / 1.5)
  lat = r['latency']
  # The model was fitted to measured files, the dense one first: one group
  # of 4 widths has only 4 distinct files of the 6 asked for.
  assert [f['widths']['fc1'] for f in lat['fit']] == [128, 64, 32, 13]
  assert set(lat['model']['ms_per_mflop']) == {'fc1', 'fc2'}
  # The plan trained is the last one measured, and it measured within the
  # budget; the trained model's own file is timed and judged by it.
  assert lat['plans_measured'][-1]['widths'] == {'fc1': width}
  assert lat['plans_measured'][-1]['measured_ms'] <= r['budget_ms'] * 0.95
  assert r['plan']['budget'] == pytest.approx(r['budget_ms'] * 0.95)
  assert r['predicted_latency_ms'] == pytest.approx(
      lat['plans_measured'][-1]['predicted_ms'])
  assert r['within_budget'] == (r['latency_ms_file'] <= r['budget_ms'])
  assert r['speedup'] == pytest.approx(
      r['dense_latency_ms'] / r['latency_ms_file'])
  assert r['predicted_flops'] == r['flops_dense'] < r['dense_flops']


def test_a_file_over_budget_is_pruned_further_and_retrained(
    baseline, tmp_path, monkeypatch):
  # A table that predicts half the bytes: the plan's file comes out over
  # budget, and the pipeline must bring it back by pruning and retraining.
  measure = auto.measure_unstructured

  def optimistic(*args, **kwargs):
    t = measure(*args, **kwargs)
    return dataclasses.replace(
        t, cost=tuple(tuple(c / 2 for c in row) for row in t.cost))

  monkeypatch.setattr(auto, 'measure_unstructured', optimistic)
  c = _auto_config(baseline_workdir=baseline, budget_ratio=25.0,
                   sparsities=(0.0, 0.5, 0.8, 0.9), bits=(4, 8))
  _, r = pipelines.run(c, str(tmp_path / 'fit'))
  fit = r['fit']
  assert fit['file_bytes_before'] > r['budget_bytes']
  assert os.path.exists(tmp_path / 'fit' / 'fit' / 'results.json')
  layer = next(x for x in r['layers_plan'] if x['layer'] == fit['layer'])
  assert layer['measured_sparsity'] >= fit['sparsity'] - 1e-6
  assert fit['sparsity'] > layer['sparsity']
  assert r['within_budget'] and r['compressed_file_bytes'] <= r[
      'budget_bytes']


def test_validation_split_is_held_out_of_both_data_paths():
  from jaxcompress import data
  from jaxcompress.train import feed
  c = tiny_config(validation_examples=48, train_subset=128)
  ds = feed.load_data(c)
  val_images, _ = feed.load_validation(c)
  assert len(ds.train_labels) == 80 and len(val_images) == 48
  full = data.load()
  np.testing.assert_array_equal(val_images, full.train_images[80:128])
  # The streamed path reads the same 80 images (the runner's stream: tfds
  # slices the split to the images load_data kept).
  seen = np.concatenate([b['image'] for _, b in zip(
      range(5), data.stream('train', 16, repeat=False, subset=80))])
  keys = {x.tobytes() for x in ds.train_images}
  assert len(seen) == 80 and all(x.tobytes() in keys for x in seen)
  with pytest.raises(ValueError, match='leaves no training examples'):
    feed.load_data(tiny_config(validation_examples=2048, train_subset=2048))
