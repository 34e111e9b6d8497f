//! `index.html` (askama, `report-templates/index.html`) and `controls.json`.
//!
//! Every value that can come from a log reaches the page through askama's HTML escaping;
//! the only unescaped inserts are charts that `chart.svg` escaped itself.

use std::collections::BTreeMap;

use askama::Template;
use keytrail_query::controls::{Evaluation, Exception};
use keytrail_query::outcome::FindingStatus;
use serde_json::json;

use crate::charts;
use crate::evidence::cells;
use crate::gather::Facts;
use crate::outcome::{FrameworkOutcome, Status};
use crate::{ReportError, ReportOptions};

/// Longest cell shown in an evidence sample; the files hold the whole value.
pub(crate) const MAX_CELL_CHARS: usize = 160;
/// The controls whose alarms are the silent stretches the coverage section lists: sources
/// that delivered nothing, and clusters whose ESO events no source holds.
const SILENCE_CONTROLS: [&str; 2] = ["silent-sources", "eso-evidence-coverage"];

/// Most uncollected windows listed on the page; `data/collection-gaps.csv` has all.
const MAX_GAPS_LISTED: usize = 500;

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    organisation: String,
    clusters: String,
    period: String,
    period_start: String,
    period_end: String,
    generated_at: String,
    version: String,
    fingerprint: String,
    frameworks: Vec<FrameworkView>,
    coverage_chart: String,
    coverage: Vec<StreamCoverage>,
    gaps: Vec<Vec<String>>,
    gaps_total: usize,
    /// Damaged streams and their damaged objects, described.
    damaged: Vec<(String, String)>,
    /// Controls whose verdict is an error because they read damaged streams.
    damaged_verdicts: Vec<String>,
    /// The silent-sources control's stretches (resource, status, reason), if it ran.
    silences: Option<Vec<(String, &'static str, String)>>,
    charts: Vec<ChartView>,
    controls: Vec<ControlView>,
    integrity: IntegrityView,
    exceptions_in_force: Vec<ExceptionView>,
    exceptions_expired: Vec<ExceptionView>,
    sample_rows: usize,
}

struct FrameworkView {
    id: String,
    title: String,
    counts: Vec<(&'static str, &'static str, usize)>,
    bar: String,
    requirements: Vec<RequirementView>,
}

struct RequirementView {
    id: String,
    title: String,
    status: &'static str,
    label: &'static str,
    controls: Vec<ControlRef>,
}

struct ControlRef {
    id: String,
    title: String,
    status: String,
    summary: String,
}

struct StreamCoverage {
    stream: String,
    rows: i64,
    days: usize,
    gaps: i64,
}

struct ChartView {
    title: String,
    caption: String,
    svg: Option<String>,
    empty: String,
}

struct ControlView {
    id: String,
    title: String,
    description: String,
    rationale: String,
    severity: String,
    evidence_kind: String,
    status: String,
    summary: String,
    mapped: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    total_rows: u64,
    sql: String,
}

struct IntegrityView {
    valid: bool,
    error: Option<String>,
    streams: Vec<StreamIntegrity>,
    checkpoints: Vec<(String, String)>,
}

struct StreamIntegrity {
    stream: String,
    rows: u64,
    tree_root: String,
    objects: usize,
    problems: Vec<String>,
}

struct ExceptionView {
    control: String,
    resource: String,
    owner: String,
    justification: String,
    expires: String,
}

/// How a verdict reads in one line: its counts, or why it has none.
fn summary(e: &Evaluation) -> String {
    if let Some(detail) = &e.verdict.detail {
        return detail.clone();
    }
    if e.verdict.counts.is_empty() {
        return "the query returned no rows".into();
    }
    e.verdict.counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
}

/// Every day of the period, `YYYY-MM-DD`.
fn days(options: &ReportOptions) -> Vec<String> {
    let mut out = Vec::new();
    let mut day = options.period.0.date_naive();
    while day < options.period.1.date_naive() {
        out.push(day.format("%Y-%m-%d").to_string());
        day = day.succ_opt().expect("in range");
    }
    out
}

