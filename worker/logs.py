"""Logging set-up: one format, and a filter that blanks every configured secret.

Connectors already avoid putting secrets in messages; the filter is the second line of defence
(a vendor echoing a key in an error body, a URL with a password in it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["RedactingFilter", "configure_logging"]


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            cleaned = self._clean(message)
            if cleaned != message or record.args:
                record.msg, record.args = cleaned, None
            if record.exc_text:
                record.exc_text = self._clean(record.exc_text)
        return True


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    root = logging.getLogger()
    root.setLevel(level.upper())
    redactor = RedactingFilter(secrets)
    if not any(getattr(h, "_switchboard", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._switchboard = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for handler in root.handlers:
        for f in list(handler.filters):
            if isinstance(f, RedactingFilter):
                handler.removeFilter(f)
        handler.addFilter(redactor)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
