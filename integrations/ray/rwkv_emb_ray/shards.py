"""Shard assignment, exactly as the Swift library computes it (docs/collection-format-v2.md)."""
import hashlib


def shard_of(doc_id: str, count: int) -> int:
    """UInt64(bigEndian: first 8 bytes of SHA-256(id)) % count."""
    if count <= 1:
        return 0
    return int.from_bytes(hashlib.sha256(doc_id.encode("utf-8")).digest()[:8], "big") % count
