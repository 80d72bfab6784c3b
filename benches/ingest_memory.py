"""Peak memory (maximum RSS) of `tokentally ingest` on adversarial inputs.

Usage: ingest_memory.py BROKER TOKENTALLY [TOKENTALLY ...]

Each case is produced once to its own one-partition topic (or written to a
file); every binary given then ingests it, `until-caught-up`, with a fresh
consumer group into a fresh directory, under `/usr/bin/time -v`. Prints one
line per case and binary: the maximum resident set size and what the run
wrote. Several binaries compare builds (an older commit against this one).

The cases (benches/README.md, "Ingest memory"):
- gzip-bomb: one 0.7 MB gzip event that inflates to 700 MB (a gateway record
  whose prompt is 700 MB of text), as in issue 15;
- llm-only: 200 MB of APIM LLM-log message rows, no call ever completed;
- parts-only: 200 MB of first parts of split records never completed;
- huge-line: a file of one 512 MB line, then one good record;
- sample: 20 000 ordinary calls (the sample generator), for reference.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

MB = 1 << 20


def gzip_bomb() -> list[bytes]:
    head = b'{"schema":1,"request_id":"bomb","request_time":"2026-10-01T00:00:00Z","request":{"messages":[{"role":"user","content":"'
    tail = b'"}]},"response":{"status":200}}'
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [z.compress(head)]
    chunk = b"a " * (MB // 2)
    for _ in range(700):
        out.append(z.compress(chunk))
    out.append(z.compress(tail))
    out.append(z.flush())
    return [b"".join(out)]


def llm_only() -> list[bytes]:
    events = []
    text = "word " * 6000
    for e in range(2000):
        records = [
            {"category": "GatewayLlmLogs", "time": "2026-10-01T00:00:00Z",
             "properties": {"correlationId": f"call-{e}-{i}", "sequenceNumber": 1, "deploymentName": "",
                            "promptTokens": 0, "requestMessages": [{"role": "user", "content": text}]}}
            for i in range(3)
        ]
        events.append(json.dumps({"records": records}).encode())
    return events


def parts_only() -> list[bytes]:
    data = "A" * (200 * 1024)
    return [
        json.dumps({"tokentally_part": {"record": f"rec-{i}", "index": 0, "count": 2}, "data": data}).encode()
        for i in range(1000)
    ]


def sample_calls(binary: str, workdir: str) -> list[bytes]:
    path = os.path.join(workdir, "sample.jsonl")
    subprocess.run([binary, "sample", "--out", path, "--calls", "20000", "--seed", "15"], check=True,
                   stdout=subprocess.DEVNULL)
    with open(path, "rb") as f:
        return [line.strip() for line in f if line.strip()]


def produce(brokers: str, topic: str, events: list[bytes]) -> None:
    admin = AdminClient({"bootstrap.servers": brokers})
    for future in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": brokers, "linger.ms": 0, "batch.num.messages": 1,
                         "message.max.bytes": 8 * MB})
    for i, event in enumerate(events):
        producer.produce(topic, value=event, key=str(i).encode())
        if i % 100 == 0:
            producer.poll(0)
    if producer.flush(120):
        raise SystemExit(f"{topic}: events undelivered")


def max_rss(binary: str, config: str, workdir: str) -> tuple[int, dict]:
    run = subprocess.run(["/usr/bin/time", "-v", binary, "ingest", "--config", config, "--json"],
                         cwd=workdir, capture_output=True, text=True)
    kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    if run.returncode != 0:
        error = [l for l in run.stderr.splitlines() if l.startswith("Error") or "error" in l.lower()][:3]
        return kib, {"failed": f"exit {run.returncode}: {' '.join(error)[:300]}"}
    return kib, json.loads(run.stdout)


def main() -> int:
    brokers, *binaries = sys.argv[1:]
    stamp = f"{os.getpid()}-{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="tt-mem-") as tmp:
        cases = []
        for name, events in [("gzip-bomb", gzip_bomb()), ("llm-only", llm_only()), ("parts-only", parts_only()),
                             ("sample", sample_calls(binaries[-1], tmp))]:
            topic = f"mem-{name}-{stamp}"
            produce(brokers, topic, events)
            size = sum(len(e) for e in events)
            cases.append((name, f"{len(events)} events, {size / MB:.1f} MiB",
                          f'[kafka]\nbrokers = "{brokers}"\ntopics = ["{topic}"]\ngroup_id = "GROUP"\n'
                          f'connect_timeout_secs = 600\n[kafka.options]\n"fetch.wait.max.ms" = "10"\n'
                          f'[output]\ndir = "out"\n'))
        line = os.path.join(tmp, "huge-line.jsonl")
        with open(line, "wb") as f:
            for _ in range(512):
                f.write(b"x" * MB)
            f.write(b'\n{"schema":1,"request_id":"ok","request_time":"2026-10-01T00:00:00Z","response":{"status":500}}\n')
        cases.append(("huge-line", "a file, one 512 MiB line", f'[input]\nfiles = ["{line}"]\n[output]\ndir = "out"\n'))

        for name, what, config in cases:
            for n, binary in enumerate(binaries):
                workdir = os.path.join(tmp, f"{name}-{n}")
                os.makedirs(workdir)
                path = os.path.join(workdir, "ingest.toml")
                with open(path, "w") as f:
                    f.write(config.replace("GROUP", f"g-{n}-{stamp}"))
                started = time.monotonic()
                kib, summary = max_rss(binary, path, workdir)
                outcome = summary.get("failed") or f"rows {summary['rows_written']}, quarantined {summary['quarantined']}"
                print(f"{name:10} | {what:28} | {binary} | max RSS {kib / 1024:7.1f} MiB | "
                      f"{time.monotonic() - started:6.1f} s | {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
