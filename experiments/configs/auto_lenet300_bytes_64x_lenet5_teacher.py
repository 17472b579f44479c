"""auto_lenet300_bytes_64x, distilled from LeNet-5 instead of its baseline.

The same plan search, budget (64x smaller than the float32 LeNet-300-100
file) and fine-tuning recipe as auto_lenet300_bytes_64x.py; only the
teacher differs: the fine-tuning learns from a LeNet-5 trained on the same
55,000 images with the same 5,000 held out (auto_baseline.py:lenet5, about
0.75% test error) instead of the dense LeNet-300-100 it compresses (about
1.6%). The file is LeNet-300-100's: the teacher is used only in training.
Hinton et al. (2015) distilled MNIST MLPs from stronger nets the same way.

  python benchmarks/auto_targets.py --rows=auto_lenet300_bytes_64x_lenet5_teacher

(trains the seed's LeNet-5 as row 'teacher_lenet5' beside the baselines,
then points `auto.teacher_workdir` at it; with experiments/main.py set
--config.auto.baseline_workdir and --config.auto.teacher_workdir to
finished runs). Target (issue 16): >= 64x smaller at <= 1.6% test error,
median of 3 seeds. Runtime and result: README.md.
"""

from configs import auto_common

# The model of the teacher run benchmarks/auto_targets.py trains per seed.
TEACHER = 'lenet5'


def get_config():
  return auto_common.config('lenet_300_100', 'bytes', 64, alpha=0.9)
