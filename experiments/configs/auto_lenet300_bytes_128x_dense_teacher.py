"""auto_lenet300_bytes_64x_dense_teacher at 128x.

LeNet-300-100 compressed into a file 128x smaller than its float32
model.msgpack, fine-tuned with distillation from a dense LeNet-300-100
trained with dropout and 2-pixel translations (lenet_300_100_augmented.py,
the same 55,000 training images, the same 5,000 held out). Issue 16 asks
for the best ratio LeNet-300-100 reaches at <= 1.8% test error.

  python benchmarks/auto_targets.py --rows=auto_lenet300_bytes_128x_dense_teacher

Runtime and result: README.md.
"""

from configs import auto_common

# The baseline config (auto_common.BASELINES) of the teacher run
# benchmarks/auto_targets.py trains per seed.
TEACHER = 'lenet_300_100_augmented'


def get_config():
  return auto_common.config('lenet_300_100', 'bytes', 128, alpha=0.9)
