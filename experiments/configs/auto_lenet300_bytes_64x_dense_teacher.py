"""auto_lenet300_bytes_64x, distilled from a better-trained dense LeNet-300-100.

The same plan search, budget (64x smaller than the float32 LeNet-300-100
file), starting weights and fine-tuning recipe as auto_lenet300_bytes_64x.py;
only the teacher differs: a dense LeNet-300-100 of the same architecture
trained with dropout and 2-pixel translations for 40 epochs
(lenet_300_100_augmented.py, on the same 55,000 images with the same 5,000
held out) instead of the 20-epoch baseline the plan compresses. The file
is LeNet-300-100's; the teacher is used only in training.

  python benchmarks/auto_targets.py --rows=auto_lenet300_bytes_64x_dense_teacher

(trains the seed's teacher as row 'teacher_lenet_300_100_augmented' beside
the baselines, then points `auto.teacher_workdir` at it). Target (issue
16): >= 64x smaller at <= 1.6% test error, median of 3 seeds. Runtime and
result: README.md.
"""

from configs import auto_common

# The baseline config (auto_common.BASELINES) of the teacher run
# benchmarks/auto_targets.py trains per seed.
TEACHER = 'lenet_300_100_augmented'


def get_config():
  return auto_common.config('lenet_300_100', 'bytes', 64, alpha=0.9)
