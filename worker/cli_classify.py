"""``switchboard classify …`` and ``switchboard kb …``: the classifier and the KB index by hand.

- ``classify predict --input IN.jsonl --output OUT.jsonl`` — each line ``{"id", "summary",
  "description"}`` comes back with ``"predicted": {"type", "subtype", "confidence", "confident",
  "priority", "kb": [{"title", "url", "score"}]}``, using the active trained model if there is one
  (the rules model otherwise) and the local KB index (the built-in corpus when no docs platform).
- ``classify eval FILE.jsonl [--json]`` — labelled lines (``type``, ``subtype``, optional ``kb``
  title): accuracy and macro-F1 of type and subtype, KB top-3 hit rate.
- ``classify train (--from-psa | --input FILE.csv|.jsonl) [--text-cols …] [--label-cols …]`` — fits
  the learned model, reports its cross-validated accuracy, stores it as the next version (active).
- ``classify models`` — the stored versions; ``classify activate VERSION|none``.
- ``kb sync`` — pull the docs platform's changed articles now; ``kb search "QUERY"`` — the best 3.

Bad input lines are reported with their line numbers and nothing is written; never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

__all__ = ["register"]

classify_app = typer.Typer(help="Ticket classification: predict, evaluate, train, model versions.",
                           no_args_is_help=True)
kb_app = typer.Typer(help="The local KB index: sync from the documentation platform, search.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Directory of YAML overrides (as SWITCHBOARD_CONFIG_DIR)")]


def register(app: typer.Typer) -> None:
    app.add_typer(classify_app, name="classify")
    app.add_typer(kb_app, name="kb")


def _ctx(config: Path | None, *, redis: bool = False) -> Any:
    """The context of a command: settings, configuration and the database (Redis only if ``redis``)."""
    from worker.cli import UserError, context

    if config is not None and not config.is_dir():
        raise UserError(f"--config {config}: not a directory")
    overrides: dict[str, Any] = {"config_dir": config} if config is not None else {}
    if redis:
        return context(**overrides)
    from config.loader import load_all
    from config.settings import Settings
    from pipelines.clock import SystemClock
    from pipelines.db import Database
    from pipelines.runtime import Context
    from worker.logs import configure_logging

    settings = Settings(**overrides)
    configure_logging(settings.log_level, settings.secrets())
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    load_all(settings.config_dir)
    db = Database(settings.effective_database_url, schema=settings.db_schema)
    db.upgrade()
    return Context(settings=settings, db=db, redis=None, clock=SystemClock())


def _read(path: Path, **kw: Any) -> list[tuple[int, dict[str, Any]]]:
    from rules.enrich_eval import InputProblems, read_jsonl
    from worker.cli import UserError

    try:
        return read_jsonl(path, **kw)
    except InputProblems as exc:
        raise UserError(str(exc)) from None


def _predicted(rec: dict[str, Any]) -> dict[str, Any]:
    return {"type": rec["type"], "subtype": rec["subtype"], "confidence": rec["confidence"],
            "confident": rec["confident"], "priority": rec["priority"],
            "kb": [{"title": a["title"], "url": a["url"], "score": a["score"]} for a in rec["kb"][:3]]}


def _signals(obj: dict[str, Any]) -> dict[str, Any]:
    """Optional priority signals a line may carry: alert ``severity``, ``vip`` contact, ``affected`` count."""
    out: dict[str, Any] = {}
    if isinstance(obj.get("severity"), str):
        out["severity"] = obj["severity"].lower()
    if isinstance(obj.get("vip"), bool):
        out["vip"] = obj["vip"]
    if isinstance(obj.get("affected"), int) and not isinstance(obj.get("affected"), bool):
        out["affected"] = obj["affected"]
    return out


def _records(ctx: Any, rows: list[tuple[int, dict[str, Any]]]) -> tuple[list[dict[str, Any]], int | None, str]:
    from pipelines import enrich

    cfg = enrich.config_of(ctx)
    with ctx.db.session() as s:
        enricher, version, source = enrich.enricher_for(ctx, s)
    out = []
    for _, obj in rows:
        e = enricher.enrich(obj.get("summary") or "", obj.get("description") or "", **_signals(obj))
        out.append(enrich.record_of(e, cfg, version))
    return out, version, source


@classify_app.command("predict")
def predict(
    input_path: Annotated[Path, typer.Option("--input", help="JSONL: {id, summary, description} per line")],
    output: Annotated[Path, typer.Option("--output", help="JSONL written here ('-': standard output)")],
    config: ConfigOpt = None,
) -> None:
    """Type, subtype, priority and the best KB articles for each ticket of a file."""
    from worker.cli import err

    rows = _read(input_path)
    ctx = _ctx(config)
    records, version, source = _records(ctx, rows)
    lines = [json.dumps({**obj, "predicted": _predicted(rec)}, ensure_ascii=False)
             for (_, obj), rec in zip(rows, records, strict=True)]
    text = "\n".join(lines) + "\n"
    if str(output) == "-":
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    model = f"trained model v{version} + rules" if version else "rules model"
    err.print(f"{len(lines)} ticket(s) classified with the {model}; KB: {source}"
              + ("" if str(output) == "-" else f" -> {output}"))


@classify_app.command("eval")
def evaluate(
    path: Annotated[Path, typer.Argument(help="Labelled JSONL: summary, description, type, subtype, optional kb")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    config: ConfigOpt = None,
) -> None:
    """Accuracy and macro-F1 of type and subtype, and KB top-3 hit rate, on a labelled file."""
    from rules.enrich_eval import score
    from rules.taxonomy import load_taxonomy
    from worker.cli import console

    rows = _read(path, labelled=True)
    ctx = _ctx(config)
    records, version, source = _records(ctx, rows)
    taxonomy = load_taxonomy(ctx.settings.config_dir)
    scores = score([obj for _, obj in rows], records, canonical=taxonomy.canonical)
    data = {**scores.as_dict(), "model": f"v{version}" if version else "rules", "kb_source": source}
    if as_json:
        console.print_json(json.dumps(data))
        return
    t = Table("", "accuracy", "macro-F1", title=f"{scores.tickets} labelled ticket(s) — {data['model']} model")
    t.add_row("type", f"{scores.type_accuracy:.3f}", f"{scores.type_macro_f1:.3f}")
    t.add_row("subtype", f"{scores.subtype_accuracy:.3f}", f"{scores.subtype_macro_f1:.3f}")
    console.print(t)
    if scores.kb_top3_hit_rate is not None:
        console.print(f"KB top-3 hit rate: {scores.kb_top3_hit_rate:.3f} on {scores.kb_labelled} ticket(s) with an "
                      f"article (index: {source})")
    console.print(f"confident (would be written back): {scores.confident_share:.0%}")
    for g, p, n in scores.confusions[:5]:
        console.print(f"[dim]  {n}x {escape(g)} -> {escape(p or '(none)')}[/]")


def _training_rows(ctx: Any, from_psa: bool, input_paths: list[Path], text_cols: str | None,
                   label_cols: str | None, limit: int) -> tuple[list[dict[str, str]], str]:
    """(rows, source) from CSV/JSONL exports (one or more, read in turn) or the PSA's closed, typed tickets."""
    from worker.cli import UserError
    from worker.training import TrainingInputError, from_file, from_psa_tickets

    if from_psa == bool(input_paths):
        raise UserError("give exactly one of --from-psa or --input FILE (--input may be repeated)")
    texts_of = [c.strip() for c in text_cols.split(",")] if text_cols else None
    labels_of = [c.strip() for c in label_cols.split(",")] if label_cols else None
    try:
        if input_paths:
            rows = [row for path in input_paths for row in from_file(path, text_cols=texts_of, label_cols=labels_of)]
            return rows, "file:" + "+".join(path.name for path in input_paths)
        return from_psa_tickets(ctx, limit=limit), f"psa:{ctx.settings.psa}"
    except TrainingInputError as exc:
        raise UserError(str(exc)) from None


