#!/usr/bin/env bash
# Whole-pipeline benchmarks: ledger ingest and verify throughput and peak memory (next to
# single-core SHA-256 throughput measured in the same run), forwarded Akeyless files and
# the evidence pack of the month they make with matching Kubernetes and Azure data (and its
# control queries next to DuckDB on the same Parquet files), `keytrail collect` of AKSAudit
# rows from the loopback emulator over HTTPS, and `keytrail collect --source kubernetes` of
# generated ESO events from the emulated Kubernetes API, the control suite of that month
# in-process next to a Ballista cluster on this machine (a scheduler and two executors), and
# the pack of the same Akeyless month delivered through two sinks (the files and Log Analytics).
# Micro-benchmarks: `cargo bench -p keytrail-bench` (criterion).
#
#   bash bench/run.sh                 # 1M and 10M records, release build (~14 GB of disk)
#   bash bench/run.sh --records N     # one size
#   bash bench/run.sh --smoke         # 20k records with the dev build: checks the harness runs
#
# Prints a Markdown table (the one in BENCHMARKS.md). Figures come from this machine only;
# nothing here asserts a speed.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=(1000000 10000000)
collect_sizes=(1000000 10000000)
kubernetes_sizes=(100000 1000000)
profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) sizes=(20000); collect_sizes=(20000); kubernetes_sizes=(2000); profile=dev ;;
    --records) sizes=("$2"); collect_sizes=("$2"); kubernetes_sizes=($(($2 / 10))); shift ;;
    *) echo "usage: bench/run.sh [--smoke | --records N]" >&2; exit 2 ;;
  esac
  shift
done

# Whole-workspace builds: selecting packages with -p would unify features differently from
# `cargo test --workspace` and rebuild every dependency.
target=$(cargo metadata --format-version 1 --no-deps --locked | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if [ "$profile" = release ]; then
  cargo build --release --locked --workspace --bins >&2
  bin=$target/release
else
  cargo build --locked --workspace --bins >&2
  bin=$target/debug
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/keytrail-bench.XXXXXX")
emulator_pid=
cluster_pids=()
trap '[ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null; [ ${#cluster_pids[@]} -gt 0 ] && kill "${cluster_pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

# Runs a command under GNU time; sets $secs and $rss_mib. Writes still in the page cache
# (an input just generated, a ledger just deleted) are flushed first, so the disk's
# write-back does not compete with what is measured.
measure() {
  sync
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" > "$work/out" 2> "$work/err" || {
    echo "bench: '$*' failed:" >&2; cat "$work/err" >&2; exit 1; }
  read -r secs rss_kib < "$work/time"
  rss_mib=$((rss_kib / 1024))
}

# Starts the emulator with the given options, its files in OUT; waits for its keytrail.toml.
start_emulator() {
  local out=$1; shift
  "$bin/keytrail" emulator --out "$out" "$@" > "$work/emulator.out" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 600); do [ -s "$out/keytrail.toml" ] && break; sleep 0.1; done
  [ -s "$out/keytrail.toml" ] || { echo "bench: the emulator did not start:" >&2; cat "$work/emulator.out" >&2; exit 1; }
}
stop_emulator() {
  kill "$emulator_pid"; wait "$emulator_pid" 2>/dev/null || true; emulator_pid=
}

# Measures `collect` of one Log Analytics table (all N rows of it) from an emulator started
# with the given options, into LEDGER; TABLE_SETTINGS replace the configuration's `tables`.
collect_table() {
  local table=$1 stream=$2 n=$3 ledger=$4 table_settings=$5 emu=$6; shift 6
  start_emulator "$emu" "$@"
  sed -i "s/^tables = .*/$table_settings/" "$emu/keytrail.toml"
  measure "$bin/keytrail" --ledger "$ledger" collect --config "$emu/keytrail.toml" --source log-analytics --since 2026-11-01 --until 2026-12-01
  grep -qE "^$table +$stream +[0-9]+ +$n +$n " "$work/out" || { echo "bench: collect did not append $n $table rows" >&2; cat "$work/out" >&2; exit 1; }
  stop_emulator
}

# Stops the benchmark if a control of the pack in PACK said `error` (a query out of memory,
# say): the figure would be meaningless.
controls_ran() {
  python3 -c 'import json,sys; bad=[(c["control"]["id"], c["verdict"].get("detail")) for c in json.load(open(sys.argv[1]))["controls"] if c["verdict"]["status"]=="error"]; sys.exit(f"bench: controls failed: {bad}" if bad else 0)' "$1/controls.json"
}

