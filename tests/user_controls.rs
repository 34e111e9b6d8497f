//! An organisation's own controls: a folder of `<id>.toml` + `<id>.sql` added to the
//! catalog (or replacing a built-in by id), shown with where it came from, evaluated
//! read-only like every control, and carried into the pack end to end.

mod common;

use std::path::{Path, PathBuf};

use common::{Workspace, keytrail};
use serde_json::Value;

const FRAMEWORKS: &str = "[frameworks]\nsoc2 = [\"CC6.1\"]\n";

fn control_toml(id: &str, title: &str) -> String {
    format!(
        "id = \"{id}\"\ntitle = \"{title}\"\ndescription = \"d\"\nrationale = \"r\"\nseverity = \"high\"\nevidence = \"activity\"\nevidence_tables = [\"akeyless_audit\"]\n{FRAMEWORKS}"
    )
}

fn write_control(dir: &Path, id: &str, title: &str, sql: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{id}.toml")), control_toml(id, title)).unwrap();
    std::fs::write(dir.join(format!("{id}.sql")), sql).unwrap();
}

/// The sample month's Akeyless records in a ledger.
fn sample() -> Workspace {
    let ws = Workspace::new();
    common::collect_sample(&ws, &["AkeylessAudit_CL"], &["--source", "log-analytics"]);
    ws
}

const PROD_READS: &str = "SELECT item_path AS resource,\n       CASE WHEN item_path LIKE '/prod/%' THEN 'alarm' ELSE 'ok' END AS status,\n       'read ' || CAST(count(*) AS VARCHAR) || ' times' AS reason\nFROM akeyless_audit\nWHERE event_time >= $period_start AND event_time < $period_end AND item_path IS NOT NULL\nGROUP BY item_path\n";

fn verdicts(run: &common::Run) -> Vec<Value> {
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    report["controls"].as_array().unwrap().clone()
}

fn verdict<'a>(controls: &'a [Value], id: &str) -> &'a Value {
    &controls.iter().find(|c| c["control"] == id).unwrap_or_else(|| panic!("no control {id}"))["verdict"]
}

#[test]
fn an_organisation_s_controls_are_listed_evaluated_and_packed_with_their_origin() {
    let ws = sample();
    let dir = ws.path().join("our-controls");
    write_control(&dir, "prod-item-reads", "Production items are read only where expected", PROD_READS);
    // The same id as a built-in: replaces it.
    write_control(
        &dir,
        "auth-failure-burst",
        "Our own burst rule",
        "SELECT 'all' AS resource, 'ok' AS status, 'ours' AS reason\nFROM akeyless_audit LIMIT 1\n",
    );

    let listed = keytrail(&ws.ledger(), &["controls", "--controls", dir.to_str().unwrap()]).expect(0).stdout;
    assert!(listed.contains(&format!("from {}", dir.join("prod-item-reads.toml").display())), "{listed}");
    assert!(listed.contains("auth-failure-burst.toml (replaces the built-in)") && listed.contains("Our own burst rule"), "{listed}");
    assert_eq!(listed.matches("auth-failure-burst ").count(), 1, "replaced, not listed twice: {listed}");

    let run = keytrail(&ws.ledger(), &["evaluate", "--period", "2026-11", "--controls", dir.to_str().unwrap(), "--format", "json"]).expect(0);
    let controls = verdicts(&run);
    let ours = verdict(&controls, "prod-item-reads");
    assert_eq!(ours["status"], "alarm", "{ours}");
    assert!(ours["findings"].as_array().unwrap().iter().all(|f| f["resource"].as_str().unwrap().starts_with("/prod/")), "{ours}");
    assert_eq!(verdict(&controls, "auth-failure-burst")["status"], "ok");

    // The configuration's controls_dir does the same, end to end into a signed pack.
    let (key, public) = common::keygen(&ws);
    let config = ws.path().join("keytrail.toml");
    std::fs::write(&config, format!("signing_key = \"{}\"\ncontrols_dir = \"our-controls\"\n[controls.prod-item-reads]\n", key.display())).unwrap();
    let out = ws.path().join("packs");
    keytrail(&ws.ledger(), &["report", "--period", "2026-11", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()]).expect(0);
    let pack = out.join("keytrail-evidence-2026-11");
    assert!(std::fs::read_to_string(pack.join("queries/prod-item-reads.sql")).unwrap().contains("LIKE '/prod/%'"));
    let evidence = std::fs::read_to_string(pack.join("evidence/prod-item-reads.csv")).unwrap();
    assert!(evidence.lines().skip(1).any(|l| l.contains("/prod/") && l.contains("alarm")), "{evidence}");
    let catalog: Value = serde_json::from_slice(&std::fs::read(pack.join("controls.json")).unwrap()).unwrap();
    let text = catalog.to_string();
    assert!(text.contains("\"organisation: prod-item-reads.toml\""), "the pack says whose control it is");
    assert!(text.contains("\"organisation: auth-failure-burst.toml, replacing the built-in\""));
    assert!(!text.contains(dir.to_str().unwrap()), "where the folder lives stays out of the pack");
    let html = std::fs::read_to_string(pack.join("index.html")).unwrap();
    assert!(html.contains("Production items are read only where expected") && html.contains("Our own burst rule"));
    keytrail(&ws.ledger(), &["verify-pack", out.join("keytrail-evidence-2026-11.tar.gz").to_str().unwrap(), "--public-key", public.to_str().unwrap()])
        .expect(0);
}

