#!/usr/bin/env bash
# Broker → Parquet throughput vs parse-only throughput of the same records, against
# a real broker (tansu, started here on a free port with in-memory storage).
#
#   benches/kafka.sh [CALLS ...]      default: 20000 80000
#
# Prints one JSON line per size. Memory: compare peak_rss_kib.after_ingest -
# before_ingest across sizes; it follows flush_records, not the topic size.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tansu install
broker_file=$(mktemp)
scripts/tansu start "$broker_file"
read -r pid broker <"$broker_file"
rm -f "$broker_file"
trap 'kill "$pid" 2>/dev/null || true' EXIT
cargo bench -p tokentally-ingest --bench kafka --no-run
for calls in "${@:-20000 80000}"; do
  for n in $calls; do
    TOKENTALLY_BENCH_BROKER=$broker TOKENTALLY_BENCH_CALLS=$n \
      cargo bench -q -p tokentally-ingest --bench kafka
  done
done
