"""The KB sync job: pull the documentation platform's changed articles into the local index.

Run periodically by the scheduler (``kb-sync``, every ``SWITCHBOARD_KB_SYNC_INTERVAL_SECONDS``) and
by the webhook receiver for ``documents`` deliveries (a docs platform saying articles changed).
Safe to run twice: one sync per stream at a time (Redis lock), and the cursor's compare-and-set
lets only one of two racing syncs commit.
"""

from __future__ import annotations

from typing import Any

from pipelines import kb
from worker import jobs

__all__ = ["documents_changed_job", "sync_kb_job"]


def sync_kb_job() -> dict[str, Any]:
    ctx = jobs.context()
    if ctx.settings.docs is None:
        return {"skipped": "no documentation platform configured"}
    with jobs.only_one(ctx, f"kb:{ctx.settings.docs}") as mine:
        if not mine:
            return {"skipped": "another sync of this stream is running"}
        return kb.sync(ctx).as_dict()


def documents_changed_job(vendor: str, ids: list[str], tenant: str | None = None) -> dict[str, Any]:
    """A webhook said articles changed: run the incremental sync (it picks up exactly what changed)."""
    ctx = jobs.context()
    if vendor != ctx.settings.docs:
        return {"skipped": f"{vendor} is not the configured documentation platform ({ctx.settings.docs})"}
    return {"vendor": vendor, "tenant": tenant, "ids": len(ids), "sync": sync_kb_job()}
