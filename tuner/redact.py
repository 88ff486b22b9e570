"""Passwords out of sight: storage and tracking URIs as they may be shown or recorded.

`mask_url("postgresql://user:pw@host/db")` → `postgresql://user:***@host/db`;
`mask_text(text)` does the same to every URL in a longer text (an error message, a
command line, a traceback), and to `password=...` query parameters. Everything tuner
prints, logs, tags or stores about a storage or tracking URI goes through one of them;
the real URI is only ever handed to the library that connects with it.
"""

from __future__ import annotations

import re
from typing import overload

MASK = "***"

# scheme://userinfo@ — userinfo up to the last '@' before the host part ends
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/?#'\"]*)@")
_QUERY = re.compile(r"(?P<key>[?&;](?:password|passwd|pwd|token|secret)=)[^&;\s'\"#]*", re.I)


def _userinfo(match: re.Match[str]) -> str:
    userinfo = match["userinfo"]
    user, sep, password = userinfo.partition(":")
    if not sep or not password:
        return match.group(0)
    return f"{match['scheme']}{user}:{MASK}@"


def mask_text(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`."""
    if not text or ("://" not in text and "=" not in text):
        return text
    return _QUERY.sub(rf"\g<key>{MASK}", _USERINFO.sub(_userinfo, text))


@overload
def mask_url(url: str) -> str: ...
@overload
def mask_url(url: None) -> None: ...
def mask_url(url: str | None) -> str | None:
    """A URL with its password (if any) replaced by `***`: safe to print and record."""
    return None if url is None else mask_text(url)


def strip_credentials(url: str) -> str:
    """A URL without its user and password (for links to print: `http://host:port/`)."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^\s/?#@]*@", r"\1", url)
