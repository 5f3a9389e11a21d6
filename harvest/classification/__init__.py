"""Which topics a record belongs to: topics.py loads the editors' topics.toml, classify.py applies it."""
