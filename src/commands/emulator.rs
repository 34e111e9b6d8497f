use std::io::Write;

use anyhow::Context;
use keytrail_emulator::dataset::{Dataset, Synthetic, Table};
use keytrail_emulator::{Emulator, EmulatorConfig, SAMPLE_TABLES, sample_month};

use crate::cli::EmulatorArgs;
use crate::exit::ExitCode;

pub async fn run(args: EmulatorArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut dataset = match &args.data {
        Some(dir) => Dataset::load(dir)?,
        None => Dataset::sample_month(),
    };
    let (start, end) = sample_month::bounds();
    if let Some(count) = args.synthetic_audit_rows {
        dataset.insert_table("AKSAudit", Table::Synthetic { kind: Synthetic::AksAudit, start, end, count });
    }
    if let Some(count) = args.synthetic_akeyless_rows {
        // The generator spreads a month over 30 days from its start, as the sample month is.
        let end = start + keytrail_emulator::synthetic_akeyless::SPAN_US;
        dataset.insert_table("AkeylessAudit_CL", Table::Synthetic { kind: Synthetic::Akeyless { seed: 1 }, start, end, count });
    }
    // Its client files are rewritten on every start (a new CA each time): never over a
    // configuration someone else wrote.
    let config_file = args.out.join("keytrail.toml");
    if std::fs::read_to_string(&config_file).is_ok_and(|t| !t.starts_with(keytrail_emulator::CLIENT_CONFIG_MARK)) {
        anyhow::bail!("{} was not written by the emulator: give another --out folder", config_file.display());
    }
    let mut config = EmulatorConfig::new(dataset);
    if let Some(dir) = &args.kubernetes {
        config.kubernetes = keytrail_emulator::KubernetesApi::load(dir)?;
    }
    config.kubernetes.event_ttl = (args.event_ttl_minutes > 0).then(|| chrono::Duration::minutes(i64::from(args.event_ttl_minutes)));
    config.port = args.port;
    config.row_cap = args.row_cap;
    let emulator = Emulator::start(config).await?;
    let (y, m) = sample_month::MONTH;
    let toml = emulator
        .write_client_files(&args.out, SAMPLE_TABLES, &format!("start = \"{y}-{m:02}-01T00:00:00Z\"\n"))
        .with_context(|| format!("writing the client files into {}", args.out.display()))?;
    writeln!(out, "emulator listening on {}", emulator.url())?;
    for (table, rows) in emulator.config().dataset.summary() {
        writeln!(out, "  {table}: {rows} rows")?;
    }
    for (cluster, objects) in &emulator.config().kubernetes.clusters {
        writeln!(out, "  cluster {cluster}: {} events", objects.get("events").map_or(0, Vec::len))?;
    }
    writeln!(out, "collect from it with: keytrail collect --config {}", toml.display())?;
    out.flush()?;
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    Ok(ExitCode::Success)
}
