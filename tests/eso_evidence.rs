//! ESO evidence that outlives the one-hour Event: the emulator's Kubernetes API lists an
//! Event only for an hour after its last change, as AKS does, while Container Insights'
//! `KubeEvents` keeps every state. The ESO controls find the same problems whether the
//! clusters were collected once a day or every 15 minutes, and never count one Event twice.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{Workspace, keytrail};
use keytrail_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

struct Month {
    /// Runs the emulator; kept alive as long as the month is.
    _runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    ws: Workspace,
    config: std::path::PathBuf,
}

/// The sample month with the real event TTL; `tables` are the Log Analytics tables
/// collected.
fn month(tables: &[&str]) -> Month {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = EmulatorConfig::new(keytrail_emulator::dataset::Dataset::sample_month());
    assert_eq!(config.kubernetes.event_ttl, Some(Duration::hours(1)), "the emulator keeps Events as long as AKS does");
    let emulator = runtime.block_on(Emulator::start(config)).unwrap();
    let ws = Workspace::new();
    let config = emulator.write_client_files(&ws.path().join("client"), tables, "").unwrap();
    Month { _runtime: runtime, emulator, ws, config }
}

impl Month {
    fn collect(&self, source: &str, extra: &[&str]) {
        let mut args = vec!["collect", "--config", self.config.to_str().unwrap(), "--source", source];
        args.extend_from_slice(extra);
        keytrail(&self.ws.ledger(), &args).expect(0);
    }

    /// Collects the clusters at each of `times`, the API servers' clock set to it.
    fn collect_kubernetes_at(&self, times: impl IntoIterator<Item = DateTime<Utc>>) {
        for t in times {
            self.emulator.set_kubernetes_clock(Some(t));
            self.collect("kubernetes", &[]);
        }
    }

    fn evaluate(&self) -> Value {
        let out = keytrail(&self.ws.ledger(), &["evaluate", "--period", "2026-11", "--config", self.config.to_str().unwrap(), "--format", "json"]).expect(0);
        serde_json::from_str(&out.stdout).unwrap()
    }

    fn sql(&self, query: &str) -> String {
        keytrail(&self.ws.ledger(), &["sql", "--config", self.config.to_str().unwrap(), "--format", "csv", query]).expect(0).stdout
    }
}

fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, m, 0).unwrap()
}

/// Once a day at 01:30, as `deploy/base/cronjob-daily-collect.yaml` did.
fn daily() -> Vec<DateTime<Utc>> {
    (2..=30).map(|d| at(d, 1, 30)).chain([Utc.with_ymd_and_hms(2026, 12, 1, 1, 30, 0).unwrap()]).collect()
}

/// Every 15 minutes through the days of the planted sync failures (16 and 18 November),
/// once a day otherwise.
fn every_15_minutes_around_the_failures() -> Vec<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = daily();
    for day in [16, 18] {
        times.extend((0..96).map(|q| at(day, 0, 0) + Duration::minutes(15 * q)));
    }
    times.sort();
    times
}

/// (resource, status, reason) of a control's findings.
fn findings(evaluation: &Value, control: &str) -> Vec<(String, String, String)> {
    let verdict = verdict(evaluation, control);
    let mut out: Vec<(String, String, String)> = verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["resource"].as_str().unwrap().into(), f["status"].as_str().unwrap().into(), f["reason"].as_str().unwrap().into()))
        .collect();
    out.sort();
    out
}

fn verdict<'a>(evaluation: &'a Value, control: &str) -> &'a Value {
    let controls = evaluation["controls"].as_array().unwrap();
    &controls.iter().find(|c| c["control"] == control).unwrap_or_else(|| panic!("no control {control}"))["verdict"]
}

fn status(evaluation: &Value, control: &str) -> String {
    verdict(evaluation, control)["status"].as_str().unwrap().to_string()
}

