"""``enrichment.yaml``: defaults, overrides file by file, a bad key named with its file."""

from __future__ import annotations

import pytest

from config.loader import ConfigError, load_all


def test_defaults(tmp_path) -> None:
    cfg = load_all(tmp_path)["enrichment.yaml"]
    assert cfg.enabled and cfg.existing_tickets and cfg.alert_tickets and not cfg.shadow
    assert cfg.fields == ["type", "subtype", "priority"] and not cfg.overwrite_human_fields
    assert cfg.skip.status("closed", "Complete") and cfg.skip.status("other", "Resolved")
    assert not cfg.skip.status("new", "New") and cfg.kb.fallback_builtin


@pytest.mark.parametrize(("text", "key"), [
    ("threshold: 2\n", "threshold"),
    ("fields: [type, colour]\n", "fields[1]"),
    ("note: {max_articles: 20}\n", "note.max_articles"),
    ("skip: {statuses: closed, boards: []}\n", "skip.statuses"),
    ("unset_priority: 7\n", "unset_priority"),
    ("overwrite: true\n", "overwrite"),
])
def test_a_bad_value_names_the_file_and_key(tmp_path, text, key) -> None:
    (tmp_path / "enrichment.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_all(tmp_path)
    assert err.value.file.endswith("enrichment.yaml") and err.value.key == key
