"""Starts N local processes of experiments/main.py as one multi-process run.

  python experiments/launch_local.py --num_processes=2 -- \
      --config=experiments/configs/lenet_300_100.py --workdir=workdirs/mp

Every process gets `--coordinator_address=localhost:<free port>
--num_processes=N --process_id=i` and the flags after `--`; on the CPU they
talk through gloo over loopback (set XLA_FLAGS=
--xla_force_host_platform_device_count=K for K devices per process). The
launcher waits for all of them and exits with the first non-zero status; if
one process fails, the others are stopped after `--grace_s` seconds, so a
broken run never hangs.
"""

import os
import socket
import subprocess
import sys
import time

from absl import app, flags

flags.DEFINE_integer('num_processes', 2, 'Processes to start.')
flags.DEFINE_string('binary', os.path.join(os.path.dirname(
    os.path.abspath(__file__)), 'main.py'), 'The program each process runs.')
flags.DEFINE_integer('grace_s', 30, 'Seconds the others get to stop after '
                     'one process failed.')
FLAGS = flags.FLAGS


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def launch(num_processes: int, args: list[str], binary: str,
           grace_s: int = 30) -> int:
  """Runs the processes; returns the first non-zero exit status (or 0)."""
  port = _free_port()
  procs = [subprocess.Popen([
      sys.executable, binary, f'--coordinator_address=localhost:{port}',
      f'--num_processes={num_processes}', f'--process_id={i}', *args])
           for i in range(num_processes)]
  status, failed_at = 0, None
  while any(p.poll() is None for p in procs):
    for p in procs:
      rc = p.poll()
      if rc and not status:
        status, failed_at = rc, time.time()
    if failed_at is not None and time.time() - failed_at > grace_s:
      for p in procs:
        if p.poll() is None:
          p.kill()
    time.sleep(0.2)
  for p in procs:
    if p.returncode and not status:
      status = p.returncode
  return status


def main(argv):
  sys.exit(launch(FLAGS.num_processes, argv[1:], FLAGS.binary,
                  FLAGS.grace_s))


if __name__ == '__main__':
  app.run(main)
