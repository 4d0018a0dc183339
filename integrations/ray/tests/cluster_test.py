"""The Ray integration on a real local cluster (scripts/test-ray starts it: a head and one more node).

Indexes 2,000 short documents into 2 shards through Ray Data (2 actors, each with one `rwkv-emb worker`),
killing one actor process mid-job, and checks: every document exactly once, in its shard; embeddings and
states byte-identical to a single-process `rwkv-emb index`; two-phase distributed search through Ray Serve
returns exactly the single-node route's hits and scores; one-phase answers in the same shape."""
import json
import shutil
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import ray
from ray import serve

from rwkv_emb_ray import build_index, shard_of
from rwkv_emb_ray.serve_process import ServeProcess
from rwkv_emb_ray.serving import search_app

ROOT = Path(__file__).resolve().parents[3]
BIN = os.environ.get("RWKV_EMB_BIN", str(ROOT / ".build" / "debug" / "rwkv-emb"))
FIXTURE = ROOT / "Tests" / "Fixtures" / "tiny-bf16"
MODEL, RERANKER = str(FIXTURE / "embedding.pth"), str(FIXTURE / "reranker.pth")
# fp32 weights: the values compared byte for byte must not depend on how documents are batched.
# One document per engine batch on both sides: the GEMMs round a row by which rows share its batch.
ENGINE = ["--weight-precision", "fp32", "--batch-documents", "1"]
N = int(os.environ.get("RAY_TEST_DOCUMENTS", "2000"))
SHARDS = 2
SUBJECTS = ["river", "mountain", "planet", "city", "language", "protein", "castle", "forest", "ocean", "engine"]
VERBS = ["crosses", "borders", "orbits", "hosts", "describes", "folds", "guards", "covers", "feeds", "drives"]


def documents():
    return [{"id": f"d{i:04d}", "text": f"The {SUBJECTS[i % 10]} {VERBS[(i // 10) % 10]} item {i} near {SUBJECTS[(i * 7) % 10]} {i % 37}.",
             "metadata": {"n": i % 5}} for i in range(N)]


def step(message, start=[time.perf_counter()]):
    print(f"[{time.perf_counter() - start[0]:7.1f} s] {message}", flush=True)


def stored(collection):
    """{(id, ordinal): (embedding bytes, state bytes)} read straight from the collection's files."""
    db = sqlite3.connect(f"file:{collection}/collection.sqlite?mode=ro", uri=True)
    dim = json.loads(db.execute("SELECT value FROM manifest WHERE key = 'dimension'").fetchone()[0])
    out = {}
    files = {}

    def read(name, offset, length):
        if name not in files:
            files[name] = open(f"{collection}/segments/{name}", "rb")
        files[name].seek(offset)
        return files[name].read(length)

    for doc, ordinal, es, er, ss, so, sl in db.execute(
            "SELECT document, ordinal, emb_segment, emb_row, state_segment, state_offset, state_length FROM passages"):
        key = (doc, ordinal)
        assert key not in out, f"{collection}: passage {key} twice"
        emb = read(f"{es:06d}.emb", 64 + er * dim * 4, dim * 4)
        state = read(f"{ss:06d}.states", so, sl) if ss is not None else None
        out[key] = (emb, state)
    for f in files.values():
        f.close()
    return out


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as r:
        return json.loads(r.read())


def comparable(hit):
    return (hit["id"], hit["passage"], hit["start"], hit["end"], hit["text"], hit.get("rerank_mode"))


SCORES = ("embedding_score", "rerank_logit", "rerank_score")
# Scores agree to float rounding: the scan and the reranker round a row by where it sits in its segment and
# which rows share its batch (the single node's collection and the shards lay rows out differently).
TOLERANCE = 1e-5
differences = {"compared": 0, "identical": 0, "max": 0.0}


def same_scores(a, b):
    for h, g in zip(a, b):
        for f in SCORES:
            x, y = h.get(f), g.get(f)
            assert (x is None) == (y is None), (f, h, g)
            if x is None:
                continue
            differences["compared"] += 1
            differences["identical"] += x == y
            differences["max"] = max(differences["max"], abs(x - y))
            assert abs(x - y) <= TOLERANCE, (f, x, y, h["id"])


