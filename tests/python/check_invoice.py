"""Independent check of the invoice tie-out, recomputed from the outputs.

Reads the Cost Management (FOCUS) export with DuckDB (CSV) or pyarrow
(Parquet), the deployment table with Python's csv module, and the chargeback
and its detail with pyarrow, then asserts that
  * per Azure resource of the deployment table, the export's BilledCost for the
    month, rounded half to even to 6 decimals, is exactly what the detail's
    x_InvoiceCost adds up to on that resource;
  * each detail row's share is its list-price BilledCost's proportion of the
    resource's, floored to the micro-unit, the leftover micro-units to the
    largest remainders (ties to the earlier row);
  * a resource invoiced with no priced usage is one `(unallocated)` row;
    usage on a resource the export does not list has no invoice share;
  * every chargeback line's invoice_cost is the sum of its detail rows'.
Exit status 0 when all hold; prints what differs otherwise.

usage: check_invoice.py OUT_DIR YYYY-MM INVOICE DEPLOYMENTS_CSV
"""

import csv
import decimal
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

MICRO = decimal.Decimal("0.000001")
UNALLOCATED = "(unallocated)"


def fail(msg):
    print(f"check_invoice: {msg}", file=sys.stderr)
    sys.exit(1)


def dec(value):
    return decimal.Decimal(str(value))


def export_rows(path: Path):
    cols = ["BilledCost", "BillingCurrency", "ChargePeriodStart", "ResourceId"]
    if path.suffix.lower() == ".parquet":
        table = pq.read_table(path, columns=cols).to_pylist()
        return [(dec(r["BilledCost"]), r["BillingCurrency"], str(r["ChargePeriodStart"])[:10], r["ResourceId"])
                for r in table]
    con = duckdb.connect()
    query = f"SELECT {', '.join(cols)} FROM read_csv('{path}', all_varchar = true, header = true)"
    return [(dec(c), cur, start[:10], rid) for c, cur, start, rid in con.execute(query).fetchall()]


def shares(total: decimal.Decimal, weights):
    """Largest remainder over micro-units, ties to the earlier weight."""
    micros = int((total / MICRO).to_integral_value())
    whole = sum(weights)
    floors = [micros * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(micros * weights[i] % whole), i))
    for i in remainders[: micros - sum(floors)]:
        floors[i] += 1
    return [decimal.Decimal(f) * MICRO for f in floors]


def main(out_dir: Path, month: str, invoice: Path, deployments: Path):
    resource_of = {}
    known = {}
    with open(deployments, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("resource"):
                resource_of[row["deployment"].lower()] = row["resource"].lower()
                known[row["resource"].lower()] = row["resource"]
    invoiced = {}
    currency = {}
    for cost, cur, day, rid in export_rows(invoice):
        if not day.startswith(month) or rid.lower() not in known:
            continue
        invoiced[rid.lower()] = invoiced.get(rid.lower(), decimal.Decimal(0)) + cost
        currency[rid.lower()] = cur
    if not invoiced:
        fail(f"the export has no {month} cost for any resource of {deployments}")

    detail = pq.read_table(out_dir / f"chargeback-detail-{month}.parquet").to_pylist()

    def resource(row):
        if row["x_AppId"] == UNALLOCATED:
            return next((k for k in known if k.rsplit("/", 1)[-1] == row["ResourceName"].lower()), None)
        return resource_of.get(row["ResourceName"].lower())

    allocated_total = decimal.Decimal(0)
    for key, amount in sorted(invoiced.items()):
        total = amount.quantize(MICRO, rounding=decimal.ROUND_HALF_EVEN)
        rows = [r for r in detail if resource(r) == key]
        priced = [r for r in rows if r["BilledCost"] is not None and r["x_AppId"] != UNALLOCATED]
        weights = [int(dec(r["BilledCost"]) / MICRO) for r in priced]
        if sum(weights) == 0:
            unallocated = [r for r in rows if r["x_AppId"] == UNALLOCATED]
            if len(unallocated) != 1 or dec(unallocated[0]["x_InvoiceCost"]) != total:
                fail(f"{known[key]}: invoiced {total} with no usage, detail {unallocated}")
        else:
            want = shares(total, weights)
            got = [dec(r["x_InvoiceCost"]) if r["x_InvoiceCost"] is not None else None for r in priced]
            if got != want:
                fail(f"{known[key]}: shares {got} differ from {want}")
            if any(r["x_InvoiceCurrency"] != currency[key] for r in priced):
                fail(f"{known[key]}: invoice currency is not {currency[key]}")
        allocated_total += total
    for r in detail:
        key = resource(r)
        if key not in invoiced and r["x_InvoiceCost"] is not None:
            fail(f"detail row {r['x_AppId']}/{r['ResourceName']} has an invoice share but its resource is not invoiced")
    detail_total = sum((dec(r["x_InvoiceCost"]) for r in detail if r["x_InvoiceCost"] is not None), decimal.Decimal(0))
    if detail_total != allocated_total:
        fail(f"detail invoice shares add up to {detail_total}, the export to {allocated_total}")

    per_line = {}
    for r in detail:
        if r["x_InvoiceCost"] is not None:
            k = (r["x_AppId"], r["x_AppIdSource"], r["ResourceName"], r["x_DeploymentType"] or "", r["x_Model"])
            per_line[k] = per_line.get(k, decimal.Decimal(0)) + dec(r["x_InvoiceCost"])
    lines = pq.read_table(out_dir / f"chargeback-{month}.parquet").to_pylist()
    for line in lines:
        k = (line["app_id"], line["app_id_source"], line["deployment"], line["deployment_type"] or "", line["model"])
        got = dec(line["invoice_cost"]) if line["invoice_cost"] is not None else None
        if got != per_line.get(k):
            fail(f"line {k}: invoice_cost {got}, detail rows add up to {per_line.get(k)}")
    print(
        f"check_invoice: ok ({len(invoiced)} invoiced resources, {allocated_total} allocated, "
        f"{sum(1 for r in detail if r['x_InvoiceCost'] is not None)} detail rows with a share)"
    )


if __name__ == "__main__":
    if len(sys.argv) != 5:
        fail("usage: check_invoice.py OUT_DIR YYYY-MM INVOICE DEPLOYMENTS_CSV")
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
