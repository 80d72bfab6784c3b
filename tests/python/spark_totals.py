"""Apache Spark (pyspark, local mode) over a usage dataset written by tokentally:
reads the Hive-partitioned Parquet folder as Spark users do, deduplicates the
month's calls by event_id and prints per-app calls and total_tokens as JSON
({"app": [calls, total_tokens]}), for the test to compare with the chargeback.

usage: spark_totals.py USAGE_DIR YYYY-MM
"""

import json
import sys

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F


def main(usage_dir, month):
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("tokentally-spark-check")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    usage = spark.read.parquet(usage_dir)
    if "date" not in usage.columns:
        sys.exit("Spark found no `date` partition column")
    # Which copy of a call counts (docs/formats.md, "Usage dataset"), stated here
    # from the documented rule: reported over estimated over none, claim over
    # subscription over API key over none, then source, partition (none last), offset.
    usage_rank = (
        F.when(F.col("usage_source") == "reported", 0)
        .when(F.col("usage_source") == "estimated", 1)
        .when(F.col("usage_source") == "none", 2)
        .otherwise(3)
    )
    identity_rank = (
        F.when(F.col("app_id_source") == "claim", 0)
        .when(F.col("app_id_source") == "subscription", 1)
        .when(F.col("app_id_source") == "api_key", 2)
        .when(F.col("app_id_source") == "none", 3)
        .otherwise(4)
    )
    first = Window.partitionBy("event_id").orderBy(
        usage_rank, identity_rank, "source", F.col("source_partition").asc_nulls_last(), "source_offset"
    )
    calls = (
        usage.where(F.date_format("request_time", "yyyy-MM") == month)
        .withColumn("copy", F.row_number().over(first))
        .where("copy = 1")
    )
    rows = calls.groupBy("app_id").agg(F.count("*").alias("calls"), F.sum("total_tokens").alias("tokens")).collect()
    print(json.dumps({r["app_id"]: [r["calls"], r["tokens"]] for r in rows}, sort_keys=True))
    spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
