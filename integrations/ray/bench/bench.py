"""Ray path against one machine, in the same run (scripts/test-ray integrations/ray/bench/bench.py [documents]):
index throughput of 2 actors (one `rwkv-emb worker` each) + the merge against one `rwkv-emb index`, and
search latency through the Ray Serve ingress (two-phase, one-phase) against the single-node route."""
import json
import shutil
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import ray
from ray import serve

from rwkv_emb_ray import build_index
from rwkv_emb_ray.serve_process import ServeProcess
from rwkv_emb_ray.serving import search_app

ROOT = Path(__file__).resolve().parents[3]
BIN = os.environ.get("RWKV_EMB_BIN", str(ROOT / ".build" / "debug" / "rwkv-emb"))
FIXTURE = ROOT / "Tests" / "Fixtures" / "tiny-bf16"
MODEL, RERANKER = str(FIXTURE / "embedding.pth"), str(FIXTURE / "reranker.pth")
ENGINE = ["--weight-precision", "fp32"]
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
WORDS = "river mountain planet city language protein castle forest ocean engine state cache query".split()


def post(url, body):
    r = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(r, timeout=120) as response:
        return json.loads(response.read())


def latency(url, queries, extra=None):
    times = []
    for q in queries:
        t = time.perf_counter()
        post(url, dict(extra or {}, query=q, mode="dense", top_k=10))
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), sorted(times)[int(len(times) * 0.9)]


def main():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"cpu: {cpu}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start (shared machine)")
    print(f"binary: {BIN}; model: the tiny-bf16 test fixture (4 layers x 128), fp32 weights; {N} documents")
    work = Path(tempfile.mkdtemp(prefix="rwkv-emb-ray-bench-"))
    docs = work / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"b{i:05d}", "text": " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 30)) + f" {i}"}) + "\n"
                            for i in range(N)))
    t = time.perf_counter()
    subprocess.run([BIN, "index", "--collection", str(work / "single"), "--model", MODEL, "--reranker", RERANKER, *ENGINE, str(docs)],
                   check=True, capture_output=True)
    single = time.perf_counter() - t
    ray.init(address="auto", log_to_driver=False)
    t = time.perf_counter()
    build_index(str(docs), work / "ray", binary=BIN, shards=2, actors=2, model=MODEL, reranker=RERANKER, worker_args=ENGINE, batch_size=64)
    distributed = time.perf_counter() - t
    print(f"index: single rwkv-emb index (one process, {os.cpu_count()} threads) {N / single:.1f} docs/s ({single:.1f} s); "
          f"Ray 2 actors + merge {N / distributed:.1f} docs/s ({distributed:.1f} s); ratio Ray / single {single / distributed:.2f}")
    server = ServeProcess(BIN, "--collection", str(work / "single"), "--model", MODEL, "--reranker", RERANKER, "--precision", "fp32")
    try:
        single_url = server.url + "/collections/single/search"
        serve.start(http_options={"host": "127.0.0.1", "port": 8124})
        serve.run(search_app([work / "ray" / f"shard-{i}" for i in range(2)], binary=BIN, name="single", model=MODEL,
                             reranker=RERANKER, serve_args=["--precision", "fp32"]), route_prefix="/")
        ray_url = "http://127.0.0.1:8124/collections/single/search"
        queries = [" ".join(WORDS[(i * 3 + k) % len(WORDS)] for k in range(4)) for i in range(30)]
        latency(single_url, queries[:3]), latency(ray_url, queries[:3])  # warm up
        s = latency(single_url, queries)
        two = latency(ray_url, queries)
        one = latency(ray_url, queries, {"distributed": "one-phase"})
        print(f"search (dense, top_k 10, candidates 50, {len(queries)} queries; median / p90 ms): single-node route {s[0]:.1f} / {s[1]:.1f}; "
              f"Ray ingress two-phase {two[0]:.1f} / {two[1]:.1f} ({two[0] / s[0]:.2f}x); one-phase {one[0]:.1f} / {one[1]:.1f} ({one[0] / s[0]:.2f}x)")
    finally:
        server.stop()
        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
