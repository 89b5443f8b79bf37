"""The ondo HTTP server (FastAPI): the gateway's OpenAI-compatible routes, metrics, and the
routers other parts of ondo add. Build it with ``create_app``; run it with ``ondo serve``."""

from ondo.server.app import ROUTERS, create_app

__all__ = ["ROUTERS", "create_app"]
