"""Publish settings: the development settings with absolute URLs for the deployed site.

SITEURL comes from the environment (the nightly workflow sets it from a repository variable).
"""

import importlib.util
import os
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_atlas_dev_conf", Path(__file__).resolve().parent / "pelican.conf.py"
)
_conf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conf)
globals().update({k: v for k, v in vars(_conf).items() if k.isupper()})

SITEURL = os.environ.get("SITEURL", "https://mood-evidence-atlas.github.io").rstrip("/")
RELATIVE_URLS = False
