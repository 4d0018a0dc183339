"""The official client packages, unmodified, against a real `rwkv-emb serve`: every result is
compared with what the CLI computes for the same texts (within 1e-5)."""
import base64

import numpy as np
import openai
import pytest

from conftest import API_KEY, TOLERANCE, cli_embed, cli_rerank, max_abs_diff

TEXTS = ["What is RWKV?", "RWKV is a recurrent network with a linear-time state.",
         "Paris is the capital of France.", "Die Katze schläft auf dem Sofa.", "状态可以被缓存和复用。"]
QUERY = "Which network keeps a recurrent state?"
DOCS = ["RWKV is an RNN whose state can be cached.", "Bananas are rich in potassium.",
        "A transformer attends over all previous tokens.", "Recurrent states summarise everything read so far."]


def many_texts(n: int) -> list[str]:
    return [f"document number {i}: {TEXTS[i % len(TEXTS)]}" for i in range(n)]


# ---------------------------------------------------------------- openai

def test_openai_float(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY)
    r = client.embeddings.create(model="tiny-bf16", input=TEXTS, encoding_format="float")
    assert [d.index for d in r.data] == list(range(len(TEXTS)))
    assert r.usage.prompt_tokens > 0
    assert max_abs_diff([d.embedding for d in r.data], cli_embed(TEXTS)) <= TOLERANCE


def test_openai_base64(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY)
    r = client.embeddings.create(model="tiny-bf16", input=TEXTS, encoding_format="base64")
    vectors = [np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in r.data]
    assert max_abs_diff(vectors, cli_embed(TEXTS)) <= TOLERANCE


def test_openai_default_encoding_and_base_url_without_v1(server):
    # The SDK asks for base64 by default and decodes it; a base URL without /v1 posts to /embeddings.
    client = openai.OpenAI(base_url=server.url, api_key=API_KEY)
    r = client.embeddings.create(model="tiny-bf16", input=TEXTS[0])
    assert max_abs_diff([r.data[0].embedding], cli_embed(TEXTS[:1])) <= TOLERANCE


def test_openai_token_ids_refused_with_the_fix_in_the_message(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY)
    with pytest.raises(openai.UnprocessableEntityError) as e:
        client.embeddings.create(model="tiny-bf16", input=[[9906, 11, 1917]])
    assert "check_embedding_ctx_length=False" in str(e.value)
    # The library names no CLI flag; the message says what to enable, `serve --help` names the flag.
    assert "start the server with token-id input accepted" in str(e.value)


def test_openai_dimensions_other_than_the_width_refused(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY)
    width = len(cli_embed(TEXTS[:1])[0])
    with pytest.raises(openai.UnprocessableEntityError) as e:
        client.embeddings.create(model="tiny-bf16", input="x", dimensions=width // 2)
    assert "Matryoshka" in str(e.value)
    r = client.embeddings.create(model="tiny-bf16", input="x", dimensions=width, encoding_format="float")
    assert len(r.data[0].embedding) == width


# ---------------------------------------------------------------- cohere

def test_cohere_client_v1_rerank(server):
    import cohere
    client = cohere.Client(api_key=API_KEY, base_url=server.url)  # cohere 5's v1 client
    r = client.rerank(model="rerank", query=QUERY, documents=DOCS, top_n=3, return_documents=True)
    reference = cli_rerank(QUERY, DOCS)
    assert len(r.results) == 3
    assert [x.index for x in r.results] == sorted(range(len(DOCS)), key=lambda i: -reference[i])[:3]
    for x in r.results:
        assert abs(x.relevance_score - reference[x.index]) <= TOLERANCE
        assert x.document.text == DOCS[x.index]


def test_cohere_v1_rank_fields_and_object_documents(server):
    import cohere
    client = cohere.Client(api_key=API_KEY, base_url=server.url)  # cohere 5's v1 client
    objects = [{"title": f"t{i}", "text": d, "id": i} for i, d in enumerate(DOCS)]
    r = client.rerank(model="rerank", query=QUERY, documents=objects, rank_fields=["title", "text"], return_documents=True)
    reference = cli_rerank(QUERY, [f"title: t{i}\ntext: {d}" for i, d in enumerate(DOCS)])
    for x in r.results:
        assert abs(x.relevance_score - reference[x.index]) <= TOLERANCE
    # Object documents are echoed whole.
    import requests
    body = requests.post(server.url + "/v1/rerank", headers={"Authorization": f"Bearer {API_KEY}"},
                         json={"query": QUERY, "documents": objects, "rank_fields": ["text"]}).json()
    assert sorted((x["document"]["id"], x["document"]["title"]) for x in body["results"]) == [(i, f"t{i}") for i in range(len(DOCS))]
    single = cli_rerank(QUERY, DOCS)
    for x in body["results"]:
        assert abs(x["relevance_score"] - single[x["index"]]) <= TOLERANCE


def test_cohere_v2_rerank(server):
    import cohere
    client = cohere.ClientV2(api_key=API_KEY, base_url=server.url)
    r = client.rerank(model="rerank", query=QUERY, documents=DOCS, top_n=2, max_tokens_per_doc=4096)
    reference = cli_rerank(QUERY, DOCS)
    assert len(r.results) == 2
    for x in r.results:
        assert abs(x.relevance_score - reference[x.index]) <= TOLERANCE
    # A small max_tokens_per_doc cuts the documents first: the scores change, still valid probabilities.
    cut = client.rerank(model="rerank", query=QUERY, documents=DOCS, max_tokens_per_doc=3)
    assert all(0 <= x.relevance_score <= 1 for x in cut.results)
    assert any(abs(x.relevance_score - reference[x.index]) > TOLERANCE for x in cut.results)


def test_cohere_v2_error_is_a_cohere_error(server):
    import cohere
    client = cohere.ClientV2(api_key=API_KEY, base_url=server.url)
    with pytest.raises(cohere.core.api_error.ApiError) as e:
        client.rerank(model="rerank", query="", documents=DOCS)
    assert e.value.status_code == 422
    assert "`query` cannot be empty" in e.value.body["message"]


# ---------------------------------------------------------------- huggingface_hub

def test_huggingface_hub_feature_extraction(server):
    from huggingface_hub import InferenceClient
    client = InferenceClient(model=server.url, token=API_KEY)
    for text in TEXTS[:3]:
        vector = np.asarray(client.feature_extraction(text)).reshape(1, -1)
        assert max_abs_diff(vector, cli_embed([text])) <= TOLERANCE


def test_huggingface_hub_sentence_similarity(server):
    from huggingface_hub import InferenceClient
    client = InferenceClient(model=server.url, token=API_KEY)
    scores = client.sentence_similarity(TEXTS[0], other_sentences=TEXTS[1:])
    vectors = np.asarray(cli_embed(TEXTS, "--task", "sts"))
    reference = vectors[1:] @ vectors[0]
    assert max_abs_diff([scores], [reference]) <= TOLERANCE


# ---------------------------------------------------------------- langchain

def offline_tiktoken(monkeypatch):
    """tiktoken downloads its BPE files from OpenAI's blob store at run time, which CI cannot reach.
    Without them, tiktoken gets a byte-level Encoding under the same name: LangChain still sends
    tiktoken-style token ids exactly as it does with cl100k_base (what the server must refuse)."""
    import tiktoken
    try:
        tiktoken.get_encoding("cl100k_base").encode("probe")
        return
    except Exception:
        pass
    byte_level = tiktoken.Encoding(name="cl100k_base", pat_str=r"""\S+|\s+""",
                                   mergeable_ranks={bytes([i]): i for i in range(256)}, special_tokens={})
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: byte_level)
    monkeypatch.setattr(tiktoken, "encoding_for_model", lambda name: byte_level)


