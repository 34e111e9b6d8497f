//! `keytrail collect`: every configured source (or those `--source` names), one after the
//! other, through the one [`Source`] seam; one rule for what each could not collect.

use std::io::Write;

use keytrail_collectors::source::{Run, Source};
use keytrail_ledger::OpenMode;

use crate::cli::CollectArgs;
use crate::config::Config;
use crate::exit::ExitCode;

pub async fn run(ledger_flag: Option<&str>, args: CollectArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    Ok(collect(ledger_flag, args, out).await?.0)
}

/// Collects every configured source asked for; returns the outcome and, per part of each
/// source (table, cluster, snapshot, location), what was collected, for `run`'s summary.
pub(crate) async fn collect(ledger_flag: Option<&str>, args: CollectArgs, out: &mut impl Write) -> anyhow::Result<(ExitCode, Vec<serde_json::Value>)> {
    let config = Config::load(&args.config)?;
    let sources = selected(&config, &args)?;
    let ledger = super::open(config.ledger_url(ledger_flag), OpenMode::ReadWrite).await?;
    let run_id = super::run_id();
    let run = Run { ledger: &ledger, run_id: &run_id, ca_file: config.ca_file.as_deref(), since: args.since, until: args.until, commit_rows: args.commit_rows };
    let (mut not_collected, mut rejected) = (0, 0);
    let mut summary = Vec::new();
    for source in sources {
        let collected = source.collect(&run).await.map_err(|e| anyhow::Error::new(e).context(format!("collecting {}", source.name())))?;
        if let Some(header) = &collected.header {
            writeln!(out, "{header}")?;
        }
        for part in collected.parts {
            writeln!(out, "{}", part.line)?;
            not_collected += usize::from(part.not_collected.is_some());
            rejected += part.rejected;
            let mut entry = serde_json::Map::new();
            entry.insert("source".into(), source.name().into());
            entry.insert("part".into(), part.name.into());
            entry.insert("appended".into(), part.appended.into());
            entry.insert("rejected".into(), part.rejected.into());
            entry.insert("gap".into(), part.not_collected.into());
            entry.extend(part.details);
            summary.push(serde_json::Value::Object(entry));
        }
    }
    if not_collected > 0 {
        writeln!(out, "{not_collected} part(s) not collected (above); recorded in the collection_gaps stream. The next run retries them.")?;
        return Ok((ExitCode::Incomplete, summary));
    }
    if rejected > 0 {
        writeln!(out, "{rejected} records were rejected and kept in the <stream>__rejected streams with the reason")?;
        return Ok((ExitCode::Rejected, summary));
    }
    Ok((ExitCode::Success, summary))
}

/// The configured sources `--source` asks for (all of them without it).
fn selected<'a>(config: &'a Config, args: &CollectArgs) -> anyhow::Result<Vec<&'a dyn Source>> {
    let configured = config.sources();
    let names: Vec<&str> = configured.iter().map(|s| s.name()).collect();
    let wanted: Vec<String> = args.source.iter().map(|s| s.replace('-', "_")).collect();
    if let Some(unknown) = wanted.iter().find(|w| !names.contains(&w.as_str())) {
        anyhow::bail!(
            "--source {unknown}: {} configures no such source (it configures: {})",
            args.config.display(),
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    }
    let sources: Vec<&dyn Source> = configured.into_iter().filter(|s| wanted.is_empty() || wanted.iter().any(|w| w == s.name())).collect();
    if sources.is_empty() {
        anyhow::bail!(
            "{} configures no source: add a [log_analytics], [akeyless_logs], [akeyless_api] or [kubernetes] section (see docs/SOURCES.md)",
            args.config.display()
        );
    }
    Ok(sources)
}
