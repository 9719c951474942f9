"""Pure decisions over the canonical model. No I/O, no database, no clock reads."""
