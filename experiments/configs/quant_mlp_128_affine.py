"""The write-ups' 0-255 affine 8-bit scheme on MLP 784-128-10.

Every weight tensor and every layer input mapped affinely onto 0..255 with a
zero point (x ~ s (q - z), q in [0, 255]), one scale per tensor, as in the
practitioner write-ups (and TFLite's uint8 scheme, Jacob et al. 2018). PTQ
(min/max weights, 500-image min/max input calibration) and QAT (2 epochs
fine-tuning). Anchors (ANCHORS.md): MLP 784-128-10 about 2% error; int8
PTQ costs ~0.2-0.3 points on ImageNet ResNets (torchvision).

  python experiments/main.py --config=experiments/configs/quant_mlp_128_affine.py \
      --workdir=workdirs/quant_mlp_128_affine

Runtime: about 3 minutes on the shared 2-core CPU (1 seed, seed 0).
Result: docs/results_quantization.md (python benchmarks/quant_table.py).
"""

import ml_collections
from configs import lenet_300_100


def get_config():
  c = lenet_300_100.get_config()
  c.model = 'mlp_128'
  c.pipeline = 'ptq'
  affine = {'weight_bits': 8, 'weight_symmetric': False,
            'per_channel': False, 'act_bits': 8, 'act_symmetric': False}
  c.quantization = ml_collections.ConfigDict(dict(affine, calib_images=500))
  c.ptq = ml_collections.ConfigDict(dict(
      float_workdir='workdirs/quant_float_mlp_128',
      variants=(('w8a8_affine_0_255', affine),
                ('w8_affine_0_255', dict(affine, act_bits=0))),
      qat=(('w8a8_affine_0_255', dict(affine, epochs=2.0,
                                      learning_rate=0.005)),)))
  return c
