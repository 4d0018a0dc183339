"""Distributed indexing with Ray Data: read JSONL (or files), `map_batches` on an actor pool whose actors
each keep one `rwkv-emb worker` process writing its own collection under OUTPUT/workers/, then one merge
per shard (`rwkv-emb merge --shard I/N`) into OUTPUT/shard-I.

A task that fails (an actor killed mid-batch) is retried by Ray on a restarted actor, which writes a new
worker directory: the documents the killed one had already committed are in both, with the same id and
content hash, and the merge keeps one copy. Nothing acknowledged is lost (the worker acknowledges a batch
only once it is durable) and nothing is duplicated."""
import json
import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import ray


class IndexActor:
    """A Ray Data actor: one `rwkv-emb worker` process for its whole life (the model is loaded once)."""

    def __init__(self, output, binary, model=None, reranker=None, worker_args=()):
        from .worker import WorkerProcess
        self.directory = Path(output) / "workers" / uuid.uuid4().hex
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        self._start = lambda: WorkerProcess(binary, self.directory, model, reranker, worker_args)
        self.worker = self._start()
        # Where tests (and operators) find the actor and engine processes.
        pids = Path(output) / "pids"
        pids.mkdir(parents=True, exist_ok=True)
        (pids / f"{self.directory.name}.pid").write_text(f"{os.getpid()} {self.worker.pid}\n")

    def __call__(self, batch):
        if not self.worker.alive():  # the engine process died: a new one on the same directory
            self.worker = self._start()
        ids = [str(i) for i in batch["id"]]
        texts = [str(t) for t in batch["text"]]
        titles = batch.get("title")
        metadata = batch.get("metadata")
        documents = []
        for k, (i, t) in enumerate(zip(ids, texts)):
            d = {"id": i, "text": t}
            if titles is not None and titles[k] is not None:
                d["title"] = str(titles[k])
            if metadata is not None and metadata[k] is not None:
                m = metadata[k]
                d["metadata"] = json.loads(m) if isinstance(m, str) else {k2: _plain(v) for k2, v in dict(m).items()}
            documents.append(d)
        ack = self.worker.add(documents)
        return {"id": np.array(ids, dtype=object), "worker": np.array([self.directory.name] * len(ids), dtype=object),
                "added": np.array([ack["added"]] * len(ids)), "unchanged": np.array([ack["unchanged"]] * len(ids))}


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def read_documents(inputs, format="jsonl"):
    """A Ray Dataset of {"id", "text", ...}: JSONL files (as `rwkv-emb index` reads them), or text files
    (id = the path)."""
    if format == "jsonl":
        return ray.data.read_json(inputs, lines=True)
    if format == "files":
        ds = ray.data.read_binary_files(inputs, include_paths=True)
        return ds.map(lambda r: {"id": r["path"], "text": r["bytes"].decode("utf-8")})
    raise ValueError(f"format must be jsonl or files, not {format!r}")


@ray.remote(num_cpus=1)
def _merge(binary, destination, shard, shards, sources):
    out = subprocess.run([str(binary), "merge", "--collection", str(destination), "--shard", f"{shard}/{shards}", *sources],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"rwkv-emb merge into {destination} failed: {out.stderr.strip()}")
    return out.stdout


def merge_shards(output, shards, binary):
    """Merges every worker directory under OUTPUT/workers into OUTPUT/shard-I (one Ray task per shard)."""
    output = Path(output)
    sources = sorted(str(p) for p in (output / "workers").iterdir() if (p / "collection.sqlite").exists())
    tasks = [_merge.remote(binary, output / f"shard-{i}", i, shards, sources) for i in range(shards)]
    return [output / f"shard-{i}" for i in range(shards)], ray.get(tasks)


def build_index(inputs, output, *, binary, shards=2, actors=2, model=None, reranker=None, worker_args=(),
                batch_size=64, format="jsonl", actor_cpus=1):
    """Indexes `inputs` into `shards` collections OUTPUT/shard-I. Returns a report (documents, per-worker
    counts, shard directories, merge output)."""
    ds = read_documents(inputs, format)
    indexed = ds.map_batches(
        IndexActor, batch_size=batch_size, batch_format="numpy",
        fn_constructor_kwargs=dict(output=str(output), binary=str(binary), model=model, reranker=reranker,
                                   worker_args=list(worker_args)),
        compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=actor_cpus,
        # A killed actor is restarted and its batch retried (the merge removes the duplicates).
        max_restarts=-1, max_task_retries=-1)
    rows = indexed.select_columns(["id", "worker"]).take_all()
    directories, merged = merge_shards(output, shards, binary)
    return {"documents": len(rows), "ids": [r["id"] for r in rows],
            "workers": sorted({r["worker"] for r in rows}), "shards": [str(d) for d in directories], "merge": merged}
