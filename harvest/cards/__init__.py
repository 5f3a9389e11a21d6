"""Cards, the files the site is built from: card.py (record ↔ card), citations.py (RIS, BibTeX),
overrides.py (the editors' content/overrides.toml)."""
