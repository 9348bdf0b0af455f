"""The reconcile loop: snapshot -> scheduler -> engine calls -> record results."""

from aidc.controller.loop import Controller

__all__ = ["Controller"]
