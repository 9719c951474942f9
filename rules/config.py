"""Models of the rule YAML files (``config/defaults/noise.yaml``, ``tickets.yaml``).

Unknown keys are refused so that a typo in a setting fails start-up instead of being ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.canonical import Severity

__all__ = ["NoiseConfig", "ResolveConfig", "TicketsConfig"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResolveConfig(_Strict):
    clear_minutes: float = Field(0, ge=0)
    """How long every alert of a ticket must stay clear before the ticket is resolved."""
    status: Literal["resolved", "closed"] = "closed"
    """The status a cleared ticket moves to."""
    only_if_untouched: bool = True
    """Move the status only if no person has touched the ticket (note, time entry, status)."""


class NoiseConfig(_Strict):
    version: int = 1
    resolve: ResolveConfig = ResolveConfig()


class TicketsConfig(_Strict):
    title: str = "{severity_label}: {check_label} on {device_name} ({client_name})"
    """Ticket title; fields: severity_label, check, check_label, device_name, client_name, site_name."""
    priority_by_severity: dict[Severity, int] = Field(
        default_factory=lambda: {
            Severity.critical: 1,
            Severity.high: 2,
            Severity.moderate: 3,
            Severity.low: 4,
            Severity.info: 4,
        }
    )
    check_labels: dict[str, str] = Field(default_factory=dict)
    """Readable names of check ids (``device_offline: Device offline``)."""
    explain_note: bool = True
    """Post one note at open saying why the ticket exists (updated as alerts attach)."""
    note_visibility: Literal["internal", "client"] = "internal"
