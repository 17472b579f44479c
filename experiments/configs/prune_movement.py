"""Movement pruning against magnitude GMP, same cubic schedule.

Reproduces the comparison of Sanh, Wolf & Rush 2020 ("Movement pruning:
adaptive sparsity by fine-tuning": movement beats magnitude at high
sparsity, on BERT fine-tuning) on the write-ups' MNIST networks: the
score S = -sum_t g_t w_t accumulated at every step (jaxcompress.pruning.
movement) in place of |w|, everything else equal: MLP 784-128-10 with
prune_mlp128_magnitude's schedule (10 epochs, cubic from epoch 1 to 6),
LeNet-300-100 with prune_lenet300_gradual's (20 epochs, cubic from epoch 2
to 12), at 90% and 95% of every kernel removed.

  python experiments/main.py \
      --config=experiments/configs/prune_movement.py:mlp128,movement,0.9 \
      --workdir=workdirs/movement

The argument is model (mlp128 | lenet300), score (movement | magnitude),
sparsity. All rows, 3 seeds, with the table:
python benchmarks/pruning_experiments.py --group=movement --seeds=0,1,2
(README, "Movement pruning").
"""

from configs import prune_lenet300_gradual, prune_mlp128_magnitude


def get_config(arg: str = 'mlp128,movement,0.9'):
  model, score, sparsity = arg.split(',')
  base = {'mlp128': prune_mlp128_magnitude,
          'lenet300': prune_lenet300_gradual}[model]
  c = base.get_config(sparsity)
  c.pruning.score = score
  return c
