"""The project's few ways of writing files, shared by the harvester and the site plugins.

Two rules run through the project: a reader never sees half a file (cards, raw cache), and an
unchanged file is never rewritten (its bytes and mtime stay, so a no-change run writes nothing and a
rebuild only reads what it would have written again: a read is cheaper than a rewrite).
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

from harvest.errors import ConfigError


def holds(path: str | os.PathLike, data: bytes) -> bool:
    """True when the file exists and holds exactly `data`."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(data) + 1) == data
    except FileNotFoundError:
        return False


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so readers see old or new bytes only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_if_changed(path: str | os.PathLike, data: bytes) -> bool:
    """Write `data` unless the file already holds it.  Returns True when it wrote.

    Plain (non-atomic) write: used for build output, which is regenerated wholesale anyway.
    """
    if holds(path, data):
        return False
    try:
        fh = open(path, "wb")
    except FileNotFoundError:  # only then create the folder: most folders exist already
        os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
        fh = open(path, "wb")
    with fh:
        fh.write(data)
    return True


# The site build's named signal (blinker, as Pelican's own signals are) by which a writer says that it
# made an output file, written or found unchanged: plugins/prune removes what an earlier build made
# and this one did not.  The harvester never sends it.
OUTPUT_MADE = "atlas_output_made"


def claim(path: str | os.PathLike) -> None:
    """This build made the output file at `path` (written now or left unchanged: claim both)."""
    from blinker import signal  # imported by site builds only

    signal(OUTPUT_MADE).send(os.fspath(path))


def claim_tree(path: str | os.PathLike) -> None:
    """Every file under the output folder `path` is this build's: its writer keeps it in step itself."""
    from blinker import signal

    signal(OUTPUT_MADE).send(os.fspath(path), tree=True)


def mirror_tree(src: str | os.PathLike, dst: str | os.PathLike) -> int:
    """Make `dst` hold exactly the files of `src`: write new and changed ones, delete the rest.

    One process, one file at a time: used to move a tree built on tmpfs into the build output, where
    unchanged files keep their bytes and mtime and files of an earlier build do not linger.
    Returns the number of files written.
    """
    src, dst = os.fspath(src), os.path.normpath(os.fspath(dst))  # normalized like the paths kept below
    keep, written = set(), 0
    for root, _dirs, files in os.walk(src):
        out_dir = os.path.join(dst, os.path.relpath(root, src))
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                data = fh.read()
            target = os.path.normpath(os.path.join(out_dir, name))
            keep.add(target)
            written += write_if_changed(target, data)
    for root, _dirs, files in os.walk(dst, topdown=False):
        for name in files:
            if os.path.join(root, name) not in keep:
                os.unlink(os.path.join(root, name))
        if root != dst and not os.listdir(root):
            os.rmdir(root)
    return written


def read_toml(path: Path, kind: str) -> dict:
    """Parse an editor-owned TOML file; ConfigError names the file and the problem in one line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {kind} file: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
