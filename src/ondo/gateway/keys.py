"""Gateway API keys: created once, shown once, stored as a sha256 hash.

A key looks like ``ondo-sk-<prefix>-<secret>``; the 10-character prefix is stored in clear
and indexed, so checking a key is one primary-key-like lookup and one constant-time hash
comparison. Keys are scoped to model patterns (``assistant``, ``assistant@*``,
``openai:*``), and carry an optional budget (USD) and rate limit (requests per minute).

``KeyGuard`` is the gateway's side: it caches key rows for a second (so a revoke or a spend
from another process is seen within that time), counts requests per minute in memory, and
adds spend to the store in the background.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from ondo.errors import Conflict, InvalidInput, NotFound
from ondo.gateway.errors import GatewayError
from ondo.ids import check_name
from ondo.store.tables.keys import api_keys
from ondo.traces.redaction import register_secret
from ondo.workspace import Workspace

log = logging.getLogger("ondo.gateway")

KEY_PREFIX = "ondo-sk-"
_PREFIX_LEN = 10


@dataclass
class ApiKey:
    id: str
    name: str
    prefix: str
    models: list[str] | None
    budget_usd: float | None
    spent_usd: float
    rpm: int | None
    created_at: float
    revoked_at: float | None
    last_used_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, model: str) -> bool:
        """Whether this key may call ``model`` (the string the client sent)."""
        if not self.models:
            return True
        name = _model_name(model)
        return any(fnmatch.fnmatchcase(model, p) or fnmatch.fnmatchcase(name, p) for p in self.models)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["display"] = f"{KEY_PREFIX}{self.prefix}-..."
        d["active"] = self.active
        return d


@dataclass
class CreatedKey:
    """The new key's secret (``key``, shown only now) and its stored record."""

    key: str
    info: ApiKey

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.info.to_dict()}


