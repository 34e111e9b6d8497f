//! One rule for every source, through the one `Source` seam: each configured source is
//! collected by `collect` and `run` alike, its rejections count, and whatever stops one
//! part of it is a gap on record while the other sources are still collected.

mod common;

use common::{Workspace, keytrail, manifests};
use keytrail_emulator::{Emulator, EmulatorConfig, KubernetesApi};
use serde_json::Value;

struct Setup {
    _runtime: tokio::runtime::Runtime,
    _emulator: Emulator,
    ws: Workspace,
    /// The emulator's client configuration, cut down to the sections named.
    config: std::path::PathBuf,
}

/// The emulator serving `kubernetes`, and a configuration with only `sections` of the
/// client files it writes (plus `extra` at the top).
fn setup(kubernetes: KubernetesApi, sections: &[&str], extra: &str) -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut config = EmulatorConfig::new(keytrail_emulator::dataset::Dataset::sample_month());
    // The API servers' clock in the month, while a sync failure's Event is still listed.
    let during_the_month = chrono::DateTime::parse_from_rfc3339("2026-11-16T05:00:00Z").unwrap().to_utc();
    config.kubernetes = KubernetesApi { clock: kubernetes.clock.or(Some(during_the_month)), ..kubernetes };
    let emulator = runtime.block_on(Emulator::start(config)).unwrap();
    let ws = Workspace::new();
    let written = std::fs::read_to_string(emulator.write_client_files(&ws.path().join("client"), &[], "").unwrap()).unwrap();
    let mut text = format!("ca_file = \"ca.pem\"\n{extra}\n");
    for part in written.split("\n[").skip(1) {
        // `[kubernetes]` and its `[[kubernetes.clusters]]` alike.
        let name = part.split(']').next().unwrap().trim_start_matches('[').split('.').next().unwrap();
        if sections.contains(&name) {
            text.push_str(&format!("\n[{part}\n"));
        }
    }
    let config = ws.path().join("client/only.toml");
    std::fs::write(&config, text).unwrap();
    Setup { _runtime: runtime, _emulator: emulator, ws, config }
}

fn rows(ledger: &std::path::Path, stream: &str) -> u64 {
    manifests(ledger, stream).iter().map(|m| m["rows"].as_u64().unwrap()).sum()
}

#[test]
fn a_run_with_only_kubernetes_configured_collects_it() {
    let ws = Workspace::new();
    let (key, _) = common::keygen(&ws);
    let s = setup(KubernetesApi::default(), &["kubernetes"], &format!("signing_key = \"{}\"", key.display()));
    let check = keytrail(&s.ws.ledger(), &["config", "check", "--config", s.config.to_str().unwrap()]).expect(0);
    assert!(check.stdout.contains("sources kubernetes (clusters aks-dev, aks-prod)"), "{}", check.stdout);
    let out = s.ws.path().join("packs");
    let run = keytrail(&s.ws.ledger(), &["run", "--config", s.config.to_str().unwrap(), "--period", "2026-11", "--out", out.to_str().unwrap()]).expect(0);
    assert!(run.stdout.contains("kubernetes aks-prod"), "{}", run.stdout);
    assert!(rows(&s.ws.ledger(), "eso_events") > 0 && rows(&s.ws.ledger(), "eso_externalsecrets") > 0, "{}", run.stdout);
}

#[test]
fn kubernetes_rejections_count_beside_forwarded_files() {
    // An event with none of the times the collector reads cannot be placed in time.
    let mut api = KubernetesApi::default();
    let events = api.clusters.get_mut("aks-prod").unwrap().get_mut("events").unwrap();
    let event = events.iter_mut().find(|e| e["involvedObject"]["kind"] == "ExternalSecret").unwrap();
    for field in ["lastTimestamp", "eventTime", "firstTimestamp"] {
        event.as_object_mut().unwrap().remove(field);
    }
    event["metadata"].as_object_mut().unwrap().remove("creationTimestamp");
    event.as_object_mut().unwrap().remove("series");
    let s = setup(api, &["kubernetes"], "[akeyless_logs]\nlocations = [\"forwarded\"]");
    common::write_forwarded_sample(&s.ws.path().join("client/forwarded"));
    let run = keytrail(&s.ws.ledger(), &["collect", "--config", s.config.to_str().unwrap()]).expect(5);
    assert!(run.stdout.contains("1 records were rejected"), "{}", run.stdout);
    assert_eq!(rows(&s.ws.ledger(), "eso_events__rejected"), 1);
    assert!(rows(&s.ws.ledger(), "akeyless_audit") > 0, "the forwarded files were read too");
}

#[test]
fn an_unreadable_forwarded_location_is_a_gap_and_the_other_sources_are_still_collected() {
    let s = setup(KubernetesApi::default(), &["kubernetes"], "[akeyless_logs]\nlocations = [\"forwarded\"]");
    // No folder yet: the Gateway has not forwarded anything there, or it is not mounted.
    let run = keytrail(&s.ws.ledger(), &["collect", "--config", s.config.to_str().unwrap()]).expect(6);
    assert!(run.stdout.contains("forwarded: NOT COLLECTED") && run.stdout.contains("no such file or folder"), "{}", run.stdout);
    assert!(rows(&s.ws.ledger(), "eso_events") > 0, "Kubernetes was collected all the same");
    let gaps = keytrail(&s.ws.ledger(), &["sql", "SELECT source, table_name, collected_by FROM coverage_gaps", "--format", "json"]).expect(0);
    let gaps: Vec<Value> = serde_json::from_str(&gaps.stdout).unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!((gaps[0]["source"].as_str(), gaps[0]["table_name"].as_str()), (Some("akeyless_logs"), Some("akeyless_logs")));
    assert!(gaps[0]["collected_by"].is_null());

    // Once the location can be read, every file stored there is: the gap is filled.
    common::write_forwarded_sample(&s.ws.path().join("client/forwarded"));
    keytrail(&s.ws.ledger(), &["collect", "--config", s.config.to_str().unwrap(), "--source", "akeyless-logs"]).expect(0);
    let gaps = keytrail(&s.ws.ledger(), &["sql", "SELECT collected_by FROM coverage_gaps", "--format", "json"]).expect(0);
    let gaps: Vec<Value> = serde_json::from_str(&gaps.stdout).unwrap();
    assert!(gaps[0]["collected_by"].is_string(), "{gaps:?}");

    let run = keytrail(&s.ws.ledger(), &["collect", "--config", s.config.to_str().unwrap(), "--source", "log_analytics"]).expect(2);
    assert!(run.stderr.contains("configures no such source (it configures: kubernetes, akeyless_logs)"), "{}", run.stderr);
}
