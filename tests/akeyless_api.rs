//! `keytrail collect --source akeyless-api` against the emulated Akeyless API: auth, the
//! token in the body, paging, retries, and the access key kept out of every output.

mod common;

use common::{Workspace, keytrail, keytrail_env, manifests, string_column};
use datafusion::arrow::array::{Array, AsArray};
use keytrail_emulator::faults::Fault;
use keytrail_emulator::{Emulator, EmulatorConfig};

struct Harness {
    _runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    ws: Workspace,
    config: std::path::PathBuf,
}

fn harness(page_size: usize) -> Harness {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut config = EmulatorConfig::new(keytrail_emulator::dataset::Dataset::new());
    config.akeyless.page_size = page_size;
    let emulator = runtime.block_on(Emulator::start(config)).unwrap();
    let ws = Workspace::new();
    let config = emulator.write_client_files(&ws.path().join("client"), &[], "").unwrap();
    // Fast retries for the tests.
    let text = std::fs::read_to_string(&config).unwrap().replace("[akeyless_api]\n", "[akeyless_api]\ninitial_backoff_ms = 20\n");
    std::fs::write(&config, text).unwrap();
    Harness { _runtime: runtime, emulator, ws, config }
}

fn bools(ledger: &std::path::Path, stream: &str, column: &str) -> Vec<Option<bool>> {
    let mut out = Vec::new();
    for segment in common::segments(ledger, stream) {
        for batch in common::read_parquet(&ledger.join(&segment)) {
            let col = batch.column_by_name(column).unwrap().as_boolean().clone();
            out.extend((0..col.len()).map(|i| (!col.is_null(i)).then(|| col.value(i))));
        }
    }
    out
}

