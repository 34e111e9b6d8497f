use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use keytrail_ledger::{Ledger, Signer, Verifier};
use keytrail_query::controls;
use keytrail_report::{PackSummary, ReportOptions};

use crate::cli::{ReportArgs, VerifyPackArgs};
use crate::exit::ExitCode;

/// What a pack is made from, however it was asked for (flags or configuration).
pub(crate) struct PackSettings {
    pub label: String,
    pub frameworks: Vec<String>,
    pub exceptions: Option<PathBuf>,
    pub sample_rows: usize,
    pub query_memory_mb: usize,
    pub organisation: String,
    pub clusters: Vec<String>,
    pub origin: String,
    pub key: PathBuf,
    pub out: PathBuf,
    /// Parameter overrides from the configuration, if it was given one.
    pub config: Option<crate::config::Config>,
}

pub async fn write(ledger: &Ledger, args: ReportArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let settings = PackSettings {
        label: args.period,
        frameworks: args.frameworks,
        exceptions: args.exceptions,
        sample_rows: args.sample_rows,
        query_memory_mb: args.query_memory_mb,
        organisation: args.organisation,
        clusters: args.clusters,
        origin: args.origin,
        key: args.key,
        out: args.out,
        config: None,
    };
    let summary = write_pack(ledger, &settings).await?;
    print_summary(&settings.label, &summary, out)?;
    Ok(ExitCode::Success)
}

/// Evaluates the period and writes its pack.
pub(crate) async fn write_pack(ledger: &Ledger, settings: &PackSettings) -> anyhow::Result<PackSummary> {
    let period = super::controls::month(&settings.label)?;
    let signer = Signer::from_file(&settings.key).context("reading the signing key")?;
    let frameworks = super::controls::frameworks_named(&settings.frameworks)?;
    let mut catalog = controls::catalog()?;
    if let Some(config) = &settings.config {
        config.apply_control_parameters(&mut catalog)?;
    }
    let controls = super::controls::mapped_to(catalog, &frameworks);
    let options = ReportOptions {
        label: settings.label.clone(),
        period,
        frameworks,
        controls,
        exceptions: super::controls::read_exceptions(settings.exceptions.as_deref())?,
        known_streams: super::sql::known_streams()?,
        organisation: settings.organisation.clone(),
        clusters: settings.clusters.clone(),
        sample_rows: settings.sample_rows,
        query_memory_bytes: settings.query_memory_mb << 20,
        origin: settings.origin.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at: chrono::Utc::now(),
    };
    keytrail_report::write_pack(ledger, &signer, &options, &settings.out)
        .await
        .with_context(|| format!("writing the evidence pack for {} to {}", settings.label, settings.out.display()))
}

pub(crate) fn print_summary(label: &str, summary: &PackSummary, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "Evidence pack for {label}: {}", summary.dir.display())?;
    writeln!(out, "  archive:     {}", summary.archive.display())?;
    writeln!(out, "  report:      {}", summary.dir.join("index.html").display())?;
    writeln!(out, "  fingerprint: {}", summary.fingerprint)?;
    writeln!(out, "  files:       {} (listed in manifest.json, signed in manifest.sig)", summary.files)?;
    writeln!(out, "  ledger:      {}", if summary.ledger_valid { "valid" } else { "INVALID (see the integrity section)" })?;
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
        writeln!(out, "Pack {} for {} is valid: signature and {} files match (fingerprint {}).", args.pack.display(), check.period, check.files, check.fingerprint)?;
        Ok(ExitCode::Success)
    } else {
        writeln!(out, "Pack {} is INVALID: {} problems.", args.pack.display(), check.problems.len())?;
        Ok(ExitCode::Invalid)
    }
}