def test_langchain_openai_default_settings_get_a_clear_error(server, monkeypatch):
    from langchain_openai import OpenAIEmbeddings
    offline_tiktoken(monkeypatch)
    embeddings = OpenAIEmbeddings(model="text-embedding-3-small", base_url=server.url + "/v1", api_key=API_KEY)
    with pytest.raises(openai.UnprocessableEntityError) as e:
        embeddings.embed_documents(TEXTS)
    assert "check_embedding_ctx_length=False" in str(e.value)


def test_langchain_openai_without_ctx_check_embeds_1000_text_batches(server):
    from langchain_openai import OpenAIEmbeddings
    embeddings = OpenAIEmbeddings(model="text-embedding-3-small", base_url=server.url + "/v1", api_key=API_KEY,
                                  check_embedding_ctx_length=False)
    assert embeddings.chunk_size == 1000  # one request carries 1000 texts
    texts = many_texts(1000)
    vectors = embeddings.embed_documents(texts)
    assert len(vectors) == 1000
    assert max_abs_diff(vectors, cli_embed(texts)) <= TOLERANCE
    assert max_abs_diff([embeddings.embed_query(QUERY)], cli_embed([QUERY])) <= TOLERANCE


def test_langchain_cohere_rerank(server):
    from langchain_cohere import CohereRerank
    from langchain_core.documents import Document
    rerank = CohereRerank(cohere_api_key=API_KEY, base_url=server.url, model="rerank", top_n=3)
    reference = cli_rerank(QUERY, DOCS)
    results = rerank.rerank(DOCS, QUERY)
    assert len(results) == 3
    for x in results:
        assert abs(x["relevance_score"] - reference[x["index"]]) <= TOLERANCE
    compressed = rerank.compress_documents([Document(page_content=d) for d in DOCS], QUERY)
    best = max(range(len(DOCS)), key=lambda i: reference[i])
    assert compressed[0].page_content == DOCS[best]
    assert abs(compressed[0].metadata["relevance_score"] - reference[best]) <= TOLERANCE


def test_langchain_community_jina_rerank(server, monkeypatch):
    from langchain_community.document_compressors import jina_rerank
    # JinaRerank has no base-URL setting: its module-level endpoint is pointed at the server.
    monkeypatch.setattr(jina_rerank, "JINA_API_URL", server.url + "/v1/rerank")
    rerank = jina_rerank.JinaRerank(jina_api_key=API_KEY, model="jina-reranker-v2-base-multilingual", top_n=3)
    reference = cli_rerank(QUERY, DOCS)
    results = rerank.rerank(DOCS, QUERY)
    assert len(results) == 3
    for x in results:
        assert abs(x["relevance_score"] - reference[x["index"]]) <= TOLERANCE
    # Errors carry `detail`, which JinaRerank raises (not a KeyError).
    with pytest.raises(RuntimeError, match="`query` cannot be empty"):
        rerank.rerank(DOCS, "")


# ---------------------------------------------------------------- llama-index

def test_llama_index_openai_embedding(server):
    from llama_index.embeddings.openai import OpenAIEmbedding
    embedding = OpenAIEmbedding(api_key=API_KEY, api_base=server.url + "/v1")
    assert embedding.embed_batch_size == 100
    texts = many_texts(150)  # two requests of 100 and 50
    vectors = embedding.get_text_embedding_batch(texts)
    assert max_abs_diff(vectors, cli_embed(texts)) <= TOLERANCE
    assert max_abs_diff([embedding.get_query_embedding(QUERY)], cli_embed([QUERY])) <= TOLERANCE
