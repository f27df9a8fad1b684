#!/usr/bin/env bash
# The OpenAPI spec of issue 24's bench (docs/bench.md, "Figures (2026-12-06): the integrated
# build"): what `apitap inventory --openapi` rebuilds from the bench capture's records (its
# documented routes: every call of the capture matches an operation), padded with generated
# operations to OPERATIONS in all, as an API of that size would document beside them:
# resources with list, create, get, replace and delete, every fourth nested under the
# previous one's item, under the same /api/v1 and on the same hosts. Written as JSON (the
# sensor reads YAML or JSON) to OUT, beside fixtures/bench/api.toml which loads it.
#
#   scripts/make-bench-spec.sh [OUT]     # default fixtures/bench/api-spec.json
#
# Environment: APITAP_BIN (default <target>/release/apitap), PCAP (default
# <target>/bench/api-200k.pcap, scripts/bench.sh generates it), OPERATIONS (default 200).
# Needs python3 with PyYAML (Debian: python3-yaml).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
APITAP="${APITAP_BIN:-$TARGET_DIR/release/apitap}"
PCAP="${PCAP:-$TARGET_DIR/bench/api-200k.pcap}"
OPERATIONS="${OPERATIONS:-200}"
OUT="${1:-$ROOT/fixtures/bench/api-spec.json}"
die() { printf 'make-bench-spec.sh: %s\n' "$*" >&2; exit 1; }
[[ -x "$APITAP" ]] || die "apitap binary not found at $APITAP (set APITAP_BIN)"
[[ -s "$PCAP" ]] || die "capture not found at $PCAP (scripts/bench.sh generates it)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export APITAP_SESSION_SECRET="${APITAP_SESSION_SECRET:-bench-sessions-secret-0123456789}"
"$APITAP" replay "$PCAP" --config "$ROOT/fixtures/core.toml" --output "$work/records.jsonl" -q
"$APITAP" inventory "$work/records.jsonl" --openapi "$work/traffic.yaml" --title "apitap bench API" >/dev/null

python3 - "$work/traffic.yaml" "$OUT" "$OPERATIONS" <<'PY'
import json, sys
import yaml

src, out, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
doc = yaml.safe_load(open(src))
methods = ("get", "post", "put", "patch", "delete", "head", "options")
count = lambda: sum(1 for item in doc["paths"].values() for m in item if m in methods)
documented = count()
# Resource names of a shop and account API, beside the capture's users, products and orders.
words = ("carts invoices payments refunds shipments returns coupons reviews wishlists addresses "
         "categories brands suppliers warehouses stock prices taxes currencies regions stores "
         "employees roles permissions teams projects tickets comments attachments notifications "
         "webhooks subscriptions plans usage reports exports imports audits sessions devices "
         "tokens keys").split()
ok = {"200": {"description": "ok"}, "404": {"description": "not found"}}
created = {"201": {"description": "created"}, "400": {"description": "bad request"}}
item_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
parent_id = {"name": "parent_id", "in": "path", "required": True, "schema": {"type": "integer"}}
paging = [{"name": "page", "in": "query", "schema": {"type": "integer"}},
          {"name": "limit", "in": "query", "schema": {"type": "integer"}}]
body = {"content": {"application/json": {"schema": {"type": "object"}}}}
previous = None
for i, word in enumerate(words):
    if count() >= target:
        break
    nested = i % 4 == 3 and previous is not None
    base = f"/api/v1/{previous}/{{parent_id}}/{word}" if nested else f"/api/v1/{word}"
    params = [parent_id] if nested else []
    collection = {
        "get": {"operationId": f"list_{word}", "parameters": params + paging, "responses": ok},
        "post": {"operationId": f"create_{word}", "parameters": params, "requestBody": body,
                 "responses": created},
    }
    item = {
        "get": {"operationId": f"get_{word}", "parameters": params + [item_id], "responses": ok},
        "put": {"operationId": f"replace_{word}", "parameters": params + [item_id],
                "requestBody": body, "responses": ok},
        "delete": {"operationId": f"delete_{word}", "parameters": params + [item_id],
                   "responses": {"204": {"description": "deleted"}, "404": {"description": "not found"}}},
    }
    for path, ops in ((base, collection), (f"{base}/{{id}}", item)):
        entry = doc["paths"].setdefault(path, {})
        for method, op in ops.items():
            if count() < target:
                entry[method] = op
    previous = word
json.dump(doc, open(out, "w"), indent=1, sort_keys=False)
open(out, "a").write("\n")
print(f"{out}: {documented} operations from the capture's records, {count()} in all", file=sys.stderr)
PY
