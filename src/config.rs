//! `keytrail.toml`: one file for every job. It names where credentials are (environment
//! variables, files), never the credentials themselves. Relative paths in it are taken
//! from the file's own folder, so a CronJob and a laptop read the same file the same way.

use std::path::{Path, PathBuf};

use anyhow::Context;
use keytrail_collectors::source::Source;
use serde::Deserialize;

// `Config` has a section for every source of `keytrail_collectors::with_sources!`, the one
// list a source is registered in.
macro_rules! config_with_sources {
    ($($section:ident: $config:ty,)*) => {
        /// The whole configuration file.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Config {
            /// Ledger URL (overridden by `--ledger` / `KEYTRAIL_LEDGER`).
            pub ledger: Option<String>,
            /// Extra CA certificates (PEM) trusted for all outbound HTTPS.
            pub ca_file: Option<PathBuf>,
            /// Named on the evidence pack's cover.
            pub organisation: Option<String>,
            /// Cluster names shown on the cover.
            #[serde(default)]
            pub clusters: Vec<String>,
            /// Private key from `keytrail keygen`: signs checkpoints and pack manifests.
            pub signing_key: Option<PathBuf>,
            /// Origin prefix of the signed checkpoints; default `keytrail`.
            pub checkpoint_origin: Option<String>,
            /// Accepted risks: a TOML file of `[[exception]]` tables, kept in Git.
            pub exceptions: Option<PathBuf>,
            /// The organisation's own controls: `<id>.toml` + `<id>.sql` files, added to the
            /// catalog or replacing a built-in control of the same id.
            pub controls_dir: Option<PathBuf>,
            /// MiB the queries of `run` and `report` may hold before sorts and aggregations spill
            /// to the temporary folder; default 512.
            pub query_memory_mb: Option<usize>,
            /// Where the queries of `run` and `report` run: `local` (default) or `ballista`
            /// (overridden by `--engine` / `KEYTRAIL_ENGINE`).
            pub engine: Option<crate::cli::EngineKind>,
            /// The Ballista scheduler for `engine = "ballista"`: `df://HOST:PORT` (overridden by
            /// `--scheduler` / `KEYTRAIL_SCHEDULER`).
            pub scheduler: Option<String>,
            /// Evidence packs.
            #[serde(default)]
            pub report: ReportConfig,
            /// Control parameters that differ from the catalog's defaults: `[controls.<id>]`
            /// tables of `parameter = value`.
            #[serde(default)]
            pub controls: std::collections::BTreeMap<String, toml::Table>,
            /// Which clusters, Akeyless auth methods and item paths belong to which environment:
            /// `[environments.<name>]` tables.
            #[serde(default)]
            pub environments: std::collections::BTreeMap<String, keytrail_query::environments::Environment>,
            $(
                #[doc = concat!("`[", stringify!($section), "]`: a source (`keytrail_collectors::with_sources!`).")]
                pub $section: Option<$config>,
            )*
        }

        impl Config {
            /// The configured sources, in the order they are collected. Every job that goes
            /// through sources (`collect`, `run`, `config check`) takes them from here.
            pub fn sources(&self) -> Vec<&dyn Source> {
                [$(self.$section.as_ref().map(|s| s as &dyn Source)),*].into_iter().flatten().collect()
            }

            fn sources_mut(&mut self) -> Vec<&mut dyn Source> {
                [$(self.$section.as_mut().map(|s| s as &mut dyn Source)),*].into_iter().flatten().collect()
            }
        }
    };
}
keytrail_collectors::with_sources!(config_with_sources);

/// `[report]`: where and how `run` writes evidence packs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Folder for packs; default `./packs`.
    pub out: Option<PathBuf>,
    /// Frameworks to report on; default all.
    #[serde(default)]
    pub frameworks: Vec<String>,
    /// Evidence rows shown per control in `index.html`; default 20.
    pub sample_rows: Option<usize>,
}

impl Config {
    /// The ledger to use: `--ledger` / `KEYTRAIL_LEDGER`, else `ledger`, else ./evidence.
    pub fn ledger_url<'a>(&'a self, flag: Option<&'a str>) -> &'a str {
        flag.or(self.ledger.as_deref()).unwrap_or(crate::commands::DEFAULT_LEDGER)
    }

