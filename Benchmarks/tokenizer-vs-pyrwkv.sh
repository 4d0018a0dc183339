#!/usr/bin/env bash
# Compares our tokenizer (release build, `rwkv-emb bench tokenizer`) with pyrwkv-tokenizer 0.9.1
# (Rust, through its Python API) on the same text in the same run, single-threaded, and checks
# that both produce the same ids.
#   Benchmarks/tokenizer-vs-pyrwkv.sh [megabytes]      (default 4)
# pyrwkv-tokenizer is installed from PyPI into .bench-venv/ (git-ignored) on first use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
megabytes="${1:-4}"
venv="$root/.bench-venv"
vocabulary="$root/Sources/RWKVTokenizer/Resources/rwkv_vocab_v20230424.txt"

if ! "$venv/bin/python" -c 'import pyrwkv_tokenizer' >/dev/null 2>&1; then
    echo "installing pyrwkv-tokenizer==0.9.1 into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pyrwkv-tokenizer==0.9.1"
fi

"$root/scripts/bootstrap"
swift build -c release --package-path "$root" --product rwkv-emb >&2
bin="$root/.build/release/rwkv-emb"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Other processes skew both figures alike; the ratio (same run, same text) is the robust number.
[[ -r /proc/loadavg ]] && echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== swift-rwkv-emb (release, 1 thread)"
"$bin" bench tokenizer --megabytes "$megabytes" --write-text "$work/text.txt" --write-ids "$work/ids.txt" \
    | tee "$work/swift.txt"
ours="$(awk '/^encode:/ { print $2 }' "$work/swift.txt")"

echo "== pyrwkv-tokenizer $("$venv/bin/python" -c 'import pyrwkv_tokenizer; print(pyrwkv_tokenizer.__version__)') (Python API, 1 thread)"
# RAYON_NUM_THREADS pins the Rust side to one thread should it parallelize anything.
RAYON_NUM_THREADS=1 "$venv/bin/python" - "$work/text.txt" "$work/ids.txt" "$vocabulary" "$ours" <<'PY'
import sys, time
import pyrwkv_tokenizer

text_path, ids_path, vocabulary, ours = sys.argv[1:5]
with open(text_path, encoding="utf-8") as f:
    text = f.read()
megabytes = len(text.encode("utf-8")) / 1e6

loads = []
for _ in range(5):
    start = time.perf_counter()
    tokenizer = pyrwkv_tokenizer.RWKVTokenizer(vocab_filepath=vocabulary)
    loads.append(time.perf_counter() - start)

times = []
for _ in range(5):
    start = time.perf_counter()
    ids = tokenizer.encode(text)
    times.append(time.perf_counter() - start)
theirs = megabytes / min(times)

with open(ids_path) as f:
    our_ids = [int(x) for x in f.read().split()]
print(f"vocabulary load: {min(loads) * 1e3:.1f} ms (best of 5)")
print(f"encode:          {theirs:.1f} MB/s, {len(ids) / min(times) / 1e6:.2f} M tokens/s (best of 5)")
print("== comparison")
print(f"same ids:        {'yes' if list(ids) == our_ids else 'NO'} ({len(our_ids)} ours, {len(ids)} theirs)")
print(f"encode ratio:    {float(ours) / theirs:.2f}x (ours {float(ours):.1f} MB/s / pyrwkv {theirs:.1f} MB/s)")
if list(ids) != our_ids:
    first = next((i for i, (a, b) in enumerate(zip(ids, our_ids)) if a != b), min(len(ids), len(our_ids)))
    print(f"first difference at token {first}: ours {our_ids[first:first + 5]}, theirs {list(ids[first:first + 5])}")
    sys.exit(1)
PY