#[test]
fn sync_failures_gone_from_the_api_are_found_in_kube_events_and_counted_once() {
    let daily_month = month(&["KubeEvents", "AkeylessAudit_CL"]);
    daily_month.collect("log_analytics", &["--until", "2026-12-01T00:00:00Z"]);
    daily_month.collect_kubernetes_at(daily());
    // The daily list at 01:30 met none of the planted failures: the API had dropped them.
    let listed = daily_month.sql("SELECT count(*) AS n FROM eso_events WHERE reason = 'UpdateFailed'");
    assert_eq!(listed.lines().nth(1), Some("0"), "{listed}");
    let once_a_day = daily_month.evaluate();

    let frequent = month(&["KubeEvents", "AkeylessAudit_CL"]);
    frequent.collect("log_analytics", &["--until", "2026-12-01T00:00:00Z"]);
    frequent.collect_kubernetes_at(every_15_minutes_around_the_failures());
    let listed = frequent.sql("SELECT count(DISTINCT event_key) AS n FROM eso_observations WHERE reason = 'UpdateFailed' AND source = 'kubernetes'");
    assert_ne!(listed.lines().nth(1), Some("0"), "collected every 15 minutes, the API's failures are in eso_events: {listed}");
    let every_15 = frequent.evaluate();

    for control in ["eso-sync-health", "rotation-sync-latency", "eso-evidence-coverage"] {
        assert_eq!(findings(&once_a_day, control), findings(&every_15, control), "{control}");
        assert_eq!(status(&once_a_day, control), status(&every_15, control), "{control}");
    }
    // aks-prod's payments/db-credentials failed five times, two hours apart (five Event
    // objects, each dropped before the next): five, not ten, though both sources hold them.
    let health = findings(&every_15, "eso-sync-health");
    let payments = health.iter().find(|(r, ..)| r == "aks-prod/payments/db-credentials").unwrap();
    assert_eq!(payments.1, "alarm", "{payments:?}");
    assert!(payments.2.starts_with("5 failed syncs in the period"), "{payments:?}");
    // The Secret updated 560 minutes after its item's rotation on 16 November: late, found
    // in both ways from the Updated Events.
    let latency = findings(&every_15, "rotation-sync-latency");
    assert!(
        latency.iter().any(|(r, s, why)| r.starts_with("/prod/payments/db-password -> aks-prod/payments/db-credentials at 2026-11-16")
            && s == "alarm"
            && why.contains("560 min later")),
        "{latency:?}"
    );
    // aks-dev's three failures on 18 November, found in both ways.
    for es in ["aks-dev/payments/db-credentials", "aks-dev/orders/db-credentials", "aks-dev/identity/oidc-client"] {
        let f = health.iter().find(|(r, ..)| r == es).unwrap_or_else(|| panic!("{es}: {health:?}"));
        assert!(f.1 == "alarm" && f.2.starts_with("1 failed syncs"), "{f:?}");
    }
    // KubeEvents, collected for the month, covers every cluster throughout.
    assert_eq!(status(&every_15, "eso-evidence-coverage"), "ok", "{:?}", findings(&every_15, "eso-evidence-coverage"));
    let both = frequent.sql("SELECT seen_by, count(*) AS n FROM eso_syncs WHERE reason = 'UpdateFailed' GROUP BY seen_by ORDER BY seen_by");
    assert!(both.contains("container_insights+kubernetes,"), "the same Events from both sources are matched: {both}");
}

#[test]
fn without_kube_events_the_api_events_collected_are_the_evidence() {
    let m = month(&[]);
    m.collect_kubernetes_at(every_15_minutes_around_the_failures());
    let evaluation = m.evaluate();
    let health = findings(&evaluation, "eso-sync-health");
    let payments = health.iter().find(|(r, ..)| r == "aks-prod/payments/db-credentials").unwrap();
    assert!(payments.1 == "alarm" && payments.2.starts_with("5 failed syncs"), "{payments:?}");
    let seen = m.sql("SELECT DISTINCT seen_by FROM eso_syncs");
    assert_eq!(seen.lines().skip(1).collect::<Vec<_>>(), ["kubernetes"], "{seen}");
    // Between the daily lists nothing is on record: each stretch is shown, not passed. On
    // the days collected every 15 minutes, the lists (each the hour before it) leave none.
    assert_eq!(status(&evaluation, "eso-evidence-coverage"), "alarm");
    let stretches: Vec<String> = findings(&evaluation, "eso-evidence-coverage").into_iter().filter(|f| f.1 == "alarm").map(|f| f.0).collect();
    assert!(stretches.iter().any(|r| r.starts_with("aks-prod from 2026-11-01T00:00")), "from the period's start to the first list: {stretches:?}");
    assert!(stretches.iter().any(|r| r.starts_with("aks-prod from 2026-11-02T01:30")), "{stretches:?}");
    assert!(stretches.iter().all(|r| !r.contains("2026-11-16T0") && !r.contains("2026-11-16T1")), "{stretches:?}");
    assert!(stretches.len() >= 2 * 26, "a stretch a day a cluster: {stretches:?}");

    // The pack's coverage section shows them beside the sources' silences.
    let out = m.ws.path().join("packs");
    let (key, _) = common::keygen(&m.ws);
    let args = ["report", "--period", "2026-11", "--config", m.config.to_str().unwrap(), "--out", out.to_str().unwrap(), "--key", key.to_str().unwrap()];
    keytrail(&m.ws.ledger(), &args).expect(0);
    let html = std::fs::read_to_string(out.join("keytrail-evidence-2026-11/index.html")).unwrap();
    let coverage = &html[html.find("<h3>Silent stretches</h3>").unwrap()..];
    assert!(coverage.contains("aks-prod from 2026-11-02T01:30") && coverage.contains("no ESO events on record for"), "{coverage}");
}

#[test]
fn config_check_warns_when_kube_events_are_not_collected_beside_the_clusters() {
    for (tables, warned) in [(&["AKSAudit"][..], true), (&["AKSAudit", "KubeEvents"][..], false)] {
        let m = month(tables);
        let check = keytrail(&m.ws.ledger(), &["config", "check", "--config", m.config.to_str().unwrap()]);
        assert_eq!(check.stdout.contains("warning: kubernetes collects ESO events, but log_analytics does not collect KubeEvents"), warned, "{}", check.stdout);
    }
}
