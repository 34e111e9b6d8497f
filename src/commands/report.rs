use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use keytrail_ledger::{Ledger, Signer, Verifier};
use keytrail_query::SessionOptions;
use keytrail_report::{PackSummary, ReportOptions};

use crate::cli::{EngineArgs, ReportArgs, VerifyPackArgs};
use crate::config::Config;
use crate::exit::ExitCode;
use crate::period::Period;

/// What a pack is made from, however it was asked for (flags or configuration).
pub(crate) struct PackSettings {
    pub period: Period,
    pub frameworks: Vec<String>,
    pub exceptions: Option<PathBuf>,
    /// The organisation's own controls.
    pub controls_dir: Option<PathBuf>,
    pub sample_rows: usize,
    pub query_memory_mb: usize,
    pub engine: keytrail_query::Engine,
    pub organisation: String,
    pub clusters: Vec<String>,
    pub origin: String,
    pub key: Option<PathBuf>,
    pub out: PathBuf,
    /// Replace the period's pack in `out` instead of writing the next numbered one.
    pub replace: bool,
    /// Where the control parameter overrides come from (the default has none).
    pub config: Config,
}

impl PackSettings {
    /// The settings a configuration gives, with the engine `flags` choose.
    pub(crate) fn from_config(config: Config, period: Period, flags: &EngineArgs) -> anyhow::Result<Self> {
        Ok(Self {
            period,
            frameworks: config.report.frameworks.clone(),
            exceptions: config.exceptions.clone(),
            controls_dir: config.controls_dir.clone(),
            sample_rows: config.report.sample_rows.unwrap_or(20),
            query_memory_mb: config.query_memory_mb.unwrap_or(keytrail_query::DEFAULT_QUERY_MEMORY_BYTES >> 20),
            engine: config.engine(flags)?,
            organisation: config.organisation.clone().unwrap_or_else(|| "keytrail".into()),
            clusters: config.clusters.clone(),
            origin: config.checkpoint_origin.clone().unwrap_or_else(|| "keytrail".into()),
            key: config.signing_key.clone(),
            out: config.report.out.clone().unwrap_or_else(|| PathBuf::from("packs")),
            replace: false,
            config,
        })
    }
}

pub async fn write(ledger_flag: Option<&str>, args: ReportArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let config = args.config.as_deref().map(Config::load).transpose()?.unwrap_or_default();
    let ledger = super::open(config.ledger_url(ledger_flag), keytrail_ledger::OpenMode::ReadOnly).await?;
    let mut settings = PackSettings::from_config(config, args.period, &args.engine)?;
    if !args.frameworks.is_empty() {
        settings.frameworks = args.frameworks;
    }
    if !args.clusters.is_empty() {
        settings.clusters = args.clusters;
    }
    settings.exceptions = args.exceptions.or(settings.exceptions);
    settings.controls_dir = args.controls_dir.or(settings.controls_dir);
    settings.sample_rows = args.sample_rows.unwrap_or(settings.sample_rows);
    settings.query_memory_mb = args.query_memory_mb.unwrap_or(settings.query_memory_mb);
    settings.organisation = args.organisation.unwrap_or(settings.organisation);
    settings.origin = args.origin.unwrap_or(settings.origin);
    settings.out = args.out.unwrap_or(settings.out);
    settings.key = args.key.or(settings.key);
    settings.replace = args.replace;
    let summary = write_pack(&ledger, &settings).await?;
    print_summary(&settings.period.to_string(), &summary, out)?;
    Ok(if summary.ledger_valid { ExitCode::Success } else { ExitCode::IntegrityFailure })
}

/// Evaluates the period and writes its pack.
pub(crate) async fn write_pack(ledger: &Ledger, settings: &PackSettings) -> anyhow::Result<PackSummary> {
    let period = settings.period.bounds();
    let key = settings.key.as_deref().context("no signing key: give --key FILE (from `keytrail keygen`) or a --config with signing_key")?;
    let signer = Signer::from_file(key).context("reading the signing key")?;
    let frameworks = keytrail_query::controls::frameworks_named(&settings.frameworks)?;
    let catalog = settings.config.catalog(settings.controls_dir.as_deref())?;
    let exceptions = super::controls::read_exceptions(settings.exceptions.as_deref(), &catalog)?;
    let controls = super::controls::mapped_to(catalog, &frameworks);
    let options = ReportOptions {
        label: settings.period.to_string(),
        period,
        frameworks,
        controls,
        exceptions,
        known_streams: super::sql::known_streams()?,
        organisation: settings.organisation.clone(),
        clusters: settings.clusters.clone(),
        sample_rows: settings.sample_rows,
        query: SessionOptions {
            period: None,
            memory_bytes: settings.query_memory_mb << 20,
            engine: settings.engine.clone(),
            reads_history: true,
            environments: settings.config.environments(),
            damaged: Default::default(),
        },
        origin: settings.origin.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at: chrono::Utc::now(),
        replace: settings.replace,
    };
    keytrail_report::write_pack(ledger, &signer, &options, &settings.out)
        .await
        .with_context(|| format!("writing the evidence pack for {} to {}", settings.period, settings.out.display()))
}

pub(crate) fn print_summary(label: &str, summary: &PackSummary, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "Evidence pack for {label}: {}", summary.dir.display())?;
    writeln!(out, "  archive:     {}", summary.archive.display())?;
    writeln!(out, "  report:      {}", summary.dir.join("index.html").display())?;
    writeln!(out, "  fingerprint: {}", summary.fingerprint)?;
    writeln!(out, "  files:       {} (listed in manifest.json, signed in manifest.sig)", summary.files)?;
    writeln!(out, "  ledger:      {}", if summary.ledger_valid { "valid" } else { "INVALID (see the integrity section)" })?;
    if !summary.damaged_verdicts.is_empty() {
        writeln!(out, "  damaged:     {} rest on damaged evidence (error): {}", summary.damaged_verdicts.len(), summary.damaged_verdicts.join(", "))?;
    }
    let controls = summary.controls.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
    writeln!(out, "  controls:    {controls}")?;
    for (framework, counts) in &summary.requirements {
        let counts = counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
        writeln!(out, "  {framework}: {counts}")?;
    }
    Ok(())
}

pub fn verify(args: VerifyPackArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let verifier = Verifier::from_file(&args.public_key).context("reading the public key")?;
    let check = keytrail_report::verify_pack(&args.pack, &verifier)?;
    for problem in &check.problems {
        writeln!(out, "INVALID {problem}")?;
    }
    if check.is_valid() {
        writeln!(
            out,
            "Pack {} for {} is valid: signature and {} files match (fingerprint {}).",
            args.pack.display(),
            check.period,
            check.files,
            check.fingerprint
        )?;
        Ok(ExitCode::Success)
    } else {
        writeln!(out, "Pack {} is INVALID: {} problems.", args.pack.display(), check.problems.len())?;
        Ok(ExitCode::Invalid)
    }
}
