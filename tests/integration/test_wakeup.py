"""API worker processes wake the controller process with a datagram."""

from __future__ import annotations

import threading
from pathlib import Path

from aidc.controller.wakeup import WakeupListener, WakeupSender, socket_address


def test_a_sender_wakes_the_listener_of_the_same_home(tmp_path: Path) -> None:
    woken = threading.Event()
    address = socket_address(tmp_path)
    listener = WakeupListener(address, woken.set)
    sender = WakeupSender(address)
    try:
        sender("job.submitted", {})
        assert woken.wait(5)
        other = socket_address(tmp_path / "other")
        assert other != address
    finally:
        sender.close()
        listener.close()


def test_a_sender_without_a_listener_does_not_fail(tmp_path: Path) -> None:
    sender = WakeupSender(socket_address(tmp_path))
    sender("job.submitted", {})  # the controller is down: the job waits for its next tick
    sender.close()
