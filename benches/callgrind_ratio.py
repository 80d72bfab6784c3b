"""The kafka bench's ratio in instructions, from callgrind's per-thread profiles.

Usage: callgrind_ratio.py PREFIX   (callgrind run with --separate-threads=yes
--callgrind-out-file=PREFIX over the bench's `consume` stage)

Instructions do not depend on what else the machine runs, so this figure is the
same on a quiet and a busy machine. It counts work, not time: cache misses, page
faults and the kernel are not in it (see benches/README.md for both figures).

parse only      = instructions of `parse_only_pass` (its two passes)
broker->Parquet = instructions of `ingest_pass` (its two runs) on the main thread
                  + every other thread of the process (librdkafka's)
"""

import glob
import json
import re
import subprocess
import sys


def inclusive(main_file: str, function: str) -> int:
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", main_file],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+) \(.*:kafka::" + function + r" \[", line)
        if m:
            return int(m[1].replace(",", ""))
    raise SystemExit(f"{function} not found in {main_file}: was the bench built with debug info?")


def total(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")


def main() -> None:
    prefix = sys.argv[1]
    files = sorted(glob.glob(prefix + "-*"))
    if not files:
        raise SystemExit(f"no callgrind files {prefix}-*")
    main_file, others = files[0], files[1:]
    parse = inclusive(main_file, "parse_only_pass")
    ingest_main = inclusive(main_file, "ingest_pass")
    librdkafka = sum(total(f) for f in others)
    ingest = ingest_main + librdkafka
    print(json.dumps({
        "parse_only_instructions": parse,
        "broker_to_parquet_instructions": ingest,
        "of_which_librdkafka_threads": librdkafka,
        "instruction_ratio": round(parse / ingest, 3),
    }))


if __name__ == "__main__":
    main()
