"""`rwkv-emb serve` as a child process, the one way this package starts and stops one: on 127.0.0.1
with any free port (the URL is read from its `listening on` line), its output drained so that it never
blocks on a full pipe, and stopped with SIGTERM (SIGKILL after 30 s)."""
import subprocess
import threading


class ServeProcess:
    def __init__(self, binary, *args):
        cmd = [str(binary), "serve", "--host", "127.0.0.1", "--port", "0", *[str(a) for a in args]]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.process.kill()
            raise RuntimeError(f"rwkv-emb serve did not start: {line!r} {self.process.stderr.read()}")
        self.url = line.split()[-1].strip()
        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(target=lambda s=stream: [None for _ in s], daemon=True).start()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