#[test]
fn a_snapshot_pages_through_every_list_and_retries_throttling() {
    let h = harness(2);
    let account = h.emulator.config().akeyless.clone();
    h.emulator.faults().extend([Fault::Throttle { retry_after_secs: None }, Fault::Pass, Fault::ServerError { status: 503 }]);
    let run = keytrail(&h.ws.ledger(), &["collect", "--config", h.config.to_str().unwrap(), "--source", "akeyless-api"]).expect(0);
    let line = format!("snapshot of {} items, {} roles, {} auth methods (2 retries)", account.items.len(), account.roles.len(), account.auth_methods.len());
    assert!(run.stdout.contains(&line), "{}", run.stdout);

    let names = string_column(&h.ws.ledger(), "akeyless_items", "item_name");
    let expected: Vec<String> = account.items.iter().map(|i| i["item_name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, expected, "every page, in order, once");
    assert!(names.iter().any(|n| n.contains("<script>")));
    let methods = string_column(&h.ws.ledger(), "akeyless_auth_methods", "method_type");
    assert_eq!(methods, ["k8s", "k8s", "email", "saml2", "api_key"], "rules_type, else the access rules present");
    let forced = bools(&h.ws.ledger(), "akeyless_auth_methods", "force_sub_claims");
    assert_eq!(forced, [Some(true), Some(true), None, None, None]);
    let rotated = common::time_column(&h.ws.ledger(), "akeyless_items", "last_rotation_date");
    assert_eq!(rotated.iter().filter(|t| t.is_some()).count(), 5, "the Item's own last_rotation_date: {rotated:?}");
    let subs = string_column(&h.ws.ledger(), "akeyless_roles", "role_name");
    assert_eq!(subs, ["eso-reader", "platform-admin", "rotator"]);

    // A second run is a second snapshot: configuration drift is evidence.
    keytrail(&h.ws.ledger(), &["collect", "--config", h.config.to_str().unwrap(), "--source", "akeyless-api"]).expect(0);
    assert_eq!(manifests(&h.ws.ledger(), "akeyless_roles").len(), 2);
    keytrail(&h.ws.ledger(), &["verify"]).expect(0);
}

#[test]
fn a_wrong_access_key_fails_clearly_and_the_key_never_appears_anywhere() {
    let h = harness(50);
    let key_file = h.ws.path().join("client/akeyless-access-key");
    let wrong = "wrong-key-5f1e0c9d3b7a";
    std::fs::write(&key_file, wrong).unwrap();
    let run = keytrail_env(
        &h.ws.ledger(),
        &["-vv", "collect", "--config", h.config.to_str().unwrap(), "--source", "akeyless-api"],
        &[("KEYTRAIL_LOG", "debug".to_string())],
    )
    .expect(6);
    let failed = run.stdout.lines().find(|l| l.starts_with("akeyless api: NOT COLLECTED")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(failed.contains("Akeyless authentication failed for access ID p-keytrail01") && failed.contains("401"), "{failed}");
    assert!(!run.stderr.contains(wrong) && !run.stdout.contains(wrong), "the access key must never be shown");
    let gap = string_column(&h.ws.ledger(), "collection_gaps", "reason");
    assert!(gap.len() == 1 && gap[0].contains("401") && !gap[0].contains(wrong), "the failed snapshot is on record: {gap:?}");

    // With the right key, the key is in no ledger object either.
    let right = h.emulator.config().akeyless.access_key.clone();
    std::fs::write(&key_file, &right).unwrap();
    let run = keytrail_env(
        &h.ws.ledger(),
        &["-vv", "collect", "--config", h.config.to_str().unwrap(), "--source", "akeyless-api"],
        &[("KEYTRAIL_LOG", "debug".to_string())],
    )
    .expect(0);
    assert!(!run.stderr.contains(&right) && !run.stdout.contains(&right));
    for entry in walk(&h.ws.ledger()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(right.len()).any(|w| w == right.as_bytes()), "the access key is in {}", entry.display());
    }
}

#[test]
fn kubernetes_service_account_auth_is_sent_as_the_api_expects() {
    let h = harness(50);
    let token = h.ws.path().join("sa-token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJrZXl0cmFpbCJ9.c2ln\n").unwrap();
    let access_key_id = format!("access_id = \"{}\"", h.emulator.config().akeyless.access_id);
    let k8s_id = format!("access_id = \"{}\"", h.emulator.config().akeyless.k8s_access_id);
    let with_access_key_id = std::fs::read_to_string(&h.config).unwrap().replace(
        "access_key_file = \"akeyless-access-key\"",
        &format!("access_type = \"k8s\"\nk8s_auth_config_name = \"aks-prod\"\nk8s_service_account_token_file = \"{}\"", token.display()),
    );
    // The access-key method's ID with a service-account token: the wrong method.
    std::fs::write(&h.config, &with_access_key_id).unwrap();
    let run = keytrail(&h.ws.ledger(), &["collect", "--config", h.config.to_str().unwrap(), "--source", "akeyless-api"]).expect(6);
    assert!(run.stdout.contains("NOT COLLECTED: Akeyless authentication failed"), "{}", run.stdout);

    let text = with_access_key_id.replace(&access_key_id, &k8s_id);
    assert_ne!(text, with_access_key_id);
    std::fs::write(&h.config, &text).unwrap();
    keytrail(&h.ws.ledger(), &["collect", "--config", h.config.to_str().unwrap(), "--source", "akeyless-api"]).expect(0);
    assert_eq!(manifests(&h.ws.ledger(), "akeyless_items").len(), 1);

    std::fs::write(&h.config, text.replace("k8s_auth_config_name = \"aks-prod\"", "k8s_auth_config_name = \"aks-other\"")).unwrap();
    let run = keytrail(&h.ws.ledger(), &["collect", "--config", h.config.to_str().unwrap(), "--source", "akeyless-api"]).expect(6);
    assert!(run.stdout.contains("NOT COLLECTED: Akeyless authentication failed"), "{}", run.stdout);
}

/// The emulator's accounts and the checked-in lists use only fields of Akeyless's published
/// SDK models (the list in `keytrail_collectors::akeyless_api::model`), so keytrail is
/// tested against the vendor's shapes, never its own.
#[test]
fn the_emulator_and_sample_data_use_only_the_published_model() {
    use keytrail_collectors::akeyless_api::model::unknown_paths;
    use keytrail_emulator::{sample_month, vendor_month};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let read = |path: &str| -> Vec<serde_json::Value> { serde_json::from_str(&std::fs::read_to_string(root.join(path)).unwrap()).unwrap() };
    let accounts = [
        ("sample month", sample_month::akeyless_config_with(sample_month::Planted::Yes)),
        ("clean month", sample_month::akeyless_config_with(sample_month::Planted::No)),
        ("vendor month", vendor_month::akeyless_config()),
        ("sample-data/akeyless/api", (read("akeyless/api/items.json"), read("akeyless/api/roles.json"), read("akeyless/api/auth-methods.json"))),
        (
            "sample-data/vendor-month/akeyless-api",
            (read("vendor-month/akeyless-api/items.json"), read("vendor-month/akeyless-api/roles.json"), read("vendor-month/akeyless-api/auth-methods.json")),
        ),
    ];
    for (name, (items, roles, auth_methods)) in &accounts {
        for (object, list) in [("item", items), ("role", roles), ("auth_method", auth_methods)] {
            assert!(!list.is_empty(), "{name}: no {object}");
            for o in list {
                let unknown = unknown_paths(object, o);
                assert!(unknown.is_empty(), "{name}: {object} uses {unknown:?}, which no Akeyless SDK model has: {o}");
            }
        }
    }
    // The check itself bites.
    assert_eq!(unknown_paths("auth_method", &serde_json::json!({"access_info": {"mfa_required": true}})), ["access_info.mfa_required"]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
