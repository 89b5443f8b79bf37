"""Content-addressed artifact storage."""

from ondo.blobs.store import BlobStore, digest_bytes, digest_file, is_pack, pack_name

__all__ = ["BlobStore", "digest_bytes", "digest_file", "is_pack", "pack_name"]
