"""Flows: pull -> rules -> plan actions -> apply with idempotency keys, and the state they keep."""