@classify_app.command("train")
def train(
    from_psa: Annotated[bool, typer.Option("--from-psa", help="Train on the PSA's closed tickets a person typed")] = False,
    input_paths: Annotated[list[Path] | None, typer.Option(
        "--input", help="A CSV or JSONL export to train on (repeat for several files)")] = None,
    text_cols: Annotated[str | None, typer.Option("--text-cols", help="Comma-separated text columns "
                                                  "(default: summary,description — or subject,body)")] = None,
    label_cols: Annotated[str | None, typer.Option("--label-cols", help="Comma-separated label columns, joined "
                                                   "with ' / ' (default: subtype — or type, queue)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many PSA tickets")] = 20000,
    folds: Annotated[int, typer.Option(help="Cross-validation folds (0: no cross-validation)")] = 5,
    activate: Annotated[bool, typer.Option(help="Make the new version the active one")] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigOpt = None,
) -> None:
    """Fit the learned model, report cross-validated accuracy, store it as the next version."""
    from pipelines import enrich
    from worker.cli import UserError, console, err
    from worker.training import TrainingInputError, fit, labels_of

    ctx = _ctx(config, redis=from_psa)
    rows, source = _training_rows(ctx, from_psa, list(input_paths or []), text_cols, label_cols, limit)
    err.print(f"training on {len(rows)} ticket(s), {len(set(labels_of(rows)))} label(s) from {source}…")
    try:
        blob, metrics = fit(rows, folds=folds)
    except (TrainingInputError, ValueError) as exc:
        raise UserError(str(exc)) from None
    with ctx.db.session() as s:
        version = enrich.save_model(s, blob, metrics=metrics, source=source, samples=len(rows),
                                    now=datetime.now(UTC), activate_it=activate)
    data = {"version": version, "active": activate, "source": source, "samples": len(rows), **metrics}
    if as_json:
        console.print_json(json.dumps(data))
        return
    cv = metrics.get("cv_accuracy")
    console.print(f"model v{version} stored{' and active' if activate else ''}: {len(rows)} ticket(s), "
                  f"{metrics.get('labels')} label(s)")
    if cv is not None:
        console.print(f"cross-validated accuracy: {cv:.3f} (± {metrics.get('cv_std', 0):.3f}, "
                      f"{metrics.get('folds', '?')} folds); macro-F1 {metrics.get('cv_macro_f1', 0):.3f}")
    if "train_seconds" in metrics:
        console.print(f"[dim]trained in {metrics['train_seconds']:.1f} s[/]")


