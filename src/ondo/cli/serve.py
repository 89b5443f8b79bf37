"""``ondo serve``: run the gateway (and the rest of the server) with uvicorn."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import tempfile

import typer

from ondo.errors import InvalidInput

app = typer.Typer(help="Serve the OpenAI-compatible gateway.")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (keys are optional there)."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; any non-loopback address requires API keys."),
    port: int = typer.Option(8000, "--port", help="Port to bind."),
    workers: int = typer.Option(1, "--workers", help="Worker processes (metrics are aggregated across them)."),
    config: str | None = typer.Option(None, "--config", help="Gateway config (TOML or JSON): routes, canaries, fallbacks."),
    require_keys: bool = typer.Option(False, "--require-keys", help="Require an API key even on loopback."),
    redact: list[str] | None = typer.Option(None, "--redact", help="Redact a built-in pattern from stored bodies: email, phone (repeatable)."),
    redact_regex: list[str] | None = typer.Option(None, "--redact-regex", help="Redact matches of this regex (repeatable)."),
    no_trace_bodies: bool = typer.Option(False, "--no-trace-bodies", help="Do not store request/response bodies on spans."),
    alias_ttl: float | None = typer.Option(None, "--alias-ttl", help="Seconds an alias lookup may be reused (default 0: every request)."),
    cache: bool = typer.Option(False, "--cache", help="Answer identical reproducible requests (temperature 0 "
                               "or a seed) from the request cache in the store."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request (slower)."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /metrics and /healthz."""
    import uvicorn

    from ondo.gateway.config import GatewayConfig
    from ondo.gateway.keys import list_keys
    from ondo.server.app import create_app

    if workers < 1:
        raise InvalidInput("--workers must be at least 1", field="workers")
    cfg = GatewayConfig.load(config) if config else GatewayConfig()
    update: dict[str, object] = {}
    if redact:
        update["redact"] = [*cfg.redact, *redact]
    if redact_regex:
        update["redact_regex"] = [*cfg.redact_regex, *redact_regex]
    if no_trace_bodies:
        update["trace_bodies"] = False
    if alias_ttl is not None:
        update["alias_ttl_s"] = alias_ttl
    if cache:
        update["cache"] = True
    keys_required = require_keys or cfg.require_keys or not is_loopback(host)
    update["require_keys"] = keys_required
    cfg = GatewayConfig.parse({**cfg.model_dump(), **update})  # validates the flags too
    if keys_required and not list_keys():
        typer.echo("warning: API keys are required but none exist; create one with `ondo keys create --name NAME`",
                   err=True)
    typer.echo(f"ondo gateway on http://{host}:{port}/v1 (keys {'required' if keys_required else 'optional'})",
               err=True)
    common = dict(host=host, port=port, log_level=log_level, access_log=access_log, timeout_graceful_shutdown=5)
    if workers == 1:
        uvicorn.run(create_app(config=cfg, require_keys=keys_required), **common)  # type: ignore[arg-type]
        return
    # several processes: each builds its app from the environment; Prometheus aggregates through files
    with tempfile.TemporaryDirectory(prefix="ondo-serve-") as tmp:
        path = os.path.join(tmp, "gateway.json")
        with open(path, "w") as fh:
            json.dump(cfg.model_dump(), fh)
        metrics_dir = os.path.join(tmp, "prometheus")
        os.makedirs(metrics_dir)
        os.environ["ONDO_GATEWAY_CONFIG"] = path
        os.environ["ONDO_GATEWAY_REQUIRE_KEYS"] = "1" if keys_required else "0"
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
        uvicorn.run("ondo.server.app:create_app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]


@app.command("ui")
def ui(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; any non-loopback address requires API keys."),
    port: int = typer.Option(8000, "--port", help="Port to bind."),
    open_browser: bool = typer.Option(False, "--open", help="Open the browser at the server's pages."),
) -> None:
    """Serve the web pages (human evaluation, API docs) together with the gateway."""
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/docs"
    typer.echo(f"ondo ui at {url}", err=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.5, webbrowser.open, args=(url,)).start()
    serve(host=host, port=port, workers=1, config=None, require_keys=False, redact=None, redact_regex=None,
          no_trace_bodies=False, alias_ttl=None, cache=False, access_log=False, log_level="warning")
