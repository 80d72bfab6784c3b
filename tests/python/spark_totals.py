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
    first = Window.partitionBy("event_id").orderBy("source", "source_offset")
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
