//! `keytrail-bench`: tools for the benchmark harness (`bench/run.sh`).
//!
//! - `gen`: writes realistic Akeyless-style audit records as JSON lines, deterministic for
//!   a seed and streamed (memory does not depend on the count); `keytrail emulator
//!   --synthetic-akeyless-rows` serves the same records as a Log Analytics table.
//! - `gen-kubernetes`: writes clusters' ESO events, ExternalSecrets, stores and RBAC as the
//!   Kubernetes API lists them (`<cluster>/<resource>.json`, the layout of
//!   `sample-data/kubernetes/` that `keytrail emulator --kubernetes` serves), events
//!   streamed.
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
    /// Write Kubernetes clusters with N ESO events in all (and one ExternalSecret per 100).
    GenKubernetes {
        /// Events in all clusters together.
        #[arg(long)]
        events: u64,
        /// Number of clusters.
        #[arg(long, default_value_t = 2)]
        clusters: u64,
        /// Seed; the same seed gives the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First event time (events are spread over 30 days from it).
        #[arg(long, default_value = "2026-11-01T00:00:00Z")]
        start: chrono::DateTime<chrono::Utc>,
        /// Folder to write `<cluster>/<resource>.json` into.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Print single-core SHA-256 throughput in bytes per second.
    Sha256 {
        /// MiB to hash.
        #[arg(long, default_value_t = 2048)]
        mib: usize,
    },
}

use keytrail_emulator::synthetic_akeyless::{APPS, ENVS, KINDS, Rng, record};

fn generate(records: u64, seed: u64, start: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    let out = std::io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let start_us = start.timestamp_micros();
    for i in 0..records {
        writeln!(out, "{}", record(seed, i, records, start_us))?;
    }
    out.flush()?;
    Ok(())
}

/// A UUID-shaped identifier from two random words.
fn uid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next_word(), rng.next_word());
    format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff, b >> 52, b & 0xffff_ffff_ffff)
}

fn write_json(path: &std::path::Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let file = BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer(file, value)?;
    Ok(())
}

fn generate_kubernetes(events: u64, clusters: u64, seed: u64, start: chrono::DateTime<chrono::Utc>, out: &std::path::Path) -> anyhow::Result<()> {
    use serde_json::json;
    let mut rng = Rng(seed);
    let span_us = 30 * 86_400 * 1_000_000u64;
    for c in 0..clusters.max(1) {
        let cluster = format!("aks-bench-{c}");
        let dir = out.join(&cluster);
        std::fs::create_dir_all(&dir)?;
        let n = events / clusters.max(1) + u64::from(c < events % clusters.max(1));
        // One ExternalSecret per 100 events, as many clusters have.
        let externals: Vec<(String, String, String, String)> = (0..(n / 100).max(10))
            .map(|i| {
                let ns = rng.pick(APPS).to_string();
                (ns.clone(), format!("{}-{i}", rng.pick(APPS)), uid(&mut rng), format!("/{}/{ns}/{}", rng.pick(ENVS), rng.pick(KINDS)))
            })
            .collect();
        let store = json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
            "metadata": {"name": "akeyless", "uid": uid(&mut rng), "resourceVersion": "1"},
            "spec": {"provider": {"akeyless": {"akeylessGWApiURL": "https://akeyless-gateway:8000/api/v2",
                "authSecretRef": {"kubernetesAuth": {"accessID": format!("p-{:012x}", rng.next_word() & 0xffff_ffff_ffff), "k8sConfName": cluster}}}}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Valid", "message": "store validated"}]}});
        write_json(&dir.join("clustersecretstores.json"), &json!([store]))?;
        let list: Vec<serde_json::Value> = externals
            .iter()
            .map(|(ns, name, id, key)| {
                json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                    "metadata": {"name": name, "namespace": ns, "uid": id, "resourceVersion": "1"},
                    "spec": {"refreshInterval": rng.pick(&["1h", "1h0m0s", "2h", "30m"]), "secretStoreRef": {"name": "akeyless", "kind": "ClusterSecretStore"},
                             "target": {"name": name}, "data": [{"secretKey": "value", "remoteRef": {"key": key}}]},
                    "status": {"refreshTime": "2026-11-30T22:00:00Z",
                               "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced"}]}})
            })
            .collect();
        write_json(&dir.join("externalsecrets.json"), &serde_json::Value::Array(list))?;
        for empty in ["secretstores", "pushsecrets", "roles", "rolebindings"] {
            write_json(&dir.join(format!("{empty}.json")), &json!([]))?;
        }
        write_json(
            &dir.join("clusterroles.json"),
            &json!([{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "external-secrets-controller", "uid": uid(&mut rng)},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch", "create", "update", "delete"]}]}]),
        )?;
        write_json(
            &dir.join("clusterrolebindings.json"),
            &json!([{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "external-secrets-controller", "uid": uid(&mut rng)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "external-secrets-controller"},
            "subjects": [{"kind": "ServiceAccount", "name": "external-secrets", "namespace": "external-secrets"}]}]),
        )?;

        // Events, streamed: one array element at a time.
        let mut file = BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("events.json"))?);
        file.write_all(b"[")?;
        for i in 0..n {
            let last_us = start.timestamp_micros() + (i as u128 * span_us as u128 / n.max(1) as u128) as i64;
            let count = 1 + rng.next_word() % 3;
            let first_us = last_us - (count as i64 - 1) * 600_000_000;
            let time = |us: i64| chrono::DateTime::from_timestamp_micros(us).expect("in range").to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let (ns, name, es_uid, key) = &externals[(rng.next_word() % externals.len() as u64) as usize];
            let (event_type, reason, message) = if rng.next_word().is_multiple_of(12) {
                ("Warning", "UpdateFailed", format!("error processing spec.data[0] (key: {key}), err: can't get secret value: UnauthorizedAccess"))
            } else {
                ("Normal", "Updated", "Updated Secret".to_string())
            };
            let event = json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{name}.{:016x}", rng.next_word()), "namespace": ns, "uid": uid(&mut rng),
                             "resourceVersion": (1_000_000 + i).to_string(), "creationTimestamp": time(first_us)},
                "involvedObject": {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": name, "namespace": ns, "uid": es_uid},
                "reason": reason, "message": message, "type": event_type, "count": count,
                "firstTimestamp": time(first_us), "lastTimestamp": time(last_us),
                "source": {"component": "external-secrets"}, "reportingComponent": "external-secrets", "reportingInstance": ""});
            if i > 0 {
                file.write_all(b",\n")?;
            }
            serde_json::to_writer(&mut file, &event)?;
        }
        file.write_all(b"]\n")?;
        file.flush()?;
    }
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
        Cmd::GenKubernetes { events, clusters, seed, start, out } => generate_kubernetes(events, clusters, seed, start, &out),
        Cmd::Sha256 { mib } => {
            println!("{:.0}", sha256_throughput(mib));
            Ok(())
        }
    }
}
