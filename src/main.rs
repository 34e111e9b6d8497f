//! `keytrail`: tamper-evident audit evidence for AKS, Akeyless and the External Secrets
//! Operator. This binary parses the command line, sets up logging and maps outcomes to
//! the documented exit codes; the work lives in the library crates.

mod cli;
mod commands;
mod config;
mod exit;
mod memory;
mod period;

use clap::Parser;

use crate::cli::{Cli, LogFormat};
use crate::exit::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Before the runtime starts its threads (src/memory.rs says why).
    memory::limit_arenas();
    if matches!(cli.command, cli::Command::Collect(_)) {
        memory::map_large_buffers();
    }
    memory::release_free_memory_periodically();
    init_logging(cli.log_format, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keytrail: cannot start the async runtime: {e}");
            return ExitCode::Error.into();
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code.into(),
        Err(e) if is_broken_pipe(&e) => ExitCode::ClosedPipe.into(),
        Err(e) => {
            // Not eprintln!: it panics when stderr itself is a closed pipe.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "keytrail: error: {}", error_chain(&e));
            ExitCode::Error.into()
        }
    }
}

/// The error and its causes, each said once: DataFusion's and Arrow's messages already
/// include their sources, which `{:#}` would print a second time.
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.contains(message.trim()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            // Arrow's CSV and JSON writers keep only the text of the I/O error.
            || cause.to_string().ends_with("Broken pipe (os error 32)")
    })
}

fn init_logging(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYTRAIL_LOG").unwrap_or_else(|_| default.into());
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.without_time().with_target(false).init(),
    }
}
