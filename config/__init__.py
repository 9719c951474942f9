"""Settings (pydantic-settings) and rule configuration (YAML under ``config/defaults``)."""
