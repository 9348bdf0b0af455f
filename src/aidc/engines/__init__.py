"""Execution backends behind one small protocol (see base.py)."""
