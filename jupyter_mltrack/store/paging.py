"""Opaque page tokens: base64 of a JSON offset, checked on the way back in."""

from __future__ import annotations

import base64
import binascii
import json

from ..errors import MltrackError


def encode(offset: int) -> str:
    """The token for the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode(token: str | None) -> int:
    """The offset a token stands for; 0 for no token."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        raise MltrackError(f"invalid page token {token!r}") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise MltrackError(f"invalid page token {token!r}")
    return offset
