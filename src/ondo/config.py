"""Where ondo keeps its state.

One process, one store: everything lives under ``$ONDO_HOME`` (default ``./.ondo``) unless
``ONDO_STORE_URL`` / ``ONDO_ARTIFACTS_URL`` point at PostgreSQL or an fsspec URL.
Read from the environment each time, so a test or a CLI flag can re-point it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    store_url: str
    artifacts_url: str

    @classmethod
    def from_env(cls, store_url: str | None = None) -> Settings:
        home = Path(os.environ.get("ONDO_HOME") or ".ondo").expanduser().absolute()
        url = store_url or os.environ.get("ONDO_STORE_URL") or f"sqlite:///{home / 'ondo.db'}"
        artifacts = os.environ.get("ONDO_ARTIFACTS_URL") or str(home / "blobs")
        return cls(home=home, store_url=url, artifacts_url=artifacts)

    @property
    def is_sqlite(self) -> bool:
        return self.store_url.startswith("sqlite")
