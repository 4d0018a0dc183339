"""A real `rwkv-emb serve` on loopback (the tiny-bf16 fixture model and its reranker), and the CLI
that computes the reference values the client results are compared with."""
import functools
import json
import os
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "Tests" / "Fixtures" / "tiny-bf16"
MODEL = FIXTURE / "embedding.pth"
RERANKER = FIXTURE / "reranker.pth"
API_KEY = "client-tests-key"
# Client results equal what the CLI computes for the same texts to this tolerance.
TOLERANCE = 1e-5


def rwkv_emb() -> Path:
    path = Path(os.environ.get("RWKV_EMB_BIN", ROOT / ".build" / "debug" / "rwkv-emb"))
    if not path.exists():
        pytest.exit(f"rwkv-emb is not built at {path} (set RWKV_EMB_BIN)", returncode=2)
    return path


class Server:
    def __init__(self, *extra: str):
        self.collections = tempfile.TemporaryDirectory(prefix="rwkv-emb-clients-")
        args = [str(rwkv_emb()), "serve", "--model", str(MODEL), "--reranker", str(RERANKER),
                "--host", "127.0.0.1", "--port", "0", "--model-id", "tiny-bf16", "--api-key", API_KEY,
                "--collections-dir", self.collections.name,
                # fp32 weights in the server and the CLI: the values compared to 1e-5 must not depend on
                # batch shape (int8, which `auto` picks where oneDNN runs, does by ~1e-3).
                "--precision", "fp32", *extra]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.process.kill()
            raise RuntimeError(f"rwkv-emb serve did not start: {line!r} {self.process.stderr.read()}")
        self.url = line.split()[-1].strip()
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()

    def stop(self):
        self.process.terminate()
        try:
            assert self.process.wait(timeout=30) == 0, "serve did not exit 0 on SIGTERM"
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.collections.cleanup()


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def auth():
    return {"Authorization": f"Bearer {API_KEY}"}


def cli(*args: str, stdin: str | None = None) -> dict:
    if args and args[0] in ("embed", "rerank"):
        args = (*args, "--precision", "fp32")   # as the server runs (see Server)
    out = subprocess.run([str(rwkv_emb()), *args], input=stdin, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def cli_embed(texts: list[str], *flags: str) -> list[list[float]]:
    """The CLI's normalised embeddings of `texts` (given as JSONL on stdin, one text per line)."""
    return _cli_embed(tuple(texts), flags)


@functools.lru_cache(maxsize=None)  # the debug CLI takes seconds to start: each set of texts runs once
def _cli_embed(texts: tuple[str, ...], flags: tuple[str, ...]) -> list[list[float]]:
    jsonl = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    return cli("embed", "--model", str(MODEL), "--normalize", *flags, stdin=jsonl)["embeddings"]


def cli_rerank(query: str, documents: list[str]) -> list[float]:
    """The CLI's online rerank scores (sigmoid of the logit), in document order."""
    return _cli_rerank(query, tuple(documents))


@functools.lru_cache(maxsize=None)
def _cli_rerank(query: str, documents: tuple[str, ...]) -> list[float]:
    return [r["score"] for r in cli("rerank", "--model", str(MODEL), "--reranker", str(RERANKER),
                                    "--query", query, *documents)["results"]]


def max_abs_diff(a, b) -> float:
    a, b = list(map(list, a)), list(map(list, b))
    assert len(a) == len(b) and all(len(x) == len(y) for x, y in zip(a, b)), "shapes differ"
    return max((abs(float(x) - float(y)) for r, s in zip(a, b) for x, y in zip(r, s)), default=0.0)
