//! The Kustomize manifests in `deploy/`: every overlay resolves (each file it names exists
//! and parses), and nothing it deploys may read Secrets.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// Every object a kustomization deploys or patches in, following `resources` into bases
/// and `components` into components: (where it came from, the object or patch).
fn render(dir: &Path) -> Vec<(String, Value)> {
    let kustomization = &documents(&dir.join("kustomization.yaml"))[0];
    let mut out = Vec::new();
    let list = |key: &str| kustomization[key].as_sequence().cloned().unwrap_or_default();
    for resource in list("resources").into_iter().chain(list("components")) {
        let path = dir.join(resource.as_str().unwrap());
        if path.is_dir() {
            out.extend(render(&path));
        } else {
            out.extend(documents(&path).into_iter().map(|d| (path.display().to_string(), d)));
        }
    }
    for patch in list("patches") {
        if let Some(file) = patch["path"].as_str() {
            let path = dir.join(file);
            out.extend(documents(&path).into_iter().map(|d| (path.display().to_string(), d)));
        }
        if let Some(inline) = patch["patch"].as_str() {
            let ops: Value = serde_yaml::from_str(inline).unwrap();
            out.push((format!("{} (inline patch)", dir.display()), ops));
        }
    }
    for generator in list("configMapGenerator") {
        for file in generator["files"].as_sequence().into_iter().flatten() {
            let path = dir.join(file.as_str().unwrap());
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if path.extension().is_some_and(|x| x == "toml") {
                toml::from_str::<toml::Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
}

fn rule_problems(rules: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for rule in rules.as_sequence().into_iter().flatten() {
        let (resources, verbs, groups) = (strings(&rule["resources"]), strings(&rule["verbs"]), strings(&rule["apiGroups"]));
        if resources.iter().any(|r| r == "secrets" || r.starts_with("secrets/")) {
            problems.push(format!("grants {verbs:?} on secrets"));
        }
        if resources.iter().chain(&verbs).chain(&groups).any(|s| s.contains('*')) {
            problems.push(format!("uses a wildcard: {resources:?} {verbs:?} {groups:?}"));
        }
        if let Some(v) = verbs.iter().find(|v| !["get", "list", "watch"].contains(&v.as_str())) {
            problems.push(format!("grants {v}"));
        }
    }
    problems
}

/// What is wrong with one deployed object or patch, if anything.
fn rbac_problems(object: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if matches!(object["kind"].as_str(), Some("Role" | "ClusterRole")) {
        problems.extend(rule_problems(&object["rules"]));
        if !object["aggregationRule"].is_null() {
            problems.push("aggregates other roles".into());
        }
    }
    // A JSON patch that touches rules.
    for op in object.as_sequence().into_iter().flatten() {
        if op["path"].as_str().is_some_and(|p| p.contains("/rules")) {
            let value = &op["value"];
            problems.extend(rule_problems(&if value.is_sequence() { value.clone() } else { Value::Sequence(vec![value.clone()]) }));
        }
    }
    problems
}

#[test]
fn every_overlay_renders_and_grants_nothing_on_secrets() {
    for overlay in ["dev", "prod", "large"] {
        let objects = render(&deploy().join("overlays").join(overlay));
        let kinds: Vec<&str> = objects.iter().filter_map(|(_, o)| o["kind"].as_str()).collect();
        for kind in ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "CronJob", "PersistentVolumeClaim"] {
            assert!(kinds.contains(&kind), "{overlay}: no {kind} in {kinds:?}");
        }
        let cronjobs: Vec<&Value> = objects.iter().map(|(_, o)| o).filter(|o| o["kind"] == "CronJob" && !o["spec"]["schedule"].is_null()).collect();
        assert_eq!(cronjobs.len(), 3, "{overlay}: a monthly run, a daily collect and the clusters every 15 minutes");
        let kubernetes = cronjobs.iter().find(|j| j["metadata"]["name"] == "keytrail-kubernetes-collect").expect("the clusters' own CronJob");
        assert_eq!((kubernetes["spec"]["schedule"].as_str(), kubernetes["spec"]["concurrencyPolicy"].as_str()), (Some("*/15 * * * *"), Some("Forbid")));
        let args = &kubernetes["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"];
        assert!(args.as_sequence().unwrap().windows(2).any(|w| w[0] == "--source" && w[1] == "kubernetes"), "{args:?}");
        for job in cronjobs {
            let pod = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
            assert_eq!(pod["securityContext"]["runAsNonRoot"], Value::Bool(true), "{overlay}: {job:?}");
            assert_eq!(pod["serviceAccountName"], "keytrail");
            assert!(
                pod["volumes"].as_sequence().unwrap().iter().all(|v| v["secret"].is_null() || v["secret"]["secretName"] == "keytrail-signing-key"),
                "only the signing key is mounted"
            );
        }
        for (source, object) in &objects {
            let problems = rbac_problems(object);
            assert!(problems.is_empty(), "{overlay}: {source}: {problems:?}");
        }
    }
}

#[test]
fn the_large_overlay_runs_the_monthly_queries_on_a_ballista_cluster() {
    let objects = render(&deploy().join("overlays").join("large"));
    let named = |kind: &str, name: &str| {
        objects.iter().map(|(_, o)| o).find(|o| o["kind"] == kind && o["metadata"]["name"] == name).unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let scheduler = named("Service", "keytrail-ballista-scheduler");
    let port = scheduler["spec"]["ports"][0]["port"].as_u64().unwrap();
    let engine_patch = objects
        .iter()
        .map(|(_, o)| o)
        .find(|o| o["kind"] == "CronJob" && o["metadata"]["name"] == "keytrail-monthly" && serde_yaml::to_string(o).unwrap().contains("KEYTRAIL_SCHEDULER"))
        .expect("a patch pointing the monthly job at the scheduler");
    let env = &engine_patch["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"];
    let value = |name: &str| env.as_sequence().unwrap().iter().find(|e| e["name"] == name).and_then(|e| e["value"].as_str()).unwrap_or_default().to_string();
    assert_eq!(value("KEYTRAIL_ENGINE"), "ballista");
    assert_eq!(value("KEYTRAIL_SCHEDULER"), format!("df://keytrail-ballista-scheduler:{port}"));
    for name in ["keytrail-ballista-scheduler", "keytrail-ballista-executor"] {
        let pod = &named("Deployment", name)["spec"]["template"];
        assert_eq!(pod["spec"]["serviceAccountName"], "keytrail", "{name} reads the ledger with keytrail's identity");
        assert_eq!(pod["metadata"]["labels"]["azure.workload.identity/use"], "true", "{name}");
        assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], Value::Bool(true), "{name}");
        let args = strings(&pod["spec"]["containers"][0]["args"]);
        assert!(args.windows(2).any(|w| w == ["cluster", if name.ends_with("scheduler") { "scheduler" } else { "executor" }]), "{name}: {args:?}");
        if name.ends_with("executor") {
            assert!(args.windows(2).any(|w| w[0] == "--scheduler" && w[1] == format!("df://keytrail-ballista-scheduler:{port}")), "{args:?}");
        }
    }
    let policy = named("NetworkPolicy", "keytrail-ballista");
    assert_eq!(policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"], "keytrail");
}

#[test]
fn the_rbac_check_catches_secrets_wildcards_and_writes() {
    let role = |rules: &str| serde_yaml::from_str::<Value>(&format!("kind: ClusterRole\nrules: {rules}")).unwrap();
    assert!(rbac_problems(&role(r#"[{apiGroups: [""], resources: ["events"], verbs: ["get", "list", "watch"]}]"#)).is_empty());
    assert!(!rbac_problems(&role(r#"[{apiGroups: [""], resources: ["secrets"], verbs: ["get"]}]"#)).is_empty());
    assert!(!rbac_problems(&role(r#"[{apiGroups: [""], resources: ["*"], verbs: ["get"]}]"#)).is_empty());
    assert!(!rbac_problems(&role(r#"[{apiGroups: ["external-secrets.io"], resources: ["externalsecrets"], verbs: ["update"]}]"#)).is_empty());
    let patch: Value = serde_yaml::from_str(r#"[{op: add, path: /rules/-, value: {apiGroups: [""], resources: ["secrets"], verbs: ["list"]}}]"#).unwrap();
    assert!(!rbac_problems(&patch).is_empty(), "a patch that adds a rule on secrets");
}
