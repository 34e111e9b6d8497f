//! `keytrail config check`: everything about a configuration that can be checked without
//! calling a source.

use std::io::Write;
use std::path::Path;

use keytrail_ledger::Signer;

use crate::cli::ConfigCheckArgs;
use crate::config::Config;
use crate::exit::ExitCode;

pub fn check(args: ConfigCheckArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    // Unknown keys and values that do not parse fail here, naming the key, line and column.
    let config = Config::read(&args.config)?;
    // The checks every job makes as it loads the file, then what only a run would find.
    let mut problems = config.problems();
    let mut file = |key: &str, path: Option<&Path>| {
        if let Some(p) = path.filter(|p| !p.exists()) {
            problems.push(format!("{key}: {} does not exist", p.display()));
        }
    };
    file("ca_file", config.ca_file.as_deref());
    file("exceptions", config.exceptions.as_deref());
    if let Some(la) = &config.log_analytics {
        file("log_analytics.client_secret_file", la.client_secret_file.as_deref());
        file("log_analytics.federated_token_file", la.federated_token_file.as_deref());
    }
    if let Some(api) = &config.akeyless_api {
        file("akeyless_api.access_key_file", api.access_key_file.as_deref());
        file("akeyless_api.k8s_service_account_token_file", api.k8s_service_account_token_file.as_deref());
        file("akeyless_api.azure_ad_cloud_id_file", api.azure_ad_cloud_id_file.as_deref());
    }
    if let Some(kubernetes) = &config.kubernetes {
        file("kubernetes.kubeconfig", kubernetes.kubeconfig.as_deref());
    }
    if let Some(logs) = &config.akeyless_logs {
        for location in logs.locations.iter().filter(|l| !l.contains("://")) {
            file("akeyless_logs.locations", Some(Path::new(location)));
        }
    }
    let mut variable = |key: &str, name: Option<&str>| {
        if let Some(name) = name.filter(|n| std::env::var_os(n).is_none()) {
            problems.push(format!("{key}: the environment variable {name} is not set"));
        }
    };
    variable("log_analytics.client_secret_env", config.log_analytics.as_ref().and_then(|la| la.client_secret_env.as_deref()));
    variable("akeyless_api.access_key_env", config.akeyless_api.as_ref().and_then(|a| a.access_key_env.as_deref()));

    match &config.signing_key {
        None => problems.push("signing_key is not set: `keytrail run` needs it to sign checkpoints and packs (create one with `keytrail keygen --out FILE`)".into()),
        Some(key) if key.exists() => {
            if let Err(e) = Signer::from_file(key) {
                problems.push(format!("signing_key: {e}"));
            }
        }
        Some(key) => problems.push(format!("signing_key: {} does not exist", key.display())),
    }
    if let Some(path) = config.exceptions.as_deref().filter(|p| p.exists()) {
        if let Err(e) = super::controls::read_exceptions(Some(path)) {
            problems.push(format!("exceptions: {e:#}"));
        }
    }

    let sources: Vec<String> = [
        config.log_analytics.as_ref().map(|la| format!("log_analytics (workspace {})", la.workspace_id)),
        config.akeyless_logs.as_ref().map(|l| format!("akeyless_logs ({} locations)", l.locations.len())),
        config.akeyless_api.as_ref().map(|a| format!("akeyless_api ({})", a.endpoint)),
        config.kubernetes.as_ref().map(|k| {
            format!("kubernetes (clusters {})", k.clusters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "))
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
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
