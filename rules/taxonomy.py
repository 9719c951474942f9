"""The ticket taxonomy (``config/defaults/taxonomy.yaml``): types, subtypes and their vocabulary.

The file is the seed's table of issue types and subtypes plus the words the rules classifier
reads (see the comments at the top of the YAML for its shape). Validated at load: an action a
component names that is not in ``actions``, a duplicate subtype name, an alias or a ``psa_names``
entry that points at no type/subtype — each fails with the file and the key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["ActionKind", "Component", "Subtype", "TaxonomyConfig", "load_taxonomy"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _phrases(value: Any) -> Any:
    """Phrases are strings; YAML may hand us numbers or booleans (``yes``) — keep their text."""
    if isinstance(value, list):
        return [str(v).lower() if not isinstance(v, bool) else ("yes" if v else "no") for v in value]
    return value


class ActionKind(_Strict):
    """What is being done: Add/Remove/Change, Configuration, Troubleshooting, a restore kind, …"""

    words: list[str] = []
    strong: list[str] = []

    _lower = field_validator("words", "strong", mode="before")(_phrases)


class Component(_Strict):
    """What it is about: a printer, Outlook, the VPN. Its subtypes are "<component> - <action>"."""

    actions: list[str] = Field(min_length=1)
    default_action: str | None = None
    strong: list[str] = []
    words: list[str] = []
    names: dict[str, str] = {}
    """action -> subtype name, where the seed spells it differently."""
    action_words: dict[str, list[str]] = {}
    refines: list[str] = []
    """Broader components this one is a narrower case of (Print Management of Printer): with words
    of its own it also takes their words' score, so "printer" plus "print queue" is the print server."""

    _lower = field_validator("strong", "words", mode="before")(_phrases)

    @field_validator("action_words", mode="before")
    @classmethod
    def _lower_map(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _phrases(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _own_actions(self) -> Component:
        if self.default_action is not None and self.default_action not in self.actions:
            raise ValueError(f"default_action {self.default_action!r} is not one of this component's actions")
        for action in list(self.names) + list(self.action_words):
            if action not in self.actions:
                raise ValueError(f"{action!r} is not one of this component's actions {self.actions}")
        return self

    def default(self) -> str:
        if self.default_action:
            return self.default_action
        return "Troubleshooting" if "Troubleshooting" in self.actions else self.actions[0]

    def subtype_name(self, component: str, action: str) -> str:
        return self.names.get(action, f"{component} - {action}")


@dataclass(frozen=True)
class Subtype:
    type: str
    component: str
    action: str
    name: str


class TaxonomyConfig(_Strict):
    actions: dict[str, ActionKind]
    types: dict[str, dict[str, Component]] = Field(min_length=1)
    aliases: dict[str, str] = {}
    kb_components: dict[str, str | list[str]] = {}
    """KB article title -> the component it is about, or several (the first is its main one)."""
    ignore: list[str] = []
    """Phrases dropped before matching (signatures, job titles, alert boilerplate)."""
    synonyms: list[list[str]] = []
    psa_names: dict[str, dict[str, dict[str, str]]] = {}
    """vendor -> board (or "*") -> our type or subtype name -> the PSA's name for it."""

    _lower = field_validator("synonyms", mode="before")(
        lambda v: [_phrases(g) for g in v] if isinstance(v, list) else v
    )
    _lower_ignore = field_validator("ignore", mode="before")(_phrases)

    @model_validator(mode="after")
    def _references(self) -> TaxonomyConfig:
        seen: dict[str, str] = {}
        for type_name, components in self.types.items():
            for comp_name, comp in components.items():
                for action in comp.actions:
                    if action not in self.actions:
                        raise _KeyedError(
                            ("types", type_name, comp_name, "actions"),
                            f"unknown action {action!r} (define it under actions:)",
                        )
                    name = comp.subtype_name(comp_name, action)
                    if name in seen:
                        raise _KeyedError(("types", type_name, comp_name), f"duplicate subtype name {name!r}")
                    seen[name] = type_name
        known = set(seen) | set(self.types)
        for alias, target in self.aliases.items():
            if target not in known:
                raise _KeyedError(("aliases", alias), f"{target!r} is not a type or subtype")
        for vendor, boards in self.psa_names.items():
            for board, mapping in boards.items():
                for ours in mapping:
                    if ours not in known and self.aliases.get(ours) not in known:
                        raise _KeyedError(("psa_names", vendor, board, ours), f"{ours!r} is not a type or subtype")
        component_names = {c for comps in self.types.values() for c in comps}
        for type_name, comps in self.types.items():
            for comp_name, comp in comps.items():
                for broader in comp.refines:
                    if broader not in component_names or broader == comp_name:
                        raise _KeyedError(("types", type_name, comp_name, "refines"),
                                          f"{broader!r} is not another component")
        for title in self.kb_components:
            served = self.kb_components_of(title)
            if not served:
                raise _KeyedError(("kb_components", title), "names no component")
            for one in served:
                if one not in component_names:
                    raise _KeyedError(("kb_components", title), f"{one!r} is not a component")
        for i, group in enumerate(self.synonyms):
            if len(group) < 2:
                raise _KeyedError(("synonyms", i), "a synonym group needs at least two words")
        return self

    # -- queries --------------------------------------------------------------------------------

    def kb_components_of(self, title: str) -> tuple[str, ...]:
        """The components an article is about (``kb_components``), main one first; () if not listed."""
        named = self.kb_components.get(title)
        if not named:
            return ()
        return (named,) if isinstance(named, str) else tuple(named)

    @functools.cached_property
    def subtypes(self) -> tuple[Subtype, ...]:
        return tuple(
            Subtype(type_name, comp_name, action, comp.subtype_name(comp_name, action))
            for type_name, components in self.types.items()
            for comp_name, comp in components.items()
            for action in comp.actions
        )

    @functools.cached_property
    def _by_name(self) -> dict[str, Subtype]:
        return {s.name: s for s in self.subtypes}

    def subtype(self, name: str) -> Subtype | None:
        """The subtype called ``name`` (or one of its aliases), else None."""
        return self._by_name.get(name) or self._by_name.get(self.aliases.get(name, ""))

    def canonical(self, name: str | None) -> str | None:
        """A type or subtype name as the seed spells it (aliases resolved); unknown names unchanged."""
        if name is None:
            return None
        if name in self._by_name or name in self.types:
            return name
        return self.aliases.get(name, name)

    def type_of(self, subtype: str) -> str | None:
        s = self.subtype(subtype)
        return s.type if s else None

    def psa_name(self, vendor: str, board: str | None, name: str) -> str:
        """Our type/subtype name as PSA ``vendor`` calls it on ``board`` (board entry, then ``*``)."""
        boards = self.psa_names.get(vendor, {})
        for key in ((board,) if board else ()) + ("*",):
            mapping = boards.get(key)  # type: ignore[arg-type]
            if mapping and name in mapping:
                return mapping[name]
        return name


def _KeyedError(loc: tuple[Any, ...], reason: str) -> ValidationError:  # noqa: N802 - used like a class
    """A cross-reference error at ``loc``, so the loader reports the file *and* the key."""
    return ValidationError.from_exception_data(
        "TaxonomyConfig", [InitErrorDetails(type=PydanticCustomError("taxonomy", reason), loc=loc, input=None)]
    )


def load_taxonomy(config_dir: Path | str | None = None) -> TaxonomyConfig:
    """Load ``taxonomy.yaml`` (the override directory's, else the default) or raise ConfigError."""
    from config.loader import load

    return load("taxonomy.yaml", TaxonomyConfig, config_dir)
