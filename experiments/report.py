"""Prints a markdown table of finished runs' results.json files.

  python experiments/report.py workdirs/lenet_300_100 workdirs/lenet5
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxcompress import report  # noqa: E402

if __name__ == '__main__':
  print(report.markdown([report.load(d) for d in sys.argv[1:]]), end='')
