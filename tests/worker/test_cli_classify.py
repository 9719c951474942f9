"""``switchboard classify`` and ``switchboard kb``: files in, files out, clear errors, model versions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import settings_env

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "tests" / "data" / "classify_dev.jsonl"
OUTLOOK_KB = "Office 365 - Outlook Continually Asking for Password"


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def env(settings_factory, make_context):
    make_context()
    return {**settings_env(settings_factory()), "SWITCHBOARD_LOG_LEVEL": "WARNING"}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_predict_adds_the_prediction_to_each_line(env, tmp_path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "A1", "summary": "outlook keeps asking for password", "description": "since this morning",
         "extra": "kept"},
        {"id": "A2", "summary": "Printer offline", "description": "the whole office cannot print"},
        {"id": "A3", "summary": "hi", "description": ""},
        {"id": "A4", "summary": "Outlook keeps asking for password, I cannot work", "vip": True},
        {"id": "A5", "summary": "Outlook keeps asking for password, I cannot work"},
    ])
    out = tmp_path / "out.jsonl"
    result = cli(env, "classify", "predict", "--input", str(src), "--output", str(out))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in lines] == ["A1", "A2", "A3", "A4", "A5"] and lines[0]["extra"] == "kept"
    first = lines[0]["predicted"]
    assert set(first) >= {"type", "subtype", "confidence", "priority", "kb"}
    assert (first["type"], first["subtype"]) == ("Software/SaaS", "Outlook - Troubleshooting")
    assert first["kb"][0]["title"] == OUTLOOK_KB and set(first["kb"][0]) == {"title", "url", "score"}
    assert lines[1]["predicted"]["subtype"] == "Printer - Troubleshooting"
    assert lines[1]["predicted"]["priority"] <= 2, "the whole office"
    assert lines[3]["predicted"]["priority"] < lines[4]["predicted"]["priority"], "a VIP contact"
    assert "5 ticket(s) classified with the rules model" in result.stderr


def test_predict_reports_every_bad_line_and_writes_nothing(env, tmp_path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"id": 1, "summary": "fine"}, "{not json", {"id": 3, "description": "no summary"}, "[1, 2]",
        {"id": 5, "summary": 42},
    ])
    out = tmp_path / "out.jsonl"
    result = cli(env, "classify", "predict", "--input", str(src), "--output", str(out))
    assert result.returncode == 1
    for n in ("line 2: not valid JSON", "line 3: missing 'summary'", "line 4: expected a JSON object",
              "line 5: 'summary' must be a string"):
        assert n in result.stderr
    assert "Traceback" not in result.stderr + result.stdout and not out.exists()
    missing = cli(env, "classify", "predict", "--input", str(tmp_path / "nope.jsonl"), "--output", str(out))
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_eval_reports_accuracy_macro_f1_and_kb_hit_rate(env, tmp_path) -> None:
    result = cli(env, "classify", "eval", str(DEV), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tickets"] >= 300 and data["model"] == "rules" and data["kb_source"] in ("builtin", "hudu")
    for part in ("type", "subtype"):
        assert 0.5 < data[part]["accuracy"] <= 1 and 0 < data[part]["macro_f1"] <= 1
    assert data["kb"]["labelled"] > 100 and data["kb"]["top3_hit_rate"] > 0.7
    text = cli(env, "classify", "eval", str(DEV))
    assert "KB top-3 hit rate" in text.stdout and "macro-F1" in text.stdout
    unlabelled = write_jsonl(tmp_path / "u.jsonl", [{"id": 1, "summary": "printer offline"}])
    bad = cli(env, "classify", "eval", str(unlabelled))
    assert bad.returncode == 1 and "line 1: missing label 'type'" in bad.stderr


def test_train_stores_versions_and_the_active_one_is_used(env, tmp_path) -> None:
    rows = [{"summary": f"outlook asks for my password again {i}", "description": "", "type": "Software/SaaS",
             "subtype": "Outlook - Troubleshooting"} for i in range(12)]
    rows += [{"summary": f"paper jam in the printer tray {i}", "description": "", "type": "Hardware",
              "subtype": "Printer - Troubleshooting"} for i in range(12)]
    rows += [{"summary": f"new starter needs an account {i}", "description": "", "type": "User Admin",
              "subtype": "User - Onboard"} for i in range(12)]
    src = write_jsonl(tmp_path / "train.jsonl", rows)
    result = cli(env, "classify", "train", "--input", str(src), "--folds", "3", "--json")
    assert result.returncode == 0, result.stderr
    trained = json.loads(result.stdout)
    assert trained["version"] == 1 and trained["active"] and trained["samples"] == 36
    assert 0 <= trained["cv_accuracy"] <= 1 and trained["folds"] == 3
    text = cli(env, "classify", "train", "--input", str(src), "--folds", "2", "--no-activate")
    assert "model v2 stored" in text.stdout and "cross-validated accuracy" in text.stdout
    listed = json.loads(cli(env, "classify", "models", "--json").stdout)
    assert [(m["version"], m["active"]) for m in listed] == [(1, True), (2, False)]
    src2 = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "summary": "outlook asks for my password"}])
    out = tmp_path / "o.jsonl"
    predicted = cli(env, "classify", "predict", "--input", str(src2), "--output", str(out))
    assert "trained model v1" in predicted.stderr
    assert cli(env, "classify", "activate", "none").returncode == 0
    assert not any(m["active"] for m in json.loads(cli(env, "classify", "models", "--json").stdout))
    assert cli(env, "classify", "activate", "9").returncode == 1


def test_train_from_a_csv_export_with_columns_and_bad_lines(env, tmp_path) -> None:
    good = tmp_path / "export.csv"
    good.write_text("Document,Topic_group\n" + "".join(
        f"please reset my password number {i},Access\nmonitor flickering on desk {i},Hardware\n"
        f"buy a new laptop for sales {i},Purchase\n" for i in range(10)))
    result = cli(env, "classify", "train", "--input", str(good), "--folds", "2")
    assert result.returncode == 0, result.stderr
    assert "30 ticket(s), 3 label(s)" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("Document,Topic_group\nok text,Access\nno label,\n\"broken,Hardware,extra\nx,y,z\n")
    result = cli(env, "classify", "train", "--input", str(bad))
    assert result.returncode == 1 and "line 3: empty label" in result.stderr
    assert "Traceback" not in result.stderr
    cols = cli(env, "classify", "train", "--input", str(good), "--label-cols", "Category")
    assert cols.returncode == 1 and "no column 'Category'" in cols.stderr
    both = cli(env, "classify", "train")
    assert both.returncode == 1 and "--from-psa or --input" in both.stderr
    # several exports at once (the project's labelled sets, say): read in turn, a bad one named
    more = tmp_path / "more.csv"
    more.write_text("Document,Topic_group\n" + "".join(f"printer jammed again {i},Hardware\n" for i in range(10)))
    two = cli(env, "classify", "train", "--input", str(good), "--input", str(more), "--folds", "2", "--json")
    assert two.returncode == 0, two.stderr
    assert json.loads(two.stdout)["samples"] == 40 and json.loads(two.stdout)["source"] == "file:export.csv+more.csv"
    one_bad = cli(env, "classify", "train", "--input", str(good), "--input", str(bad))
    assert one_bad.returncode == 1 and "bad.csv" in one_bad.stderr and "line 3: empty label" in one_bad.stderr


def test_kb_search_and_sync_without_a_docs_platform(env) -> None:
    env = {**env, "SWITCHBOARD_DOCS": ""}
    result = cli(env, "kb", "search", "outlook keeps asking for password", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["index"] == "builtin" and data["results"][0]["title"] == OUTLOOK_KB
    assert data["results"][0]["why"]
    text = cli(env, "kb", "search", "printer ofline")
    assert "Printing - Printer Offline" in text.stdout
    sync = cli(env, "kb", "sync")
    assert sync.returncode == 0 and "no documentation platform" in sync.stdout
