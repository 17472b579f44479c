"""Markdown tables of the quantization experiments' results.json files.

  python benchmarks/quant_table.py [--workdirs=workdirs] > table.md

For every workdirs/quant_*/results.json (written by
jaxcompress.quantization.ptq:run), one row per PTQ / QAT variant: the
test error of the model actually evaluated (the integer model when inputs
are quantized, else the dequantized weight-only model), its change against
the float model in points, the weight-only error, whether the integer
model's logits are bit-identical to the fake-quant evaluation, the file
bytes and ratio to the float32 file, and the error after loading the file.
"""

import glob
import json
import os
import sys


def fmt_pct(x):
  return f'{100 * x:.2f}%'


def rows(path):
  r = json.load(open(path))
  name = os.path.basename(os.path.dirname(path))
  f = r['float_test_error']
  n = f" ({r['test_images']:,} test images)" if 'test_images' in r else ''
  out = [f'\n### {name} ({r["model"]}): float test error {fmt_pct(f)}{n}\n',
         '| stage | variant | error | vs float (points) | weight-only error '
         '| integer = fake-quant bit-exact | file bytes | x float32 file '
         '| error after load |',
         '|---|---|---|---|---|---|---|---|---|']
  for stage in ('ptq', 'qat'):
    for variant, v in r[stage].items():
      err = v['integer_error']
      exact = ('yes' if v['integer_bit_exact'] else
               f"no (max diff {v['integer_max_abs_logit_diff']:.2g})")
      if not v['integer_layers']:
        exact += ' (weights only)'
      out.append(
          f"| {stage.upper()} | {variant} | {fmt_pct(err)} | "
          f"{100 * (err - f):+.2f} | {fmt_pct(v['weight_only_error'])} | "
          f"{exact} | {v.get('file_bytes', '')} | "
          f"{v.get('size_ratio', float('nan')):.3f} | "
          f"{fmt_pct(v['loaded_error']) if 'loaded_error' in v else ''} |")
  return out


def main():
  root = 'workdirs'
  for arg in sys.argv[1:]:
    if arg.startswith('--workdirs='):
      root = arg.split('=', 1)[1]
  paths = sorted(glob.glob(os.path.join(root, 'quant_*', 'results.json')))
  paths = [p for p in paths if 'quant_float' not in p]
  if not paths:
    raise SystemExit(f'no {root}/quant_*/results.json found')
  for p in paths:
    print('\n'.join(rows(p)))


if __name__ == '__main__':
  main()
