"""Distributed search with Ray Serve: one deployment per shard, each replica running `rwkv-emb serve` on
its shard directory over loopback, and an ingress that scatters a search over the shards and gathers.

    app = search_app(["/shared/idx/shard-0", "/shared/idx/shard-1"], binary="rwkv-emb", name="docs")
    serve.run(app, route_prefix="/")
    # POST /collections/docs/search {"query": ..., "top_k": 10}            two-phase (exact)
    # POST /collections/docs/search {"query": ..., "distributed": "one-phase"}  one round trip
"""
import json
import urllib.error
import urllib.request

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

from .search import one_phase_search, two_phase_search
from .serve_process import ServeProcess


@serve.deployment
class ShardServer:
    """`rwkv-emb serve --collection DIR` on 127.0.0.1 (any free port), and a proxy to its routes."""

    def __init__(self, directory, binary, model=None, reranker=None, serve_args=()):
        args = ["--collection", str(directory)]
        if model:
            args += ["--model", str(model)]
        if reranker:
            args += ["--reranker", str(reranker)]
        self.server = ServeProcess(binary, *args, *serve_args)
        self.url = self.server.url
        self.name = str(directory).rstrip("/").rsplit("/", 1)[-1]

    def post(self, route, body):
        request = urllib.request.Request(f"{self.url}/collections/{self.name}/{route}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=300) as r:
                return {"status": r.status, "body": json.loads(r.read())}
        except urllib.error.HTTPError as e:
            return {"status": e.code, "body": json.loads(e.read() or b"{}")}

    def __del__(self):
        if getattr(self, "server", None):
            self.server.stop()


class ShardRequestError(Exception):
    def __init__(self, status, body):
        super().__init__(body)
        self.status, self.body = status, body


@serve.deployment
class SearchIngress:
    """POST /collections/{name}/search over every shard; the body as the single-node route takes it, plus
    "distributed": "two-phase" (default, exact) or "one-phase" (fast)."""

    def __init__(self, name, *shards):
        self.name = name
        self.shards = list(shards)

    async def _call(self, shard, route, body):
        r = await self.shards[shard].post.remote(route, body)
        if r["status"] != 200:
            raise ShardRequestError(r["status"], r["body"])
        return r["body"]

    async def __call__(self, request: Request):
        parts = request.url.path.strip("/").split("/")
        if request.method != "POST" or len(parts) != 3 or parts[0] != "collections" or parts[2] != "search":
            return JSONResponse({"error": {"message": "POST /collections/{name}/search", "type": "not_found"}}, status_code=404)
        if parts[1] != self.name:
            return JSONResponse({"error": {"message": f"no collection {parts[1]}", "type": "not_found"}}, status_code=404)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": {"message": "the body is not JSON", "type": "validation"}}, status_code=422)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"]:
            return JSONResponse({"error": {"message": "`query` must be a non-empty string", "type": "validation", "param": "query"}},
                                status_code=422)
        how = body.pop("distributed", "two-phase")
        if how not in ("two-phase", "one-phase"):
            return JSONResponse({"error": {"message": "`distributed` must be two-phase or one-phase", "type": "validation"}},
                                status_code=422)
        search = two_phase_search if how == "two-phase" else one_phase_search
        try:
            return JSONResponse(await search(self._call, len(self.shards), self.name, body))
        except ShardRequestError as e:  # a shard refused the request (bad options): its answer, as the single node gives it
            return JSONResponse(e.body, status_code=e.status)


def search_app(directories, *, binary, name, model=None, reranker=None, serve_args=(), replicas=1):
    """The Serve application: ShardServer deployments shard-0..N-1 and the ingress."""
    shards = [ShardServer.options(name=f"shard-{i}", num_replicas=replicas)
              .bind(str(d), str(binary), model, reranker, list(serve_args)) for i, d in enumerate(directories)]
    return SearchIngress.bind(name, *shards)
