//! `--engine ballista`: the same SQL on a real Ballista cluster (a scheduler and two
//! executors, each a `keytrail cluster` process on loopback) gives the same verdicts,
//! evidence, views and ad-hoc results as in-process, and the executors read an `az://`
//! ledger on Azurite with their own credentials.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Workspace, command, keytrail};

/// A scheduler and two executors, killed on drop. Their logs are files in `dir`.
struct Cluster {
    children: Vec<Child>,
    scheduler: String,
    dir: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    fn start(dir: &Path, env: &[(&str, String)]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let mut cluster = Self { children: Vec::new(), scheduler: String::new(), dir: dir.to_path_buf() };
        let port = free_port();
        let scheduler = format!("df://127.0.0.1:{port}");
        cluster.scheduler = scheduler.clone();
        cluster.spawn("scheduler", &["cluster", "scheduler", "--bind", &format!("127.0.0.1:{port}")], env, port);
        for n in 0..2 {
            let (flight, grpc) = (free_port(), free_port());
            let args = [
                "cluster",
                "executor",
                "--scheduler",
                &scheduler,
                "--bind",
                &format!("127.0.0.1:{flight}"),
                "--grpc-port",
                &grpc.to_string(),
                "--external-host",
                "127.0.0.1",
                "--concurrent-tasks",
                "2",
                "--memory-mb",
                "512",
            ];
            cluster.spawn(&format!("executor-{n}"), &args, env, flight);
        }
        cluster
    }

