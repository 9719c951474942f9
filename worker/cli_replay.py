"""``switchboard replay`` and ``switchboard backtest``: the noise rules on a recorded alert stream.

Both run the live service's rules engine on virtual time (``pipelines/replay.py``); neither needs
the database, Redis or a vendor. ``backtest`` answers "what would this rules change have done to
last week?" before anyone turns it on.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from connectors.canonical import utc
from pipelines.replay import Funnel, ReplayError, replay_file
from worker.cli import UserError, console, err

__all__ = ["register"]

SourceOpt = Annotated[str | None, typer.Option(
    "--source", help="Read vendor-native alert records of this RMM (e.g. datto-rmm) instead of canonical events")]
DevicesOpt = Annotated[Path | None, typer.Option(
    "--devices", help="With --source: the vendor's device records, for device types (topology)")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", help="Run the rules' timers up to this time (ISO 8601; default: the last event's time)")]


def _until(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise UserError(f"--until {value!r} is not an ISO 8601 time") from None


def _default_config() -> Path | None:
    from config.settings import Settings

    return Settings().config_dir  # type: ignore[call-arg]


def _run(events: Path, config: Path | None, **kw: Any) -> Funnel:
    if config is not None and not config.is_dir():
        raise UserError(f"--config {config}: not a directory of YAML files")
    try:
        return replay_file(events, config_dir=config, **kw)
    except ReplayError as exc:
        raise UserError(str(exc)) from None


def _peak_rss_mib() -> float:
    """This process's peak resident memory (what the replay cost, start-up included)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


def _warn(funnel: Funnel) -> None:
    if funnel.rejected:
        err.print(f"[yellow]{funnel.rejected} line(s) rejected[/] (not used, listed in the --json summary):")
        for r in funnel.rejected_lines[:5]:
            err.print(f"  line {r.line}: {r.reason}")
    if funnel.ignored_keys:
        err.print(f"[yellow]ignored unknown key(s):[/] {', '.join(sorted(funnel.ignored_keys))}")


ROWS: list[tuple[str, Any]] = [
    ("events", lambda f: f.events),
    ("alerts", lambda f: f.alerts),
    ("tickets opened", lambda f: f.tickets_opened),
    ("tickets reopened (not duplicated)", lambda f: f.tickets_reopened),
    ("ticket updates (repeats, attached alerts)", lambda f: f.ticket_updates),
    ("tickets closed when their alerts cleared", lambda f: f.tickets_resolved),
    ("tickets still open at the end", lambda f: f.tickets_open_at_end),
    ("alerts that needed no ticket", lambda f: f.alerts_without_ticket),
]


def _table(funnels: list[Funnel], title: str) -> Table:
    t = Table(title=title)
    t.add_column("")
    t.add_column("one ticket per alert", justify="right", style="dim")
    for f in funnels:
        t.add_column(Path(f.config).name if f.config != "defaults" else f.config, justify="right")
    for label, get in ROWS:
        baseline = {"tickets opened": funnels[0].alerts, "alerts that needed no ticket": 0,
                    "events": funnels[0].events, "alerts": funnels[0].alerts}.get(label, "")
        t.add_row(label, str(baseline), *(str(get(f)) for f in funnels))
    rules = sorted(set().union(*(f.suppressed_by_rule for f in funnels)))
    for rule in rules:
        t.add_row(f"  suppressed by {rule}", "0", *(str(f.suppressed_by_rule.get(rule, 0)) for f in funnels))
    t.add_row("noise reduction vs one ticket per alert", "0%",
              *(f"{(1 - f.tickets_opened / f.alerts) * 100:.1f}%" if f.alerts else "-" for f in funnels))
    return t


def replay_cmd(
    events: Annotated[Path, typer.Argument(help="JSON Lines of alert events, sorted by time")],
    config: Annotated[Path | None, typer.Option("--config", help="Directory of YAML overriding config/defaults")] = None,
    outcomes: Annotated[Path | None, typer.Option("--outcomes", help="Write one line per alert: its ticket (or null), rule, reason")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    source: SourceOpt = None,
    devices: DevicesOpt = None,
    until: UntilOpt = None,
) -> None:
    """Run the noise rules over an alert stream on virtual time: tickets opened, updated, closed, suppressed by rule."""
    funnel = _run(events, config if config is not None else _default_config(), outcomes=outcomes, source=source,
                  devices=devices, until=_until(until))
    if as_json:
        console.print_json(json.dumps({**funnel.to_json(), "peak_rss_mib": _peak_rss_mib()}))
    else:
        console.print(_table([funnel], f"replay of {events.name}"))
        console.print(f"[dim]{funnel.events} events in {funnel.seconds:.1f} s; peak state: "
                      f"{funnel.peak_open_alerts} alerts, {funnel.peak_open_tickets} open tickets"
                      + (f"; outcomes in {outcomes}" if outcomes else "") + "[/]")
    _warn(funnel)


def backtest_cmd(
    events: Annotated[Path, typer.Argument(help="JSON Lines of alert events, sorted by time")],
    config: Annotated[list[Path], typer.Option("--config", help="A configuration directory; give it twice to compare two")],
    as_json: Annotated[bool, typer.Option("--json", help="Print both summaries as JSON")] = False,
    source: SourceOpt = None,
    devices: DevicesOpt = None,
    until: UntilOpt = None,
) -> None:
    """Compare configurations on the same stream, side by side (one --config: the defaults against it)."""
    if not config:
        raise UserError("give --config DIR (twice to compare two configurations; once to compare with the defaults)")
    dirs: list[Path | None] = [None, *config] if len(config) == 1 else list(config)
    funnels = [_run(events, d, source=source, devices=devices, until=_until(until)) for d in dirs]
    if as_json:
        console.print_json(json.dumps({"baseline_tickets": funnels[0].alerts, "configs": [f.to_json() for f in funnels]}))
    else:
        console.print(_table(funnels, f"backtest of {events.name}"))
    _warn(funnels[0])


def sample_cmd(
    out: Annotated[Path, typer.Argument(help="Where to write the JSON Lines")],
    days: Annotated[float, typer.Option(help="Simulated days")] = 7.0,
    clients: Annotated[int, typer.Option(help="Clients (each 1–2 sites, 10–40 devices)")] = 20,
    seed: int = 1,
) -> None:
    """Write a realistic generated alert stream (blips, storms, outages, …) to try replay and backtest on."""
    from connectors.simulators.streams import generate
    from pipelines.replay import write_events

    stream = generate(seed, hours=24 * days, clients=clients)
    n = write_events(stream.events, out)
    console.print(f"wrote {n} events ({len(stream.alert_ids())} alerts, {len(stream.incidents)} incidents, "
                  f"{len(stream.noise)} noise alerts) to {out}")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_cmd)
    app.command("backtest")(backtest_cmd)
    app.command("sample-alerts")(sample_cmd)
