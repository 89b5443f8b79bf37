"""Content-addressed artifact storage."""

from ondo.blobs.store import BlobStore, digest_bytes, digest_file

__all__ = ["BlobStore", "digest_bytes", "digest_file"]
