#!/usr/bin/env bash
# The same records ingested and reported against a local folder and against
# Azurite (the Azure Storage emulator, started here by scripts/lake), each run
# timed with /usr/bin/time; prints every run's seconds, sorted, and the medians'
# ratio. The issue-19 targets: ingest within 25 % of local, report within 50 %.
#
#   benches/lake.sh [TOKENTALLY] [CALLS] [RUNS]
#       TOKENTALLY: the binary (default target/release/tokentally, else target/debug/)
#       CALLS: sample calls (default 20000); RUNS: report runs per side (default 9)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [[ -z "$bin" ]]; then
  bin=target/release/tokentally
  [[ -x "$bin" ]] || bin=target/debug/tokentally
fi
bin=$(realpath "$bin")
calls=${2:-20000}
runs=${3:-9}
scripts/lake install
lake_file=$(mktemp)
scripts/lake start "$lake_file"
read -r azurite_pid azurite moto_pid _ <"$lake_file"
rm -f "$lake_file"
work=$(mktemp -d)
trap 'kill "$azurite_pid" "$moto_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
export AZURE_STORAGE_USE_EMULATOR=true AZURITE_BLOB_STORAGE_URL=$azurite
cp -r pipelines sample-data "$work/"
cd "$work"
"$bin" sample --out calls.jsonl.gz --calls "$calls" --seed 7 --month 2026-10 >/dev/null 2>&1
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
timed() { /usr/bin/time -f "%e" "$@" >/dev/null 2>>"$work/t" || { tail -3 "$work/t" >&2; exit 1; }; tail -1 "$work/t"; }
ingest_local=() ingest_azurite=()
for i in 1 2 3; do
  python3 "$OLDPWD/tests/python/lake.py" azure "$azurite" create "bench$i" >/dev/null
  ingest_local+=("$(timed "$bin" ingest calls.jsonl.gz --out "local$i")")
  ingest_azurite+=("$(timed "$bin" ingest calls.jsonl.gz --out "az://bench$i/lake")")
done
report_local=() report_azurite=()
for _ in $(seq "$runs"); do
  report_local+=("$(timed "$bin" report --month 2026-10 --out local1)")
  report_azurite+=("$(timed "$bin" report --month 2026-10 --out az://bench1/lake)")
done
for what in ingest report; do
  local_name="${what}_local[@]" azurite_name="${what}_azurite[@]"
  l=$(printf '%s\n' "${!local_name}" | median)
  a=$(printf '%s\n' "${!azurite_name}" | median)
  echo "$what local   $(printf '%s\n' "${!local_name}" | sort -n | tr '\n' ' ')(median $l s)"
  echo "$what azurite $(printf '%s\n' "${!azurite_name}" | sort -n | tr '\n' ' ')(median $a s)"
  awk -v l="$l" -v a="$a" -v w="$what" 'BEGIN {printf "%s: Azurite at %+.0f %% of local\n", w, (a / l - 1) * 100}'
done