    fn spawn(&mut self, name: &str, args: &[&str], env: &[(&str, String)], port: u16) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        // The ledger flag is global and unused by cluster processes.
        let mut cmd = command("unused", args);
        cmd.env("KEYTRAIL_LOG", "info").stdout(Stdio::null()).stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.children.push(cmd.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{name} did not listen on {port} within 60 s:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let path = entry.unwrap().path();
            text += &format!("--- {}\n{}\n", path.display(), std::fs::read_to_string(&path).unwrap_or_default());
        }
        text
    }

    fn engine(&self) -> [&str; 4] {
        ["--engine", "ballista", "--scheduler", &self.scheduler]
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The lines of a CSV result, header first, rows sorted (the engines may order rows
/// differently where the query does not).
fn sorted_csv(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(rows) = lines.get_mut(1..) {
        rows.sort();
    }
    lines
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_control_view_and_pack_is_the_same_on_ballista() {
    let ws = Workspace::new();
    common::collect_sample(&ws, keytrail_emulator::SAMPLE_TABLES, &[]);
    let cluster = Cluster::start(&ws.path().join("cluster"), &[]);
    let ledger = ws.ledger();
    let on_cluster = |args: &[&str]| {
        let run = keytrail(&ledger, &[args, &cluster.engine()[..]].concat());
        assert_eq!(run.code, 0, "{}\n{}\n{}", run.stdout, run.stderr, cluster.logs());
        run.stdout
    };

    // Every control: verdict, counts and findings, with the sample organisation's
    // environments (the environment_rules view of VALUES) and parameters.
    let organisation = ws.path().join("organisation.toml");
    std::fs::write(&organisation, include_str!("../sample-data/organisation.toml")).unwrap();
    let evaluate = ["evaluate", "--period", "2026-11", "--format", "json", "--config", organisation.to_str().unwrap()];
    let local: serde_json::Value = serde_json::from_str(&keytrail(&ledger, &evaluate).expect(0).stdout).unwrap();
    let remote: serde_json::Value = serde_json::from_str(&on_cluster(&evaluate)).unwrap();
    let controls = local["controls"].as_array().unwrap();
    let alarmed = controls.iter().filter(|c| c["verdict"]["status"] == "alarm").count();
    assert!(alarmed >= 8, "the sample month has planted violations: {alarmed} controls alarm");
    assert_eq!(local, remote, "evaluate differs between the engines");

    // Every view, whole.
    for (view, _) in keytrail_query::VIEWS {
        let sql = ["sql", "--period", "2026-11", "--format", "csv", &format!("SELECT * FROM {view}")];
        let local = sorted_csv(&keytrail(&ledger, &sql).expect(0).stdout);
        let remote = sorted_csv(&on_cluster(&sql));
        assert_eq!(local, remote, "view {view} differs between the engines");
        if ["secret_access", "auth_failures", "privileged_ops", "rotations", "coverage"].contains(view) {
            assert!(local.len() > 2, "{view} has rows in the sample month");
        }
    }

    // The pack's evidence and data files, byte for byte.
    let (key, _) = common::keygen(&ws);
    let report = |out: &Path, extra: &[&str]| {
        let args = [&["report", "--period", "2026-11", "--key", key.to_str().unwrap(), "--out", out.to_str().unwrap()][..], extra].concat();
        let run = keytrail(&ledger, &args);
        assert_eq!(run.code, 0, "{}\n{}\n{}", run.stdout, run.stderr, cluster.logs());
        out.join("keytrail-evidence-2026-11")
    };
    let local = report(&ws.path().join("packs-local"), &[]);
    let remote = report(&ws.path().join("packs-ballista"), &cluster.engine());
    for (folder, at_least) in [("evidence", 2 * controls.len()), ("data", 2)] {
        let (l, r) = (files(&local.join(folder)), files(&remote.join(folder)));
        assert!(l.len() >= at_least, "{folder}: {} files", l.len());
        assert_eq!(l.iter().map(|f| &f.0).collect::<Vec<_>>(), r.iter().map(|f| &f.0).collect::<Vec<_>>());
        for ((name, a), (_, b)) in l.iter().zip(&r) {
            let head = |bytes: &[u8]| String::from_utf8_lossy(bytes).chars().take(4000).collect::<String>();
            assert!(a == b, "{folder}/{name} differs between the engines:\n{}\n--- on Ballista:\n{}", head(a), head(b));
        }
    }
}

#[test]
fn executors_read_an_azure_ledger_with_their_own_credentials() {
    let azurite = keytrail_test_support::Azurite::start();
    azurite.create_container("evidence");
    let env = azurite.env();
    let url = "az://evidence/ledgers/prod";
    let ws = Workspace::new();
    let file = ws.write_lines("a.jsonl", common::audit_records(0, 3000));
    let run = |args: &[&str], env: &[(&str, String)]| {
        let mut cmd = command(url, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, err) = run(&["ingest", "--stream", "app_audit", "--batch-records", "1000", file.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{out}{err}");

    let query = "SELECT count(*) AS n, count(DISTINCT raw) AS distinct_raw, min(event_time) AS first, max(event_time) AS last, sum(seq) AS seqs FROM app_audit";
    let (code, local, err) = run(&["sql", "--format", "csv", query], &env);
    assert_eq!(code, 0, "{err}");
    assert!(local.lines().nth(1).is_some_and(|l| l.starts_with("3000,3000,")), "{local}");

    let cluster = Cluster::start(&ws.path().join("cluster"), &env);
    let (code, remote, err) = run(&[&["sql", "--format", "csv", query][..], &cluster.engine()[..]].concat(), &env);
    assert_eq!(code, 0, "{err}\n{}", cluster.logs());
    assert_eq!(local, remote);

    // A cluster without the storage credentials cannot read the ledger, whatever the
    // client holds: nothing in the query carries them.
    let blind = Cluster::start(&ws.path().join("blind"), &[]);
    let (code, _, err) = run(&[&["sql", "--format", "csv", query][..], &blind.engine()[..]].concat(), &env);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("keytrail: error") && err.contains("Account must be specified"), "{err}");
}

#[test]
fn engine_settings_that_cannot_work_are_refused_with_what_to_do() {
    let ws = Workspace::new();
    let ledger = ws.ledger();
    common::ingest(&ws, "app_audit", "a.jsonl", &common::audit_records(0, 10), 10).expect(0);
    let run = keytrail(&ledger, &["sql", "--engine", "ballista", "SELECT 1"]).expect(2);
    assert!(run.stderr.contains("--scheduler df://HOST:PORT"), "{}", run.stderr);
    let run = keytrail(&ledger, &["sql", "--engine", "ballista", "--scheduler", "http://host:50050", "SELECT 1"]).expect(2);
    assert!(run.stderr.contains("scheme must be df://"), "{}", run.stderr);
    let config = ws.path().join("keytrail.toml");
    std::fs::write(&config, "engine = \"ballista\"\n").unwrap();
    let run = keytrail(&ledger, &["report", "--period", "2026-11", "--config", config.to_str().unwrap(), "--key", "none"]).expect(2);
    assert!(run.stderr.contains("--engine ballista needs the scheduler"), "{}", run.stderr);
    // Nothing listens there: the error says where it tried.
    let port = free_port();
    let run = keytrail(&ledger, &["sql", "--engine", "ballista", "--scheduler", &format!("df://127.0.0.1:{port}"), "SELECT count(*) FROM app_audit"]).expect(2);
    assert!(run.stderr.contains(&port.to_string()), "{}", run.stderr);
}
