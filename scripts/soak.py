#!/usr/bin/env python3
"""Mixed-traffic soak against a running rwkv-emb server (loopback), standard library only.

Clients loop over embed, rerank, collection search, add, delete and compact. Adds and deletes are
drawn equally often and each client keeps 4 to 16 of its documents live, deleting its oldest, so the
live collection stays small and memory growth means a leak, not data (a first 30-minute run drew adds
three times as often as deletes: the collection grew by ~3.5 documents a second and the mapped
segment pages with it). Every 10 s a window line gives the server's resident memory (VmRSS of --pid,
and its anonymous and file-backed parts: mapped segments are file pages), requests, p99 latency per
route and the 5xx count; the summary gives the memory after warm-up (first, min, max, last), the worst window
p99 and the totals. Exits 1 on any 5xx or transport error, or when memory after warm-up grows
more than --max-growth-mb.
"""
import argparse, json, random, threading, time, urllib.error, urllib.request

ROUTES = ["embed", "rerank", "search", "add", "delete", "compact"]
WEIGHTS = [40, 15, 25, 10, 10, 1]
LIVE_PER_CLIENT = (4, 16)  # a client deletes below the first bound never, above the second always
WORDS = ("state recurrent network embedding reranker document query retrieval cache token layer "
         "vector search index memory time model weight shift decay matrix kernel batch").split()


def memory_mb(pid):
    """(VmRSS, RssAnon, RssFile) of the process in MB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"): fields[key] = int(value.split()[0]) / 1024
    return tuple(fields.get(k, float("nan")) for k in ("VmRSS", "RssAnon", "RssFile"))


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        self.total = {"requests": 0, "5xx": 0, "errors": 0, "other_status": {}}

    def reset(self):
        self.latencies = {r: [] for r in ROUTES}
        self.fivexx = 0
        self.errors = 0

    def record(self, route, seconds, status):
        with self.lock:
            self.latencies[route].append(seconds)
            self.total["requests"] += 1
            if status is None:
                self.errors += 1; self.total["errors"] += 1
            elif status >= 500:
                self.fivexx += 1; self.total["5xx"] += 1
            elif status >= 300:
                key = str(status); self.total["other_status"][key] = self.total["other_status"].get(key, 0) + 1

    def take(self):
        with self.lock:
            window = (self.latencies, self.fivexx, self.errors)
            self.reset()
            return window


def p99(values):
    if not values: return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(0.99 * len(values)))]


def client(base, collection, key, worker, stop, stats, seed):
    rng = random.Random(seed)
    added = []
    n = 0
    headers = {"content-type": "application/json"}
    if key: headers["authorization"] = f"Bearer {key}"
    while not stop.is_set():
        route = rng.choices(ROUTES, WEIGHTS)[0]
        if route == "delete" and len(added) < LIVE_PER_CLIENT[0]: route = "add"
        if route == "add" and len(added) >= LIVE_PER_CLIENT[1]: route = "delete"
        if route == "embed":
            method, path, body = "POST", "/embed", {"inputs": [text(rng, rng.randint(5, 40)) for _ in range(rng.randint(1, 4))]}
        elif route == "rerank":
            method, path, body = "POST", "/rerank", {"query": text(rng, 6), "texts": [text(rng, 20) for _ in range(4)]}
        elif route == "search":
            method, path, body = "POST", f"/collections/{collection}/search", {"query": text(rng, 6), "top_k": 5, "candidates": 20}
        elif route == "add":
            n += 1
            doc = f"soak-{worker}-{n}"
            added.append(doc)
            method, path, body = "POST", f"/collections/{collection}/documents", {"documents": [{"id": doc, "text": text(rng, 60)}]}
        elif route == "compact":
            method, path, body = "POST", f"/collections/{collection}/compact", {}
        else:
            method, path, body = "POST", f"/collections/{collection}/documents/delete", {"ids": [added.pop(0)]}
        request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers, method=method)
        start = time.monotonic()
        status = None
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read(); status = response.status
        except urllib.error.HTTPError as e:
            e.read(); status = e.code
        except Exception:
            status = None
        stats.record(route, time.monotonic() - start, status)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--pid", type=int, required=True, help="server process id (its VmRSS, RssAnon and RssFile are sampled)")
    parser.add_argument("--collection", default="soak")
    parser.add_argument("--api-key")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--window", type=float, default=10, help="seconds per sample window")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before memory growth is measured")
    parser.add_argument("--max-growth-mb", type=float, default=64)
    args = parser.parse_args()

    stats, stop = Stats(), threading.Event()
    threads = [threading.Thread(target=client, args=(args.url, args.collection, args.api_key, w, stop, stats, 1000 + w), daemon=True)
               for w in range(args.clients)]
    for t in threads: t.start()
    start = time.monotonic()
    rss_after_warmup, anon_after_warmup, worst_p99 = [], [], {r: 0.0 for r in ROUTES}
    print(f"soak: {args.clients} clients, {args.minutes} min, windows of {args.window:.0f} s, server pid {args.pid}", flush=True)
    while time.monotonic() - start < args.minutes * 60:
        time.sleep(args.window)
        elapsed = time.monotonic() - start
        latencies, fivexx, errors = stats.take()
        rss, anon, file_backed = memory_mb(args.pid)
        if elapsed >= args.warmup: rss_after_warmup.append(rss); anon_after_warmup.append(anon)
        parts = []
        for r in ROUTES:
            value = p99(latencies[r])
            if latencies[r] and elapsed >= args.warmup: worst_p99[r] = max(worst_p99[r], value)
            parts.append(f"{r} {len(latencies[r])} p99 {value * 1000:.0f} ms")
        print(f"t={elapsed:6.0f}s rss={rss:7.1f} MB (anon {anon:.1f}, file {file_backed:.1f}) 5xx={fivexx} errors={errors} | " + ", ".join(parts), flush=True)
    stop.set()
    for t in threads: t.join(timeout=70)

    total = stats.total
    growth = (rss_after_warmup[-1] - rss_after_warmup[0]) if len(rss_after_warmup) > 1 else 0.0
    print("soak summary:")
    if rss_after_warmup:
        print(f"  rss after warm-up: first {rss_after_warmup[0]:.1f} MB, min {min(rss_after_warmup):.1f}, "
              f"max {max(rss_after_warmup):.1f}, last {rss_after_warmup[-1]:.1f} (growth {growth:+.1f} MB, bound {args.max_growth_mb:.0f}); "
              f"anonymous: first {anon_after_warmup[0]:.1f}, max {max(anon_after_warmup):.1f}, last {anon_after_warmup[-1]:.1f}")
    print("  worst window p99 after warm-up: " + ", ".join(f"{r} {worst_p99[r] * 1000:.0f} ms" for r in ROUTES))
    print(f"  requests {total['requests']}, 5xx {total['5xx']}, transport errors {total['errors']}, other non-2xx {total['other_status']}")
    ok = total["5xx"] == 0 and total["errors"] == 0 and growth <= args.max_growth_mb
    print(f"soak: {1 if ok else 0} passed, {0 if ok else 1} failed")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
