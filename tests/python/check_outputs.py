"""Independent check of tokentally's outputs with readers tokentally does not use.

Reads the usage dataset with DuckDB (Hive partitions) and pyarrow, the chargeback
CSV with Python's csv module and its Parquet with pyarrow, and asserts that
  * both readers see the same usage rows, with the documented columns and types;
  * chargeback CSV and Parquet hold the same lines;
  * per-app totals in the chargeback equal the sums over the month's usage rows,
    deduplicated by event_id with the documented rule (WINNER_ORDER);
  * the FOCUS detail CSV and Parquet hold the same rows, money as Decimal128(18, 6),
    and per app their BilledCost and ConsumedQuantity add up to the chargeback's
    cost and input + output tokens;
  * per app and token class, the detail's ConsumedQuantity equals the class
    tokens computed here from the usage rows (the partition of docs/formats.md
    "Token classes", written again in SQL), and every line's cost is the sum of
    its class costs and provisioned share;
  * the unpriced file lists exactly the chargeback's unpriced tokens;
  * no CSV cell starts a spreadsheet formula: text that would is escaped with a
    leading quote, and Parquet holds the exact value;
  * the HTML statement (when written) states the chargeback's total per currency,
    links a section per cost center, and loads nothing (no script, no URL).
Exit status 0 when all hold; prints what differs otherwise.

usage: check_outputs.py OUT_DIR YYYY-MM
"""

import csv
import datetime
import decimal
import html.parser
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

TOKENS = [
    "prompt_tokens", "cached_prompt_tokens", "audio_prompt_tokens", "cached_audio_prompt_tokens",
    "image_prompt_tokens", "cached_image_prompt_tokens", "completion_tokens", "reasoning_tokens",
    "audio_completion_tokens", "image_completion_tokens", "accepted_prediction_tokens",
    "rejected_prediction_tokens", "total_tokens",
]
# Token columns files of usage schema 1 and 2 lack: read as 0.
ADDED_IN_V3 = set(TOKENS[2:6] + TOKENS[8:12])

# Which copy of a call counts (docs/formats.md, "Usage dataset"), written here from the
# documented rule rather than taken from tokentally: reported usage over an
# estimate over none, then a token claim over a subscription over an API-key
# fingerprint over nothing, then the first by source, partition (files, with
# none, last) and offset.
WINNER_ORDER = (
    "CASE usage_source WHEN 'reported' THEN 0 WHEN 'estimated' THEN 1 WHEN 'none' THEN 2 ELSE 3 END, "
    "CASE app_id_source WHEN 'claim' THEN 0 WHEN 'subscription' THEN 1 WHEN 'api_key' THEN 2 "
    "WHEN 'none' THEN 3 ELSE 4 END, "
    "source, source_partition ASC NULLS LAST, source_offset"
)