#[test]
fn an_organisation_s_sql_is_read_only_like_every_control() {
    let ws = sample();
    let dir = ws.path().join("our-controls");
    let copied = ws.path().join("copied.csv");
    write_control(&dir, "makes-a-table", "t", "CREATE TABLE stolen AS SELECT * FROM akeyless_audit");
    write_control(&dir, "copies-out", "t", &format!("COPY (SELECT * FROM akeyless_audit) TO '{}'", copied.display()));
    write_control(&dir, "inserts", "t", "INSERT INTO akeyless_audit SELECT * FROM akeyless_audit");
    let before: Vec<_> = common::manifest_paths(&ws.ledger(), "akeyless_audit");
    let run = keytrail(&ws.ledger(), &["evaluate", "--period", "2026-11", "--controls", dir.to_str().unwrap(), "--format", "json"]).expect(0);
    let controls = verdicts(&run);
    for id in ["makes-a-table", "copies-out", "inserts"] {
        let v = verdict(&controls, id);
        assert_eq!(v["status"], "error", "{id}: {v}");
    }
    assert!(!copied.exists(), "nothing written by COPY");
    assert_eq!(common::manifest_paths(&ws.ledger(), "akeyless_audit"), before, "nothing appended");
}

#[test]
fn a_bad_entry_fails_config_check_naming_its_file_and_line() {
    let ws = Workspace::new();
    let dir = ws.path().join("our-controls");
    let config = ws.path().join("keytrail.toml");
    let (key, _) = common::keygen(&ws);
    std::fs::write(&config, format!("signing_key = \"{}\"\ncontrols_dir = \"our-controls\"\n", key.display())).unwrap();
    let check = |expected: &str| {
        let run = keytrail(&ws.ledger(), &["config", "check", "--config", config.to_str().unwrap()]).expect(2);
        assert!(run.stdout.contains(expected), "{expected}\n{}", run.stdout);
    };
    write_control(&dir, "ours", "t", "SELECT 1");
    let file: PathBuf = dir.join("ours.toml");
    std::fs::write(&file, control_toml("ours", "t").replace("severity = \"high\"", "severity = \"urgent\"")).unwrap();
    check(&format!("{}: line 5: unknown variant `urgent`", file.display()));
    std::fs::write(&file, control_toml("ours", "t").replace("soc2 = [\"CC6.1\"]", "pci = [\"1.1\"]")).unwrap();
    check("[frameworks] pci: no such framework");
    std::fs::write(&file, control_toml("ours", "t").replace("CC6.1", "CC99.9")).unwrap();
    check("[frameworks] soc2: CC99.9 is not a requirement");
    std::fs::write(&file, control_toml("other", "t")).unwrap();
    check("differs from the file name");
    std::fs::write(&file, control_toml("ours", "t")).unwrap();
    std::fs::remove_file(dir.join("ours.sql")).unwrap();
    check(&format!("{}: the control's query", dir.join("ours.sql").display()));
    std::fs::write(dir.join("ours.sql"), "SELECT 1").unwrap();
    keytrail(&ws.ledger(), &["config", "check", "--config", config.to_str().unwrap()]).expect(0);
}
