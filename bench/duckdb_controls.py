"""Every SQL control of an evidence pack, run by DuckDB over the very Parquet segment files
the ledger's manifests commit, next to keytrail (DataFusion) running the same SQL. Prints
one Markdown table row; exits non-zero if the engines disagree.

    python3 bench/duckdb_controls.py KEYTRAIL_BIN LEDGER PACK_DIR ROWS

The SQL is the pack's `queries/` (keytrail's, parameters bound) and the views of
`queries/views/` in keytrail's order, with the few dialect differences translated
(date_bin -> time_bucket, first_value -> first, UTC timestamp literals). Streams without
segment files (known to keytrail, never collected) become empty DuckDB tables with the
columns keytrail reports for them, and `environment_rules` (the configuration's environments,
a view keytrail generates) a table of its rows. Both engines run one statement, the UNION ALL of every
control's findings counted per status, each engine in one session (one `keytrail sql`
process; one DuckDB connection), so formatting does not enter the comparison and neither
pays a start per control; the counts must match. DuckDB runs twice: with every view a
view, and with the views keytrail computes once per session (`akeyless_unforwarded`) made
temporary tables in the timed session, which is what keytrail does with them.
"""
import glob
import json
import os
import re
import subprocess
import sys
import time

import duckdb


def keytrail_views(root):
    """keytrail's views in its order (each may use the ones before) and those a session
    computes once and keeps: `VIEWS` and `CACHED_VIEWS` of crates/query/src/lib.rs, read
    from there so that this comparison cannot drift from what keytrail runs."""
    source = open(os.path.join(root, "crates", "query", "src", "lib.rs")).read()
    views = re.findall(r'\("(\w+)", include_str!\("\.\./\.\./\.\./queries/views/\1\.sql"\)\)', source)
    kept = re.findall(r'CachedViewSpec \{\s*view: "(\w+)"', source)
    if not views or not kept or not set(kept) <= set(views):
        sys.exit("duckdb_controls: VIEWS and CACHED_VIEWS not found in crates/query/src/lib.rs; update keytrail_views()")
    return views, kept


def segment_files(ledger, stream):
    files = []
    for manifest in sorted(glob.glob(os.path.join(ledger, "_manifests", stream, "*.json"))):
        files += [os.path.join(ledger, s["path"]) for s in json.load(open(manifest))["segments"]]
    return files


def all_counted(queries):
    """One statement: every control's findings counted per status."""
    return "\nUNION ALL\n".join(f"SELECT '{control}' AS control, status, count(*) AS n FROM ({sql}) AS findings GROUP BY status"
                                 for control, sql in queries.items())


def by_control(rows):
    counts = {}
    for control, status, n in rows:
        counts.setdefault(control, {})[status] = n
    return counts


def for_duckdb(sql):
    sql = re.sub(r"TIMESTAMP '([0-9T:.-]+)Z'", r"TIMESTAMPTZ '\1+00:00'", sql)
    # DuckDB's ordered aggregate `first(x ORDER BY …)` is DataFusion's `first_value`.
    return sql.replace("date_bin(", "time_bucket(").replace("first_value(", "first(")


def duckdb_type(arrow):
    """DuckDB's type for a column type as DataFusion's information_schema names it."""
    for prefix, name in [("Int64", "BIGINT"), ("UInt64", "UBIGINT"), ("Int32", "INTEGER"), ("Float64", "DOUBLE"),
                         ("Boolean", "BOOLEAN"), ("Utf8", "VARCHAR"), ("LargeUtf8", "VARCHAR"), ("Binary", "BLOB"),
                         ("FixedSizeBinary", "BLOB"), ("Timestamp", "TIMESTAMPTZ"), ("List", "VARCHAR[]")]:
        if arrow.startswith(prefix):
            return name
    sys.exit(f"bench: no DuckDB type for the column type {arrow}")


def keytrail_sql(keytrail, ledger, sql):
    out = subprocess.run([keytrail, "--ledger", ledger, "sql", "--format", "json", sql],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    keytrail, ledger, pack, records = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    views, kept_views = keytrail_views(root)
    controls = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(pack, "queries", "*.sql")))
    queries = {c: open(os.path.join(pack, "queries", f"{c}.sql")).read() for c in controls}

    started = time.monotonic()
    rows = keytrail_sql(keytrail, ledger, all_counted(queries))
    keytrail_secs = time.monotonic() - started
    keytrail_counts = by_control((r["control"], r["status"], r["n"]) for r in rows)

    # The tables keytrail serves and their columns, so that DuckDB sees the same ones (not timed).
    columns = keytrail_sql(keytrail, ledger, "SELECT table_name, column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = 'ledger' AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE') "
                           "ORDER BY table_name, ordinal_position")
    tables = {}
    for c in columns:
        tables.setdefault(c["table_name"], []).append((c["column_name"], c["data_type"]))
    # The configuration's environments, which keytrail serves as a view of its own.
    rules = keytrail_sql(keytrail, ledger, "SELECT environment, production, kind, pattern FROM environment_rules")

    def run_duckdb(kept):
        """DuckDB's time and counts; with `kept`, the views keytrail keeps per session are
        DuckDB temporary tables made in the timed session, as keytrail does."""
        started = time.monotonic()
        db = duckdb.connect()
        db.execute("SET TimeZone = 'UTC'")
        for table, cols in tables.items():
            files = segment_files(ledger, table)
            if files:
                db.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({files!r})")
            else:
                db.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {duckdb_type(t)}' for n, t in cols)})")
        db.execute("CREATE TABLE environment_rules (environment VARCHAR, production BOOLEAN, kind VARCHAR, pattern VARCHAR)")
        for r in rules:
            db.execute("INSERT INTO environment_rules VALUES (?, ?, ?, ?)", [r["environment"], r["production"], r["kind"], r["pattern"]])
        for view in views:
            kind = "TEMP TABLE" if kept and view in kept_views else "VIEW"
            db.execute(f"CREATE {kind} {view} AS " + for_duckdb(open(os.path.join(root, "queries", "views", f"{view}.sql")).read()))
        rows = db.execute(for_duckdb(all_counted(queries))).fetchall()
        return time.monotonic() - started, by_control(rows)

    findings = sum(sum(c.values()) for c in keytrail_counts.values())
    row = [f"{records:,}", str(len(controls)), f"{findings:,}", f"{keytrail_secs:.1f}"]
    for kept in (False, True):
        duckdb_secs, duckdb_counts = run_duckdb(kept)
        disagree = {c: (keytrail_counts.get(c), duckdb_counts.get(c)) for c in controls if keytrail_counts.get(c) != duckdb_counts.get(c)}
        if disagree:
            sys.exit(f"bench: the engines disagree (control: keytrail, DuckDB): {disagree}")
        row += [f"{duckdb_secs:.1f}", f"{keytrail_secs / max(duckdb_secs, 0.01):.1f}x"]
    print("| " + " | ".join(row + [duckdb.__version__]) + " |")


if __name__ == "__main__":
    main()
