#!/usr/bin/env python3
"""Checks `rwkv-emb eval --score-run` against pytrec_eval on generated qrels and runs.

Graded relevance (0-3), ties in the run, unjudged documents, queries without relevant documents,
queries with fewer than 10 and more than 100 results, queries only in the run or only in the qrels.
Every per-query NDCG@10, MRR@10 (recip_rank of the top 10), Recall@100 and MAP must agree to 1e-6.
Usage: eval-parity.py PATH-TO-rwkv-emb
"""
import json, os, random, subprocess, sys, tempfile

import pytrec_eval

def main():
    exe = sys.argv[1]
    rng = random.Random(17)
    qrels, run = {}, {}
    for q in range(300):
        qid = f"q{q}"
        docs = [f"d{rng.randrange(400)}" for _ in range(rng.randrange(1, 30))]
        if q % 10 != 9:  # q9, q19, ...: in the run only
            kind = q % 7
            qrels[qid] = {d: (0 if kind == 3 else rng.choice([0, 1, 1, 2, 3])) for d in docs}  # kind 3: nothing relevant
        if q % 13 != 12:  # q12, q25, ...: in the qrels only
            n = rng.choice([3, 9, 10, 11, 50, 100, 101, 150])
            pool = list(dict.fromkeys(docs + [f"d{rng.randrange(400)}" for _ in range(n * 2)]))
            rng.shuffle(pool)
            # Few distinct scores: many ties, broken by trec_eval's docid order.
            run[qid] = {d: float(rng.choice([0.5, 0.25, 1.0, 1.5, rng.random()])) for d in pool[:n]}
    with tempfile.TemporaryDirectory() as tmp:
        qrels_path = os.path.join(tmp, "qrels.tsv")
        with open(qrels_path, "w") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for q, ds in qrels.items():
                for d, r in ds.items():
                    f.write(f"{q}\t{d}\t{r}\n")
        run_path = os.path.join(tmp, "run.txt")
        with open(run_path, "w") as f:
            for q, ds in run.items():
                for i, (d, s) in enumerate(ds.items()):  # ranks deliberately not the score order
                    f.write(f"{q} Q0 {d} {i + 1} {s!r} parity\n")
        out = subprocess.run([exe, "eval", "--score-run", run_path, "--qrels", qrels_path, "--json", "--per-query"],
                             check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)["stages"][0]["per_query"]

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "map"})
    theirs = evaluator.evaluate(run)
    # MRR@10: recip_rank over each query's top 10 in trec_eval's order (score desc, then docid desc).
    top10 = {q: dict(sorted(ds.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:10]) for q, ds in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)

    passed = failed = 0
    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name} {detail}")
    check("same queries", set(ours) == set(theirs), f"only ours: {sorted(set(ours) - set(theirs))[:5]}, only pytrec_eval: {sorted(set(theirs) - set(ours))[:5]}")
    for q in sorted(set(ours) & set(theirs)):
        pairs = [("ndcg@10", theirs[q]["ndcg_cut_10"]), ("recall@100", theirs[q]["recall_100"]), ("map", theirs[q]["map"]),
                 ("mrr@10", rr[q]["recip_rank"])]
        for name, expected in pairs:
            check(f"{q} {name}", abs(ours[q][name] - expected) <= 1e-6, f"ours {ours[q][name]} pytrec_eval {expected}")
    print(f"eval parity with pytrec_eval: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)

if __name__ == "__main__":
    main()
