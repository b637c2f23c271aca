"""Loopback ports for the local servers the project starts."""

from __future__ import annotations

import socket

# The local stack's defaults (the CLI shows them in --help without importing the stack).
DEFAULT_PRIMARY_PORT = 33061
DEFAULT_REPLICA_PORT = 33062
DEFAULT_EMULATOR_PORT = 19050


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
