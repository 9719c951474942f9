"""Ticket priority P1-P4 from impact x urgency (``config/defaults/priority.yaml``).

Pure: :meth:`PriorityMatrix.assess` reads the ticket's words, the alert severity, the VIP flag, the
number affected and (optionally) the classifier's component and action, and returns the priority
with the impact, the urgency and the reasons. The YAML's header comment is the documentation of
the matrix and of the order in which signals apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from rules.text import PhraseMatcher, phrase_tokens, words

__all__ = ["IMPACTS", "URGENCIES", "Assessment", "PriorityConfig", "PriorityMatrix", "load_priority"]

Impact = Literal["high", "medium", "low"]
Urgency = Literal["critical", "high", "medium", "low", "planned"]
IMPACTS: tuple[Impact, ...] = ("low", "medium", "high")
URGENCIES: tuple[Urgency, ...] = ("planned", "low", "medium", "high", "critical")
"""Both in increasing order."""

_COUNT = re.compile(
    r"\b(\d{1,5})\s+(?:of\s+(?:our|the)\s+)?(?:\w+\s+)?(?:people|users|staff|employees|computers|pcs|workstations"
    r"|machines|devices|seats|providers|workers|colleagues)\b",
    re.IGNORECASE,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _keyed(loc: tuple[str, ...], reason: str) -> ValidationError:
    """An error at ``loc``, so the loader reports the file *and* the key."""
    return ValidationError.from_exception_data(
        "PriorityConfig", [InitErrorDetails(type=PydanticCustomError("priority", reason), loc=loc, input=None)]
    )


class PriorityConfig(_Strict):
    matrix: dict[Impact, dict[Urgency, int]]
    default_impact: Impact = "low"
    default_urgency: Urgency = "medium"
    impact_phrases: dict[Literal["high", "medium"], list[str]] = {}
    urgency_phrases: dict[Urgency, list[str]] = {}
    impact_counts: dict[Literal["high", "medium"], int] = {"high": 10, "medium": 2}
    request_actions: list[str] = []
    request_urgency: Urgency = "planned"
    component_impact: dict[str, Impact] = {}
    severity_urgency: dict[str, Urgency] = {}
    severity_impact: dict[str, Impact] = {}
    vip_raise: int = Field(1, ge=0, le=4)

    @field_validator("impact_phrases", "urgency_phrases", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [str(p) for p in v] if isinstance(v, list) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _complete(self) -> PriorityConfig:
        for impact in IMPACTS:
            row = self.matrix.get(impact)
            if row is None:
                raise _keyed(("matrix", impact), f"impact {impact!r} has no row")
            for urgency in URGENCIES:
                if urgency not in row:
                    raise _keyed(("matrix", impact, urgency), f"urgency {urgency!r} has no priority")
                if not 1 <= row[urgency] <= 4:
                    raise _keyed(("matrix", impact, urgency), "priority must be 1-4")
        return self


@dataclass(frozen=True)
class Assessment:
    priority: int
    impact: str
    urgency: str
    reasons: tuple[str, ...]


class PriorityMatrix:
    """The compiled matrix: phrase look-ups are built once."""

    def __init__(self, config: PriorityConfig) -> None:
        self.config = config
        entries: list[tuple[tuple[str, ...], object]] = []
        for level, phrases in config.impact_phrases.items():
            entries += [(phrase_tokens(p), ("impact", level, p)) for p in phrases]
        for ulevel, phrases in config.urgency_phrases.items():
            entries += [(phrase_tokens(p), ("urgency", ulevel, p)) for p in phrases]
        self._matcher = PhraseMatcher(entries)
        self._requests = frozenset(config.request_actions)

    def assess(
        self,
        text: str | list[str],
        *,
        severity: str | None = None,
        vip: bool = False,
        affected: int | None = None,
        component: str | None = None,
        action: str | None = None,
        raw_text: str | None = None,
    ) -> Assessment:
        """``text`` is the summary and description (or their :func:`rules.text.words`; then pass
        ``raw_text`` too so "12 people affected" can be read)."""
        cfg = self.config
        tokens = words(text) if isinstance(text, str) else text
        raw = text if isinstance(text, str) else (raw_text or "")
        reasons: list[str] = []
        impact = IMPACTS.index(cfg.default_impact)

        def raise_impact(level: str, why: str) -> None:
            nonlocal impact
            lvl = IMPACTS.index(level)  # type: ignore[arg-type]
            if lvl > impact:
                impact = lvl
                reasons.append(f"impact {level}: {why}")

        best_urgency: tuple[int, str] | None = None  # from medium up: a fault
        quiet: tuple[int, str] | None = None  # low / planned phrases
        for _, _, payload in self._matcher.find(tokens):
            kind, level, phrase = cast(tuple[str, str, str], payload)
            if kind == "impact":
                raise_impact(level, f"'{phrase}'")
                continue
            lvl = URGENCIES.index(level)
            if lvl <= URGENCIES.index("low"):
                if quiet is None:
                    quiet = (lvl, f"'{phrase}'")
            elif best_urgency is None or lvl > best_urgency[0]:
                best_urgency = (lvl, f"'{phrase}'")
        if affected is None and raw:
            counts = [int(m.group(1)) for m in _COUNT.finditer(raw[:4000])]
            if counts:
                affected = max(counts)
        if affected is not None:
            for level in ("high", "medium"):
                if affected >= cfg.impact_counts.get(level, 10**9):  # type: ignore[call-overload]
                    raise_impact(level, f"{affected} affected")
                    break
        if component and component in cfg.component_impact:
            raise_impact(cfg.component_impact[component], f"{component} is shared infrastructure")
        sev_urgency: int | None = None
        if severity:
            sev = str(severity).lower()
            if sev in cfg.severity_urgency:
                sev_urgency = URGENCIES.index(cfg.severity_urgency[sev])
            if sev in cfg.severity_impact:
                raise_impact(cfg.severity_impact[sev], f"alert severity {sev}")
        if best_urgency is not None and (sev_urgency is None or best_urgency[0] >= sev_urgency):
            urgency = best_urgency[0]
            reasons.append(f"urgency {URGENCIES[urgency]}: {best_urgency[1]}")
        elif sev_urgency is not None:
            urgency = sev_urgency
            reasons.append(f"urgency {URGENCIES[urgency]}: alert severity {severity}")
        elif quiet is not None:
            urgency = quiet[0]
            reasons.append(f"urgency {URGENCIES[urgency]}: {quiet[1]}")
        elif action and action in self._requests:
            urgency = URGENCIES.index(cfg.request_urgency)
            reasons.append(f"urgency {cfg.request_urgency}: a request ({action})")
        else:
            urgency = URGENCIES.index(cfg.default_urgency)
        if vip and cfg.vip_raise:
            raised = min(len(URGENCIES) - 1, urgency + cfg.vip_raise)
            if raised > urgency:
                reasons.append(f"urgency {URGENCIES[raised]}: VIP contact")
                urgency = raised
        imp, urg = IMPACTS[impact], URGENCIES[urgency]
        return Assessment(cfg.matrix[imp][urg], imp, urg, tuple(reasons))


def load_priority(config_dir: Path | str | None = None) -> PriorityConfig:
    from config.loader import load

    return load("priority.yaml", PriorityConfig, config_dir)
