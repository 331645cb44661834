"""The wire between the trusted grading process and the student process: plain data only, no pickle.

A frame is ``<u64 payload length><u32 JSON length>``, then a JSON header, then
raw buffers whose lengths the header lists. Values become JSON trees; anything
JSON cannot say is a tagged object ``{"$": tag, ...}``:

=========  =============================================  ==========================
tag        what                                           fields
=========  =============================================  ==========================
``tuple``  a tuple                                        ``v``: items
``dict``   a dict (any plain keys)                        ``v``: [[key, value], ...]
``bytes``  bytes                                          ``b``: buffer index
``c``      a complex number                               ``re``, ``im``
``nd``     a NumPy array (C order, little endian)         ``t`` dtype, ``s`` shape, ``b``
``np``     a NumPy scalar                                 ``t`` dtype, ``b``
``pt``     a torch tensor (dense, on the CPU once sent)   ``t`` dtype, ``s``, ``b``, ``d`` device
``h``      a handle: an object that stays where made      ``id``, ``type``
``fn``     a function of a student module (to the sandbox)  ``m`` module, ``n`` name
``helper`` a sandbox-side helper (to the sandbox)         ``m`` module, ``n`` name
=========  =============================================  ==========================

Decoding builds values only from this format: exact ``int``/``float``/``str``
from the JSON parser, arrays with ``numpy.frombuffer`` for an allow-listed
dtype, tensors with ``torch.frombuffer``. Nothing is unpickled and no class
is looked up by name, so a value cannot run code or lie about its type or
equality when it is decoded. Anything else is a :class:`ProtocolError`.

A frame cannot exhaust the side that reads it: its JSON text is at most
``MAX_HEADER_BYTES``, and before the JSON parser builds a single object
:func:`check_structure` counts its values (at most ``MAX_NODES``) and its
nesting (at most ``MAX_JSON_DEPTH``); every decoded string is cut to
``MAX_STRING`` characters.

This module is shared by both sides and imports only the standard library,
NumPy, and torch when a tensor is met.
"""
from __future__ import annotations

import json
import os
import re
import select
import struct
import sys

import numpy as np

HEADER = struct.Struct("<QI")
MAX_DEPTH = 64
MAX_DIMS = 32
MAX_HEADER_BYTES = 16 << 20  # JSON text of one frame (the buffers are counted apart, by the frame limit)
MAX_NODES = 1_000_000         # JSON values in one frame: numbers, strings, lists, objects, keys
MAX_JSON_DEPTH = 3 * MAX_DEPTH + 8  # a value level takes up to 3 JSON levels ({"$": "dict", "v": [[k, v]]})
MAX_STRING = 10_000           # characters kept of one decoded string
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# NumPy dtypes that may cross (little endian or byte-free); object, string and record arrays may not.
NUMPY_DTYPES = frozenset(["|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8",
                          "<f2", "<f4", "<f8", "<c8", "<c16"])
TORCH_DTYPES = frozenset(["float16", "bfloat16", "float32", "float64", "complex64", "complex128",
                          "int8", "int16", "int32", "int64", "uint8", "bool"])


class ProtocolError(Exception):
    """A frame or value that does not follow the format above."""


class Unsendable(Exception):
    """A value that cannot be encoded (too deep, a buffer too large...)."""


# -- frames ---------------------------------------------------------------------------------------
SMALL = 1 << 16  # frames up to this size are written in one piece


def pack(header: dict, buffers: list) -> list:
    """The pieces of one frame, ready to write: prefix, JSON, then the buffers (joined when small)."""
    header = dict(header, buffers=[len(b) for b in buffers])
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    total = len(text) + sum(len(b) for b in buffers)
    pieces = [HEADER.pack(total, len(text)), text, *buffers]
    return [b"".join(pieces)] if total <= SMALL else pieces


def write_frame(fd: int, header: dict, buffers: list) -> None:
    """Write a whole frame to a blocking file descriptor."""
    for piece in pack(header, buffers):
        view = memoryview(piece).cast("B")
        while view:
            written = os.write(fd, view)
            view = view[written:]


def read_exactly(fd: int, count: int) -> bytearray:
    data = bytearray(count)
    view, got = memoryview(data), 0
    while got < count:
        chunk = os.readv(fd, [view[got:]])
        if chunk == 0:
            raise EOFError("the other side closed the wire")
        got += chunk
    return data