@classify_app.command("models")
def models(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The trained model versions (the active one is used by enrichment and predict)."""
    from pipelines import enrich
    from worker.cli import console

    ctx = _ctx(None)
    with ctx.db.session() as s:
        rows = enrich.list_models(s)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print("no trained model: the rules model is used (train one with `switchboard classify train`)")
        return
    t = Table("version", "created", "source", "samples", "cv accuracy", "active")
    for r in rows:
        cv = r["metrics"].get("cv_accuracy")
        t.add_row(str(r["version"]), r["created_at"][:19], escape(r["source"]), str(r["samples"]),
                  f"{cv:.3f}" if isinstance(cv, int | float) else "-", "yes" if r["active"] else "")
    console.print(t)


@classify_app.command("activate")
def activate_version(version: Annotated[str, typer.Argument(help="A version number, or 'none' for the rules model")]) -> None:
    """Choose the model version enrichment uses ('none': the rules model alone)."""
    from pipelines import enrich
    from worker.cli import UserError, console

    wanted = None if version.lower() == "none" else int(version) if version.isdigit() else -1
    if wanted == -1:
        raise UserError(f"{version!r}: give a version number or 'none'")
    ctx = _ctx(None)
    try:
        with ctx.db.session() as s:
            enrich.activate(s, wanted)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    console.print(f"active model: {'rules only' if wanted is None else f'v{wanted}'}")


@kb_app.command("sync")
def kb_sync(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Pull the documentation platform's new and changed articles into the local index now."""
    from pipelines import kb
    from worker.cli import console

    ctx = _ctx(None, redis=True)
    report = kb.sync(ctx)
    if as_json:
        console.print_json(json.dumps(report.as_dict()))
        return
    if report.skipped:
        console.print(report.skipped)
        return
    console.print(f"{report.vendor}: {report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
                  f"{report.withdrawn} withdrawn, {report.quarantined} quarantined — {report.total} article(s) in "
                  f"the index ({report.calls} API call(s))")


@kb_app.command("search")
def kb_search(
    query: Annotated[str, typer.Argument(help="What the ticket says, e.g. 'outlook keeps asking for password'")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigOpt = None,
) -> None:
    """The best 3 articles of the local index for a query, with their score and why."""
    from pipelines import enrich
    from worker.cli import UserError, console

    if not query.strip():
        raise UserError("give a query, e.g. switchboard kb search \"printer offline\"")
    ctx = _ctx(config)
    with ctx.db.session() as s:
        enricher, _version, source = enrich.enricher_for(ctx, s)
    found = [{"title": k.title, "url": k.url, "score": round(float(k.score), 3), "why": k.why, "ref": k.ref}
             for k in enricher.enrich(query).kb[:3]]
    if as_json:
        console.print_json(json.dumps({"query": query, "index": source, "results": found}))
        return
    if not found:
        console.print(f"no article matches (index: {source})")
        return
    for i, a in enumerate(found, 1):
        console.print(f"{i}. [bold]{escape(a['title'])}[/] ({a['score']:.2f}) {escape(a['url'] or '')}")
        if a["why"]:
            console.print(f"   [dim]{escape(a['why'])}[/]")
    console.print(f"[dim]index: {source}[/]")
