"""The wire's codec: plain data crosses intact, everything else is kept or refused, nothing is unpickled."""
from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.sandbox import wire


def kept(value):
    return {"$": "h", "id": 7, "type": type(value).__name__}


def handle(node):
    if node.get("$") != "h":
        raise wire.ProtocolError("not a handle")
    return ("handle", node["id"])


def round_trip(value):
    tree, buffers = wire.encode(value, kept)
    frame = b"".join(bytes(p) for p in wire.pack({"ok": tree}, buffers))
    total, text_length = wire.HEADER.unpack(frame[:wire.HEADER.size])
    header, out = wire.split(bytearray(frame[wire.HEADER.size:]), text_length)
    return wire.decode(header["ok"], out, handle)


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.integers() | st.text(max_size=5), inner, max_size=3),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(value=plain)
def test_plain_values_cross_with_their_exact_types(value):
    result = round_trip(value)
    assert result == value

    def same_types(a, b):
        assert type(a) is type(b)
        if isinstance(a, (list, tuple)):
            for x, y in zip(a, b):
                same_types(x, y)
        if isinstance(a, dict):
            for key in a:
                same_types(a[key], b[key])
    same_types(result, value)


@settings(max_examples=60, deadline=None)
@given(array=hnp.arrays(dtype=st.sampled_from(["bool", "int8", "int64", "uint16", "float32", "float64",
                                               "complex128", ">f8", ">i4"]),
                        shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=5)))
def test_numpy_arrays_cross_with_dtype_shape_and_values(array):
    result = round_trip(array)
    assert type(result) is np.ndarray and result.shape == array.shape
    assert result.dtype == array.dtype.newbyteorder("<") or result.dtype == array.dtype
    np.testing.assert_array_equal(result, array)
    result[...] = result  # decoded arrays are writable


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.int64, torch.uint8, torch.bool])
def test_tensors_cross_and_parameters_become_plain_tensors(dtype):
    tensor = (torch.arange(24).reshape(2, 3, 4) % 5).to(dtype)
    for value in (tensor, torch.nn.Parameter(tensor.float(), requires_grad=True), tensor[:, 1], torch.zeros(0, 3)):
        result = round_trip(value)
        assert type(result) is torch.Tensor and result.dtype == value.dtype and not result.requires_grad
        assert torch.equal(result, value.detach())


def test_numpy_scalars_complex_and_containers_of_subclasses():
    from collections import OrderedDict, namedtuple
    Pair = namedtuple("Pair", "a b")
    assert type(round_trip(np.float32(1.5))) is np.float32
    assert round_trip(np.int64(3)) == 3 and type(round_trip(np.int64(3))) is np.int64
    assert round_trip(1 + 2j) == 1 + 2j
    assert round_trip(torch.Size([2, 3])) == (2, 3) and type(round_trip(torch.Size([2, 3]))) is tuple
    assert round_trip(Pair(1, 2)) == (1, 2)
    assert type(round_trip(OrderedDict(a=1))) is dict


class LyingInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class LyingArray(np.ndarray):
    pass


@pytest.mark.parametrize("value", [LyingInt(3), object(), np.array([1, "a"], dtype=object), {1, 2},
                                   torch.zeros(2).as_subclass(type("Sub", (torch.Tensor,), {})),
                                   np.zeros(2, dtype=[("a", "i4")])])
def test_values_that_are_not_plain_data_are_kept_where_they_were_made(value):
    assert round_trip(value) == ("handle", 7)


def test_a_list_that_contains_itself_is_unsendable():
    loop = []
    loop.append(loop)
    with pytest.raises(wire.Unsendable, match="nested more than"):
        wire.encode(loop, kept)


def decode_raw(tree, buffers=()):
    return wire.decode(tree, [memoryview(bytearray(b)) for b in buffers], handle)


@pytest.mark.parametrize("tree, buffers, message", [
    ({"$": "nd", "t": "|O", "s": [1], "b": 0}, [b"\0" * 8], "dtype that may not cross"),
    ({"$": "nd", "t": "<f8", "s": [3], "b": 0}, [b"\0" * 8], "does not match its shape"),
    ({"$": "nd", "t": "<f8", "s": [-1], "b": 0}, [b"\0" * 8], "invalid shape"),
    ({"$": "nd", "t": "<f8", "s": [1], "b": 3}, [b"\0" * 8], "missing or reused buffer"),
    ({"$": "tuple", "v": [{"$": "bytes", "b": 0}, {"$": "bytes", "b": 0}]}, [b"x"], "missing or reused buffer"),
    ({"$": "bytes", "b": 0}, [b"x", b"y"], "buffers that no value uses"),
    ({"$": "pt", "t": "object", "s": [1], "b": 0}, [b"\0" * 8], "dtype that may not cross"),
    ({"$": "pickle", "v": "cos\nsystem\n"}, [], "not a handle"),
    ({"$": "dict", "v": [[[1, 2], 3]]}, [], "cannot be a key"),
    ({"$": "c", "re": "1", "im": 0}, [], "complex"),
    (("tuple",), [], "unknown form"),
])
def test_malformed_values_are_protocol_errors(tree, buffers, message):
    with pytest.raises(wire.ProtocolError, match=message):
        decode_raw(tree, buffers)