    /// The query engine: flags (or their environment variables) win over the file.
    pub fn engine(&self, flags: &crate::cli::EngineArgs) -> anyhow::Result<keytrail_query::Engine> {
        use crate::cli::EngineKind;
        let scheduler = flags.scheduler.as_deref().or(self.scheduler.as_deref());
        match flags.engine.or(self.engine).unwrap_or(EngineKind::Local) {
            EngineKind::Local => Ok(keytrail_query::Engine::Local),
            EngineKind::Ballista => {
                let url = scheduler.context(
                    "--engine ballista needs the scheduler: add --scheduler df://HOST:PORT (or scheduler = \"df://HOST:PORT\" in the configuration)",
                )?;
                Ok(keytrail_query::Engine::Ballista(keytrail_cluster::SchedulerAddress::parse(url)?))
            }
        }
    }

    /// The configured environments, named.
    pub fn environments(&self) -> Vec<keytrail_query::environments::Environment> {
        self.environments.iter().map(|(name, e)| keytrail_query::environments::Environment { name: name.clone(), ..e.clone() }).collect()
    }

    /// How `sql` and `evaluate` open a session: the engine (flags win), the query memory
    /// (the flag, else `query_memory_mb`, else the default) and the environments.
    pub fn session_options(&self, flags: &crate::cli::EngineArgs, memory_mb: Option<usize>) -> anyhow::Result<keytrail_query::SessionOptions> {
        Ok(keytrail_query::SessionOptions { engine: self.engine(flags)?, environments: self.environments(), ..keytrail_query::SessionOptions::default() }
            .with_memory_mb(memory_mb.or(self.query_memory_mb)))
    }

    /// The controls: keytrail's, with the organisation's own from `dir` (else
    /// `controls_dir`), and this configuration's parameter overrides applied.
    pub fn catalog(&self, dir: Option<&Path>) -> anyhow::Result<Vec<keytrail_query::controls::Control>> {
        let mut catalog = keytrail_query::controls::catalog_with(dir.or(self.controls_dir.as_deref()))?;
        self.apply_control_parameters(&mut catalog)?;
        Ok(catalog)
    }

    /// `catalog` with this configuration's parameter overrides applied. An unknown control
    /// or parameter, or a value of another type than the default's, is an error.
    pub fn apply_control_parameters(&self, catalog: &mut [keytrail_query::controls::Control]) -> anyhow::Result<()> {
        for (id, overrides) in &self.controls {
            let control =
                catalog.iter_mut().find(|c| &c.id == id).with_context(|| format!("[controls.{id}]: no control has this id (see `keytrail controls`)"))?;
            for (name, value) in overrides {
                let default = control.parameters.get(name).with_context(|| {
                    let known: Vec<&str> = control.parameters.keys().map(String::as_str).collect();
                    format!("[controls.{id}] {name}: the control has no such parameter (it has: {})", known.join(", "))
                })?;
                if std::mem::discriminant(default) != std::mem::discriminant(value) {
                    anyhow::bail!("[controls.{id}] {name}: expected a {} like the default {default}", default.type_str());
                }
                // Every numeric parameter is a limit, a duration or a count.
                if value.as_integer().is_some_and(|n| n < 0) || value.as_float().is_some_and(|n| n < 0.0 || n.is_nan()) {
                    anyhow::bail!("[controls.{id}] {name}: {value} is negative; give 0 or more (the default is {default})");
                }
                control.parameters.insert(name.clone(), value.clone());
            }
        }
        Ok(())
    }

