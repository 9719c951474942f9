"""Stateful vendor simulators: in-process for respx, or served on 127.0.0.1 for the demo."""
