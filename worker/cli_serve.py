"""``switchboard serve``: the webhook receiver on uvicorn (see ``worker/webhooks.py``)."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default SWITCHBOARD_WEBHOOKS__HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default SWITCHBOARD_WEBHOOKS__PORT)")] = None,
) -> None:
    """Receive the vendors' webhooks: verify, answer 202 fast, enqueue the work; /healthz and /metrics."""
    import uvicorn
    from rich.markup import escape

    from config.webhooks import secret_setting
    from worker.cli import console, context
    from worker.webhooks import create_app

    ctx = context()
    app = create_app(ctx)
    receiver = app.state.receiver
    host = host or ctx.settings.webhooks.host
    port = port if port is not None else ctx.settings.webhooks.port
    enabled = [v for v in sorted(receiver.specs) if ctx.settings.webhooks.secret_for(v) is not None]
    tenants = {v: sorted(t) for v, t in ctx.settings.webhooks.tenant_secrets.items() if t}
    console.print(escape(f"switchboard serve on http://{host}:{port} — POST /webhooks/{{vendor}}[/{{tenant}}], "
                         "GET /healthz, GET /metrics"), highlight=False)
    console.print("webhooks enabled for: " + (", ".join(enabled) or "none"))
    for vendor, names in sorted(tenants.items()):
        console.print(f"  tenants of {vendor}: {', '.join(names)}")
    for vendor in sorted(set(receiver.specs) - set(enabled)):
        console.print(f"[dim]  {vendor}: not enabled (set {secret_setting(vendor)})[/]")
    uvicorn.run(app, host=host, port=port, access_log=False, log_level=ctx.settings.log_level.lower(),
                server_header=False, proxy_headers=False, timeout_graceful_shutdown=10)