# Each billed class as SQL over the usage columns, written independently of the
# Rust partition (docs/formats.md "Token classes").
CLASSES = {
    "input": "prompt_tokens - cached_prompt_tokens - (audio_prompt_tokens - cached_audio_prompt_tokens)"
             " - (image_prompt_tokens - cached_image_prompt_tokens)",
    "cached_input": "cached_prompt_tokens - cached_audio_prompt_tokens - cached_image_prompt_tokens",
    "output": "completion_tokens - audio_completion_tokens - image_completion_tokens",
    "audio_input": "audio_prompt_tokens - cached_audio_prompt_tokens",
    "cached_audio_input": "cached_audio_prompt_tokens",
    "audio_output": "audio_completion_tokens",
    "image_input": "image_prompt_tokens - cached_image_prompt_tokens",
    "cached_image_input": "cached_image_prompt_tokens",
    "image_output": "image_completion_tokens",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def fail(msg):
    print(f"check_outputs: {msg}", file=sys.stderr)
    sys.exit(1)


def same_rows(name, csv_rows, parquet_rows):
    """CSV text and Parquet values agree cell by cell (decimals exactly)."""
    if len(csv_rows) != len(parquet_rows):
        fail(f"{name}: CSV has {len(csv_rows)} rows, Parquet {len(parquet_rows)}")
    for c, p in zip(csv_rows, parquet_rows):
        for key, value in c.items():
            pv = p[key]
            if value.startswith(FORMULA_STARTS):
                fail(f"{name}: CSV cell {key} = {value!r} would run as a formula")
            if isinstance(pv, str) and pv.startswith(FORMULA_STARTS):
                # Escaped in CSV (OWASP): a leading quote, the exact value in Parquet.
                same = value == "'" + pv
            elif isinstance(pv, decimal.Decimal):
                same = value != "" and decimal.Decimal(value) == pv
            elif pv is None:
                same = value == ""
            elif isinstance(pv, bool):
                same = value == str(pv).lower()
            elif isinstance(pv, datetime.datetime):
                same = value == pv.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            else:
                same = value == str(pv)
            if not same:
                fail(f"{name}: CSV and Parquet differ in {key}: {value!r} vs {pv!r}")


def check_detail(out_dir: Path, month: str, lines):
    """The detail file rolls up to the chargeback, per app, to the micro-unit."""
    with open(out_dir / f"chargeback-detail-{month}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    table = pq.read_table(out_dir / f"chargeback-detail-{month}.parquet")
    for col in ["BilledCost", "EffectiveCost"]:
        if str(table.schema.field(col).type) != "decimal128(18, 6)":
            fail(f"detail {col} has type {table.schema.field(col).type}")
    same_rows("detail", rows, table.to_pylist())
    for row in rows:
        if row["BilledCost"] and len(row["BilledCost"].split(".")[1]) != 6:
            fail(f"detail BilledCost {row['BilledCost']!r} is not fixed at 6 decimals")
        if not row["ChargePeriodStart"].startswith(f"{month}-"):
            fail(f"detail ChargePeriodStart {row['ChargePeriodStart']} is outside {month}")
    detail, summary = {}, {}
    for row in rows:
        acc = detail.setdefault(unescape(row["x_AppId"]), [decimal.Decimal(0), 0])
        acc[0] += decimal.Decimal(row["BilledCost"] or "0")
        acc[1] += int(row["ConsumedQuantity"])
    for line in lines:
        acc = summary.setdefault(unescape(line["app_id"]), [decimal.Decimal(0), 0])
        acc[0] += decimal.Decimal(line["cost"] or "0")
        acc[1] += int(line["prompt_tokens"]) + int(line["completion_tokens"])
    # Apps whose lines have no tokens and no cost (failed calls only) have no
    # detail row; an invoice's (unallocated) row has neither either
    # (check_invoice.py checks its invoice share).
    summary = {k: v for k, v in summary.items() if v != [0, 0]}
    detail = {k: v for k, v in detail.items() if v != [0, 0]}
    if detail != summary:
        for app in sorted(set(detail) | set(summary)):
            if detail.get(app) != summary.get(app):
                print(f"  {app}: detail {detail.get(app)} chargeback {summary.get(app)}", file=sys.stderr)
        fail("per-app detail sums differ from the chargeback")
    for line in lines:
        if line["cost"]:
            parts = [line[f"{c}_cost"] for c in CLASSES] + [line["provisioned_cost"]]
            total = sum(decimal.Decimal(p) for p in parts if p)
            if total != decimal.Decimal(line["cost"]):
                fail(f"line {line['app_id']}/{line['deployment']}/{line['model']}: cost {line['cost']} "
                     f"is not the sum of its class costs ({total})")
    with open(out_dir / f"unpriced-{month}.csv", newline="") as f:
        unpriced_rows = list(csv.DictReader(f))
    for row in unpriced_rows:
        for key, value in row.items():
            if value.startswith(FORMULA_STARTS):
                fail(f"unpriced: CSV cell {key} = {value!r} would run as a formula")
    unpriced = sum(int(r["tokens"]) for r in unpriced_rows)
    expected = sum(int(line["unpriced_tokens"]) for line in lines)
    if unpriced != expected:
        fail(f"unpriced file lists {unpriced} tokens, the chargeback {expected}")
    return len(rows), rows


def unescape(value: str) -> str:
    """The exact text of a CSV cell (a formula-looking text cell has a leading quote)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def check_classes(detail_rows, expected):
    """Per app and class, the detail's tokens equal the partition of the usage rows."""
    got = {}
    for row in detail_rows:
        if row["x_TokenClass"]:
            key = (unescape(row["x_AppId"]), row["x_TokenClass"])
            got[key] = got.get(key, 0) + int(row["ConsumedQuantity"])
    expected = {k: v for k, v in expected.items() if v != 0}
    if got != expected:
        for key in sorted(set(got) | set(expected)):
            if got.get(key) != expected.get(key):
                print(f"  {key}: detail {got.get(key)} usage {expected.get(key)}", file=sys.stderr)
        fail("per-app, per-class detail tokens differ from the usage rows")
    for (app, cls), tokens in expected.items():
        if tokens < 0:
            fail(f"{app}: class {cls} has negative tokens {tokens}")
    return sorted({cls for _, cls in got})


class StatementParser(html.parser.HTMLParser):
    """Collects what the statement check needs: totals, sections, links, and
    anything that would load a resource."""

    def __init__(self):
        super().__init__()
        self.totals = {}
        self.ids = set()
        self.links = set()
        self.loads = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-total" in a:
            self.totals[a.get("data-currency")] = decimal.Decimal(a["data-total"])
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href", "").startswith("#"):
            self.links.add(a["href"][1:])
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.loads.append(tag)
        for name, value in attrs:
            if value and ("://" in value or value.startswith("//")):
                self.loads.append(f"{tag} {name}={value}")


def check_statement(out_dir: Path, month: str, lines):
    path = out_dir / f"statement-{month}.html"
    if not path.exists():
        return "no statement"
    parser = StatementParser()
    parser.feed(path.read_text(encoding="utf-8"))
    want = {}
    for line in lines:
        if line["cost"] and line["currency"]:
            cur = unescape(line["currency"])
            want[cur] = want.get(cur, decimal.Decimal(0)) + decimal.Decimal(line["cost"])
    if parser.totals != want:
        fail(f"statement totals {parser.totals} differ from the chargeback's {want}")
    centers = {unescape(line["cost_center"]) for line in lines}
    sections = {i for i in parser.ids if i.startswith("cc-")}
    if len(sections) != len(centers) or not sections <= parser.links:
        fail(f"statement sections {sorted(sections)} for cost centers {sorted(centers)}")
    if parser.loads:
        fail(f"statement loads external resources: {parser.loads}")
    return f"statement totals {', '.join(f'{v} {k}' for k, v in sorted(want.items()))}"


def main(out_dir: Path, month: str):
    usage_glob = str(out_dir / "usage" / "**" / "*.parquet")
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW usage_files AS SELECT * FROM read_parquet('{usage_glob}', hive_partitioning = true, "
        "union_by_name = true)"
    )
    names = {r[0] for r in con.execute("DESCRIBE usage_files").fetchall()}
    # Files of usage schema 1 and 2 lack the schema-3 columns: no such tokens.
    present = sorted(ADDED_IN_V3 & names)
    absent = sorted(ADDED_IN_V3 - names)
    replace = f" REPLACE ({', '.join(f'coalesce({c}, 0) AS {c}' for c in present)})" if present else ""
    added = "".join(f", 0::BIGINT AS {c}" for c in absent)
    con.execute(f"CREATE VIEW usage AS SELECT *{replace}{added} FROM usage_files")
    n_duck = con.execute("SELECT count(*) FROM usage").fetchone()[0]
    dataset = ds.dataset(out_dir / "usage", format="parquet", partitioning="hive")
    unified = pa.unify_schemas([f.physical_schema for f in dataset.get_fragments()] + [dataset.schema])
    arrow_table = ds.dataset(out_dir / "usage", format="parquet", partitioning="hive", schema=unified).to_table()
    if arrow_table.num_rows != n_duck or n_duck == 0:
        fail(f"duckdb sees {n_duck} usage rows, pyarrow {arrow_table.num_rows}")
    schema = arrow_table.schema
    for col in ["event_id", "request_time", "app_id", "app_id_source", "deployment", "model", "usage_source",
                "source", "source_offset", "date"] + TOKENS:
        if col not in schema.names:
            fail(f"usage dataset lacks column {col}")
    if str(schema.field("request_time").type) != "timestamp[us, tz=UTC]":
        fail(f"request_time has type {schema.field('request_time').type}")
    bad_dates = con.execute(
        "SELECT count(*) FROM usage WHERE strftime(request_time AT TIME ZONE 'UTC', '%Y-%m-%d') <> CAST(date AS VARCHAR)"
    ).fetchone()[0]
    if bad_dates:
        fail(f"{bad_dates} rows sit in the wrong date partition")

    year, mon = map(int, month.split("-"))
    end = f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}-01"
    sums = ", ".join(f"sum({c})" for c in TOKENS)
    con.execute(
        f"""CREATE VIEW month_calls AS SELECT * FROM usage
              WHERE request_time >= TIMESTAMPTZ '{month}-01 00:00:00+00'
                AND request_time <  TIMESTAMPTZ '{end} 00:00:00+00'
              QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY {WINNER_ORDER}) = 1"""
    )
    expected = {
        row[0]: (row[1],) + tuple(row[2:])
        for row in con.execute(f"SELECT app_id, count(*), {sums} FROM month_calls GROUP BY app_id").fetchall()
    }
    class_sums = ", ".join(f"sum({expr})" for expr in CLASSES.values())
    expected_classes = {}
    for row in con.execute(f"SELECT app_id, {class_sums} FROM month_calls GROUP BY app_id").fetchall():
        for cls, tokens in zip(CLASSES, row[1:]):
            expected_classes[(row[0], cls)] = int(tokens)
    if not expected:
        fail(f"no usage rows in {month}")

    csv_path = out_dir / f"chargeback-{month}.csv"
    with open(csv_path, newline="") as f:
        lines = list(csv.DictReader(f))
    parquet_lines = pq.read_table(out_dir / f"chargeback-{month}.parquet").to_pylist()
    same_rows("chargeback", lines, parquet_lines)
    detail_count, detail_rows = check_detail(out_dir, month, lines)
    classes = check_classes(detail_rows, expected_classes)
    statement = check_statement(out_dir, month, lines)

    got = {}
    for line in lines:
        acc = got.setdefault(unescape(line["app_id"]), [0] * (1 + len(TOKENS)))
        acc[0] += int(line["calls"])
        for i, c in enumerate(TOKENS):
            acc[1 + i] += int(line[c])
    # Idle provisioned capacity is billed to an app with no calls and no tokens.
    got = {k: tuple(v) for k, v in got.items() if k in expected or any(v)}
    if got != expected:
        for app in sorted(set(got) | set(expected)):
            if got.get(app) != expected.get(app):
                print(f"  {app}: chargeback {got.get(app)} usage {expected.get(app)}", file=sys.stderr)
        fail("per-app totals in the chargeback differ from the usage rows")
    print(
        f"check_outputs: ok ({n_duck} usage rows, {len(lines)} chargeback lines, "
        f"{detail_count} detail rows, {len(got)} apps, classes {', '.join(classes)}; {statement})"
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: check_outputs.py OUT_DIR YYYY-MM")
    main(Path(sys.argv[1]), sys.argv[2])
