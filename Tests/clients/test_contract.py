"""The served API against its OpenAPI document: every documented operation's example request,
answered as documented; bad bodies answered with the documented error shapes; schemathesis over
the whole document (no 5xx, no response outside the document, >= 2000 generated requests)."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema_rs
import pytest
import requests

from conftest import API_KEY, ROOT, Server

DOCUMENT = ROOT / "Sources" / "RWKVServer" / "Resources" / "openapi.json"
# Path parameters of the example requests: the collection created by POST /collections's example
# and the document id of the add example.
PATH_VALUES = {"name": "docs", "id": "a"}


@pytest.fixture(scope="module")
def document():
    return json.loads(DOCUMENT.read_text())


def validator(document, schema):
    """A JSON Schema 2020-12 validator for a schema of the document (its $refs resolve in it)."""
    return jsonschema_rs.validator_for({**schema, "components": document["components"]})


def check_response(document, operation, response, label):
    codes = operation["responses"]
    entry = codes.get(str(response.status_code)) or codes.get(f"{response.status_code // 100}XX") or codes.get("default")
    assert entry is not None, f"{label}: status {response.status_code} is not documented"
    content = entry.get("content")
    if not content:
        assert response.content == b"", f"{label}: a body where none is documented"
        return
    media = response.headers.get("content-type", "").split(";")[0].strip()
    assert media in content, f"{label}: content type {media!r} is not one of {list(content)}"
    if media == "application/json":
        errors = [e.message for e in validator(document, content[media]["schema"]).iter_errors(response.json())]
        assert not errors, f"{label}: {response.status_code} body violates the document: {errors[:3]}\n{response.text[:500]}"


def operations_in_order(document):
    """Every operation, creating before reading, deleting documents before their collection last."""
    def order(entry):
        path, method, _ = entry
        if method == "delete":
            return (3 if path.count("/") > 2 else 5, path)
        if "delete" in path:
            return (4, path)
        return ({"post": 0, "put": 1, "get": 2}[method], path)
    ops = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]
    return sorted(ops, key=order)


def test_served_document_is_the_checked_in_one(server):
    served = requests.get(server.url + "/api-doc/openapi.json", headers={"Authorization": f"Bearer {API_KEY}"})
    assert served.status_code == 200
    assert served.json() == json.loads(DOCUMENT.read_text())
    assert served.json()["openapi"].startswith("3.1")


def test_docs_page_is_self_contained(server):
    page = requests.get(server.url + "/docs", headers={"Authorization": f"Bearer {API_KEY}"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api-doc/openapi.json" in page.text
    for reference in ("http://", "https://", "src=\"//", "href=\"//"):
        assert reference not in page.text, f"the docs page loads something from outside: {reference}"


def test_every_documented_example_is_answered_as_documented(server, document):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    answered = 0
    for path, method, op in operations_in_order(document):
        url = server.url + path.format(**PATH_VALUES)
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
        if "requestBody" in op and body is None:
            continue
        response = requests.request(method.upper(), url, headers=headers, json=body)
        check_response(document, op, response, f"{method.upper()} {path}")
        if path != "/predict":  # documented to answer 424 (no classifier)
            assert response.status_code < 300, f"{method.upper()} {path}: {response.status_code} {response.text[:300]}"
        answered += 1
    assert answered >= len([1 for item in document["paths"].values() for _ in item]) - 1


def test_bad_bodies_get_the_documented_error_shapes(server, document):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for path, method, op in operations_in_order(document):
        if "requestBody" not in op or "{" in path:
            continue
        for body in (b"{}", b"{not json", b"[]"):
            response = requests.request(method.upper(), server.url + path, headers={**headers, "content-type": "application/json"}, data=body)
            assert 400 <= response.status_code < 500, f"{method.upper()} {path} {body!r}: {response.status_code}"
            check_response(document, op, response, f"{method.upper()} {path} {body!r}")
    # Which family answers: TEI, OpenAI, and rerank (`detail` for Jina clients, `message` for Cohere's).
    tei = requests.post(server.url + "/embed", headers=headers, json={"inputs": []}).json()
    assert tei["error_type"] == "Empty"
    oai = requests.post(server.url + "/v1/embeddings", headers=headers, json={"input": "x", "encoding_format": "hex"}).json()
    assert oai["error"]["param"] == "encoding_format"
    rerank = requests.post(server.url + "/v2/rerank", headers=headers, json={"query": "", "documents": ["a"]}).json()
    assert rerank["detail"] == rerank["message"] == rerank["error"]["message"]


def test_tei_status_codes(server):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    long = "word " * 9000
    assert requests.post(server.url + "/embed", headers=headers, json={"inputs": long}).status_code == 422
    predict = requests.post(server.url + "/predict", headers=headers, json={"inputs": "x"})
    assert predict.status_code == 424 and predict.json()["error_type"] == "Backend"
    assert "not a classifier" in predict.json()["error"]
    info = requests.get(server.url + "/info", headers=headers).json()
    assert info["served_model_name"] == "tiny-bf16" and info["model_dtype"] == "float32"
    for key in ("model_sha", "sha", "docker_label"):
        assert key in info and info[key] is None
    for path in ("/", "/ping", "/health"):
        assert requests.get(server.url + path, headers=headers).status_code == 200


def test_cors_preflight_and_headers(server):
    preflight = requests.options(server.url + "/embed", headers={"Origin": "http://example.test",
                                                                 "Access-Control-Request-Method": "POST",
                                                                 "Access-Control-Request-Headers": "content-type, authorization"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    reply = requests.post(server.url + "/embed", headers={"Origin": "http://example.test", "Authorization": f"Bearer {API_KEY}"},
                          json={"inputs": "x"})
    assert reply.status_code == 200 and reply.headers["access-control-allow-origin"] == "*"


def test_metrics_have_tei_names_and_labels(server):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    requests.post(server.url + "/embed", headers=headers, json={"inputs": "one"})
    requests.post(server.url + "/embed", headers=headers, json={"inputs": ["a", "b"]})
    requests.post(server.url + "/embed", headers=headers, json={"inputs": ""})
    text = requests.get(server.url + "/metrics", headers=headers).text
    for series in ('te_request_count{method="single"}', 'te_request_count{method="batch"}',
                   'te_request_success{method="single"}', 'te_request_failure{err="validation"}',
                   "te_embed_count", "te_queue_size", "te_batch_next_size_count", "te_request_duration_count",
                   'rwkv_emb_http_responses{route="/embed",status="2xx"}'):
        assert any(line.startswith(series + " ") for line in text.splitlines()), f"{series} missing from /metrics"


def test_token_ids_accepted_with_the_flag():
    s = Server("--accept-token-ids")
    try:
        r = requests.post(s.url + "/v1/embeddings", headers={"Authorization": f"Bearer {API_KEY}"},
                          json={"input": [[33155, 45, 40213]], "encoding_format": "float"})
        text = requests.post(s.url + "/v1/embeddings", headers={"Authorization": f"Bearer {API_KEY}"},
                             json={"input": ["Hello, world"], "encoding_format": "float"})
        assert r.status_code == 200, r.text
        assert r.json()["data"][0]["embedding"] == text.json()["data"][0]["embedding"]
    finally:
        s.stop()


def test_schemathesis_finds_no_5xx_and_no_response_outside_the_document(server):
    with tempfile.TemporaryDirectory() as out:
        report = Path(out) / "schemathesis.json"
        st = Path(sys.executable).parent / "st"
        run = subprocess.run([str(st), "run", server.url + "/api-doc/openapi.json",
                              "-H", f"Authorization: Bearer {API_KEY}",
                              "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                              "--max-examples", "30", "--workers", "1", "--seed", "12",
                              "--no-color", "--report", "json", "--report-json-path", str(report)],
                             capture_output=True, text=True, timeout=1200)
        summary = json.loads(report.read_text())
    print(run.stdout[-3000:])
    generated = summary["test_cases"]["generated"]
    print(f"schemathesis: {generated} generated test cases, {summary['test_cases']['with_failures']} with failures")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert summary["test_cases"]["with_failures"] == 0 and summary["test_cases"]["errored"] == 0
    assert generated >= 2000
