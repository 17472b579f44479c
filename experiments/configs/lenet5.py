"""Dense LeNet-5 (Caffe form) baseline on MNIST (431,080 params).

Reproduces: the LeNet-5 reference of Han et al. 2015, Table 1 (0.80% test
error), and the baseline every LeNet-5 compression row starts from.

  python experiments/main.py --config=experiments/configs/lenet5.py \
      --workdir=workdirs/lenet5

Runtime: 10 epochs in the scanned epoch (in_memory), 22.6 minutes on the
2-core CPU shared with three other jobs (load average about 15; 7.5 minutes
through the old per-step tf.data path on a quieter machine).
Result (seed 0, measured): 0.68% test error (68 errors; published 0.80%;
0.67% through the tf.data path, whose shuffling differs); README.md's
baselines table.

Only seed 0 trains at this learning rate: seeds 1, 2 and 3 diverge (the
loss is NaN within the first 200 steps, on the scanned and the tf.data path
alike, and the run stops with a DivergedError), as does seed 0 on 55,000
images. 0.02 trains seeds 0, 1 and 2 (one epoch each, 55,000 images;
auto_common.py uses it). Every LeNet-5 figure in README.md starts from seed
0's run, so this config keeps 0.05 until they are rerun; for other seeds
pass --config.learning_rate=0.02.
"""

from configs import default


def get_config():
  c = default.get_config()
  c.model = 'lenet5'
  c.num_epochs = 10.0
  c.batch_size = 128
  c.optimizer = 'momentum'
  c.learning_rate = 0.05
  c.weight_decay = 5e-4
  c.schedule = 'cosine'
  return c
