"""The controls that have evidence in the benchmark's ledger, run by DuckDB over the very
Parquet segment files the ledger's manifests commit, next to keytrail (DataFusion) running
the same SQL. Prints one Markdown table row; exits non-zero if the engines disagree.

    python3 bench/duckdb_controls.py KEYTRAIL_BIN LEDGER PACK_DIR ROWS

The SQL is the pack's `queries/` (keytrail's, parameters bound) and the views of
`queries/views/`, with the few dialect differences translated (date_bin -> time_bucket,
UTC timestamp literals). Both engines count findings per status, so formatting does not
enter the comparison; the counts must match.
"""
import glob
import json
import os
import re
import subprocess
import sys
import time

import duckdb

CONTROLS = ["cross-env-secret-read", "auth-failure-burst"]


def segment_files(ledger, stream):
    files = []
    for manifest in sorted(glob.glob(os.path.join(ledger, "_manifests", stream, "*.json"))):
        files += [os.path.join(ledger, s["path"]) for s in json.load(open(manifest))["segments"]]
    return files


def counted(sql):
    return f"SELECT status, count(*) AS n FROM ({sql}) AS findings GROUP BY status ORDER BY status"


def for_duckdb(sql):
    sql = re.sub(r"TIMESTAMP '([0-9T:-]+)Z'", r"TIMESTAMPTZ '\1+00:00'", sql)
    return sql.replace("date_bin(", "time_bucket(")


def main():
    keytrail, ledger, pack, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    queries = {c: open(os.path.join(pack, "queries", f"{c}.sql")).read() for c in CONTROLS}

    started = time.monotonic()
    keytrail_counts = {}
    for control, sql in queries.items():
        out = subprocess.run([keytrail, "--ledger", ledger, "sql", "--format", "csv", counted(sql)], check=True, capture_output=True, text=True).stdout
        keytrail_counts[control] = {line.split(",")[0]: int(line.split(",")[1]) for line in out.strip().splitlines()[1:]}
    keytrail_secs = time.monotonic() - started

    started = time.monotonic()
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    files = segment_files(ledger, "akeyless_audit")
    db.execute(f"CREATE VIEW akeyless_audit AS SELECT * FROM read_parquet({files!r})")
    db.execute("CREATE VIEW akeyless_events AS " + open(os.path.join(root, "queries/views/akeyless_events.sql")).read())
    # auth_failures without its Kubernetes branch: this ledger has no aks_audit stream.
    view = open(os.path.join(root, "queries/views/auth_failures.sql")).read().split("UNION ALL")[0]
    db.execute("CREATE VIEW auth_failures AS " + view)
    duckdb_counts = {}
    for control, sql in queries.items():
        duckdb_counts[control] = dict(db.execute(counted(for_duckdb(sql))).fetchall())
    duckdb_secs = time.monotonic() - started

    if keytrail_counts != duckdb_counts:
        sys.exit(f"the engines disagree: keytrail {keytrail_counts} duckdb {duckdb_counts}")
    findings = sum(sum(c.values()) for c in keytrail_counts.values())
    print(f"| {rows:,} | {findings:,} | {keytrail_secs:.1f} | {duckdb_secs:.1f} | {keytrail_secs / max(duckdb_secs, 0.01):.1f}x | {duckdb.__version__} |")


if __name__ == "__main__":
    main()
