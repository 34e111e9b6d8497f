use std::io::Write;

use anyhow::Context;
use keytrail_ledger::VerifyOptions;
use keytrail_query::controls::{self, Control, Framework, Verdict};
use keytrail_query::outcome::{FindingStatus, RequirementStatus};
use keytrail_query::{LedgerSession, SessionOptions};

use crate::cli::{ControlsArgs, EvaluateArgs, EvaluateFormat};
use crate::config::Config;
use crate::exit::ExitCode;

fn framework(name: Option<&str>) -> anyhow::Result<Option<Framework>> {
    Ok(name.map(|n| controls::frameworks_named(&[n.to_string()])).transpose()?.and_then(|mut f| f.pop()))
}

/// The controls of `catalog` mapped to any of `frameworks`.
pub(crate) fn mapped_to(catalog: Vec<Control>, frameworks: &[Framework]) -> Vec<Control> {
    catalog.into_iter().filter(|c| frameworks.iter().any(|f| c.frameworks.get(&f.key).is_some_and(|r| !r.is_empty()))).collect()
}

pub fn list(args: ControlsArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let config = args.config.as_deref().map(Config::load).transpose()?.unwrap_or_default();
    let framework = framework(args.framework.as_deref())?;
    let all = controls::frameworks()?;
    let mut catalog = config.catalog(args.controls_dir.as_deref())?;
    if let Some(f) = &framework {
        catalog = mapped_to(catalog, std::slice::from_ref(f));
    }
    for c in catalog {
        let mapped = match &framework {
            Some(f) => c.frameworks[&f.key].join(", "),
            // Named as `--framework` takes them.
            None => all
                .iter()
                .filter_map(|f| c.frameworks.get(&f.key).filter(|r| !r.is_empty()).map(|r| format!("{}: {}", f.id, r.join(", "))))
                .collect::<Vec<_>>()
                .join("; "),
        };
        writeln!(out, "{:<32} {:<7} {:<14} {}\n{:<32} {mapped}", c.id, c.severity, c.evidence, c.title, "")?;
        if c.origin != controls::Origin::BuiltIn {
            writeln!(out, "{:<32} from {}", "", c.origin)?;
        }
    }
    Ok(ExitCode::Success)
}

/// The exceptions file, if one is given, each exception naming a control of `catalog`.
pub(crate) fn read_exceptions(path: Option<&std::path::Path>, catalog: &[Control]) -> anyhow::Result<Vec<controls::Exception>> {
    let Some(path) = path else { return Ok(Vec::new()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    controls::parse_exceptions(&text, catalog).with_context(|| format!("in {}", path.display()))
}

pub async fn evaluate(ledger_flag: Option<&str>, args: EvaluateArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let period = args.period.bounds();
    let config = args.config.as_deref().map(Config::load).transpose()?.unwrap_or_default();
    let mut catalog = config.catalog(args.controls_dir.as_deref())?;
    let exceptions = read_exceptions(args.exceptions.as_deref().or(config.exceptions.as_deref()), &catalog)?;
    let framework = framework(args.framework.as_deref())?;
    let ledger = &super::open(config.ledger_url(ledger_flag), keytrail_ledger::OpenMode::ReadOnly).await?;
    if let Some(f) = &framework {
        catalog = mapped_to(catalog, std::slice::from_ref(f));
    }
    // Verified first: a control that reads a damaged stream is an error, never a verdict
    // on what is left of it.
    let (checkpoints, unreadable) = keytrail_ledger::open_checkpoints(&ledger.stored_checkpoints().await?, None);
    let integrity = ledger
        .verify(&VerifyOptions { checkpoints, ..VerifyOptions::default() })
        .await
        .map(|mut report| {
            report.other.extend(unreadable);
            report
        })
        .map_err(|e| e.to_string());
    let damaged = integrity.as_ref().map(keytrail_query::damage_of).unwrap_or_default();
    let options = SessionOptions { reads_history: true, damaged, ..config.session_options(&args.engine, args.query_memory_mb)? };
    let session = LedgerSession::open_with(ledger, &super::sql::known_streams()?, &options).await.context("opening the ledger for evaluation")?;
    let evaluations = session.evaluate_all(catalog, period, &exceptions, &integrity).await?;
    let intact = integrity.as_ref().is_ok_and(|r| r.is_valid());
    let verdicts: Vec<(Control, Verdict)> = evaluations.into_iter().map(|e| (e.control, e.verdict)).collect();
    match args.format {
        EvaluateFormat::Json => {
            let report: Vec<_> = verdicts
                .iter()
                .map(|(c, v)| serde_json::json!({"control": c.id, "title": c.title, "severity": c.severity, "frameworks": c.frameworks, "verdict": v}))
                .collect();
            let requirements: Vec<_> = framework
                .iter()
                .flat_map(|f| requirement_rows(f, &verdicts))
                .map(|(id, title, controls, status)| serde_json::json!({"id": id, "title": title, "controls": controls, "status": status}))
                .collect();
            let framework_id = framework.as_ref().map(|f| f.id.clone());
            serde_json::to_writer_pretty(
                &mut *out,
                &serde_json::json!({"period": args.period.to_string(), "framework": framework_id, "controls": report, "requirements": requirements}),
            )?;
            writeln!(out)?;
        }
        EvaluateFormat::Table => {
            for (c, v) in &verdicts {
                let counts = v.counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
                writeln!(out, "{:<32} {:<22} {}", c.id, v.status.as_str().to_uppercase(), v.detail.as_deref().unwrap_or(&counts))?;
                for f in v.findings.iter().filter(|f| matches!(f.status, FindingStatus::Alarm | FindingStatus::Unknown | FindingStatus::Error)) {
                    writeln!(out, "    {}: {}: {}", f.status, f.resource, f.reason)?;
                }
                for e in &v.expired_exceptions {
                    writeln!(out, "    expired exception ({}, {}): {} no longer applies", e.owner, e.expires, e.resource)?;
                }
            }
            if let Some(f) = &framework {
                writeln!(out, "\n{}", f.title)?;
                for (id, title, controls, status) in requirement_rows(f, &verdicts) {
                    writeln!(out, "{id:<22} {:<22} {title} [{}]", status.as_str().to_uppercase(), controls.join(", "))?;
                }
            }
        }
    }
    Ok(if intact { ExitCode::Success } else { ExitCode::IntegrityFailure })
}

/// (requirement id, title, covering controls, status) for a framework.
fn requirement_rows(framework: &Framework, verdicts: &[(Control, Verdict)]) -> Vec<(String, String, Vec<String>, RequirementStatus)> {
    let catalog: Vec<Control> = verdicts.iter().map(|(c, _)| c.clone()).collect();
    let results: Vec<Verdict> = verdicts.iter().map(|(_, v)| v.clone()).collect();
    framework
        .requirement_status(&catalog, &results)
        .into_iter()
        .map(|(r, controls, status)| (r.id.clone(), r.title.clone(), controls.into_iter().map(str::to_string).collect(), status))
        .collect()
}
