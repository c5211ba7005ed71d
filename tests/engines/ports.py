"""Free TCP ports on 127.0.0.1, found by letting the kernel pick (bind port 0)."""

from __future__ import annotations

import socket
from contextlib import ExitStack

LOOPBACK = "127.0.0.1"


def _bound_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # No SO_REUSEADDR: we want to know that nothing, not even a TIME_WAIT socket, holds the port.
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    return sock


def free_port() -> int:
    """One port that was free a moment ago (a server may still race us for it; launchers retry)."""
    with _bound_socket(0) as sock:
        return int(sock.getsockname()[1])


def free_ports(count: int, *, also_free_at_offset: int | None = None, attempts: int = 200) -> list[int]:
    """`count` distinct free ports; with `also_free_at_offset`, port+offset must be free too.

    SeaweedFS puts each gRPC listener at its HTTP port + 10000, so both must be free. All sockets
    stay bound until every port is chosen, so the same port is never handed out twice.
    """
    chosen: list[int] = []
    with ExitStack() as held:
        for _ in range(attempts):
            if len(chosen) == count:
                break
            sock = held.enter_context(_bound_socket(0))
            port = int(sock.getsockname()[1])
            if also_free_at_offset is not None:
                partner = port + also_free_at_offset
                if partner > 65535 or partner in chosen:
                    continue
                try:
                    held.enter_context(_bound_socket(partner))
                except OSError:
                    continue
            chosen.append(port)
    if len(chosen) != count:
        raise RuntimeError(f"could not find {count} free ports on {LOOPBACK}")
    return chosen
