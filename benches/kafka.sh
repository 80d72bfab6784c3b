#!/usr/bin/env bash
# Broker → Parquet throughput vs parse-only throughput of the same records, against
# a real broker (tansu, started here on a free port with in-memory storage).
#
#   benches/kafka.sh [CALLS ...]                default: 20000 80000
#   benches/kafka.sh --instructions [CALLS ...] default: 4000; the same ratio counted in
#                                               instructions (valgrind's callgrind), which
#                                               a busy machine does not change
#
# Prints one JSON line per size. Memory: compare peak_rss_kib.after_ingest -
# before_ingest across sizes; it follows flush_records, not the topic size.
# TOKENTALLY_BENCH_ONE_DAY=1 dates every record on one day (see benches/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
instructions=false
if [[ "${1:-}" == "--instructions" ]]; then
  instructions=true
  shift
  command -v valgrind >/dev/null || { echo "--instructions needs valgrind" >&2; exit 1; }
fi
scripts/tansu install
broker_file=$(mktemp)
scripts/tansu start "$broker_file"
read -r pid broker <"$broker_file"
rm -f "$broker_file"
trap 'kill "$pid" 2>/dev/null || true' EXIT
bench=$(cargo bench -p tokentally-ingest --bench kafka --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "kafka"][-1])')
export TOKENTALLY_BENCH_BROKER=$broker
if $instructions; then
  for n in ${@:-4000}; do
    profile=$(mktemp -d)
    # Produced natively first: the profile then holds parsing and ingesting only.
    TOKENTALLY_BENCH_CALLS=$n TOKENTALLY_BENCH_TOPIC="instructions-$n" TOKENTALLY_BENCH_STAGE=produce "$bench" >/dev/null
    TOKENTALLY_BENCH_CALLS=$n TOKENTALLY_BENCH_TOPIC="instructions-$n" TOKENTALLY_BENCH_STAGE=consume \
      valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$profile/cg" "$bench" >/dev/null 2>&1
    python3 benches/callgrind_ratio.py "$profile/cg"
    rm -rf "$profile"
  done
  exit 0
fi
for n in ${@:-20000 80000}; do
  TOKENTALLY_BENCH_CALLS=$n "$bench"
done
