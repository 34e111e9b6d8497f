//! `keytrail run`: the scheduled job. Collect, then write the pack (which verifies and
//! checkpoints the ledger and evaluates the controls), then one summary.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use keytrail_ledger::OpenMode;

use crate::cli::{CollectArgs, EngineArgs, RunArgs};
use crate::config::Config;
use crate::exit::ExitCode;
use crate::period::Period;

use super::report::{PackSettings, print_summary, write_pack};

/// Events of a period's last hours reach Log Analytics late: collection runs this far past
/// the period's end (when that is already past).
const SETTLE_AFTER_PERIOD: chrono::Duration = chrono::Duration::days(1);

pub async fn run(ledger_flag: Option<&str>, args: RunArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let period = args.period.resolve(Utc::now());
    let (_, end) = period.bounds();
    let until = (end + SETTLE_AFTER_PERIOD <= Utc::now()).then_some(end + SETTLE_AFTER_PERIOD);
    let job = Job { ledger_flag, config: &args.config, period, out: args.out, replace: args.replace, until, json: args.json, engine: &args.engine };
    Ok(execute(job, out).await?.0)
}

/// One scheduled job: what `run` (and `demo`) do.
pub(crate) struct Job<'a> {
    /// `--ledger`, over the configuration's.
    pub ledger_flag: Option<&'a str>,
    /// The configuration file.
    pub config: &'a Path,
    /// The month to report on.
    pub period: Period,
    /// The pack's folder, over the configuration's.
    pub out: Option<PathBuf>,
    /// Replace the period's pack instead of writing the next numbered one.
    pub replace: bool,
    /// Collect up to here (default: now minus the sources' settle time).
    pub until: Option<DateTime<Utc>>,
    /// One JSON summary on standard output.
    pub json: bool,
    /// The engine flags.
    pub engine: &'a EngineArgs,
}

/// Collects, then writes the pack of the job's period; returns the exit code and the
/// pack's folder.
pub(crate) async fn execute(job: Job<'_>, out: &mut impl Write) -> anyhow::Result<(ExitCode, PathBuf)> {
    let Job { ledger_flag, config: config_path, period, until, json, .. } = job;
    // A mistake in the engine settings fails the job before it collects anything.
    let mut settings = PackSettings::from_config(Config::load(config_path)?, period, job.engine)?;
    if let Some(dir) = job.out {
        settings.out = dir;
    }
    settings.replace = job.replace;
    let config = &settings.config;
    let (start, _) = period.bounds();
    if config.signing_key.is_none() {
        anyhow::bail!("{} names no signing_key: create one with `keytrail keygen --out FILE` and set signing_key = \"FILE\"", config_path.display());
    }

    // A mistake in the controls or their parameters fails the job before it collects anything.
    config.catalog(None)?;

    // Collection output is the per-source table; with --json it goes to stderr so stdout
    // stays one JSON document.
    let progress = Progress::start();
    let mut collect_log = Vec::new();
    let (collected, sources) = if !config.sources().is_empty() {
        progress.step("collecting the sources");
        let args = CollectArgs { config: config_path.to_path_buf(), source: Vec::new(), since: Some(start), until, commit_rows: 200_000 };
        super::collect::collect(ledger_flag, args, &mut collect_log).await.context("collecting the sources")?
    } else {
        (ExitCode::Success, Vec::new())
    };
    if json {
        std::io::stderr().write_all(&collect_log)?;
    } else {
        out.write_all(&collect_log)?;
    }

    let ledger = super::open(config.ledger_url(ledger_flag), OpenMode::ReadOnly).await?;
    progress.step("verifying the ledger, evaluating the controls, writing the evidence pack");
    let summary = write_pack(&ledger, &settings).await;
    progress.finish();
    let summary = summary?;

    let (code, outcome) = if !summary.ledger_valid {
        (ExitCode::IntegrityFailure, "the ledger failed verification: see the pack's integrity section and run `keytrail verify`")
    } else if collected == ExitCode::Incomplete {
        (
            ExitCode::SourcesIncomplete,
            "some source windows, clusters or snapshots could not be collected: listed in the pack's coverage section; the next run retries them",
        )
    } else {
        (ExitCode::Success, "complete")
    };
    if json {
        let document = serde_json::json!({
            "period": period.to_string(),
            "collection": match collected { ExitCode::Incomplete => "incomplete", ExitCode::Rejected => "complete, some records rejected", _ => "complete" },
            "sources": sources,
            "pack": {
                "dir": summary.dir, "archive": summary.archive, "index": summary.dir.join("index.html"),
                "fingerprint": summary.fingerprint, "files": summary.files,
            },
            "ledger_valid": summary.ledger_valid,
            "controls": summary.controls,
            "requirements": summary.requirements,
            "outcome": outcome,
            "exit_code": code as u8,
        });
        serde_json::to_writer_pretty(&mut *out, &document)?;
        writeln!(out)?;
    } else {
        writeln!(out)?;
        print_summary(&period.to_string(), &summary, out)?;
        writeln!(out, "Run {outcome}.")?;
    }
    Ok((code, summary.dir))
}

/// A spinner naming the step on a terminal; log lines otherwise (CronJobs, CI).
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn start() -> Self {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Self(Some(bar))
    }

    fn step(&self, what: &str) {
        match &self.0 {
            Some(bar) => bar.set_message(what.to_string()),
            None => tracing::info!(step = what, "keytrail run"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
