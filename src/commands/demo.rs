//! `keytrail demo`: the whole job, offline, against an in-process emulator serving the
//! sample month (Log Analytics, Akeyless API, the clusters' Kubernetes API) plus that
//! month's forwarded Akeyless files.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use keytrail_emulator::dataset::Dataset;
use keytrail_emulator::{Emulator, EmulatorConfig, SAMPLE_TABLES, sample_month};
use keytrail_ledger::Signer;

use crate::cli::DemoArgs;
use crate::exit::ExitCode;

/// Accepted risks for the demo: one in force, one expired, so the report shows both.
const EXCEPTIONS: &str = include_str!("../../sample-data/exceptions.toml");

/// What the demo organisation declares about itself: its environments and what its
/// identity provider enforces.
const ORGANISATION: &str = include_str!("../../sample-data/organisation.toml");

/// The first line of the configuration the demo writes: how it knows a folder is its own.
const DEMO_MARK: &str = "# keytrail demo:";

pub async fn run(args: DemoArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    // The demo rewrites its own files on every run: never those of a folder it did not make.
    let foreign = std::fs::read_dir(&args.out).is_ok_and(|mut entries| entries.next().is_some())
        && !std::fs::read_to_string(args.out.join("keytrail.toml")).is_ok_and(|t| t.starts_with(DEMO_MARK));
    if foreign {
        anyhow::bail!("{} is not empty and holds no earlier demo: give the demo an empty or new folder with --out", args.out.display());
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let dir = std::fs::canonicalize(&args.out).with_context(|| format!("resolving {}", args.out.display()))?;

    let emulator = Emulator::start(EmulatorConfig::new(Dataset::sample_month())).await.context("starting the emulator")?;
    let month = sample_month::generate(sample_month::SEED);
    for (path, text) in sample_month::forwarded_files(&month) {
        write(&dir.join("forwarded").join(path), &text)?;
    }
    let key = dir.join("signing.key");
    if !key.exists() {
        Signer::generate("keytrail-demo")?.write_key_files(&key)?;
    }
    write(&dir.join("exceptions.toml"), EXCEPTIONS)?;

    let (y, m) = sample_month::MONTH;
    let label = format!("{y}-{m:02}");
    let emulator_config = emulator
        .write_client_files(&dir.join("emulator"), SAMPLE_TABLES, &format!("start = \"{label}-01T00:00:00Z\"\nwindow_minutes = 1440\n"))
        .context("writing the emulator's client files")?;
    let sources = std::fs::read_to_string(&emulator_config)?;
    let config = dir.join("keytrail.toml");
    write(
        &config,
        &format!(
            "{DEMO_MARK} the emulator's sources, a ledger, a signing key and packs under {dir}.\n\
             ledger = \"{ledger}\"\n\
             signing_key = \"signing.key\"\n\
             exceptions = \"exceptions.toml\"\n\
             organisation = \"Contoso (demo)\"\n\
             clusters = [\"aks-prod\", \"aks-dev\"]\n\
             {sources}\n\
             [akeyless_logs]\n\
             locations = [\"forwarded\"]\n\n\
             [report]\n\
             out = \"packs\"\n\n\
             {ORGANISATION}",
            dir = dir.display(),
            ledger = dir.join("ledger").display(),
            sources = sources
                .replace("ca_file = \"ca.pem\"", "ca_file = \"emulator/ca.pem\"")
                .replace("_file = \"client-secret\"", "_file = \"emulator/client-secret\"")
                .replace("_file = \"akeyless-access-key\"", "_file = \"emulator/akeyless-access-key\"")
                .replace("kubeconfig = \"kubeconfig\"", "kubeconfig = \"emulator/kubeconfig\""),
        ),
    )?;
    writeln!(out, "keytrail demo: emulator on {}, configuration {}", emulator.url(), config.display())?;

    // The sample month's records run to its last hour: collect a day past it.
    let period: crate::period::Period = label.parse().map_err(anyhow::Error::msg)?;
    let (_, end) = period.bounds();
    let job = super::run::Job {
        ledger_flag: None,
        config: &config,
        period,
        out: None,
        replace: false,
        until: Some(end + chrono::Duration::days(1)),
        json: false,
        engine: &Default::default(),
    };
    let (code, pack) = super::run::execute(job, out).await?;
    writeln!(out, "\nOpen the report: {}", pack.join("index.html").display())?;
    let archive = pack.with_file_name(format!("{}.tar.gz", pack.file_name().and_then(|n| n.to_str()).unwrap_or_default()));
    writeln!(out, "Check the pack:  keytrail verify-pack {} --public-key {}", archive.display(), dir.join("signing.key.pub").display())?;
    Ok(code)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