def read_frame(fd: int, max_bytes: int) -> tuple[dict, list]:
    """Read one frame from a blocking file descriptor: (header, buffers)."""
    total, text_length = HEADER.unpack(read_exactly(fd, HEADER.size))
    payload = read_exactly(fd, check_sizes(total, text_length, max_bytes))
    return split(payload, text_length)


def check_sizes(total: int, text_length: int, max_bytes: int) -> int:
    if total > max_bytes:
        raise ProtocolError(f"a message of {total:,} bytes, more than the {max_bytes:,} allowed")
    if text_length > total:
        raise ProtocolError("a message whose header is longer than the message")
    if text_length > MAX_HEADER_BYTES:
        raise ProtocolError(f"a message whose values take {text_length:,} bytes of JSON, more than the "
                            f"{MAX_HEADER_BYTES:,} allowed (large data travels as arrays)")
    return total


def check_structure(text: bytes) -> None:
    """Refuse JSON ``text`` of more than MAX_NODES values or MAX_JSON_DEPTH levels, before it is parsed.

    Strings are blanked first, so that brackets and commas inside them do not count; what is left has
    one ``[``, ``{``, ``,`` or ``:`` per value at most (plus the first). Linear time, no Python object
    per value."""
    opens, nodes = _counts(text)
    if (nodes > MAX_NODES or opens > MAX_JSON_DEPTH) and b'"' in text:  # the strings may hold what counted
        text = _JSON_STRING.sub(b'""', text)
        opens, nodes = _counts(text)
    if nodes > MAX_NODES:
        raise ProtocolError(f"a message of more than {MAX_NODES:,} values (large data travels as arrays)")
    if opens > MAX_JSON_DEPTH:
        codes = np.frombuffer(text, dtype=np.uint8)
        steps = (np.isin(codes, (0x5B, 0x7B)).astype(np.int8) - np.isin(codes, (0x5D, 0x7D)).astype(np.int8))
        if int(np.cumsum(steps, dtype=np.int32).max()) > MAX_JSON_DEPTH:
            raise ProtocolError(f"values nested more than {MAX_DEPTH} levels deep")


def _counts(text: bytes) -> tuple[int, int]:
    """(brackets opened, values at most) of JSON text."""
    opens = text.count(b"[") + text.count(b"{")
    return opens, opens + text.count(b",") + text.count(b":") + 1


