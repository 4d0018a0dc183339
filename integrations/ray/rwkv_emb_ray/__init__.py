"""Sharded rwkv-emb collections on Ray: distributed indexing with Ray Data, distributed search with Ray Serve.

The engine stays the `rwkv-emb` binary: indexing actors each keep one `rwkv-emb worker` process, search
replicas each run `rwkv-emb serve` on their shard over loopback. See integrations/ray/README.md.
"""
from .shards import shard_of
from .worker import WorkerProcess, WorkerError
from .indexing import build_index, merge_shards
from .search import two_phase_search, one_phase_search

__all__ = ["shard_of", "WorkerProcess", "WorkerError", "build_index", "merge_shards",
           "two_phase_search", "one_phase_search"]
