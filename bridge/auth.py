"""The job token on gRPC calls (both processes): how it travels and how servers check it."""

from __future__ import annotations

import secrets

import grpc

__all__ = ["TOKEN_METADATA_KEY", "check_token", "new_token", "token_metadata"]

TOKEN_METADATA_KEY = "akdl-token"


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_hex(16)


def token_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that carries ``token``."""
    return ((TOKEN_METADATA_KEY, token),)


def check_token(context: grpc.ServicerContext, token: str) -> None:
    """Abort the call with UNAUTHENTICATED unless it carries ``token``."""
    given = dict(context.invocation_metadata()).get(TOKEN_METADATA_KEY)
    if not isinstance(given, str) or not secrets.compare_digest(given, token):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong akdl job token")