def test_deep_nesting_is_refused_before_recursion_hurts():
    tree = []
    for _ in range(wire.MAX_DEPTH + 5):
        tree = [tree]
    with pytest.raises(wire.ProtocolError, match="nested"):
        decode_raw(tree)
    text = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(wire.ProtocolError, match="nested"):  # counted before the JSON parser recurses
        wire.split(bytearray(text + b""), len(text))


def _spy_on_json(monkeypatch) -> list:
    parsed = []
    real = json.loads
    monkeypatch.setattr(wire.json, "loads", lambda text, *a, **k: parsed.append(len(text)) or real(text, *a, **k))
    return parsed


@pytest.mark.parametrize("text, message", [
    (b'{"buffers": [], "ok": [' + b"[]," * wire.MAX_NODES + b'[]]}', "more than 1,000,000 values"),
    (b'{"buffers": [], "ok": ' + b'{"$": "tuple", "v": [' * 120 + b"1" + b"]}" * 120 + b"}", "nested more than"),
    (b'{"buffers": [], "ok": "' + b"x" * (wire.MAX_HEADER_BYTES + 1) + b'"}', "bytes of JSON"),
])
def test_replies_past_the_value_count_depth_or_json_size_are_refused_before_parsing(monkeypatch, text, message):
    """A reply of millions of tiny values would cost the reader gigabytes as Python objects: it is
    counted first, and refused without the JSON parser building anything."""
    parsed = _spy_on_json(monkeypatch)
    with pytest.raises(wire.ProtocolError, match=message):
        wire.check_sizes(len(text), len(text), 1 << 30)
        wire.split(bytearray(text), len(text))
    assert parsed == []


def test_brackets_commas_and_escaped_quotes_inside_strings_do_not_count():
    text = json.dumps({"buffers": [], "ok": ['[{,:"\\' * 300_000, "[" * 1000, [1, [2, [3]]]]}).encode()
    header, _ = wire.split(bytearray(text), len(text))
    assert header["ok"][2] == [1, [2, [3]]]


def test_decoded_strings_are_cut_and_large_containers_are_unsendable():
    assert len(decode_raw("y" * (wire.MAX_STRING * 50))) < wire.MAX_STRING + 50
    assert decode_raw("y" * wire.MAX_STRING) == "y" * wire.MAX_STRING
    with pytest.raises(wire.Unsendable, match="NumPy array or a tensor"):
        wire.encode([0.5] * wire.MAX_NODES, kept)
    assert round_trip(list(range(100_000))) == list(range(100_000))  # a long history still crosses


def test_frames_larger_than_allowed_are_refused_before_reading():
    read, write = os.pipe()
    try:
        os.write(write, struct.pack("<QI", 1 << 60, 10))
        with pytest.raises(wire.ProtocolError, match="more than the"):
            wire.read_frame(read, 1 << 20)
    finally:
        os.close(read)
        os.close(write)


def test_lengths_that_do_not_add_up_are_refused():
    header = json.dumps({"buffers": [5]}).encode()
    with pytest.raises(wire.ProtocolError, match="do not add up"):
        wire.split(bytearray(header + b"abc"), len(header))


def test_strings_with_lone_surrogates_are_cleaned():
    assert decode_raw("a\udc80b") == "a?b"
    assert wire.clean_text("x" * 50, 10) == "x" * 10 + "... (40 more characters)"


def test_frame_reader_assembles_frames_fed_in_pieces():
    read, write = os.pipe()
    os.set_blocking(read, False)
    reader = wire.FrameReader(1 << 20)
    tree, buffers = wire.encode({"x": np.arange(3.0)}, kept)
    data = b"".join(bytes(p) for p in wire.pack({"ok": tree}, buffers))
    try:
        frame = None
        for i in range(0, len(data), 7):
            os.write(write, data[i:i + 7])
            frame = reader.feed(read) or frame
        header, out = frame
        np.testing.assert_array_equal(wire.decode(header["ok"], out, handle)["x"], np.arange(3.0))
    finally:
        os.close(read)
        os.close(write)
