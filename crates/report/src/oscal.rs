//! OSCAL assessment results (`oscal/assessment-results.json`): one result for the period,
//! an observation per control run (method TEST) whose relevant evidence is a back-matter
//! resource listing the evidence files with their SHA-256, and a finding per automated
//! requirement with its satisfied / not-satisfied state.
//!
//! OSCAL control ids are tokens, so requirement ids are mapped: NIST SP 800-53 ids take
//! the form of NIST's own OSCAL catalog (`AC-2(4)` → `ac-2.4`); other frameworks' ids are
//! lower-cased, `(x)` becomes `.x`, and the framework key is prefixed (`164.312(b)` →
//! `hipaa_164.312.b`, `CC6.1` → `soc2_cc6.1`).

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ReportOptions;
use crate::gather::Facts;
use crate::outcome::{FrameworkOutcome, Status};

/// The OSCAL version the document conforms to (it uses nothing newer).
const OSCAL_VERSION: &str = "1.1.3";
/// Namespace of keytrail's own properties.
const NS: &str = "https://github.com/keytrail/keytrail/ns/oscal";

/// A version-5-shaped UUID derived from the pack's fingerprint and a name, so the same
/// evidence gives the same document (OSCAL requires v4 or v5 UUIDs; the `uuid` crate's v5
/// would hash with SHA-1, which the rest of the pack avoids).
fn uuid(fingerprint: &str, name: &str) -> String {
    let mut b: [u8; 16] = Sha256::digest(format!("{fingerprint}\n{name}")).as_slice()[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// A requirement id as an OSCAL control-id token.
pub(crate) fn control_id(framework_key: &str, id: &str) -> String {
    let token: String = id.to_lowercase().replace('(', ".").replace(')', "").split_whitespace().collect::<Vec<_>>().join("-");
    if framework_key == "nist_800_53" { token } else { format!("{framework_key}_{token}") }
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn assessment_results(
    options: &ReportOptions,
    facts: &Facts,
    outcomes: &[FrameworkOutcome],
    fingerprint: &str,
    hashes: &BTreeMap<String, String>,
) -> Vec<u8> {
    let id = |name: &str| uuid(fingerprint, name);
    let rlink = |path: &str, media: &str| json!({"href": path, "media-type": media, "hashes": [{"algorithm": "SHA-256", "value": hashes[path]}]});
    let mut resources = vec![json!({
        "uuid": id("catalog"),
        "title": "keytrail control catalog as evaluated",
        "description": "The controls, their parameters, SQL and verdicts for the period; stands in for an assessment plan.",
        "rlinks": [rlink("controls.json", "application/json")],
    })];
    let mut observations = Vec::new();
    for e in &facts.evaluations {
        let c = &e.control;
        let resource = id(&format!("evidence/{}", c.id));
        resources.push(json!({
            "uuid": resource,
            "title": format!("Evidence rows of {}", c.id),
            "rlinks": [rlink(&format!("evidence/{}.csv", c.id), "text/csv"), rlink(&format!("evidence/{}.parquet", c.id), "application/vnd.apache.parquet")],
        }));
        let counts = e.verdict.counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
        let detail = e.verdict.detail.clone().unwrap_or(counts);
        observations.push(json!({
            "uuid": id(&format!("observation/{}", c.id)),
            "title": c.title,
            "description": format!("Control {} evaluated by keytrail over {}: {} ({}).", c.id, options.label, e.verdict.status, if detail.is_empty() { "no findings".into() } else { detail }),
            "props": [{"name": "control", "ns": NS, "value": c.id}, {"name": "verdict", "ns": NS, "value": e.verdict.status}],
            "methods": ["TEST"],
            "relevant-evidence": [{"href": format!("#{resource}"), "description": format!("Rows returned by the {} query, with their judged status.", c.id)}],
            "collected": time(options.generated_at),
        }));
    }
    let mut reviewed = Vec::new();
    let mut findings = Vec::new();
    for f in outcomes {
        for r in f.requirements.iter().filter(|r| !matches!(r.status, Status::Manual | Status::NotCovered)) {
            let target = control_id(&f.framework.key, &r.requirement.id);
            reviewed.push(json!({"control-id": target}));
            let satisfied = matches!(r.status, Status::Satisfied | Status::Excepted);
            let controls: Vec<&str> = r.evaluations.iter().map(|e| e.control.id.as_str()).collect();
            findings.push(json!({
                "uuid": id(&format!("finding/{}/{}", f.framework.id, r.requirement.id)),
                "title": format!("{} {}: {}", f.framework.title, r.requirement.id, r.requirement.title),
                "description": format!("{} by keytrail controls {}.", r.status.label(), controls.join(", ")),
                "props": [{"name": "framework", "ns": NS, "value": f.framework.id}, {"name": "requirement", "ns": NS, "value": r.requirement.id}, {"name": "outcome", "ns": NS, "value": r.status.as_str()}],
                "target": {
                    "type": "objective-id",
                    "target-id": target,
                    "status": {"state": if satisfied { "satisfied" } else { "not-satisfied" }, "reason": if satisfied { "pass" } else if r.status == Status::NotSatisfied { "fail" } else { "other" }},
                },
                "related-observations": r.evaluations.iter().map(|e| json!({"observation-uuid": id(&format!("observation/{}", e.control.id))})).collect::<Vec<_>>(),
            }));
        }
    }
    reviewed.sort_by(|a, b| a["control-id"].as_str().cmp(&b["control-id"].as_str()));
    reviewed.dedup();
    let mut result = json!({
        "uuid": id("result"),
        "title": format!("keytrail evidence for {}", options.label),
        "description": format!("Automated controls over the audit trail of {} (Akeyless, AKS, External Secrets Operator) for {}.", options.organisation, options.label),
        "start": time(options.period.0),
        "end": time(options.period.1),
        "props": [{"name": "pack-fingerprint", "ns": NS, "value": fingerprint}],
        "reviewed-controls": {"control-selections": [{"include-controls": reviewed}]},
    });
    if !observations.is_empty() {
        result["observations"] = Value::Array(observations);
    }
    if !findings.is_empty() {
        result["findings"] = Value::Array(findings);
    }
    let document = json!({"assessment-results": {
        "uuid": id("assessment-results"),
        "metadata": {
            "title": format!("keytrail evidence pack {} — {}", options.label, options.organisation),
            "last-modified": time(options.generated_at),
            "version": options.label,
            "oscal-version": OSCAL_VERSION,
        },
        "import-ap": {"href": format!("#{}", id("catalog")), "remarks": "keytrail has no separate assessment plan: the control catalog as evaluated stands in for it."},
        "results": [result],
        "back-matter": {"resources": resources},
    }});
    let mut bytes = serde_json::to_vec_pretty(&document).expect("serialisable");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_ids_become_tokens() {
        assert_eq!(control_id("nist_800_53", "IA-2(1)"), "ia-2.1");
        assert_eq!(control_id("nist_800_53", "AC-2"), "ac-2");
        assert_eq!(control_id("hipaa", "164.308(a)(1)(ii)(D)"), "hipaa_164.308.a.1.ii.d");
        assert_eq!(control_id("soc2", "CC6.1"), "soc2_cc6.1");
        assert_eq!(control_id("iso27001", "A.5.15"), "iso27001_a.5.15");
    }

    #[test]
    fn uuids_are_stable_v5_shaped_and_distinct() {
        let a = uuid("f", "x");
        assert_eq!(a, uuid("f", "x"));
        assert_ne!(a, uuid("f", "y"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert!(["8", "9", "a", "b"].contains(&&a[19..20]), "{a}");
    }
}
