"""The normalized record every source produces: record.py (fields, record.schema.json), dates.py,
sanitize.py (harvested text), drift.py (what changed between harvests)."""
