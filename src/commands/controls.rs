use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use keytrail_ledger::{Ledger, VerifyOptions};
use keytrail_query::controls::{self, Control, Finding, Verdict};
use keytrail_query::LedgerSession;

use crate::cli::{ControlsArgs, EvaluateArgs, EvaluateFormat};
use crate::exit::ExitCode;

fn selected(framework: Option<&str>) -> anyhow::Result<Vec<Control>> {
    let catalog = controls::catalog()?;
    Ok(match framework {
        None => catalog,
        Some(f) => {
            let chosen: Vec<Control> = catalog.into_iter().filter(|c| c.frameworks.get(f).is_some_and(|r| !r.is_empty())).collect();
            if chosen.is_empty() {
                anyhow::bail!("no control maps to framework '{f}' (known: soc2, hipaa, nist_800_53, iso27001)");
            }
            chosen
        }
    })
}

pub fn list(args: ControlsArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    for c in selected(args.framework.as_deref())? {
        let mapped = match args.framework.as_deref() {
            Some(f) => c.frameworks[f].join(", "),
            None => c.frameworks.iter().map(|(f, r)| format!("{f}: {}", r.join(", "))).collect::<Vec<_>>().join("; "),
        };
        writeln!(out, "{:<32} {:<7} {:<14} {}\n{:<32} {mapped}", c.id, c.severity, c.evidence, c.title, "")?;
    }
    Ok(ExitCode::Success)
}

/// `YYYY-MM` as `[first day, first day of the next month)`.
fn month(period: &str) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let start = NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d")
        .with_context(|| format!("--period {period}: expected a month as YYYY-MM"))?;
    let end = start.checked_add_months(chrono::Months::new(1)).context("period out of range")?;
    Ok((start.and_hms_opt(0, 0, 0).unwrap().and_utc(), end.and_hms_opt(0, 0, 0).unwrap().and_utc()))
}

pub async fn evaluate(ledger: &Ledger, args: EvaluateArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let period = month(&args.period)?;
    let exceptions = match &args.exceptions {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            controls::parse_exceptions(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Vec::new(),
    };
    let session = LedgerSession::open(ledger, &super::sql::known_streams()?).await.context("opening the ledger for evaluation")?;
    let mut verdicts = Vec::new();
    for control in selected(args.framework.as_deref())? {
        let verdict = match control.builtin.as_deref() {
            Some("ledger_verify") => ledger_integrity(ledger, &control).await,
            Some(other) => anyhow::bail!("control {} names an unknown builtin '{other}'", control.id),
            None => session.evaluate(&control, period, &exceptions).await,
        };
        verdicts.push((control, verdict));
    }
    match args.format {
        EvaluateFormat::Json => {
            let report: Vec<_> = verdicts
                .iter()
                .map(|(c, v)| serde_json::json!({"control": c.id, "title": c.title, "severity": c.severity, "frameworks": c.frameworks, "verdict": v}))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &serde_json::json!({"period": args.period, "controls": report}))?;
            writeln!(out)?;
        }
        EvaluateFormat::Table => {
            for (c, v) in &verdicts {
                let counts = v.counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
                writeln!(out, "{:<32} {:<22} {}", c.id, v.status.to_uppercase(), v.detail.as_deref().unwrap_or(&counts))?;
                for f in v.findings.iter().filter(|f| f.status == "alarm") {
                    writeln!(out, "    alarm: {}: {}", f.resource, f.reason)?;
                }
                for e in &v.expired_exceptions {
                    writeln!(out, "    expired exception ({}, {}): {} no longer applies", e.owner, e.expires, e.resource)?;
                }
            }
        }
    }
    Ok(ExitCode::Success)
}

/// The integrity control: `verify` over the whole ledger, one finding per stream.
async fn ledger_integrity(ledger: &Ledger, control: &Control) -> Verdict {
    match ledger.verify(&VerifyOptions::default()).await {
        Ok(report) => {
            let findings = report
                .streams
                .iter()
                .map(|s| {
                    let problems: usize = s.findings.iter().map(|f| f.problems.len()).sum();
                    Finding {
                        resource: s.stream.clone(),
                        status: if problems == 0 { "ok" } else { "alarm" }.into(),
                        reason: if problems == 0 {
                            format!("{} rows, every hash and link verified", s.rows)
                        } else {
                            format!("{problems} integrity problems: run keytrail verify --stream {}", s.stream)
                        },
                        exception: None,
                    }
                })
                .collect();
            Verdict::from_findings(&control.id, findings, Vec::new())
        }
        Err(e) => Verdict::from_findings(
            &control.id,
            vec![Finding { resource: "ledger".into(), status: "error".into(), reason: format!("verify failed: {e}"), exception: None }],
            Vec::new(),
        ),
    }
}
