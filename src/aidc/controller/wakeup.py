"""Waking the controller from other processes: one datagram on a Unix socket per event.

API worker processes publish submissions and cancels on their own in-process bus; a
subscriber forwards each as a datagram to the controller's socket, so a new job starts in
milliseconds rather than at the next tick. Lost datagrams only delay work to the next tick.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path


def socket_address(home: Path) -> str:
    """An abstract-namespace address (Linux) derived from the home folder: no file to leave
    behind after a crash, and no 108-byte limit on the folder's path."""
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:24]
    return f"\0aidc-controller-{digest}"


class WakeupListener:
    """Binds ``address`` and calls ``on_wake`` for every datagram that arrives."""

    def __init__(self, address: str, on_wake: Callable[[], None]) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(address)
        self._on_wake = on_wake
        self._thread = threading.Thread(target=self._run, name="aidc-wakeup", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self._sock.recv(64)
            except OSError:
                return  # closed
            self._on_wake()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


class WakeupSender:
    """Sends wake-ups to a controller in another process; never blocks, never raises."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def __call__(self, _topic: str = "", _payload: object = None) -> None:
        with contextlib.suppress(OSError):
            self._sock.sendto(b"w", self._address)

    def close(self) -> None:
        self._sock.close()
