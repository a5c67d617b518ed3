"""Where the app keeps its tokens between runs: one JSON file, readable by its
owner only.

The folder (``--state-dir``, by default ``~/.keyholder-app``) is created 0700
and the file ``tokens.json`` 0600. The file is written to a temporary name
opened with mode 0600 from the start and then renamed over the old one, so
there is never a moment when the tokens are readable by others, and a crash
mid-write leaves the previous file whole (refresh tokens rotate: losing the
new one would sign the person out).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_STATE_DIR = Path("~/.keyholder-app")
FILE_NAME = "tokens.json"
EXPIRY_MARGIN = 30  # seconds: refresh a little before the provider would refuse


class NoTokens(Exception):
    """The app has no (readable) tokens: sign in first."""


@dataclass
class StoredTokens:
    issuer: str
    client_id: str
    access_token: str
    expires_at: int  # epoch seconds
    refresh_token: str | None = None
    id_token: str | None = None
    scope: str = ""
    resource: str | None = None  # RFC 8707: the API the access token is for

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at - EXPIRY_MARGIN

    @classmethod
    def from_token_response(cls, answer: dict, *, issuer: str, client_id: str,
                            resource: str | None, previous: StoredTokens | None = None
                            ) -> StoredTokens:
        """From an RFC 6749 §5.1 answer (a refresh may omit what stays the same)."""
        expires_in = answer.get("expires_in")
        lifetime = int(expires_in) if isinstance(expires_in, int | float) else 300
        return cls(issuer=issuer, client_id=client_id, access_token=answer["access_token"],
                   expires_at=int(time.time()) + lifetime,
                   refresh_token=answer.get("refresh_token")
                   or (previous.refresh_token if previous else None),
                   id_token=answer.get("id_token") or (previous.id_token if previous else None),
                   scope=answer.get("scope") or (previous.scope if previous else ""),
                   resource=resource)


class TokenFile:
    def __init__(self, state_dir: str | os.PathLike | None = None) -> None:
        self.folder = Path(state_dir or DEFAULT_STATE_DIR).expanduser()
        self.path = self.folder / FILE_NAME

    def save(self, tokens: StoredTokens) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(descriptor, 0o600)  # O_CREAT's mode is not applied to an old file
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                json.dump(asdict(tokens), out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def load(self) -> StoredTokens:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return StoredTokens(**data)
        except FileNotFoundError:
            raise NoTokens("The app is not signed in: run `keyholder app login` first.") from None
        except (ValueError, TypeError) as error:
            raise NoTokens(f"The token file {self.path} is damaged; run `keyholder app login` "
                           "again.") from error

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


__all__ = ["DEFAULT_STATE_DIR", "NoTokens", "StoredTokens", "TokenFile"]
