"""Start processes meant to outlive grading: detached, forked, double-forked; and a fork bomb."""
import os
import subprocess
import sys

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)", "TOKEN"]


def spawn():
    try:
        subprocess.Popen(SLEEPER, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        pass
    try:
        if os.fork() == 0:  # double fork: the grandchild is orphaned at once
            if os.fork() == 0:
                os.setsid()
                os.execv(sys.executable, SLEEPER)
            os._exit(0)
    except OSError:
        pass


spawn()


def conv_output_size(*args, **kwargs):
    spawn()
    return -1


def same_padding(*args, **kwargs):
    while True:  # a fork bomb: capped by the process limit, ended by the time limit
        try:
            os.fork()
        except OSError:
            pass


pool_output_size = conv2d_num_params = linear_num_params = trace_shapes = conv_output_size