def _model_name(model: str) -> str:
    if ":" in model and "@sha256:" not in model:
        return model
    head = model.split("@", 1)[0]
    base, sep, tail = head.rpartition("/")
    return base if sep and tail.isdigit() else head


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _row(r: Any) -> ApiKey:
    m = r._mapping
    return ApiKey(
        id=m["id"],
        name=m["name"],
        prefix=m["prefix"],
        models=json.loads(m["models"]) if m["models"] else None,
        budget_usd=m["budget_usd"],
        spent_usd=float(m["spent_usd"] or 0.0),
        rpm=m["rpm"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )


def create_key(
    ws: Workspace | None = None,
    *,
    name: str,
    models: list[str] | None = None,
    budget_usd: float | None = None,
    rpm: int | None = None,
) -> CreatedKey:
    """Create a key; the returned ``CreatedKey.key`` is the only time the secret is visible."""
    ws = ws or Workspace.default()
    check_name(name, "key name")
    models = [m.strip() for m in models or [] if m.strip()] or None
    if budget_usd is not None and budget_usd < 0:
        raise InvalidInput("budget must be zero or more (USD)", field="budget_usd")
    if rpm is not None and rpm < 1:
        raise InvalidInput("rate limit must be at least 1 request per minute", field="rpm")
    prefix = secrets.token_hex(_PREFIX_LEN // 2)
    key = f"{KEY_PREFIX}{prefix}-{secrets.token_urlsafe(32)}"
    now = time.time()
    info = ApiKey(uuid.uuid4().hex, name, prefix, models, budget_usd, 0.0, rpm, now, None, None)

    def tx(conn: sa.Connection) -> None:
        taken = conn.execute(
            sa.select(api_keys.c.id).where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
        ).first()
        if taken is not None:
            raise Conflict(f"an active key named '{name}' exists; revoke it first or pick another name")
        conn.execute(
            api_keys.insert().values(
                id=info.id, name=name, prefix=prefix, key_hash=_hash(key),
                models=json.dumps(models) if models else None, budget_usd=budget_usd, spent_usd=0.0,
                rpm=rpm, created_at=now, revoked_at=None, last_used_at=None,
            )
        )

    ws.write(tx)
    return CreatedKey(key, info)


def list_keys(ws: Workspace | None = None, *, include_revoked: bool = False) -> list[ApiKey]:
    ws = ws or Workspace.default()
    q = sa.select(api_keys).order_by(api_keys.c.created_at)
    if not include_revoked:
        q = q.where(api_keys.c.revoked_at.is_(None))
    with ws.read() as conn:
        return [_row(r) for r in conn.execute(q)]


def get_key(ws: Workspace | None, ident: str) -> ApiKey:
    """A key by name (active one), id, prefix, or the full secret."""
    ws = ws or Workspace.default()
    ident = ident.strip()
    prefix = _split(ident)[0] if ident.startswith(KEY_PREFIX) else ident
    with ws.read() as conn:
        rows = conn.execute(
            sa.select(api_keys).where(
                sa.or_(api_keys.c.id == ident, api_keys.c.prefix == prefix, api_keys.c.name == ident)
            ).order_by(api_keys.c.revoked_at.is_(None).desc(), api_keys.c.created_at.desc())
        ).all()
    if not rows:
        raise NotFound("API key", ident, [k.name for k in list_keys(ws)])
    return _row(rows[0])


def revoke_key(ws: Workspace | None, ident: str) -> ApiKey:
    ws = ws or Workspace.default()
    key = get_key(ws, ident)
    if key.revoked_at is not None:
        return key
    now = time.time()
    ws.write(lambda conn: conn.execute(api_keys.update().where(api_keys.c.id == key.id).values(revoked_at=now)))
    key.revoked_at = now
    return key


def _split(key: str) -> tuple[str, str]:
    body = key[len(KEY_PREFIX):]
    prefix, _, secret = body.partition("-")
    return prefix, secret


def verify_key(ws: Workspace | None, key: str) -> ApiKey:
    """The stored key for the secret ``key``; raises ``GatewayError`` 401 when unknown or revoked."""
    ws = ws or Workspace.default()
    if not key.startswith(KEY_PREFIX):
        raise _unauthorized("invalid API key", "invalid_api_key")
    prefix, _ = _split(key)
    with ws.read() as conn:
        row = conn.execute(
            sa.select(api_keys).where(api_keys.c.prefix == prefix)
        ).first()
    if row is None or not hmac.compare_digest(row._mapping["key_hash"], _hash(key)):
        raise _unauthorized("invalid API key", "invalid_api_key")
    info = _row(row)
    if info.revoked_at is not None:
        raise _unauthorized(f"API key '{info.name}' was revoked", "invalid_api_key")
    return info


def _unauthorized(message: str, code: str) -> GatewayError:
    return GatewayError(401, message, type="authentication_error", code=code,
                        headers={"WWW-Authenticate": "Bearer"})


class KeyGuard:
    """Authenticates requests and enforces scopes, budgets and rate limits for one gateway process."""

    def __init__(self, ws: Workspace, *, cache_ttl_s: float = 1.0, flush_interval_s: float = 1.0) -> None:
        self.ws = ws
        self.cache_ttl_s = cache_ttl_s
        self.flush_interval_s = flush_interval_s
        self._cache: dict[str, tuple[float, ApiKey]] = {}  # key hash -> (fetched at, key)
        self._windows: dict[str, deque[float]] = {}
        self._pending: dict[str, float] = {}  # key id -> spend not yet in the store
        self._last_used: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- authentication ----------------------------------------------------------------------------
    def authenticate(self, authorization: str | None, api_key_header: str | None = None) -> ApiKey:
        token = None
        if authorization:
            scheme, _, value = authorization.partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else authorization.strip()
        token = token or (api_key_header or "").strip() or None
        if not token:
            raise _unauthorized(
                "missing API key: send 'Authorization: Bearer <key>' (create one with `ondo keys create`)",
                "missing_api_key",
            )
        register_secret(token)  # a client's key never ends up in a stored body or error
        digest = _hash(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.cache_ttl_s:
            key = hit[1]
        else:
            key = verify_key(self.ws, token)
            self._cache[digest] = (now, key)
        if key.revoked_at is not None:
            raise _unauthorized(f"API key '{key.name}' was revoked", "invalid_api_key")
        return key

    # -- authorisation -----------------------------------------------------------------------------
    def check(self, key: ApiKey, model: str) -> None:
        """Scope, budget and rate limit, in that order; raises ``GatewayError`` 403/429."""
        if not key.allows(model):
            raise GatewayError(
                403, f"API key '{key.name}' may not use model '{model}' (allowed: {', '.join(key.models or [])})",
                type="permission_error", param="model", code="model_not_allowed",
            )
        if key.budget_usd is not None:
            spent = key.spent_usd + self._pending.get(key.id, 0.0)
            if spent >= key.budget_usd:
                raise GatewayError(
                    429, f"API key '{key.name}' has used its budget of ${key.budget_usd:.4f} (spent ${spent:.4f})",
                    type="insufficient_quota", code="budget_exceeded",
                )
        if key.rpm is not None:
            now = time.monotonic()
            with self._lock:
                window = self._windows.setdefault(key.id, deque())
                while window and now - window[0] >= 60.0:
                    window.popleft()
                if len(window) >= key.rpm:
                    retry = max(1, int(60.0 - (now - window[0])) + 1)
                    raise GatewayError(
                        429, f"API key '{key.name}' is limited to {key.rpm} requests per minute; retry in {retry}s",
                        type="rate_limit_exceeded", code="rate_limit_exceeded",
                        headers={"Retry-After": str(retry)},
                    )
                window.append(now)

    # -- accounting ---------------------------------------------------------------------------------
    def record(self, key: ApiKey, cost_usd: float | None) -> None:
        with self._lock:
            if cost_usd:
                self._pending[key.id] = self._pending.get(key.id, 0.0) + cost_usd
            self._last_used[key.id] = time.time()
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="ondo-key-spend", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            self.flush()

    def flush(self) -> None:
        """Add the spend counted in memory to the store (other processes see it after their cache TTL)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            used, self._last_used = self._last_used, {}
        if not pending and not used:
            return

        def tx(conn: sa.Connection) -> None:
            for key_id in set(pending) | set(used):
                values: dict[str, Any] = {}
                if key_id in pending:
                    values["spent_usd"] = api_keys.c.spent_usd + pending[key_id]
                if key_id in used:
                    values["last_used_at"] = used[key_id]
                conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(**values))

        try:
            self.ws.write(tx)
        except Exception as exc:  # keep counting in memory; try again next time
            log.warning("could not store key spend: %s", exc)
            with self._lock:
                for k, v in pending.items():
                    self._pending[k] = self._pending.get(k, 0.0) + v
            return
        # cached rows now lag the store; keep what this process spent visible until the refresh
        with self._lock:
            for digest, (at, key) in list(self._cache.items()):
                if key.id in pending:
                    key.spent_usd += pending[key.id]
                    self._cache[digest] = (at, key)

    def close(self) -> None:
        self._stop.set()
        self.flush()
