"""Exhaust the trusted side with replies: huge strings, a flood of tiny values, values just under the caps.

MODE is replaced by the test. The student process's own codec is the student's to change: its value count
limit is lifted and, for the floods, its encoder replaced by one that sends the Python value as it is.
"strings" returns an 8 MB string from every function; "flood" 16 million empty lists (32 MB of JSON);
"count" 1.5 million zeros (3 MB, past the count of values a reply may hold); "values" the most values a
reply may hold.
"""
import sandbox.wire as wire

MODE = "MODE"
wire.MAX_NODES = 10 ** 12
_encode = wire.Encoder.encode


def _as_it_is(self, value, depth=0):
    """Long lists go out as they are: the C JSON encoder writes millions of values in a second."""
    if MODE != "strings" and type(value) is list and len(value) > 100_000:
        return value
    return _encode(self, value, depth)


wire.Encoder.encode = _as_it_is


def attack(*args, **kwargs):
    if MODE == "strings":
        return "x" * 8_000_000
    if MODE == "flood":
        return [[]] * 16_000_000
    if MODE == "count":
        return [0] * 1_500_000
    return [[]] * 499_000


conv_output_size = pool_output_size = same_padding = conv2d_num_params = linear_num_params = trace_shapes = attack
