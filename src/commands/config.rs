//! `keytrail config check`: everything about a configuration that can be checked without
//! calling a source.

use std::io::Write;

use keytrail_collectors::source::missing;
use keytrail_ledger::Signer;

use crate::cli::ConfigCheckArgs;
use crate::config::Config;
use crate::exit::ExitCode;

/// What a job would do as configured, but likely not as meant.
fn warnings(config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    let kube_events = config.log_analytics.as_ref().is_some_and(|la| la.tables.iter().any(|t| t == "KubeEvents"));
    if config.kubernetes.is_some() && !kube_events {
        warnings.push(
            "kubernetes collects ESO events, but log_analytics does not collect KubeEvents: the Kubernetes API keeps an Event only an hour \
             after its last change, so sync failures between two collections are lost; add \"KubeEvents\" to log_analytics.tables (Container \
             Insights keeps them for the workspace's retention) or collect Kubernetes every 15 minutes (docs/DEPLOY.md)"
                .into(),
        );
    }
    warnings
}

pub fn check(args: ConfigCheckArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    // Unknown keys and values that do not parse fail here, naming the key, line and column.
    let config = Config::read(&args.config)?;
    // The checks every job makes as it loads the file, then what only a run would find.
    let mut problems = config.problems();
    problems.extend(missing(&[("ca_file", config.ca_file.as_deref()), ("exceptions", config.exceptions.as_deref())], &[]));
    for source in config.sources() {
        problems.extend(source.check_environment());
    }

    match &config.signing_key {
        None => {
            problems.push("signing_key is not set: `keytrail run` needs it to sign checkpoints and packs (create one with `keytrail keygen --out FILE`)".into())
        }
        Some(key) if key.exists() => {
            if let Err(e) = Signer::from_file(key) {
                problems.push(format!("signing_key: {e}"));
            }
        }
        Some(key) => problems.push(format!("signing_key: {} does not exist", key.display())),
    }
    // (A catalog that does not load is already a problem above.)
    if let (Some(path), Ok(catalog)) = (config.exceptions.as_deref().filter(|p| p.exists()), config.catalog(None))
        && let Err(e) = super::controls::read_exceptions(Some(path), &catalog)
    {
        problems.push(format!("exceptions: {e:#}"));
    }

    let sources: Vec<String> = config.sources().iter().map(|s| format!("{} ({})", s.name(), s.describe())).collect();
    for w in warnings(&config) {
        writeln!(out, "warning: {w}")?;
    }
    for p in &problems {
        writeln!(out, "problem: {p}")?;
    }
    if problems.is_empty() {
        let sources = if sources.is_empty() { "no sources (run only reports)".to_string() } else { sources.join(", ") };
        writeln!(out, "{} is valid: sources {sources}", args.config.display())?;
        Ok(ExitCode::Success)
    } else {
        writeln!(out, "{}: {} problems", args.config.display(), problems.len())?;
        Ok(ExitCode::Error)
    }
}