# A Ballista scheduler and two executors (two tasks each) on loopback, on five ports from
# a base where all are free; sets $scheduler, or stops the benchmark with their logs.
start_cluster() {
  local port
  port=$(python3 -c '
import random, socket
for _ in range(100):
    base = random.randrange(20000, 60000, 10)
    try:
        for p in (base, base + 2, base + 3, base + 4, base + 5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))
        print(base)
        break
    except OSError:
        pass
')
  scheduler="df://127.0.0.1:$port"
  "$bin/keytrail" cluster scheduler --bind "127.0.0.1:$port" > "$work/scheduler.log" 2>&1 &
  cluster_pids=($!)
  for e in 1 2; do
    "$bin/keytrail" cluster executor --scheduler "$scheduler" --bind "127.0.0.1:$((port + 2 * e))" --grpc-port $((port + 2 * e + 1)) \
      --external-host 127.0.0.1 --concurrent-tasks 2 --memory-mb 2048 --work-dir "$work/executor-$e" > "$work/executor-$e.log" 2>&1 &
    cluster_pids+=($!)
  done
  for p in "$port" $((port + 2)) $((port + 4)); do
    for _ in $(seq 300); do (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
    (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
      echo "bench: the Ballista cluster did not start (port $p):" >&2; tail -n 20 "$work"/scheduler.log "$work"/executor-*.log >&2; exit 1; }
  done
}
# Peak RSS in MiB of the cluster's processes, summed (VmHWM), then stops them.
stop_cluster() {
  cluster_rss=$(for pid in "${cluster_pids[@]}"; do awk '/VmHWM/ {print $2}' "/proc/$pid/status"; done | awk '{s += $1} END {print int(s / 1024)}')
  kill "${cluster_pids[@]}"; wait "${cluster_pids[@]}" 2>/dev/null || true; cluster_pids=()
}

sha_bps=$("$bin/keytrail-bench" sha256 --mib 1024)
echo "| records | input MiB | ingest s | ingest records/s | ingest peak RSS MiB | ledger bytes/record | compression | verify s | verify raw MiB/s | 1-core SHA-256 MiB/s | verify / SHA-256 | verify peak RSS MiB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
  input="$work/input-$n.jsonl"
  ledger="$work/ledger-$n"
  "$bin/keytrail-bench" gen --records "$n" > "$input"
  input_bytes=$(stat -c %s "$input")

  measure "$bin/keytrail" --ledger "$ledger" ingest --stream bench_audit "$input"
  ingest_secs=$secs; ingest_rss=$rss_mib
  grep -q "$n records appended" "$work/out" || { echo "bench: ingest did not append $n records" >&2; cat "$work/out" >&2; exit 1; }

  measure "$bin/keytrail" --ledger "$ledger" verify --format json
  verify_secs=$secs; verify_rss=$rss_mib
  raw_bytes=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert all(not f["problems"] for s in r["streams"] for f in s["findings"]); print(r["raw_bytes"])' "$work/out")
  ledger_bytes=$(du -sb "$ledger" | cut -f1)

  python3 - "$n" "$input_bytes" "$ingest_secs" "$ingest_rss" "$ledger_bytes" "$verify_secs" "$raw_bytes" "$sha_bps" "$verify_rss" <<'PY'
import sys
n, inb, isec, irss, lb, vsec, raw, sha, vrss = sys.argv[1:]
n, inb, isec, lb, vsec, raw, sha = int(n), int(inb), float(isec), int(lb), float(vsec), int(raw), float(sha)
mib = 1 << 20
vr = raw / max(vsec, 0.01)
print(f"| {n:,} | {inb/mib:,.0f} | {isec:.1f} | {n/max(isec,0.01):,.0f} | {irss} | {lb/n:.0f} | {inb/lb:.1f}x | {vsec:.1f} | {vr/mib:,.0f} | {sha/mib:,.0f} | {vr/sha:.2f} | {vrss} |")
PY
  rm -rf "$input" "$ledger"
done

"$bin/keytrail" keygen --out "$work/signing.key" --name bench.keytrail > /dev/null
report_rows=()
duckdb_rows=()
ballista_rows=()
two_sinks_rows=()
# DuckDB, pinned, in a virtual environment: the yardstick for the control queries.
venv=$target/bench-venv
if ! "$venv/bin/python" -c "import duckdb" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
fi
echo
echo "| forwarded Akeyless records | files | ingest s | records/s | peak RSS MiB |"
echo "|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
  # The Gateway's layout, ten files: akeyless-log/2026/11/DD/akeyless-audit_2026-11-DDT00:00.log
  root="$work/forwarded-$n/akeyless-log"
  mkdir -p "$root"
  "$bin/keytrail-bench" gen --records "$n" > "$work/forwarded-$n.jsonl"
  split -n l/10 -d -a 2 "$work/forwarded-$n.jsonl" "$root/part-"
  rm "$work/forwarded-$n.jsonl"
  for part in "$root"/part-*; do
    day=$(printf %02d $((10#${part##*-} + 1)))
    mkdir -p "$root/2026/11/$day"
    mv "$part" "$root/2026/11/$day/akeyless-audit_2026-11-${day}T00:00.log"
  done
  measure "$bin/keytrail" --ledger "$work/forwarded-ledger-$n" ingest --format akeyless "$root"
  grep -q "$n records appended to akeyless_audit, 0 rejected" "$work/out" || { echo "bench: forwarded ingest did not append $n records" >&2; cat "$work/out" >&2; exit 1; }
  python3 -c 'import sys; n, s, r = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]; print(f"| {n:,} | 10 | {s:.1f} | {n/max(s,0.01):,.0f} | {r} |")' "$n" "$secs" "$rss_mib"
  rm -rf "$work/forwarded-$n"
  # The same month through a second sink, measured below: a copy of the files' ledger.
  cp -r "$work/forwarded-ledger-$n" "$work/two-sinks-ledger-$n"
  # The month's matching Kubernetes and Azure data into the same ledger (not timed; collect
  # has its own tables below): a tenth as many ESO events and AKS audit rows, the Akeyless
  # API snapshot and the sample month's other Log Analytics tables.
  k8s="$work/report-kubernetes-$n"
  "$bin/keytrail-bench" gen-kubernetes --events $((n / 10)) --out "$k8s"
  start_emulator "$work/report-emulator-$n" --synthetic-audit-rows $((n / 10)) --kubernetes "$k8s" --event-ttl-minutes 0
  "$bin/keytrail" --ledger "$work/forwarded-ledger-$n" collect --config "$work/report-emulator-$n/keytrail.toml" --since 2026-11-01 --until 2026-12-01 > "$work/out" 2>&1 || {
    echo "bench: collecting the report's Kubernetes and Azure data failed:" >&2; cat "$work/out" >&2; exit 1; }
  stop_emulator
  rm -rf "$k8s"
  # The evidence pack of that month: every control, evidence files, HTML, OSCAL, signing.
  measure "$bin/keytrail" --ledger "$work/forwarded-ledger-$n" report --period 2026-11 --out "$work/pack-$n" --key "$work/signing.key"
  pack="$work/pack-$n/keytrail-evidence-2026-11"
  [ -s "$pack/index.html" ] || { echo "bench: report wrote no index.html" >&2; cat "$work/err" >&2; exit 1; }
  controls_ran "$pack"
  report_rows+=("$(python3 -c 'import sys; n, s, r, h, p = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]); print(f"| {n:,} | {s:.1f} | {n/max(s,0.01):,.0f} | {r} | {h/1024:,.0f} | {p/(1<<20):,.1f} |")' \
    "$n" "$secs" "$rss_mib" "$(stat -c %s "$pack/index.html")" "$(stat -c %s "$work/pack-$n/keytrail-evidence-2026-11.tar.gz")")")
  # The same control SQL on the same Parquet files, keytrail (DataFusion) next to DuckDB.
  duckdb_rows+=("$("$venv/bin/python" bench/duckdb_controls.py "$bin/keytrail" "$work/forwarded-ledger-$n" "$pack" "$n")")
  # Every control (`evaluate`) in-process, then on a fresh Ballista cluster; the verdicts must match.
  measure "$bin/keytrail" --ledger "$work/forwarded-ledger-$n" evaluate --period 2026-11 --format json
  local_secs=$secs; local_rss=$rss_mib; cp "$work/out" "$work/evaluate-local.json"
  start_cluster
  measure "$bin/keytrail" --ledger "$work/forwarded-ledger-$n" evaluate --period 2026-11 --format json --engine ballista --scheduler "$scheduler"
  stop_cluster
  cmp -s "$work/out" "$work/evaluate-local.json" || {
    echo "bench: evaluate differs between the engines (control: local verdict, Ballista verdict):" >&2
    python3 -c 'import json,sys; a, b = (json.load(open(f))["controls"] for f in sys.argv[1:]); [print(" ", x["control"], {k: x["verdict"].get(k) for k in ("status", "counts", "detail")}, {k: y["verdict"].get(k) for k in ("status", "counts", "detail")}, file=sys.stderr) for x, y in zip(a, b) if x != y]' "$work/evaluate-local.json" "$work/out"
    exit 1; }
  ballista_rows+=("$(python3 -c 'import sys; n, ls, lr, bs, br, cr = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5], sys.argv[6]; print(f"| {n:,} | {ls:.1f} | {lr} | {bs:.1f} | {br} | {cr} | {bs/max(ls,0.01):.2f}x |")' \
    "$n" "$local_secs" "$local_rss" "$secs" "$rss_mib" "$cluster_rss")")
  rm -rf "$work"/executor-*
  rm -rf "$work/forwarded-ledger-$n" "$work/pack-$n"
  # Every record through both sinks: the generator's records collected again from the
  # emulator's AkeylessAudit_CL, then the pack of that month, whose Akeyless controls must
  # count each record once.
  two="$work/two-sinks-ledger-$n"
  collect_table AkeylessAudit_CL akeyless_audit "$n" "$two" 'tables = ["AkeylessAudit_CL"]' "$work/two-sinks-emulator-$n" --synthetic-akeyless-rows "$n"
  collect_secs=$secs; collect_rss=$rss_mib
  measure "$bin/keytrail" --ledger "$two" report --period 2026-11 --out "$work/two-sinks-pack-$n" --key "$work/signing.key"
  pack="$work/two-sinks-pack-$n/keytrail-evidence-2026-11"
  controls_ran "$pack"
  events=$("$bin/keytrail" --ledger "$two" sql "SELECT count(*) AS n FROM akeyless_events" --format csv | tail -n 1)
  [ "$events" = "$n" ] || { echo "bench: akeyless_events has $events rows for $n records" >&2; exit 1; }
  two_sinks_rows+=("$(python3 -c 'import sys; n, cs, cr, rs, rr = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]; print(f"| {n:,} | {cs:.1f} | {n/max(cs,0.01):,.0f} | {cr} | {rs:.1f} | {2*n/max(rs,0.01):,.0f} | {rr} |")' \
    "$n" "$collect_secs" "$collect_rss" "$secs" "$rss_mib")")
  rm -rf "$two" "$work/two-sinks-pack-$n"
done

echo
echo "| akeyless_audit rows (+ a tenth as many ESO events and AKS audit rows) | report s | akeyless rows/s | report peak RSS MiB | index.html KiB | pack .tar.gz MiB |"
echo "|---:|---:|---:|---:|---:|---:|"
for row in "${report_rows[@]}"; do
  echo "$row"
done

echo
echo "| akeyless_audit rows | controls | findings | keytrail s | DuckDB s (views) | keytrail / DuckDB | DuckDB s (copies kept) | keytrail / DuckDB | DuckDB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for row in "${duckdb_rows[@]}"; do
  echo "$row"
done

echo
echo "| akeyless_audit rows | evaluate local s | local peak RSS MiB | evaluate on Ballista s | client peak RSS MiB | cluster peak RSS MiB (3 processes) | Ballista / local |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for row in "${ballista_rows[@]}"; do
  echo "$row"
done

echo
echo "| records through both sinks | collect of the second s | rows/s | collect peak RSS MiB | report s | akeyless_audit rows/s | report peak RSS MiB |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for row in "${two_sinks_rows[@]}"; do
  echo "$row"
done

echo
echo "| AKSAudit rows | window minutes | rows per window | collect s | rows/s | collect peak RSS MiB |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in "${collect_sizes[@]}"; do
  # ~33k rows per window at every size, so peak memory shows what the window costs.
  window=$(( n >= 1000000 ? 1440000000 / n : 1440 ))
  collect_table AKSAudit aks_audit "$n" "$work/collect-$n" "tables = [\"AKSAudit\"]\\nwindow_minutes = $window" "$work/emulator-$n" --synthetic-audit-rows "$n"
  python3 -c 'import sys; n, w, s, r = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]; print(f"| {n:,} | {w} | {n*w//43200:,} | {s:.1f} | {n/max(s,0.01):,.0f} | {r} |")' "$n" "$window" "$secs" "$rss_mib"
  rm -rf "$work/collect-$n"
done

echo
echo "| ESO events | clusters | ExternalSecrets | collect s | events/s | collect peak RSS MiB |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in "${kubernetes_sizes[@]}"; do
  k8s="$work/kubernetes-$n"
  "$bin/keytrail-bench" gen-kubernetes --events "$n" --out "$k8s"
  externals=$(python3 -c 'import json,sys,glob; print(sum(len(json.load(open(f))) for f in glob.glob(sys.argv[1] + "/*/externalsecrets.json")))' "$k8s")
  emu="$work/emulator-k8s-$n"
  # Every generated event stays listed: this measures paging over many, not a real hour.
  start_emulator "$emu" --kubernetes "$k8s" --event-ttl-minutes 0
  measure "$bin/keytrail" --ledger "$work/collect-k8s-$n" collect --config "$emu/keytrail.toml" --source kubernetes
  appended=$(grep -oE "[0-9]+ new observations" "$work/out" | awk '{s += $1} END {print s}')
  [ "$appended" = "$n" ] || { echo "bench: kubernetes collect appended $appended of $n events" >&2; cat "$work/out" >&2; exit 1; }
  stop_emulator
  python3 -c 'import sys; n, e, s, r = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]; print(f"| {n:,} | 2 | {e:,} | {s:.1f} | {n/max(s,0.01):,.0f} | {r} |")' "$n" "$externals" "$secs" "$rss_mib"
  rm -rf "$k8s" "$work/collect-k8s-$n"
done
