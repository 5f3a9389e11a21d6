"""Tools for the site's editors, apart from the harvester and the site build; runtime packages only.

    check.py    `python -m editor check` (`make check`): explainers, pages, glossary, overrides.toml
"""
