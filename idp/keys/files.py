"""The key directory: one ``<kid>.json`` file per key, written atomically
with mode 0600, and the lock that serialises changes between processes.

Readers take no lock: a stuck ``keyholder keys rotate`` must never stall the
servers. Writers order their writes so that every state a reader can see in
between is one it can serve (see :mod:`idp.keys.rotation`)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from idp.keys.errors import KeyStoreError

LOCK_NAME = ".lock"
_TEMPORARY = re.compile(r"\..+\.tmp")
# A kid is a base64url SHA-256 thumbprint (43 characters). Anything else in
# the folder (its README, .gitignore, temporary files) is not a key.
_KEY_FILE = re.compile(r"[A-Za-z0-9_-]{43}\.json")


def file_name(kid: str) -> str:
    return f"{kid}.json"


def create_directory(directory: Path) -> None:
    """Create the key folder, readable by its owner only, unless it exists."""
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        directory.mkdir(mode=0o700)
    except FileExistsError:
        return
    except OSError as error:
        raise _failed("create", directory, error) from None
    os.chmod(directory, 0o700)  # mkdir's mode is narrowed by the umask, never widened


def read_all(directory: Path) -> tuple[bytes, dict[str, bytes]]:
    """Every key file's content by name, and one digest of them all.

    The digest, not modification times, tells a reader that the store
    changed: a coarse file-system clock can give two writes in one tick the
    same mtime, and reading a handful of small files once a second is cheap."""
    try:
        names = sorted(name for name in os.listdir(directory) if _KEY_FILE.fullmatch(name))
    except FileNotFoundError:
        names = []
    except OSError as error:
        raise _failed("read", directory, error) from None
    digest = hashlib.sha256()
    contents: dict[str, bytes] = {}
    for name in names:
        try:
            data = (directory / name).read_bytes()
        except FileNotFoundError:
            continue  # pruned by another process since the listing
        except OSError as error:
            raise _failed("read", directory / name, error) from None
        contents[name] = data
        digest.update(b"%s\0%d\0%s" % (name.encode(), len(data), data))
    return digest.digest(), contents


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the store's exclusive lock: one writer at a time, across processes.

    ``flock`` is released by the kernel when the process dies, so a crashed
    writer cannot leave the store locked. Temporary files found under the lock
    are leftovers of such a crash (only lock holders write them)."""
    if not directory.is_dir():
        raise KeyStoreError(f"there is no key store at {directory}: "
                            "run `keyholder init` to create it")
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise _failed("lock", directory, error) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for name in os.listdir(directory):
            if _TEMPORARY.fullmatch(name):
                remove(directory, name)
        yield
    finally:
        os.close(fd)  # releases the lock


def write(directory: Path, name: str, data: bytes) -> None:
    """Replace ``name`` atomically: readers see the old content or the new,
    never a part. ``mkstemp`` creates the file with mode 0600."""
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise _failed("write", directory / name, error) from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, directory / name)
    except OSError as error:
        with suppress(OSError):
            os.unlink(temporary)
        raise _failed("write", directory / name, error) from None


def remove(directory: Path, name: str) -> None:
    try:
        os.unlink(directory / name)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise _failed("delete", directory / name, error) from None


def sync(directory: Path) -> None:
    """Make the renames and deletions durable (they live in the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _failed(action: str, path: Path, error: OSError) -> KeyStoreError:
    return KeyStoreError(f"cannot {action} {path}: {error.strerror or error}")