fn exception_view(e: &Exception) -> ExceptionView {
    ExceptionView {
        control: e.control.clone(),
        resource: e.resource.clone(),
        owner: e.owner.clone(),
        justification: e.justification.clone(),
        expires: e.expires.to_string(),
    }
}

pub(crate) fn render(options: &ReportOptions, facts: &Facts, outcomes: &[FrameworkOutcome], fingerprint: &str) -> Result<String, ReportError> {
    let days = days(options);
    let frameworks = outcomes
        .iter()
        .map(|f| {
            let counts: Vec<(&'static str, &'static str, usize)> =
                f.counts().into_iter().filter(|(s, n)| *n > 0 || *s != Status::NotCovered).map(|(s, n)| (s.label(), s.as_str(), n)).collect();
            let parts: Vec<(String, &'static str, usize)> = counts.iter().map(|(l, c, n)| (l.to_string(), *c, *n)).collect();
            Ok(FrameworkView {
                id: f.framework.id.clone(),
                title: f.framework.title.clone(),
                bar: charts::status_bar(&format!("{} requirements by outcome", f.framework.title), &parts).render()?,
                counts,
                requirements: f
                    .requirements
                    .iter()
                    .map(|r| RequirementView {
                        id: r.requirement.id.clone(),
                        title: r.requirement.title.clone(),
                        status: r.status.as_str(),
                        label: r.status.label(),
                        controls: r
                            .evaluations
                            .iter()
                            .map(|e| ControlRef {
                                id: e.control.id.clone(),
                                title: e.control.title.clone(),
                                status: e.verdict.status.as_str().to_string(),
                                summary: summary(e),
                            })
                            .collect(),
                    })
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>, askama::Error>>()?;

    let (_, coverage_rows) = cells(&facts.coverage, usize::MAX, usize::MAX);
    let mut grid = BTreeMap::new();
    let mut per_stream: BTreeMap<String, StreamCoverage> = BTreeMap::new();
    for r in &coverage_rows {
        let (rows, gaps) = (r[2].parse().unwrap_or(0), r[3].parse().unwrap_or(0));
        grid.insert((r[0].clone(), r[1].clone()), (rows, gaps));
        let s = per_stream.entry(r[0].clone()).or_insert_with(|| StreamCoverage { stream: r[0].clone(), rows: 0, days: 0, gaps: 0 });
        s.rows += rows;
        s.gaps += gaps;
        s.days += (rows > 0) as usize;
    }
    let streams: Vec<String> = per_stream.keys().cloned().collect();
    let coverage_chart = charts::coverage_grid(&days, &streams, &grid).render()?;
    let (_, gaps_all) = cells(&facts.gaps, usize::MAX, MAX_CELL_CHARS);
    let judged: Vec<_> = facts.evaluations.iter().filter(|e| SILENCE_CONTROLS.contains(&e.control.id.as_str())).collect();
    let silences = (!judged.is_empty()).then(|| {
        judged
            .iter()
            .flat_map(|e| e.verdict.findings.iter())
            .filter(|f| matches!(f.status, FindingStatus::Alarm | FindingStatus::Excepted))
            .map(|f| (f.resource.clone(), f.status.as_str(), f.reason.clone()))
            .collect()
    });

    let has = |stream: &str| facts.streams.iter().any(|s| s == stream);
    let eso_missing = "No External Secrets Operator data in this ledger: the Kubernetes source (eso_events, eso_externalsecrets) has not been collected.";
    let charts = vec![
        ChartView {
            title: "Secret reads per day".into(),
            caption: "Akeyless secret-value reads, Kubernetes Secret reads and ESO syncs (secret_access view).".into(),
            svg: (!facts.secret_reads.is_empty()).then(|| charts::daily_bars("Secret reads per day", &days, &facts.secret_reads).render()).transpose()?,
            empty: "No secret reads recorded in the period.".into(),
        },
        ChartView {
            title: "Authentication failures per day".into(),
            caption: "Failed Akeyless logins and Kubernetes requests refused with 401 or 403 (auth_failures view).".into(),
            svg: (!facts.auth_failures.is_empty()).then(|| charts::daily_bars("Authentication failures per day", &days, &facts.auth_failures).render()).transpose()?,
            empty: "No authentication failures recorded in the period.".into(),
        },
        ChartView {
            title: "Rotation-to-sync latency".into(),
            caption: "Akeyless rotations in the period of items ExternalSecrets read, by how long ESO took to update each Secret (rotation_syncs view; 'never': no update followed).".into(),
            svg: facts
                .sync_latencies
                .iter()
                .any(|(_, n)| *n > 0)
                .then(|| charts::labelled_bars("Rotations per rotation-to-sync latency", &facts.sync_latencies, "s0").render())
                .transpose()?,
            empty: if has("eso_events") { "No rotation of an item that an ExternalSecret reads in the period.".into() } else { eso_missing.into() },
        },
        ChartView {
            title: "Sync failures per ExternalSecret".into(),
            caption: "Failed syncs (UpdateFailed events, repeats counted) per ExternalSecret in the period, most first (eso_syncs view).".into(),
            svg: (!facts.sync_failures.is_empty())
                .then(|| charts::labelled_bars("Failed syncs per ExternalSecret", &facts.sync_failures, "s1").render())
                .transpose()?,
            empty: if has("eso_events") { "No failed sync in the period.".into() } else { eso_missing.into() },
        },
    ];

    let controls = facts
        .evaluations
        .iter()
        .map(|e| {
            let sample = facts.samples.get(&e.control.id).cloned().unwrap_or_default();
            ControlView {
                id: e.control.id.clone(),
                title: e.control.title.clone(),
                description: e.control.description.clone(),
                rationale: e.control.rationale.clone(),
                severity: e.control.severity.to_string(),
                evidence_kind: e.control.evidence.to_string(),
                status: e.verdict.status.as_str().to_string(),
                summary: summary(e),
                mapped: e.control.frameworks.iter().map(|(f, ids)| format!("{f}: {}", ids.join(", "))).collect::<Vec<_>>().join(" · "),
                columns: sample.columns,
                rows: sample.rows,
                total_rows: sample.total_rows,
                sql: e.sql.clone(),
            }
        })
        .collect();

    let integrity = match &facts.integrity {
        Ok(report) => IntegrityView {
            valid: report.is_valid(),
            error: None,
            streams: report
                .streams
                .iter()
                .map(|s| StreamIntegrity {
                    stream: s.stream.clone(),
                    rows: s.rows,
                    tree_root: s.tree_root.clone(),
                    objects: s.findings.len(),
                    problems: s.findings.iter().flat_map(|f| f.problems.iter().map(move |p| format!("{}: {p}", f.path))).collect(),
                })
                .collect(),
            checkpoints: facts.checkpoints.iter().map(|n| (n.checkpoint.stream.clone(), n.text.clone())).collect(),
        },
        Err(e) => IntegrityView { valid: false, error: Some(e.clone()), streams: Vec::new(), checkpoints: Vec::new() },
    };

    let last_day = (options.period.1 - chrono::Duration::days(1)).date_naive();
    let page = IndexPage {
        organisation: options.organisation.clone(),
        clusters: options.clusters.join(", "),
        period: options.label.clone(),
        period_start: options.period.0.format("%Y-%m-%d %H:%M UTC").to_string(),
        period_end: options.period.1.format("%Y-%m-%d %H:%M UTC").to_string(),
        generated_at: options.generated_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        version: options.version.clone(),
        fingerprint: fingerprint.to_string(),
        frameworks,
        coverage_chart,
        coverage: per_stream.into_values().collect(),
        gaps_total: gaps_all.len(),
        silences,
        damaged: facts
            .damaged
            .iter()
            .map(|(stream, objects)| (stream.clone(), objects.iter().map(|(path, why)| format!("{path}: {why}")).collect::<Vec<_>>().join("; ")))
            .collect(),
        damaged_verdicts: crate::damaged_verdicts(&facts.evaluations),
        gaps: gaps_all.into_iter().take(MAX_GAPS_LISTED).collect(),
        charts,
        controls,
        integrity,
        exceptions_in_force: options.exceptions.iter().filter(|e| e.expires >= last_day).map(exception_view).collect(),
        exceptions_expired: options.exceptions.iter().filter(|e| e.expires < last_day).map(exception_view).collect(),
        sample_rows: options.sample_rows,
    };
    Ok(page.render()?)
}

/// `controls.json`: the catalog as evaluated (parameters, SQL as run, verdict with every
/// finding) and each framework's requirements with their outcome.
pub(crate) fn controls_json(options: &ReportOptions, evaluations: &[Evaluation], outcomes: &[FrameworkOutcome]) -> Vec<u8> {
    let controls: Vec<_> = evaluations
        .iter()
        .map(|e| json!({"control": e.control, "sql_as_run": e.sql, "verdict": e.verdict, "evidence": {"csv": format!("evidence/{}.csv", e.control.id), "parquet": format!("evidence/{}.parquet", e.control.id)}}))
        .collect();
    let frameworks: Vec<_> = outcomes
        .iter()
        .map(|f| {
            let requirements: Vec<_> = f
                .requirements
                .iter()
                .map(|r| json!({"id": r.requirement.id, "title": r.requirement.title, "outcome": r.status.as_str(), "controls": r.evaluations.iter().map(|e| &e.control.id).collect::<Vec<_>>()}))
                .collect();
            json!({"id": f.framework.id, "title": f.framework.title, "requirements": requirements})
        })
        .collect();
    let document = json!({
        "period": options.label,
        "period_start": options.period.0,
        "period_end": options.period.1,
        "controls": controls,
        "frameworks": frameworks,
        "exceptions": options.exceptions,
    });
    let mut bytes = serde_json::to_vec_pretty(&document).expect("serialisable");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
    use keytrail_query::controls::{Control, Finding, Framework, Requirement, Verdict, findings_batch};
    use keytrail_query::outcome::VerdictStatus;

    use super::*;
    use crate::evidence::Sample;
    use crate::outcome::outcomes;

    fn control(id: &str, requirement: &str) -> Control {
        Control {
            id: id.into(),
            title: format!("{id} title"),
            description: "d".into(),
            rationale: "r".into(),
            severity: keytrail_query::controls::Severity::High,
            evidence: keytrail_query::controls::EvidenceKind::Activity,
            evidence_tables: vec!["t".into()],
            snapshot_tables: Vec::new(),
            parameters: Default::default(),
            frameworks: [("test".to_string(), vec![requirement.to_string()])].into(),
            builtin: None,
            sql: format!("SELECT 1 -- {id}"),
            origin: Default::default(),
        }
    }

    fn evaluation(id: &str, requirement: &str, findings: Vec<(&str, &str)>, status: Option<&str>) -> (Evaluation, Sample) {
        let findings: Vec<Finding> = findings
            .into_iter()
            .map(|(resource, status)| {
                let status = if status == "excepted" { FindingStatus::Excepted } else { FindingStatus::from_query(status).unwrap() };
                Finding { resource: resource.into(), status, reason: format!("because {resource}"), exception: None }
            })
            .collect();
        let mut verdict = Verdict::from_findings(id, findings.clone(), Vec::new());
        if let Some(s) = status {
            verdict.status = if s == "error" { VerdictStatus::Error } else { VerdictStatus::InsufficientEvidence };
            verdict.detail = Some(format!("{s} detail"));
        }
        let (columns, rows) = cells(&[findings_batch(&findings)], 10, MAX_CELL_CHARS);
        let sample = Sample { columns, total_rows: rows.len() as u64, rows };
        (Evaluation { control: control(id, requirement), verdict, sql: format!("SELECT 1 -- {id}") }, sample)
    }

    #[test]
    fn every_outcome_and_verdict_renders_and_log_values_are_escaped() {
        let requirement = |id: &str, manual: bool| Requirement { id: id.into(), title: format!("{id} title"), manual };
        let frameworks = vec![Framework {
            id: "test".into(),
            key: "test".into(),
            title: "Test framework".into(),
            requirements: vec![
                requirement("R-ok", false),
                requirement("R-alarm", false),
                requirement("R-none", false),
                requirement("R-excepted", false),
                requirement("R-error", false),
                requirement("R-manual", true),
            ],
        }];
        let (evaluations, samples): (Vec<Evaluation>, Vec<Sample>) = [
            evaluation("c-ok", "R-ok", vec![("a", "ok")], None),
            evaluation("c-alarm", "R-alarm", vec![("<script>alert(1)</script>", "alarm"), ("b", "ok")], None),
            evaluation("c-none", "R-none", vec![], Some("insufficient_evidence")),
            evaluation("c-excepted", "R-excepted", vec![("x", "excepted"), ("y", "ok")], None),
            evaluation("c-error", "R-error", vec![], Some("error")),
        ]
        .into_iter()
        .unzip();
        let samples = evaluations.iter().map(|e| e.control.id.clone()).zip(samples).collect();
        let options = ReportOptions {
            label: "2026-11".into(),
            period: (Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()),
            frameworks: frameworks.clone(),
            controls: evaluations.iter().map(|e| e.control.clone()).collect(),
            exceptions: Vec::new(),
            known_streams: Vec::new(),
            organisation: "O".into(),
            clusters: Vec::new(),
            sample_rows: 5,
            query: keytrail_query::SessionOptions { memory_bytes: 1 << 20, ..Default::default() },
            origin: "keytrail".into(),
            version: "0".into(),
            generated_at: Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap(),
            replace: false,
        };
        let gaps = RecordBatch::try_from_iter(vec![("stream", Arc::new(StringArray::from(vec!["<b>s</b>"])) as ArrayRef)]).unwrap();
        let facts = Facts {
            evaluations,
            samples,
            integrity: Err("<i>disk</i> unreadable".into()),
            checkpoints: Vec::new(),
            coverage: Vec::new(),
            gaps: vec![gaps],
            secret_reads: Vec::new(),
            auth_failures: Vec::new(),
            sync_latencies: Vec::new(),
            sync_failures: Vec::new(),
            streams: Vec::new(),
            damaged: [("aks_audit".to_string(), vec![("streams/aks_audit/<x>.parquet".to_string(), "0 bytes".to_string())])].into(),
        };
        let outcomes = outcomes(&frameworks, &facts.evaluations);
        let statuses: Vec<Status> = outcomes[0].requirements.iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![Status::Satisfied, Status::NotSatisfied, Status::InsufficientEvidence, Status::Excepted, Status::Error, Status::Manual]);
        let html = render(&options, &facts, &outcomes, "f").unwrap();
        for badge in ["satisfied", "not_satisfied", "insufficient_evidence", "excepted", "manual", "ok", "alarm", "error"] {
            assert!(html.contains(&format!("class=\"badge {badge}\"")), "no {badge} badge");
        }
        assert!(html.contains("insufficient_evidence detail") && html.contains("error detail"));
        assert!(html.contains("Neither the silent-sources nor the eso-evidence-coverage control was evaluated"), "a pack without them says so");
        assert!(html.contains("damaged evidence") && html.contains("streams/aks_audit/&#60;x&#62;.parquet: 0 bytes"), "damage is on the cover, escaped");
        assert!(!html.contains("<script>") && !html.contains("<b>s</b>") && !html.contains("<i>disk"));
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "the alarm's resource is shown, escaped");
        assert!(html.contains("&#60;i&#62;disk&#60;/i&#62; unreadable"));
    }
}
