"""A content-addressed cache of compile work, so a compile redoes only what changed.

Two kinds of entries, each keyed by the SHA-256 of everything its result depends on:

- ``parse``: one config file parsed (data, positions, texts) with its JSON Schema findings. Key: the
  file's bytes, its displayed path (findings name it) and its kind (base, team, acknowledgements).
- ``stacks``: one team's rendered stacks (its team stack and task stacks) with their size statistics.
  Key: the environment, the base file's bytes and the team file's path and bytes (a team's stacks
  are a function of its resolved model, which is a function of those: `config.resolve_team`).

Every key also covers the compiler itself (`code_digest`: this package's source, the templates, the
schemas, the Python and library versions), so an upgrade, or an edit of a template in a development
checkout, starts afresh. Semantic checks across files (`checks.check_tree`) always run.

Entries are pickles in the user's cache directory, trusted as Python trusts its own ``__pycache__``:
the cache creates its folders writable by their user only, and reads nothing from a folder that is
writable by others or owned by another user (`_trusted`). A missing, unreadable or corrupt entry is a
miss; an unwritable directory only costs the speed-up. Old entries are pruned by last use.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from dmsctl.compiler.data import schemas_dir, templates_dir

FORMAT = "1"  # bump when an entry's shape changes
KEEP_AT_LEAST = 2000  # entries per kind kept however old (more than two trees of 200 teams)


@cache
def code_digest() -> str:
    """What compiling depends on besides the config: the compiler's source, templates and schemas (by
    content, so a development checkout is covered as well as an installed wheel), the Python version
    and the versions of the libraries that parse, render and word findings."""
    from importlib import metadata

    h = hashlib.sha256(f"{FORMAT}\0{sys.version}\0".encode())
    for dist in ("dmsctl", "pyyaml", "jinja2", "jsonschema"):
        try:
            h.update(f"{dist}={metadata.version(dist)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=none\0".encode())
    for root in _roots():
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _roots() -> tuple[Path, ...]:
    """The compiler package, the templates, the schemas."""
    return (Path(__file__).resolve().parent, templates_dir(), schemas_dir())


class CompileCache:
    """`get`/`put` by (kind, key); `key(*parts)` makes a key. Counts `hits` and `misses` per kind."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}
        self._used: dict[str, int] = {}
        self._trust: dict[Path, bool] = {}

    def _trusted(self, folder: Path) -> bool:
        """A folder entries may be read from: absent (nothing to read), or owned by this user and
        writable by nobody else (its parents up to the cache directory are checked too)."""
        if folder not in self._trust:
            ok = True
            for f in (self.directory, folder):
                try:
                    st = f.stat()
                except FileNotFoundError:
                    continue
                except OSError:
                    ok = False
                    break
                if (hasattr(os, "getuid") and st.st_uid != os.getuid()) or st.st_mode & 0o022:
                    ok = False
                    break
            self._trust[folder] = ok
        return self._trust[folder]

    def key(self, *parts: str | bytes) -> str:
        h = hashlib.sha256(code_digest().encode())
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            h.update(len(data).to_bytes(8, "big") + data)  # length-prefixed: parts cannot run into each other
        return h.hexdigest()

    def _path(self, kind: str, key: str) -> Path:
        return self.directory / kind / f"{key}.pickle"

    def get(self, kind: str, key: str) -> Any | None:
        path = self._path(kind, key)
        try:
            if not self._trusted(path.parent):
                raise PermissionError(f"{path.parent} is writable by others: its entries are not read")
            with path.open("rb") as f:
                stored_key, value = pickle.load(f)
            if stored_key != key:
                raise ValueError("entry under another key")
            os.utime(path)  # last use, for pruning
        except Exception:  # noqa: BLE001 - absent, unreadable, truncated or from another version: a miss
            self.misses[kind] = self.misses.get(kind, 0) + 1
            return None
        self.hits[kind] = self.hits.get(kind, 0) + 1
        self._used[kind] = self._used.get(kind, 0) + 1
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        folder = self.directory / kind
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.mkdir(mode=0o700, exist_ok=True)
            if not self._trusted(folder):
                return  # entries nobody may read would only fill the disk
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                pickle.dump((key, value), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self._path(kind, key))  # atomic: a reader sees the whole entry or none
        except OSError:
            return  # a read-only or full disk costs the speed-up, never the compile
        self._used[kind] = self._used.get(kind, 0) + 1

    def prune(self) -> int:
        """Remove the least recently used entries of each kind beyond max(KEEP_AT_LEAST, 4 x what this
        compile used). Returns how many were removed."""
        removed = 0
        for kind, used in self._used.items():
            keep = max(KEEP_AT_LEAST, 4 * used)
            try:
                entries = [e for e in os.scandir(self.directory / kind) if e.name.endswith(".pickle")]
                if len(entries) <= keep:
                    continue
                entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
                for e in entries[keep:]:
                    os.unlink(e.path)
                    removed += 1
            except OSError:
                continue
        return removed
