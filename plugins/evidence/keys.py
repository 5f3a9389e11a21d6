"""The build manifest's module (plugins/speedups/manifest.py) for the plugins that key their own
outputs the way it keys pages (the read cache, the downloads' members, the search documents), also
in a build whose PLUGINS leave speedups out: then it is loaded from its file."""

from __future__ import annotations

import os

try:
    from speedups import manifest
except ImportError:
    import importlib.util as _util

    _spec = _util.spec_from_file_location(
        "speedups_manifest", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                          "speedups", "manifest.py"))
    manifest = _util.module_from_spec(_spec)
    _spec.loader.exec_module(manifest)
