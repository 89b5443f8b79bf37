"""Errors the gateway answers with, in OpenAI's shape, so every OpenAI client understands them.

``{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}`` with the matching
HTTP status: 400 malformed request, 401 missing or wrong key, 403 key not allowed that model,
404 unknown model, 429 rate limit or budget exceeded, 502/504 upstream failure. Messages
pass through ``scrub`` so a provider credential can never leak into one.
"""

from __future__ import annotations

from typing import Any

from ondo.errors import InvalidInput, NotFound, OndoError, UnsupportedOperation
from ondo.traces.redaction import scrub


class GatewayError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = scrub(message)
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> GatewayError:
    return GatewayError(400, message, type="invalid_request_error", param=param, code=code)


def from_exception(exc: BaseException) -> GatewayError:
    """Map anything raised while serving a request to the error the client sees."""
    if isinstance(exc, GatewayError):
        return exc
    from ondo.llm.provider import ProviderError

    if isinstance(exc, ProviderError):
        status = exc.status_code
        if status == 429:
            return GatewayError(429, f"upstream rate limit: {exc.message}", type="rate_limit_exceeded",
                                code="upstream_rate_limited")
        if status is not None and 400 <= status < 500 and status not in (401, 403, 408):
            return GatewayError(status, exc.message, type="invalid_request_error", code="upstream_rejected")
        if status in (401, 403):
            # the gateway's provider credentials were refused: the caller can do nothing about it
            return GatewayError(502, f"upstream refused the gateway's credentials ({exc.provider})",
                                type="api_error", code="upstream_auth_failed")
        if "timeout" in exc.message.lower() or status in (408, 504):
            return GatewayError(504, exc.message, type="api_error", code="upstream_timeout")
        return GatewayError(502, exc.message, type="api_error", code="upstream_error")
    if isinstance(exc, NotFound):
        return GatewayError(404, exc.message, type="invalid_request_error", param="model", code="model_not_found")
    if isinstance(exc, InvalidInput | UnsupportedOperation):
        return GatewayError(400, exc.message, type="invalid_request_error", param=getattr(exc, "field", None))
    if isinstance(exc, OndoError):
        return GatewayError(500, exc.message, type="api_error", code="internal_error")
    if isinstance(exc, TimeoutError):
        return GatewayError(504, "upstream timed out", type="api_error", code="upstream_timeout")
    return GatewayError(500, f"internal error: {type(exc).__name__}", type="api_error", code="internal_error")
