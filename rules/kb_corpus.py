"""The built-in troubleshooting corpus: seed 003's list of documents, with runbook bodies.

The titles are exactly those of seed 003's "Leverage Documentation Platform" list (minus
``.docx``); the bodies are Level 1 runbooks written for Switchboard (symptoms, likely causes,
numbered steps, when to escalate) in the words users and technicians actually use, so a KB
ranking has something to match. The text lives in ``kb_corpus.yaml`` next to this module
(package data) so it can be read and edited as a document rather than as Python strings.

Used as the KB index when no documentation platform is configured, and as the Hudu simulator's
articles in the demo.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any, NamedTuple, SupportsIndex, overload

import yaml

from connectors.canonical import KBArticle, Ref

__all__ = ["ARTICLES", "VENDOR", "Article", "articles", "slug"]

VENDOR = "builtin"


def slug(title: str) -> str:
    """A stable id for a title: lower case, runs of anything but letters and digits become ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@functools.cache
def _entries() -> tuple[tuple[str, str, str | None], ...]:
    text = resources.files(__package__).joinpath("kb_corpus.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    out: list[tuple[str, str, str | None]] = []
    for i, row in enumerate(doc["articles"]):
        title, body = row.get("title"), row.get("body")
        if not isinstance(title, str) or not isinstance(body, str) or not title.strip() or not body.strip():
            raise ValueError(f"kb_corpus.yaml: articles[{i}] needs a non-empty title and body")
        out.append((title, body.strip(), row.get("folder")))
    slugs = [slug(t) for t, _, _ in out]
    if len(set(slugs)) != len(slugs):
        raise ValueError("kb_corpus.yaml: two titles give the same slug")
    return tuple(out)


class Article(NamedTuple):
    """A ``(title, body)`` pair that can also be read by key (``a["title"]``).

    The key access is there because ``worker/demo.py`` was written against dict-shaped entries;
    a plain tuple would make it fail with a TypeError, and this costs nothing elsewhere.
    """

    title: str
    body: str

    @overload
    def __getitem__(self, key: SupportsIndex) -> str: ...
    @overload
    def __getitem__(self, key: slice) -> tuple[str, ...]: ...
    @overload
    def __getitem__(self, key: str) -> str: ...
    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            if key not in self._fields:
                raise KeyError(key)
            return getattr(self, key)
        return tuple.__getitem__(self, key)


ARTICLES: list[tuple[str, str]] = [Article(title, body) for title, body, _ in _entries()]
"""(title, body) for every built-in article, in the seed's order."""


def articles() -> list[KBArticle]:
    """The corpus as canonical KB articles (``Ref("builtin", slug)``, url ``builtin://kb/<slug>``)."""
    return [
        KBArticle(ref=Ref(vendor=VENDOR, id=slug(title)), title=title, body=body,
                  url=f"builtin://kb/{slug(title)}", folder=folder)
        for title, body, folder in _entries()
    ]