    /// Reads a configuration file and checks every value as the jobs would use it: what
    /// loads here, every job accepts, and `keytrail config check` says the same.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let config = Self::read(path)?;
        let problems = config.problems();
        if !problems.is_empty() {
            anyhow::bail!("in the configuration {}: {}", path.display(), problems.join("; "));
        }
        Ok(config)
    }

    /// What is wrong with values that each parsed alone, every problem naming its key:
    /// the ledger location, each source's limits and names, the query engine, control
    /// parameters and frameworks. Files and environment variables are not looked at.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(ledger) = &self.ledger
            && let Err(e) = keytrail_ledger::Ledger::check_location(ledger)
        {
            problems.push(format!("ledger: {e}"));
        }
        if let Some(scheduler) = &self.scheduler
            && let Err(e) = keytrail_cluster::SchedulerAddress::parse(scheduler)
        {
            problems.push(format!("scheduler: {e}"));
        }
        problems.extend(self.sources().iter().filter_map(|s| s.validate().err()));
        if let Err(e) = self.catalog(None) {
            problems.push(format!("{e:#}"));
        }
        if let Err(e) = keytrail_query::controls::frameworks_named(&self.report.frameworks) {
            problems.push(format!("report.frameworks: {e}"));
        }
        problems
    }

    /// Reads a configuration file: every value parsed to its type, relative paths taken
    /// from the file's folder. [`Config::load`] also checks the values together.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading the configuration {}", path.display()))?;
        // The message, position and key only: toml's own rendering quotes the source line,
        // which may hold a secret someone pasted by mistake.
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            let at = e.span().map(|s| {
                let before = &text[..s.start.min(text.len())];
                let key = key_at(&text, s.start).map(|k| format!(" ({k})")).unwrap_or_default();
                format!(" at line {}, column {}{key}", before.matches('\n').count() + 1, before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1)
            });
            anyhow::anyhow!("in the configuration {}{}: {}", path.display(), at.unwrap_or_default(), e.message().trim())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        config.ca_file.as_mut().map(resolve);
        config.signing_key.as_mut().map(resolve);
        config.exceptions.as_mut().map(resolve);
        config.controls_dir.as_mut().map(resolve);
        config.report.out.as_mut().map(resolve);
        for source in config.sources_mut() {
            source.prepare(base).map_err(anyhow::Error::msg)?;
        }
        Ok(config)
    }
}

/// The dotted key whose value is at byte `offset` of a TOML text, as its table headers and
/// the line say it (`log_analytics.workspace_id`); the value itself is never quoted.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default();
    let key = line.split_once('=').map(|(k, _)| k.trim().trim_matches('"'))?;
    let table = text[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[').then(|| l.trim_start_matches('[').split(']').next().unwrap_or_default().trim().to_string())
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keytrail.toml");
        std::fs::write(
            &path,
            "ca_file = \"ca.pem\"\n[log_analytics]\nworkspace_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient_secret_file = \"/abs/secret\"\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.ca_file.unwrap(), dir.path().join("ca.pem"));
        let la = config.log_analytics.unwrap();
        assert_eq!(la.client_secret_file.unwrap(), PathBuf::from("/abs/secret"));
        assert_eq!(la.window_minutes, 60);

        // A secret pasted into the file is refused, and the error never repeats it.
        std::fs::write(&path, "[log_analytics]\nworkspace_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient_secret = \"hunter2-value\"\n").unwrap();
        let err = format!("{:#}", Config::load(&path).unwrap_err());
        assert!(err.contains("by reference") && err.contains("line 3") && err.contains("keytrail.toml"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");

        std::fs::write(&path, "[log_analytics]\nworkspace_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient_secret = \"file:secret\"\n[akeyless_api]\naccess_id = \"p\"\naccess_key = \"env:AK\"\n").unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.log_analytics.unwrap().client_secret_file.unwrap(), dir.path().join("secret"));
        assert_eq!(config.akeyless_api.unwrap().access_key_env.as_deref(), Some("AK"));

        std::fs::write(&path, "[report]\nsample_row = 5\n").unwrap();
        let err = format!("{:#}", Config::load(&path).unwrap_err());
        assert!(err.contains("sample_row") && err.contains("line 2, column 1"), "{err}");
    }

    #[test]
    fn control_parameters_override_defaults_and_mistakes_are_named() {
        let mut catalog = keytrail_query::controls::catalog().unwrap();
        let config: Config = toml::from_str("[controls.rotation-overdue]\nmax_age_days = 30\n").unwrap();
        config.apply_control_parameters(&mut catalog).unwrap();
        let rotation = catalog.iter().find(|c| c.id == "rotation-overdue").unwrap();
        assert_eq!(rotation.parameters["max_age_days"], toml::Value::Integer(30));
        for (text, expected) in [
            ("[controls.nope]\nx = 1\n", "no control has this id"),
            ("[controls.rotation-overdue]\nmax_age = 1\n", "no such parameter"),
            ("[controls.rotation-overdue]\nmax_age_days = \"30\"\n", "expected a integer"),
        ] {
            let config: Config = toml::from_str(text).unwrap();
            let err = config.apply_control_parameters(&mut catalog).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn the_annotated_example_is_a_valid_configuration() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("keytrail.example.toml");
        let config = Config::load(&path).unwrap();
        assert!(config.log_analytics.is_some() && config.akeyless_logs.is_some() && config.akeyless_api.is_some());
        assert_eq!(config.exceptions.unwrap(), path.parent().unwrap().join("exceptions.toml"));
        assert_eq!(config.report.sample_rows, Some(20));
    }
}
