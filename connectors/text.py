"""Text helpers shared by the documentation connectors."""

from __future__ import annotations

import html
import re

__all__ = ["text_of_html"]

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_BREAKS = re.compile(r"</(p|li|h\d|div|tr)>|<br\s*/?>", flags=re.I)


def text_of_html(content: str) -> str:
    """Readable text of an article's HTML: one line per block, entities decoded, tags dropped."""
    text = html.unescape(_TAGS.sub(" ", _BREAKS.sub("\n", content)))
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.splitlines() if line.strip())
