"""Message templates: jinja2 in a sandbox, HTML autoescaped (pure: no I/O).

Templates come from ``messages.yaml`` (the MSP's file) and carry ticket titles, contact names and
other text typed by clients, so they run in jinja2's immutable sandbox (no attribute tricks, no
mutation) with HTML autoescaping: a ticket titled ``<script>…`` arrives as text. Subjects are
rendered without escaping (they are not HTML) and folded onto one line.

``check_template`` is what the config loader runs on every template at start-up: it compiles the
template and renders it once with :data:`SAMPLE` under ``StrictUndefined``, so a syntax error or a
misspelt variable (``{{ ticket.nmber }}``) fails loading with the file and key, not a send.
At send time unknown variables render empty (a client's odd data never stops a notification).
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["SAMPLE", "Rendered", "check_template", "html_to_text", "render"]

_HTML = ImmutableSandboxedEnvironment(autoescape=True, undefined=Undefined)
_TEXT = ImmutableSandboxedEnvironment(autoescape=False, undefined=Undefined)
_STRICT = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)

SAMPLE: dict[str, Any] = {
    "ticket": {"id": "7001", "number": "T20261106.0001", "title": "Server down", "priority": 1, "status": "new",
               "url": "https://ww14.autotask.net/Mvc/ServiceDesk/TicketDetail.mvc?ticketId=7001",
               "tier": "Level 1", "board": "29683354"},
    "client": {"id": "0", "name": "Acme Dental"},
    "contact": {"name": "Jane Doe", "first_name": "Jane", "email": "jane@acme.example"},
    "engineer": {"name": "Sam Tech", "first_name": "Sam", "email": "sam@msp.example"},
    "sender": {"company": "Your Company Name", "name": "Your Name", "support_email": "support@yourcompanyurl.com"},
    "step": {"rule": "unassigned", "number": 1, "title": "Not assigned", "elapsed": "15 min",
             "due": "2026-11-06 16:55 EST"},
    "recipients": ["Service Dispatcher"],
    "escalation": {"from_tier": "Level 1", "to_tier": "Level 2", "threshold": "2 h", "last_tier": False,
                   "moved": True},
    "sla": {"internal_response_due": "2026-11-06 17:25 EST", "client_response_due": "2026-11-09 08:55 EST",
            "escalation_due": "2026-11-06 18:55 EST", "target": "client response", "due": "2026-11-09 08:55 EST"},
    "waiting": {"since": "2026-11-02 09:00 EST", "hours": 24},
}
"""The variables every template can use (``README.md`` lists them); used to check templates at load."""


class TemplateProblem(ValueError):
    """A template that does not compile, or uses a variable that does not exist."""


def _where(exc: TemplateError) -> str:
    line = getattr(exc, "lineno", None)
    return f"line {line}: " if line else ""


def check_template(source: str) -> None:
    try:
        _STRICT.from_string(source).render(**SAMPLE)
    except TemplateError as exc:
        raise TemplateProblem(f"template {_where(exc)}{exc.message or exc}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. {{ 1 // 0 }}: the file is wrong, say so at load
        raise TemplateProblem(f"template fails on sample data: {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def html_to_text(markup: str) -> str:
    """A readable plain-text version of a small HTML body (e-mail alternative part, PSA notes)."""
    text = re.sub(r"\s+", " ", markup)  # as a browser would: line breaks in the source are spaces
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?i)</(p|div|li|h[1-6]|tr)>", "\n\n", text)
    text = re.sub(r"(?i)<li[^>]*>", "- ", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@functools.lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    """Compiling is most of a render's cost; a policy has a few dozen templates."""
    return (_HTML if html else _TEXT).from_string(source)


def render(subject: str, body: str, context: dict[str, Any]) -> Rendered:
    """Render one message; raises :class:`TemplateProblem` (never anything else) if it cannot."""
    try:
        title = _compiled(subject, False).render(**context)
        markup = _compiled(body, True).render(**context)
    except TemplateError as exc:
        raise TemplateProblem(f"template {_where(exc)}{exc.message or exc}") from None
    except Exception as exc:  # noqa: BLE001 - a template's own bug on odd data ({{ title.split()[1] }})
        raise TemplateProblem(f"template failed on this ticket's data: {type(exc).__name__}: {exc}") from None
    return Rendered(" ".join(title.split())[:250], markup.strip(), html_to_text(markup))