def main():
    work = Path(tempfile.mkdtemp(prefix="rwkv-emb-ray-"))
    docs = documents()
    (work / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    step(f"{N} documents in {work}")

    reference = work / "reference"
    t0 = time.perf_counter()
    subprocess.run([BIN, "index", "--collection", str(reference), "--model", MODEL, "--reranker", RERANKER, *ENGINE,
                    str(work / "docs.jsonl")], check=True, capture_output=True)
    step(f"single-process rwkv-emb index: {time.perf_counter() - t0:.1f} s")

    ray.init(address="auto", log_to_driver=False)
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert len(nodes) >= 2, f"expected a head and a worker node, found {len(nodes)}"

    # Kill one actor process (the Python actor, SIGKILL) once its worker has committed something.
    output = work / "index"
    killed = {}

    def killer():
        deadline = time.time() + 240
        while time.time() < deadline and not killed:
            for pid_file in sorted((output / "pids").glob("*.pid")) if (output / "pids").exists() else []:
                worker_dir = output / "workers" / pid_file.stem
                try:
                    db = sqlite3.connect(f"file:{worker_dir}/collection.sqlite?mode=ro", uri=True)
                    count = db.execute("SELECT count(*) FROM documents").fetchone()[0]
                    db.close()
                except sqlite3.Error:
                    continue
                if count >= 100:
                    actor_pid = int(pid_file.read_text().split()[0])
                    os.kill(actor_pid, signal.SIGKILL)
                    killed.update(pid=actor_pid, directory=worker_dir.name, committed=count, at=time.perf_counter())
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    report = build_index(str(work / "docs.jsonl"), output, binary=BIN, shards=SHARDS, actors=2, model=MODEL, reranker=RERANKER,
                         worker_args=ENGINE, batch_size=50)
    finished = time.perf_counter()
    thread.join(timeout=1)
    step(f"Ray indexing + merge: {finished - t0:.1f} s; workers {report['workers']}; killed {killed}")
    assert killed, "no actor was killed (the job ended before any worker committed 100 documents?)"
    assert killed["at"] < finished, "the kill came after the job"
    workers = sorted(p.name for p in (output / "workers").iterdir())
    assert len(workers) >= 3, f"the killed actor should have been replaced by a new one: {workers}"

    # Every document exactly once, in its shard.
    ids = sorted(report["ids"])
    assert ids == sorted(d["id"] for d in docs), f"Ray Data output: {len(ids)} rows, {len(set(ids))} distinct"
    in_shards = {}
    for i in range(SHARDS):
        db = sqlite3.connect(f"file:{output}/shard-{i}/collection.sqlite?mode=ro", uri=True)
        manifest = dict(db.execute("SELECT key, value FROM manifest").fetchall())
        assert (manifest["shardIndex"], manifest["shardCount"]) == (str(i), str(SHARDS)), manifest
        for (doc,) in db.execute("SELECT id FROM documents"):
            assert doc not in in_shards, f"{doc} in shards {in_shards[doc]} and {i}"
            assert shard_of(doc, SHARDS) == i, f"{doc} in shard {i}, hashes to {shard_of(doc, SHARDS)}"
            in_shards[doc] = i
    assert sorted(in_shards) == sorted(d["id"] for d in docs), f"{len(in_shards)} documents in the shards, {N} given"
    step(f"every document exactly once: {[sum(1 for s in in_shards.values() if s == i) for i in range(SHARDS)]} per shard")

    # Byte-identical embeddings and states.
    expected = stored(reference)
    got = {}
    for i in range(SHARDS):
        got.update(stored(output / f"shard-{i}"))
    assert got.keys() == expected.keys(), f"{len(got)} passages, the reference {len(expected)}"
    differing = [k for k in expected if got[k] != expected[k]]
    assert not differing, f"{len(differing)} passages differ from the single-process index, e.g. {differing[:3]}"
    step(f"{len(got)} passages: embeddings and states byte-identical to the single-process index")

    # Search: Ray Serve (two-phase, one-phase) against the single-node route on the reference.
    single = ServeProcess(BIN, "--collection", str(reference), "--model", MODEL, "--reranker", RERANKER, "--precision", "fp32")
    try:
        single_url = single.url + "/collections/reference/search"
        serve.start(http_options={"host": "127.0.0.1", "port": int(os.environ.get("RAY_SERVE_PORT", "8123"))})
        serve.run(search_app([output / f"shard-{i}" for i in range(SHARDS)], binary=BIN, name="reference", model=MODEL,
                             reranker=RERANKER, serve_args=["--precision", "fp32"]), route_prefix="/")
        ray_url = f"http://127.0.0.1:{os.environ.get('RAY_SERVE_PORT', '8123')}/collections/reference/search"
        step("Ray Serve: 2 shard deployments and the ingress are up")
        queries = ["river crosses item", "planet orbits", "castle near forest 12", "engine drives item 1999", "protein folds ocean"]
        for q in queries:
            for options in ({"top_k": 10}, {"top_k": 5, "candidates": 20, "group": False}, {"top_k": 3, "rerank": False},
                            {"top_k": 10, "filter": {"n": 2}}):
                body = dict(options, query=q, mode="dense")
                a, b = post(single_url, body), post(ray_url, body)
                assert [comparable(h) for h in a["hits"]] == [comparable(h) for h in b["hits"]], \
                    f"two-phase differs for {body}:\n single {[comparable(h) for h in a['hits']]}\n ray    {[comparable(h) for h in b['hits']]}"
                same_scores(a["hits"], b["hits"])
                assert (a["documents"], a["passages"], a["matching_passages"]) == (b["documents"], b["passages"], b["matching_passages"])
                assert a["candidates_reranked"] == b["candidates_reranked"], (a["candidates_reranked"], b["candidates_reranked"])
                assert set(a) <= set(b) and set(a["timings"]) <= set(b["timings"]), (set(a) - set(b))
            for mode in ("hybrid", "lexical"):
                b = post(ray_url, {"query": q, "mode": mode, "top_k": 5})
                assert len(b["hits"]) == 5 and b["mode"] == mode
            one = post(ray_url, {"query": q, "mode": "dense", "top_k": 5, "distributed": "one-phase"})
            two = post(ray_url, {"query": q, "mode": "dense", "top_k": 5})
            assert len(one["hits"]) == 5 and set(one) == set(two)
            # One-phase reranks every shard's own candidates: its best logit is at least the two-phase one.
            assert one["hits"][0]["rerank_logit"] >= two["hits"][0]["rerank_logit"] - TOLERANCE
        step(f"two-phase distributed search: the single node's hits on {len(queries) * 4} dense searches; "
             f"{differences['identical']} of {differences['compared']} scores bit-identical, the others within {differences['max']:.1e}")
    finally:
        single.stop()
        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print("ray integration test: OK")


if __name__ == "__main__":
    sys.exit(main())
