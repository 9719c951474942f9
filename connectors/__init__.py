"""Vendor connectors on a small shared HTTP base, mapped to one canonical model."""
