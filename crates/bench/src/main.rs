//! `keytrail-bench`: tools for the benchmark harness (`bench/run.sh`).
//!
//! - `gen`: writes realistic Akeyless-style audit records as JSON lines, deterministic for
//!   a seed and streamed (memory does not depend on the count).
//! - `sha256`: measures single-core SHA-256 throughput, the yardstick `verify` is held to.
//!
//! Never used by the product; it only produces inputs and reference figures.

use std::io::{BufWriter, Write};
use std::time::Instant;

use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write N audit records as JSON lines to standard output.
    Gen {
        /// Number of records.
        #[arg(long)]
        records: u64,
        /// Seed; the same seed gives the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First event time (records are spread over 30 days from it).
        #[arg(long, default_value = "2026-11-01T00:00:00Z")]
        start: chrono::DateTime<chrono::Utc>,
    },
    /// Print single-core SHA-256 throughput in bytes per second.
    Sha256 {
        /// MiB to hash.
        #[arg(long, default_value_t = 2048)]
        mib: usize,
    },
}

/// SplitMix64: tiny, fast and deterministic; statistical quality is irrelevant here.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const ACTIONS: &[&str] = &[
    "get_secret_value", "get_secret_value", "get_secret_value", "get_secret_value", "get_rotated_secret_value",
    "get_dynamic_secret_value", "list_items", "Authentication", "update_item", "rotate_item",
];
const ENVS: &[&str] = &["prod", "prod", "dev", "staging"];
const APPS: &[&str] = &["payments", "orders", "ledger", "search", "identity", "billing", "gateway", "reports"];
const KINDS: &[&str] = &["db/password", "api/token", "tls/key", "queue/credentials", "oauth/client-secret"];
const NAMESPACES: &[&str] = &["external-secrets", "payments", "orders", "platform"];

fn generate(records: u64, seed: u64, start: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    let mut rng = Rng(seed);
    let out = std::io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let span_us = 30 * 86_400 * 1_000_000u64;
    let start_us = start.timestamp_micros();
    for i in 0..records {
        // Time advances monotonically with a little jitter, like a real forwarded log.
        let t = start_us + (i as u128 * span_us as u128 / records.max(1) as u128) as i64 + (rng.next() % 1000) as i64;
        let t = chrono::DateTime::from_timestamp_micros(t).expect("in range");
        let env = rng.pick(ENVS);
        let app = rng.pick(APPS);
        let action = rng.pick(ACTIONS);
        let status = if rng.next() % 50 == 0 { 401 } else { 200 };
        let ip = format!("10.{}.{}.{}", rng.next() % 4, rng.next() % 256, rng.next() % 256);
        let ns = rng.pick(NAMESPACES);
        writeln!(
            out,
            r#"{{"timestamp":"{}","account_id":"acc-7f3a9c2e1b","access_id":"p-{:012x}","action":"{action}","item_name":"/{env}/{app}/{}","item_type":"static-secret","status":{status},"remote_addr":"{ip}","duration":{},"component":"gateway","severity":"info","request_parameters":{{"access_type":"k8s","product":"gateway","unique_id":"{:016x}","user_agent":"external-secrets/v0.19"}},"client_sub_claims":{{"k8s_namespace":"{ns}","k8s_service_account":"{app}-sa","cluster":"aks-{env}-westeurope"}}}}"#,
            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            rng.next() & 0xffff_ffff_ffff,
            rng.pick(KINDS),
            rng.next() % 400,
            rng.next(),
        )?;
    }
    out.flush()?;
    Ok(())
}

fn sha256_throughput(mib: usize) -> f64 {
    let buf: Vec<u8> = (0..(1usize << 20)).map(|i| (i * 31 % 251) as u8).collect();
    let started = Instant::now();
    let mut h = Sha256::new();
    for _ in 0..mib {
        h.update(&buf);
    }
    std::hint::black_box(h.finalize());
    (mib as f64 * (1 << 20) as f64) / started.elapsed().as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Gen { records, seed, start } => generate(records, seed, start),
        Cmd::Sha256 { mib } => {
            println!("{:.0}", sha256_throughput(mib));
            Ok(())
        }
    }
}