def split(payload: bytearray, text_length: int) -> tuple[dict, list]:
    """Header and buffers of a frame's payload; every length is checked."""
    text = bytes(payload[:text_length])
    check_structure(text)
    try:
        header = json.loads(text)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ProtocolError(f"a header that is not JSON ({type(exc).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("buffers"), list):
        raise ProtocolError("a header without its list of buffers")
    lengths = header["buffers"]
    if not all(type(n) is int and n >= 0 for n in lengths) or text_length + sum(lengths) != len(payload):
        raise ProtocolError("buffer lengths that do not add up to the message")
    buffers, start, view = [], text_length, memoryview(payload)
    for n in lengths:
        buffers.append(view[start:start + n])
        start += n
    return header, buffers


class FrameReader:
    """Incremental reader for a non-blocking descriptor: ``feed()`` until it returns a frame."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._prefix = bytearray()
        self._payload: bytearray | None = None
        self._text_length = 0
        self._got = 0

    def feed(self, fd: int) -> tuple[dict, list] | None:
        """Read what is available; a whole frame, or None for more to come. EOFError at end of stream."""
        try:
            if self._payload is None:
                chunk = os.read(fd, HEADER.size - len(self._prefix))
                if not chunk:
                    raise EOFError("the student process closed the wire")
                self._prefix += chunk
                if len(self._prefix) < HEADER.size:
                    return None
                total, self._text_length = HEADER.unpack(self._prefix)
                self._payload = bytearray(check_sizes(total, self._text_length, self.max_bytes))
                self._got = 0
            while self._got < len(self._payload):
                view = memoryview(self._payload)[self._got:]
                count = os.readv(fd, [view[:1 << 22]])
                if count == 0:
                    raise EOFError("the student process closed the wire in the middle of a message")
                self._got += count
        except BlockingIOError:
            return None
        payload, self._payload, self._prefix = self._payload, None, bytearray()
        return split(payload, self._text_length)


def wait_readable(fds: list[int], timeout: float) -> list[int]:
    try:
        return select.select(fds, [], [], max(timeout, 0))[0]
    except InterruptedError:
        return []


# -- values -----------------------------------------------------------------------------------------
class Encoder:
    """Turns a value into a JSON tree plus buffers.

    ``keep(obj)`` decides what happens to objects that are not plain data:
    the sandbox keeps them and answers a handle; the trusted side refuses
    them (it only sends plain data, handles and function references).
    """

    def __init__(self, keep, max_bytes: int = 1 << 62):
        self.keep, self.max_bytes, self.buffers, self.size, self.nodes = keep, max_bytes, [], 0, 0

    def buffer(self, data) -> int:
        data = memoryview(data).cast("B") if not isinstance(data, (bytes, bytearray)) else data
        self.size += len(data)
        if self.size > self.max_bytes:
            raise Unsendable(f"more than {self.max_bytes:,} bytes of data")
        self.buffers.append(data)
        return len(self.buffers) - 1

    def encode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise Unsendable(f"values nested more than {MAX_DEPTH} levels deep (a list that contains itself?)")
        self.nodes += 1
        if self.nodes > MAX_NODES // 4:  # tags and keys take up to 4 JSON values per value
            raise Unsendable(f"more than {MAX_NODES // 4:,} values in lists, tuples and dicts (return a NumPy "
                             "array or a tensor for large data)")
        kind = type(value)
        if value is None or kind in (bool, int, float, str):
            return value
        if isinstance(value, np.generic):
            return self._numpy_scalar(value)
        if kind is list or (isinstance(value, list) and self.generous):
            return [self.encode(v, depth + 1) for v in list.__iter__(value)]
        if kind is tuple or (isinstance(value, tuple) and self.generous):
            return {"$": "tuple", "v": [self.encode(v, depth + 1) for v in tuple.__iter__(value)]}
        if kind is dict or (isinstance(value, dict) and self.generous):
            return {"$": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                       for k, v in dict.items(value)]}
        if kind in (bytes, bytearray):
            return {"$": "bytes", "b": self.buffer(bytes(value))}
        if kind is complex:
            return {"$": "c", "re": value.real, "im": value.imag}
        if isinstance(value, np.ndarray) and (kind is np.ndarray or self.generous):
            return self._numpy_array(value)
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            return self._tensor(value, torch)
        return self.keep(value)

    generous = True  # subclasses of list/tuple/dict/ndarray (torch.Size, OrderedDict...) travel as their base

    def _numpy_array(self, array: np.ndarray):
        array = np.asarray(array)
        if array.dtype.kind not in "biufc" or array.dtype.fields is not None:
            return self.keep(array)
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        if array.dtype.str not in NUMPY_DTYPES:
            return self.keep(array)
        return {"$": "nd", "t": array.dtype.str, "s": list(array.shape), "b": self.buffer(array.tobytes())}

    def _numpy_scalar(self, value: np.generic):
        array = np.asarray(value)
        encoded = self._numpy_array(array)
        if isinstance(encoded, dict) and encoded.get("$") == "nd":
            return {"$": "np", "t": encoded["t"], "b": encoded["b"]}
        return encoded

    def _tensor(self, tensor, torch):
        if tensor.layout != torch.strided or tensor.is_quantized or tensor.is_nested:
            return self.keep(tensor)
        if type(tensor) is not torch.Tensor and not isinstance(tensor, torch.nn.Parameter):
            return self.keep(tensor)
        name = str(tensor.dtype).removeprefix("torch.")
        if name not in TORCH_DTYPES:
            return self.keep(tensor)
        device = str(tensor.device)
        data = tensor.detach().to("cpu").contiguous()
        raw = data.view(torch.int16) if name == "bfloat16" else data
        return {"$": "pt", "t": name, "s": list(data.shape), "d": device,
                "b": self.buffer(raw.numpy().tobytes() if raw.numel() else b"")}


def encode(value, keep, max_bytes: int = 1 << 62, generous: bool = True) -> tuple[object, list]:
    encoder = Encoder(keep, max_bytes)
    encoder.generous = generous
    return encoder.encode(value), encoder.buffers


class Decoder:
    """Builds values from a JSON tree and its buffers, checking every node.

    ``resolve(node)`` turns the tags only one side understands (``h``, and in
    the sandbox ``fn`` and ``helper``) into objects; it raises ProtocolError
    for the others.
    """

    def __init__(self, buffers: list, resolve):
        self.buffers, self.resolve, self.used = buffers, resolve, set()

    def buffer(self, index) -> memoryview:
        if type(index) is not int or not 0 <= index < len(self.buffers) or index in self.used:
            raise ProtocolError("a value that points to a missing or reused buffer")
        self.used.add(index)
        return self.buffers[index]

    def decode(self, node, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ProtocolError(f"values nested more than {MAX_DEPTH} levels deep")
        kind = type(node)
        if node is None or kind in (bool, int, float):
            return node
        if kind is str:
            return clean_text(node, MAX_STRING)
        if kind is list:
            return [self.decode(v, depth + 1) for v in node]
        if kind is not dict:
            raise ProtocolError(f"a value of unknown form {kind.__name__}")
        tag = node.get("$")
        if tag == "tuple":
            return tuple(self.decode(v, depth + 1) for v in self._list(node, "v"))
        if tag == "dict":
            result = {}
            for pair in self._list(node, "v"):
                if type(pair) is not list or len(pair) != 2:
                    raise ProtocolError("a dict entry that is not a [key, value] pair")
                key = self.decode(pair[0], depth + 1)
                try:
                    result[key] = self.decode(pair[1], depth + 1)
                except TypeError:
                    raise ProtocolError("a dict key that cannot be a key") from None
            return result
        if tag == "bytes":
            return bytes(self.buffer(node.get("b")))
        if tag == "c":
            re, im = node.get("re"), node.get("im")
            if type(re) not in (int, float) or type(im) not in (int, float):
                raise ProtocolError("a complex number without real and imaginary parts")
            return complex(re, im)
        if tag == "nd":
            return self._array(node)
        if tag == "np":
            return self._array(dict(node, s=[]))[()]
        if tag == "pt":
            return self._tensor(node)
        return self.resolve(node)

    @staticmethod
    def _list(node, key) -> list:
        value = node.get(key)
        if type(value) is not list:
            raise ProtocolError(f"a {node.get('$')} without its items")
        return value

    def _shape(self, node) -> tuple:
        shape = node.get("s")
        if type(shape) is not list or len(shape) > MAX_DIMS or not all(type(n) is int and n >= 0 for n in shape):
            raise ProtocolError("an array with an invalid shape")
        return tuple(shape)

    def _array(self, node) -> np.ndarray:
        dtype, shape = node.get("t"), self._shape(node)
        if dtype not in NUMPY_DTYPES:
            raise ProtocolError(f"an array of a dtype that may not cross ({str(dtype)[:20]})")
        data = self.buffer(node.get("b"))
        dtype = np.dtype(dtype)
        if len(data) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise ProtocolError("an array whose data does not match its shape")
        return np.frombuffer(data, dtype=dtype).reshape(shape)

    def _tensor(self, node):
        import torch
        name, shape = node.get("t"), self._shape(node)
        if name not in TORCH_DTYPES:
            raise ProtocolError(f"a tensor of a dtype that may not cross ({str(name)[:20]})")
        dtype = getattr(torch, name)
        data = self.buffer(node.get("b"))
        count = int(np.prod(shape, dtype=np.int64))
        if len(data) != count * torch.empty((), dtype=dtype).element_size():
            raise ProtocolError("a tensor whose data does not match its shape")
        if count == 0:
            return torch.empty(shape, dtype=dtype)
        raw_dtype = torch.int16 if name == "bfloat16" else dtype
        tensor = torch.frombuffer(bytearray(data), dtype=raw_dtype).reshape(shape)
        return tensor.view(torch.bfloat16) if name == "bfloat16" else tensor


def decode(tree, buffers: list, resolve) -> object:
    """The value of ``tree``; every buffer must be used exactly once."""
    decoder = Decoder(buffers, resolve)
    try:
        value = decoder.decode(tree)
    except (ValueError, TypeError, OverflowError, MemoryError, RecursionError) as exc:
        raise ProtocolError(f"a malformed value ({type(exc).__name__}: {str(exc)[:80]})") from None
    if len(decoder.used) != len(buffers):
        raise ProtocolError("buffers that no value uses")
    return value


def clean_text(text: str, limit: int | None = None) -> str:
    """``text`` as valid Unicode (lone surrogates replaced), optionally shortened to ``limit`` characters."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit:,} more characters)"
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")
