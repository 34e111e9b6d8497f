use std::io::Write;

use anyhow::Context;
use keytrail_ledger::{Ledger, Signer, Verifier};
use keytrail_query::controls;
use keytrail_report::ReportOptions;

use crate::cli::{ReportArgs, VerifyPackArgs};
use crate::exit::ExitCode;

pub async fn write(ledger: &Ledger, args: ReportArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let period = super::controls::month(&args.period)?;
    let signer = Signer::from_file(&args.key).context("reading the signing key")?;
    let all = controls::frameworks()?;
    let frameworks = if args.frameworks.is_empty() {
        all
    } else {
        let known: Vec<String> = all.iter().map(|f| f.id.clone()).collect();
        args.frameworks
            .iter()
            .map(|name| {
                all.iter().find(|f| f.is(name)).cloned().ok_or_else(|| anyhow::anyhow!("unknown framework '{name}' (known: {})", known.join(", ")))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let controls = controls::catalog()?
        .into_iter()
        .filter(|c| frameworks.iter().any(|f| c.frameworks.get(&f.key).is_some_and(|r| !r.is_empty())))
        .collect();
    let options = ReportOptions {
        label: args.period.clone(),
        period,
        frameworks,
        controls,
        exceptions: super::controls::read_exceptions(args.exceptions.as_deref())?,
        known_streams: super::sql::known_streams()?,
        organisation: args.organisation,
        clusters: args.clusters,
        sample_rows: args.sample_rows,
        origin: args.origin,
        version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at: chrono::Utc::now(),
    };
    let summary = keytrail_report::write_pack(ledger, &signer, &options, &args.out)
        .await
        .with_context(|| format!("writing the evidence pack for {} to {}", args.period, args.out.display()))?;
    writeln!(out, "Evidence pack for {}: {}", args.period, summary.dir.display())?;
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
    Ok(ExitCode::Success)
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
