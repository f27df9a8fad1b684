#!/usr/bin/env bash
# A capture where every request carries an attack, for what detection costs at its worst
# (docs/bench.md, "Figures (2026-12-06): the integrated build", issue 22): the attack lines of
# the labelled corpus (fixtures/attack-corpus/: libinjection's sqli and xss, PayloadsAllTheThings'
# traversal, cmdi, ssrf, nosqli, xxe and jndi; its benign lines left out), shuffled, through
# the corpus's own converter to real TCP connections. The same seed gives the same file.
#
#   scripts/make-attack-pcap.sh [OUT]        # default <target>/bench/attacks-all.pcap
#
# Environment: SEED (default 1). Needs python3 (standard library only).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${1:-$TARGET_DIR/bench/attacks-all.pcap}"
SEED="${SEED:-1}"
CORPUS="$ROOT/fixtures/attack-corpus"
mkdir -p "$(dirname "$OUT")"
attacks="$(mktemp --suffix=.jsonl)"
trap 'rm -f "$attacks"' EXIT

python3 - "$attacks" "$CORPUS/libinjection.jsonl.gz" "$CORPUS/patt.jsonl.gz" <<'PY'
import gzip, json, sys
out, inputs = sys.argv[1], sys.argv[2:]
n = 0
with open(out, "w") as f:
    for path in inputs:
        with gzip.open(path, "rt") as lines:
            for line in lines:
                if json.loads(line)["label"] == "attack":
                    f.write(line)
                    n += 1
print(f"{n} attack requests", file=sys.stderr)
PY
python3 "$CORPUS/to_pcap.py" "$attacks" -o "$OUT" --truth "${OUT%.pcap}.truth.json" \
    --seed "$SEED" --shuffle >&2
echo "$OUT"
