//! Micro-benchmarks of the per-record work every pipeline repeats millions of times:
//! the canonical row encoding and its SHA-256 chain hash, the RFC 6962 Merkle frontier,
//! parsing one Akeyless audit record, and parsing a Go duration from an ESO resource.
//!
//! `cargo bench -p keytrail-bench` (criterion); whole-pipeline figures come from
//! `bench/run.sh`. Throughput is reported per element so the numbers read as records/s.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use keytrail_ledger::merkle::Frontier;
use keytrail_ledger::record::{RowView, Value, encode_canonical, encode_values, genesis_hash, row_hash};

const RECORD: &str = r#"{"timestamp":"2026-11-02T10:15:03.123456Z","account_id":"acc-7f3a9c2e1b","access_id":"p-1a2b3c4d5e6f","action":"get_secret_value","item_name":"/prod/payments/db/password","item_type":"static-secret","status":200,"remote_addr":"10.1.22.33","duration":41,"component":"gateway","severity":"info","request_parameters":{"access_type":"k8s","product":"gateway","unique_id":"0f1e2d3c4b5a6978","user_agent":"external-secrets/v0.19"},"client_sub_claims":{"k8s_namespace":"external-secrets","k8s_service_account":"payments-sa","cluster":"aks-prod-westeurope"}}"#;

fn row_hashing(c: &mut Criterion) {
    let names = ["action", "item_path", "status", "remote_addrs", "cluster"];
    let values = vec![
        Value::Str("get_secret_value".into()),
        Value::Str("/prod/payments/db/password".into()),
        Value::Int(200),
        Value::StrList(vec!["10.1.22.33".into()]),
        Value::Null,
    ];
    let row = RowView {
        seq: 42,
        event_time: 1_793_611_203_123_456,
        ingest_time: 1_793_611_260_000_000,
        raw: RECORD.as_bytes(),
        names: &names,
        typed: &encode_values(&values),
    };
    let mut group = c.benchmark_group("row");
    group.throughput(Throughput::Elements(1));
    group.bench_function("canonical bytes", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            encode_canonical(std::hint::black_box(&row), &mut out);
            out.len()
        })
    });
    let prev = genesis_hash("bench_audit");
    group.bench_function("chain hash", |b| {
        let mut scratch = Vec::with_capacity(1024);
        b.iter(|| row_hash(std::hint::black_box(&prev), &row, &mut scratch))
    });
    group.finish();
}

fn merkle(c: &mut Criterion) {
    let mut group = c.benchmark_group("merkle frontier");
    for leaves in [1_000u64, 100_000] {
        let hashes: Vec<[u8; 32]> = (0..leaves).map(|i| genesis_hash(&i.to_string())).collect();
        group.throughput(Throughput::Elements(leaves));
        group.bench_with_input(BenchmarkId::from_parameter(leaves), &hashes, |b, hashes| {
            b.iter(|| {
                let mut frontier = Frontier::new();
                for h in hashes {
                    frontier.push_row(h);
                }
                frontier.root()
            })
        });
    }
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let fields: Vec<String> = ["item_name", "item", "path", "request_parameters.name"].iter().map(|s| s.to_string()).collect();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("akeyless record", |b| {
        let mut records = keytrail_ledger::Records::default();
        b.iter(|| {
            let mut row = records.start_row();
            keytrail_collectors::akeyless::parse(std::hint::black_box(RECORD), &fields, None, "file", &mut row).expect("parses")
            // dropped unfinished: nothing accumulates between iterations
        })
    });
    group.bench_function("go duration", |b| b.iter(|| keytrail_collectors::kubernetes::parse_go_duration(std::hint::black_box("1h30m15s"))));
    group.finish();
}

criterion_group!(benches, row_hashing, merkle, parsing);
criterion_main!(benches);
