"""``switchboard rmm …``: set up the configured RMM's webhook.

NinjaOne's webhook is configured through its API (``PUT /v2/webhook``), so Switchboard does it;
Datto RMM and Tactical RMM webhooks are set in their consoles, so Switchboard prints exactly what
to paste. Either way the call carries the tenant's secret in ``X-Switchboard-Token``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from connectors.rmm import TOKEN_HEADER


def register(app: typer.Typer) -> None:
    rmm_app = typer.Typer(help="The RMM connector: webhook set-up.", no_args_is_help=True)
    app.add_typer(rmm_app, name="rmm")

    @rmm_app.command("webhook")
    def webhook(
        url: Annotated[str, typer.Argument(help="Where the RMM should call, e.g. https://sb.msp.example/hooks/ninjaone")],
        organization: Annotated[list[int] | None, typer.Option(help="NinjaOne: only these organization ids")] = None,
    ) -> None:
        """Register (NinjaOne) or print (Datto RMM, Tactical RMM) the alert webhook for the configured RMM."""
        from worker.cli import UserError, console, context

        ctx = context()
        vendor = ctx.settings.rmm
        secret = getattr(getattr(ctx.settings, vendor.replace("-", "_"), None), "webhook_secret", None)
        setting = f"SWITCHBOARD_{vendor.replace('-', '_').upper()}__WEBHOOK_SECRET"
        if secret is None or not secret.get_secret_value():
            raise UserError(f"set {setting} first: the token the RMM sends and Switchboard checks")
        if not url.startswith("https://"):
            raise UserError(f"{url}: the RMM must call Switchboard over https")
        if vendor == "ninjaone":
            ctx.rmm().configure_webhook(url, secret.get_secret_value(), organization_ids=organization or None)
            console.print(f"NinjaOne will post condition triggers and resets to {url} "
                          f"(header {TOKEN_HEADER}: the value of {setting})")
        elif vendor == "tactical-rmm":
            from connectors.tactical_rmm import WEBHOOK_BODY

            console.print("In Tactical RMM: Settings → Global Settings → URL Actions → Add, type REST, method POST,")
            console.print(f"URL {url}, headers:")
            console.print(json.dumps({TOKEN_HEADER: "{{global.switchboard_token}}"}), markup=False)
            console.print(f"(keep the token in Global Key Store as switchboard_token = the value of {setting}), body:")
            console.print(json.dumps(WEBHOOK_BODY, indent=2), markup=False)
            console.print('Make a second URL action, the same with "event": "resolved", and set them as the '
                          "Failure and Resolved actions of your alert template (Alerts → Alert Templates).")
        elif vendor == "datto-rmm":
            console.print("In Datto RMM: in each monitor's Response (or Setup → Integrations → Global Webhooks) "
                          f"add a webhook to {url} with the custom header {TOKEN_HEADER}: <the value of "
                          f"{setting}> and an Alert-shaped JSON body (alertUid, priority, timestamp, "
                          'alertContext, alertSourceInfo), plus "resolved": true on the resolution payload.')
        else:
            raise UserError(f"SWITCHBOARD_RMM={vendor} is not an RMM with webhooks")
