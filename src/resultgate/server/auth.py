"""Who may call ``/api/*``, and what is forwarded to Prefect.

With gateway tokens configured, every ``/api/*`` request needs
``Authorization: Bearer <token>`` (compared in constant time against every
token) and nothing of the caller's is forwarded: the gateway calls Prefect with
its own credentials. Without tokens, the caller's ``Authorization`` header is
forwarded to Prefect as it came, so Prefect decides.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from resultgate._errors import AuthError

__all__ = ["Authorizer", "bearer_token", "token_matches"]


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def token_matches(presented: str, tokens: Iterable[str]) -> bool:
    """Whether ``presented`` is one of ``tokens``.

    Every token is compared (no early exit) with :func:`hmac.compare_digest`, so
    the time taken says nothing about which token, or how much of one, matched.
    """
    given = presented.encode("utf-8")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given, token.encode("utf-8"))
    return matched


class Authorizer:
    """Checks a request's ``Authorization`` header; returns what to forward to Prefect."""

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self.tokens = tuple(tokens)

    @property
    def required(self) -> bool:
        return bool(self.tokens)

    def __call__(self, authorization: str | None) -> str | None:
        """The header to forward to Prefect (None: the gateway's own credentials).

        Raises :class:`AuthError` (401) when tokens are configured and the request
        does not carry one of them.
        """
        if not self.tokens:
            return authorization or None
        token = bearer_token(authorization)
        if token is None:
            raise AuthError(
                "this gateway needs a token",
                hint="send 'Authorization: Bearer <token>' with a token the operator gave you",
            )
        if not token_matches(token, self.tokens):
            raise AuthError("the token was not accepted", hint="ask the operator for a valid token")
        return None
