"""One long-lived `rwkv-emb worker` process: JSONL batches in, one acknowledgement per durable batch out."""
import itertools
import json
import subprocess
import threading


class WorkerError(RuntimeError):
    pass


class WorkerProcess:
    """Starts `rwkv-emb worker --collection DIR ...` and sends it batches. `add` returns only after the
    worker has committed the batch (fsync'd); a batch sent twice adds nothing twice (id + content hash)."""

    def __init__(self, binary, collection, model=None, reranker=None, args=(), env=None):
        cmd = [str(binary), "worker", "--collection", str(collection)]
        if model:
            cmd += ["--model", str(model)]
        if reranker:
            cmd += ["--reranker", str(reranker)]
        cmd += [str(a) for a in args]
        self.collection = str(collection)
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, bufsize=1, env=env)
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()
        self._tags = itertools.count(1)
        ready = self._read()
        if not ready.get("ready"):
            raise WorkerError(f"rwkv-emb worker did not start: {ready}")
        self.pid = self.process.pid

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise WorkerError(f"rwkv-emb worker exited ({self.process.returncode}): {''.join(self.stderr[-5:])}")
        return json.loads(line)

    def alive(self):
        return self.process.poll() is None

    def add(self, documents):
        """documents: dicts with "id", "text" and optional "metadata" / "title". Returns the acknowledgement."""
        tag = f"b{next(self._tags)}"
        lines = [json.dumps({k: v for k, v in d.items() if v is not None}, ensure_ascii=False) for d in documents]
        try:
            self.process.stdin.write("\n".join(lines + [json.dumps({"commit": tag})]) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError as e:
            raise WorkerError(f"rwkv-emb worker is gone: {''.join(self.stderr[-5:])}") from e
        ack = self._read()
        if ack.get("commit") != tag:
            raise WorkerError(f"unexpected acknowledgement {ack} for {tag}")
        if "error" in ack:
            raise WorkerError(ack["error"])
        return ack

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
