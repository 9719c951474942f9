"""Ticket priority P1-P4 from impact x urgency (``config/defaults/priority.yaml``).

Pure: :meth:`PriorityMatrix.assess` reads the ticket's words, the alert severity, the VIP flag and
the number affected, and returns the priority with the impact, the urgency and the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from rules.text import PhraseMatcher, phrase_tokens, words

__all__ = ["IMPACTS", "URGENCIES", "Assessment", "PriorityConfig", "PriorityMatrix", "load_priority"]

Impact = Literal["high", "medium", "low"]
Urgency = Literal["critical", "high", "medium", "low"]
IMPACTS: tuple[Impact, ...] = ("low", "medium", "high")
URGENCIES: tuple[Urgency, ...] = ("low", "medium", "high", "critical")
"""Both in increasing order: a signal can only raise a level."""

Priority = int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriorityConfig(_Strict):
    matrix: dict[Impact, dict[Urgency, Priority]]
    default_impact: Impact = "low"
    default_urgency: Urgency = "medium"
    impact_phrases: dict[Literal["high", "medium"], list[str]] = {}
    urgency_phrases: dict[Urgency, list[str]] = {}
    impact_counts: dict[Literal["high", "medium"], int] = {"high": 10, "medium": 2}
    severity_urgency: dict[str, Urgency] = {}
    severity_impact: dict[str, Impact] = {}
    vip_raise: int = Field(1, ge=0, le=3)

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


def _keyed(loc: tuple[str, ...], reason: str) -> ValidationError:
    """An error at ``loc``, so the loader reports the file *and* the key."""
    return ValidationError.from_exception_data(
        "PriorityConfig", [InitErrorDetails(type=PydanticCustomError("priority", reason), loc=loc, input=None)]
    )


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

    def assess(
        self,
        text: str | list[str],
        *,
        severity: str | None = None,
        vip: bool = False,
        affected: int | None = None,
    ) -> Assessment:
        """``text`` is the summary and description (or their :func:`rules.text.words`)."""
        cfg = self.config
        tokens = words(text) if isinstance(text, str) else text
        impact = IMPACTS.index(cfg.default_impact)
        reasons: list[str] = []
        best_urgency: tuple[int, str] | None = None
        low_phrase: str | None = None
        for _, _, payload in self._matcher.find(tokens):
            kind, level, phrase = payload  # type: ignore[misc]
            if kind == "impact":
                lvl = IMPACTS.index(level)
                if lvl > impact:
                    impact = lvl
                    reasons.append(f"impact {level}: '{phrase}'")
            elif level == "low":
                low_phrase = low_phrase or phrase
            else:
                lvl = URGENCIES.index(level)
                if best_urgency is None or lvl > best_urgency[0]:
                    best_urgency = (lvl, phrase)
        if affected is not None:
            for level in ("high", "medium"):
                if affected >= cfg.impact_counts.get(level, 10**9):  # type: ignore[call-overload]
                    lvl = IMPACTS.index(level)  # type: ignore[arg-type]
                    if lvl > impact:
                        impact = lvl
                        reasons.append(f"impact {level}: {affected} affected")
                    break
        sev_urgency: int | None = None
        if severity:
            sev = str(severity).lower()
            if sev in cfg.severity_urgency:
                sev_urgency = URGENCIES.index(cfg.severity_urgency[sev])
            if sev in cfg.severity_impact and IMPACTS.index(cfg.severity_impact[sev]) > impact:
                impact = IMPACTS.index(cfg.severity_impact[sev])
                reasons.append(f"impact {IMPACTS[impact]}: alert severity {sev}")
        if best_urgency is not None and (sev_urgency is None or best_urgency[0] >= sev_urgency):
            urgency = best_urgency[0]
            reasons.append(f"urgency {URGENCIES[urgency]}: '{best_urgency[1]}'")
        elif sev_urgency is not None:
            urgency = sev_urgency
            reasons.append(f"urgency {URGENCIES[urgency]}: alert severity {severity}")
        elif low_phrase is not None:
            urgency = 0
            reasons.append(f"urgency low: '{low_phrase}'")
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
