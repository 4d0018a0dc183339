"""Scatter-gather search over shards, with the request and response shapes of the single-node
POST /collections/{name}/search route.

`call(shard, route, body)` is an async function that POSTs `body` to /collections/{name}/{route} of one
shard ("search" or "rerank") and returns the decoded JSON.

Two-phase (exact): phase 1 asks every shard for its best `n` passages without reranking (dense: by cosine;
lexical: by BM25; hybrid: both lists, fused here by reciprocal rank over the global lists), keeps the
global best `n` (widening n fourfold while they span fewer than top_k documents, as the single node does),
then phase 2 has each shard rerank its part from its cached states (POST .../rerank with passage ids) and
orders everything by logit. In dense mode this is the single node's computation: the same candidates, the
same logits, the same hits. Lexical scores are per shard (BM25's document frequencies are the shard's), so
lexical and hybrid rankings can differ from a single node's when shards differ in term statistics.

One-phase (fast): each shard runs the whole search (its own candidates, reranked) and the ingress merges
the hits by logit: one round trip instead of two, and shards x candidates passages reranked instead of
candidates, so it may return documents the single node's candidate list missed (never worse candidates
at equal logits), but not exactly its hits."""
import asyncio

RRF_K = 60.0


def _options(body):
    top_k = int(body.get("top_k") or 10)
    rerank = body.get("rerank", True)
    rerank = True if rerank is None else bool(rerank)
    candidates = int(body.get("candidates") or max(50, top_k))
    return top_k, max(candidates, top_k), rerank, (body.get("mode") or "hybrid").lower(), body.get("group", True) is not False


def _totals(responses):
    return {k: sum(r[k] for r in responses) for k in ("documents", "passages", "matching_passages")}


def _key(h, field):
    v = h.get(field)
    return float("-inf") if v is None else v


def _ranked(responses, field):
    """Every shard's hits, each tagged with its shard, in descending `field`; equal scores by document id and
    passage, as the single node orders them."""
    hits = [dict(h, shard=s) for s, r in enumerate(responses) for h in r["hits"]]
    return sorted(hits, key=lambda h: (-_key(h, field), h["id"].encode("utf-8"), h["passage"]))


def _fuse(dense, lexical, limit):
    """Reciprocal rank fusion (k = 60), as RankFusion.reciprocalRank: ties keep first appearance."""
    scores, order, hits = {}, [], {}
    for lst in (dense, lexical):
        for rank, h in enumerate(lst):
            key = (h["shard"], h["passage_id"])
            if key not in scores:
                scores[key] = 0.0
                order.append(key)
                hits[key] = dict(h)
            else:
                for f in ("embedding_score", "lexical_score"):
                    if h.get(f) is not None:
                        hits[key][f] = h[f]
            scores[key] += 1.0 / (RRF_K + rank + 1)
    ranked = sorted(range(len(order)), key=lambda i: (-scores[order[i]], i))[:limit]
    return [dict(hits[order[i]], fused_score=scores[order[i]]) for i in ranked]


def _group_and_cut(hits, top_k, group):
    if group:
        seen, kept = set(), []
        for h in hits:
            if h["id"] not in seen:
                seen.add(h["id"])
                kept.append(h)
        hits = kept
    return hits[:top_k]


def _response(name, mode, hits, totals, reranked, online, timings, responses):
    out = {"collection": name, "mode": mode, "hits": hits, **totals, "candidates_reranked": reranked,
           "online_fallbacks": online, "timings": timings}
    # The dense stage's path per shard (exact, hnsw, ...): one value when every shard took the same one.
    paths = sorted({r["dense_path"] for r in responses if r and r.get("dense_path")})
    if paths:
        out["dense_path"] = ",".join(paths)
    return out


async def _gather(call, shards, route, body_for):
    """One call per shard at once (None where body_for gives no body)."""
    async def one(s):
        body = body_for(s)
        return None if body is None else await call(s, route, body)
    return await asyncio.gather(*(one(s) for s in range(shards)))


TIMING_KEYS = ("query_embedding_ms", "filter_ms", "retrieval_ms", "lexical_ms", "fusion_ms", "state_load_ms",
               "rerank_ms", "search_ms", "queue_ms", "total_ms")


def _timings(responses, **measured):
    """The single-node timing keys: the slowest shard's per stage, and what the ingress measured."""
    t = {k: max((r["timings"].get(k, 0.0) for r in responses if r), default=0.0) for k in TIMING_KEYS}
    t.update(measured)
    return t


async def two_phase_search(call, shards, name, body):
    import time
    start = time.perf_counter()
    top_k, candidates, rerank, mode, group = _options(body)
    n = max(1, candidates if rerank else top_k)
    base = {k: body[k] for k in ("query", "instruction", "filter", "exact") if body.get(k) is not None}
    while True:
        modes = ["dense", "lexical"] if mode == "hybrid" else [mode]
        lists = {}
        for m in modes:
            limit = min(n, 1000)  # the route's top_k bound
            responses = await _gather(call, shards, "search", lambda s: dict(base, top_k=limit, rerank=False, group=False, mode=m))
            lists[m] = (responses, _ranked(responses, "embedding_score" if m == "dense" else "lexical_score")[:n])
        totals = _totals(lists[modes[0]][0])
        fused = _fuse(lists["dense"][1], lists["lexical"][1], n) if mode == "hybrid" else lists[mode][1]
        matching = totals["matching_passages"]
        documents = len({h["id"] for h in fused})
        if not group or documents >= min(top_k, totals["documents"]) or n >= matching or n >= 1000:
            break
        n = min(matching, n * 4)
    phase1 = time.perf_counter()
    online = 0
    reranked = 0
    if rerank and fused:
        parts = [[h for h in fused if h["shard"] == s] for s in range(shards)]
        results = await _gather(call, shards, "rerank",
                                lambda s: {"query": body["query"], "passages": [h["passage_id"] for h in parts[s]]} if parts[s] else None)
        for s, r in enumerate(results):
            if r is None:
                continue
            online += r.get("online_fallbacks", 0)
            for h, score in zip(parts[s], r["results"]):
                h["rerank_logit"], h["rerank_score"], h["rerank_mode"] = score.get("logit"), score.get("score"), score.get("rerank_mode")
        reranked = len(fused)
        fused = [h for h in fused if h.get("rerank_logit") is not None]
        fused = [h for _, h in sorted(enumerate(fused), key=lambda p: (-p[1]["rerank_logit"], p[0]))]
    hits = _group_and_cut(fused, top_k, group)
    end = time.perf_counter()
    shard_responses = [r for m in modes for r in lists[m][0]]
    return _response(name, mode, hits, totals, reranked, online,
                     _timings(shard_responses, phase1_ms=(phase1 - start) * 1000, rerank_ms=(end - phase1) * 1000,
                              search_ms=(end - start) * 1000, total_ms=(end - start) * 1000), shard_responses)


async def one_phase_search(call, shards, name, body):
    import time
    start = time.perf_counter()
    top_k, _, rerank, mode, group = _options(body)
    responses = await _gather(call, shards, "search", lambda s: body)
    field = "rerank_logit" if rerank else {"dense": "embedding_score", "lexical": "lexical_score"}.get(mode, "fused_score")
    hits = _group_and_cut(_ranked(responses, field), top_k, group)
    return _response(name, mode, hits, _totals(responses), sum(r["candidates_reranked"] for r in responses),
                     sum(r["online_fallbacks"] for r in responses),
                     _timings(responses, total_ms=(time.perf_counter() - start) * 1000), responses)
