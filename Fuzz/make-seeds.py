#!/usr/bin/env python3
"""Writes the small seed corpora in Fuzz/Corpus/<target>/ (committed; rerun only to change them).

The .pth seeds are built the way torch.save writes a state dict (zip of data.pkl protocol 2 with
persistent storage ids, data/<key> entries), without torch: stand-in classes carry torch's names.
"""
import collections, json, os, pickle, struct, sys, types, zipfile

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "Corpus")


def write(target, name, data):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    with open(os.path.join(corpus, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- .pth ---------------------------------------------------------------------------------------
torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
for storage in ["FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage"]:
    cls = type(storage, (), {}); cls.__module__ = "torch"; setattr(torch, storage, cls)
def _rebuild_tensor_v2(*args): pass
_rebuild_tensor_v2.__module__ = "torch._utils"; utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    def __init__(self, kind, key, numel): self.kind, self.key, self.numel = kind, key, numel


class Tensor:
    def __init__(self, storage, shape, offset=0):
        self.storage, self.shape, self.offset = storage, shape, offset
    def __reduce__(self):
        stride, s = [], 1
        for d in reversed(self.shape): stride.insert(0, s); s *= d
        return (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel)
        return None


def pth(tensors, archive="archive"):
    """tensors: {name: (storage kind, shape, raw bytes)}."""
    import io
    state, blobs = collections.OrderedDict(), {}
    for i, (name, (kind, shape, raw)) in enumerate(tensors.items()):
        n = 1
        for d in shape: n *= d
        state[name] = Tensor(Storage(kind, str(i), n), shape)
        blobs[str(i)] = raw
    buf = io.BytesIO(); Pickler(buf, protocol=2).dump(state)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", buf.getvalue())
        z.writestr(f"{archive}/byteorder", "little")
        for key, raw in blobs.items(): z.writestr(f"{archive}/data/{key}", raw)
        z.writestr(f"{archive}/version", "3\n")
    return out.getvalue()


f32 = lambda values: struct.pack(f"<{len(values)}f", *values)
f16 = lambda values: struct.pack(f"<{len(values)}e", *values)
bf16 = lambda values: b"".join(struct.pack("<f", v)[2:] for v in values)
write("fuzz-pth", "two-f32.pth", pth({"emb.weight": ("FloatStorage", [2, 2], f32([1, 2, 3, 4])),
                                      "ln_out.bias": ("FloatStorage", [2], f32([0.5, -0.5]))}))
write("fuzz-pth", "half-bf16.pth", pth({"blocks.0.att.r_k": ("HalfStorage", [1, 4], f16([1, 2, 3, 4])),
                                        "blocks.0.ln1.weight": ("BFloat16Storage", [4], bf16([1, 1, 1, 1]))}, "reranker"))
write("fuzz-pth", "reranker-layers.pth", pth({"reranker_layer_idx": ("LongStorage", [2], struct.pack("<2q", 1, 3)),
                                              "reranker.blocks.0.ln1.weight": ("FloatStorage", [2], f32([1, 1])),
                                              "rwkv.emb.weight": ("FloatStorage", [1, 2], f32([0.25, 0.75]))}))


# --- safetensors --------------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata: header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


write("fuzz-safetensors", "two-f32.safetensors", safetensors({"emb.weight": ("F32", [2, 2], f32([1, 2, 3, 4])),
                                                             "ln_out.bias": ("F32", [2], f32([0.5, -0.5]))}))
write("fuzz-safetensors", "mixed.safetensors", safetensors({"a": ("F16", [2], f16([1, 2])), "b": ("BF16", [1, 2], bf16([3, 4])),
                                                           "c": ("I64", [1], struct.pack("<q", 7))},
                                                          {"reranker_layer_idx": "[1, 3]", "format": "pt"}))
write("fuzz-safetensors", "empty.safetensors", safetensors({}))


# --- vocabulary ---------------------------------------------------------------------------------
vocab = os.path.join(here, "..", "Sources", "RWKVTokenizer", "Resources", "rwkv_vocab_v20230424.txt")
with open(vocab, "rb") as f: lines = f.read().split(b"\n")
write("fuzz-vocabulary", "bytes-and-words.txt", b"\n".join(lines[:256] + lines[300:340] + lines[20000:20010] + lines[-12:]))
write("fuzz-vocabulary", "literals.txt", b"1 'a' 1\n2 b'\\xff\\x00' 2\n3 '\\u00e9\\n' 3\n4 \"q'\" 2\n5 '\\t\\\\' 2\n")


# --- tokenizer round trip -----------------------------------------------------------------------
write("fuzz-tokenizer", "ascii.txt", "Hello, world. What is a state? Instruct: x\nQuery: y")
write("fuzz-tokenizer", "unicode.txt", "日本語のテキスト 🦆 Ünïcödé — ∑ x² ")
write("fuzz-tokenizer", "invalid-utf8.bin", b"\xff\xfe a \xc3 \xe2\x82 \xf0\x9f\xa6 end\x00")


# --- HTTP request bodies ------------------------------------------------------------------------
bodies = {
    "tei-embed.json": {"inputs": ["What is RWKV?", "a document"], "normalize": True, "truncate": False, "task": "sts", "protocol": "paper", "instruction": "Find answers"},
    "tei-embed-ids.json": {"inputs": [[33155, 45], [1, 2, 3]], "prompt_name": "query", "truncation_direction": "right"},
    "tei-rerank.json": {"query": "What is RWKV?", "texts": ["an RNN", "a fruit"], "return_text": True, "raw_scores": False},
    "tei-tokenize.json": {"inputs": "Hello", "add_special_tokens": True},
    "tei-decode.json": {"ids": [[33155, 45]], "skip_special_tokens": False},
    "openai-embeddings.json": {"input": ["a", "b"], "model": "m", "encoding_format": "base64", "dimensions": 8, "user": "u"},
    "jina-rerank.json": {"query": "q", "documents": ["a", {"text": "b"}], "top_n": 1, "return_documents": True, "model": "m"},
    "collection-create.json": {"name": "docs", "state_precision": "int8"},
    "collection-add.json": {"documents": [{"id": "a", "text": "RWKV is an RNN", "title": "t", "metadata": {"lang": "en", "n": [1, 2.5, None, True]}}, {"text": "id derived"}]},
    "collection-replace.json": {"text": "replaced text", "metadata": {"k": {"nested": "v"}}},
    "collection-delete.json": {"ids": ["a", "b"]},
    "collection-search.json": {"query": "what is RWKV", "top_k": 5, "candidates": 50, "rerank": True},
    "collection-search-filter.json": {"query": "q", "mode": "hybrid", "filter": {"$and": [{"lang": "en"}, {"n": {"$gte": 2}}]}, "group": False, "exact": True},
    "collection-rerank.json": {"query": "q", "ids": ["a"], "passages": [1, 2]},
    "collection-compact.json": {"all": True},
    "tei-embed-all.json": {"inputs": "a text", "truncate": True},
    "tei-similarity.json": {"inputs": {"source_sentence": "a", "sentences": ["b", "c"]}, "parameters": {"prompt_name": "query"}},
    "tei-predict.json": {"inputs": [["a", "b"]]},
    "cohere-v2-rerank.json": {"query": "q", "documents": ["a", "b"], "top_n": 1, "max_tokens_per_doc": 64, "rank_fields": ["text"], "model": "m"},
}
for name, body in bodies.items(): write("fuzz-http", name, json.dumps(body))
write("fuzz-http", "deep.json", "[" * 600 + "]" * 600)
