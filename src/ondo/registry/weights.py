"""Local model weights: what a path holds, and its content digest.

- a GGUF file (llama.cpp): the digest is the file's sha256;
- a Hugging Face directory (``config.json`` beside the weights) or any other directory: the
  digest is the sha256 over the sorted ``relative path <TAB> file digest`` lines of its files
  (so renaming, adding or changing any file changes it; ``.git`` and ``.cache`` are skipped);
- a LoRA adapter directory (``adapter_config.json``): hashed like a directory, and its base
  model (``base=`` or ``base_model_name_or_path`` from the adapter config) is recorded.

Everything is read before anything is registered: a path that does not exist or a file that
cannot be read is an ``InvalidInput`` naming it, and the registry stays unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ondo.blobs.store import digest_file
from ondo.errors import InvalidInput

SKIP_DIRS = {".git", ".cache", "__pycache__"}
GGUF_MAGIC = b"GGUF"
MAX_LISTED_FILES = 200  # files listed in a version's spec (all files are hashed either way)


@dataclass(frozen=True)
class Weights:
    kind: str  # 'gguf' | 'hf' | 'lora' | 'file' | 'dir'
    path: str  # absolute
    digest: str
    size: int
    spec: dict[str, Any] = field(default_factory=dict)


def inspect(source: str | os.PathLike[str]) -> Weights:
    """Hash and classify ``source``; raise InvalidInput if it is missing or unreadable."""
    if not isinstance(source, str | os.PathLike):
        raise InvalidInput(f"model source must be a path (a GGUF file or a model directory), not {source!r}",
                           field="source")
    raw = os.fspath(source)
    if isinstance(raw, bytes):
        raw = os.fsdecode(raw)
    if not raw.strip():
        raise InvalidInput("model source is empty: give a GGUF file or a model directory", field="source")
    path = Path(raw).expanduser()
    where = str(path)
    if not path.exists():
        looks_like_hub_id = raw.count("/") == 1 and not raw.startswith((".", "/", "~")) and not Path(raw).suffix
        hint = " (a Hugging Face hub id? download it first, or pass api={...} for an API model)" if looks_like_hub_id else ""
        raise InvalidInput(f"cannot register model: the path does not exist{hint}", file=where)
    path = path.resolve()
    where = str(path)
    if path.is_file():
        return _file(path, where)
    if path.is_dir():
        return _directory(path, where)
    raise InvalidInput("cannot register model: not a regular file or directory", file=where)


def _read_error(exc: OSError, where: str) -> InvalidInput:
    return InvalidInput(f"cannot register model: cannot read {exc.filename or where}: {exc.strerror or exc}", file=where)


def _file(path: Path, where: str) -> Weights:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        digest = digest_file(path)
        size = path.stat().st_size
    except OSError as exc:
        raise _read_error(exc, where) from None
    if size == 0:
        raise InvalidInput("cannot register model: the file is empty", file=where)
    spec: dict[str, Any] = {"file": path.name}
    if head[:4] == GGUF_MAGIC:
        spec["format"] = "gguf"
        if len(head) == 8:
            spec["gguf_version"] = struct.unpack("<I", head[4:8])[0]
        kind = "gguf"
    elif path.suffix.lower() == ".gguf":
        spec["format"] = "gguf"
        spec["gguf_header"] = False  # named .gguf but without the GGUF magic bytes
        kind = "gguf"
    else:
        spec["format"] = path.suffix.lower().lstrip(".") or "file"
        kind = "file"
    return Weights(kind, str(path), digest, size, spec)


def _directory(path: Path, where: str) -> Weights:
    files: list[tuple[str, str, int]] = []
    try:
        for root, dirs, names in os.walk(path, onerror=_raise):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for n in sorted(names):
                full = Path(root) / n
                if full.is_symlink() and not full.exists():
                    raise InvalidInput(
                        f"cannot register model: {full} is a broken link (to {os.readlink(full)})", file=where
                    )
                if not full.is_file():
                    continue
                rel = full.relative_to(path).as_posix()
                files.append((rel, digest_file(full), full.stat().st_size))
    except OSError as exc:
        raise _read_error(exc, where) from None
    if not files:
        raise InvalidInput("cannot register model: the directory has no files", file=where)
    files.sort()
    h = hashlib.sha256()
    for rel, digest, _size in files:
        h.update(f"{rel}\t{digest}\n".encode())
    present = {rel for rel, _, _ in files}
    spec: dict[str, Any] = {
        "files": [{"path": rel, "digest": d, "size": s} for rel, d, s in files[:MAX_LISTED_FILES]],
        "file_count": len(files),
    }
    if "adapter_config.json" in present:
        kind = "lora"
        cfg = _json(path / "adapter_config.json")
        spec["adapter"] = {k: cfg[k] for k in ("peft_type", "r", "lora_alpha", "target_modules", "task_type") if k in cfg}
        if cfg.get("base_model_name_or_path"):
            spec["base_from_config"] = cfg["base_model_name_or_path"]
    elif "config.json" in present:
        kind = "hf"
        cfg = _json(path / "config.json")
        spec["config"] = {k: cfg[k] for k in ("architectures", "model_type", "torch_dtype") if k in cfg}
    else:
        kind = "dir"
    return Weights(kind, str(path), "sha256:" + h.hexdigest(), sum(s for _, _, s in files), spec)


def _raise(exc: OSError) -> None:
    raise exc


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _read_error(exc, str(path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot register model: {path.name} is not valid JSON ({exc})", file=str(path)) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"cannot register model: {path.name} should hold a JSON object", file=str(path))
    return data
