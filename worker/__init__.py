"""Thin RQ jobs, the scheduler, the CLI and the webhook receiver."""
