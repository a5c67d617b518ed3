"""Where a process keeps what it derives from the installed sources and can
always make again (compiled message catalogues, compiled templates): one
folder per user, shared by every process of this machine."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_folder(name: str) -> Path:
    """``$XDG_CACHE_HOME/keyholder/<name>`` (``~/.cache`` by default), made if
    missing; in a read-only home, a folder of this user's in the temporary one."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "keyholder" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    except OSError:
        folder = Path(tempfile.gettempdir()) / f"keyholder-{name}-{os.getuid()}"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder
