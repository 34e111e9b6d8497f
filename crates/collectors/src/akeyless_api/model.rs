//! The Akeyless API's objects as Akeyless publishes them, and the columns keytrail types
//! from them.
//!
//! [`MODEL`] lists every field path keytrail knows of the three listed objects (`Item`,
//! `Role`, `AuthMethod`), each with the SDK model that documents it
//! (`akeylesslabs/akeyless-go`, `docs/<Model>.md`; the JSON names are the Go structs'
//! `json` tags, snake_case of the property names). The column tables ([`ITEM_COLUMNS`],
//! [`ROLE_COLUMNS`], [`AUTH_METHOD_COLUMNS`]) read only paths of that list, which a test
//! checks, as it checks that the emulator and `sample-data/` use no other name: keytrail
//! follows the vendor's shape and never the other way round.
//!
//! Paths: `a.b` is field `b` of object `a`; `a[].b` is field `b` of each element of array
//! `a`. A path marked as a leaf holds data whose keys are not field names (a map of
//! sub-claims, say) or that keytrail keeps only in `raw`.

use keytrail_ledger::{Column, FieldType, Value};
use serde_json::Value as Json;

use crate::akeyless::{json_int, json_text};
use crate::time::parse_json_time;

/// Fields of one published model, at `prefix` within the listed object.
pub struct Model {
    /// The SDK document, in `akeylesslabs/akeyless-go`.
    pub doc: &'static str,
    /// Where the model sits in the listed object (`""` for the object itself).
    pub prefix: &'static str,
    /// Its fields (JSON names). Those that are themselves models are listed in [`MODEL`]
    /// under their own prefix; the rest are leaves.
    pub fields: &'static [&'static str],
}

/// Every model keytrail reads or the emulator serves, per listed object.
pub const MODEL: &[(&str, &[Model])] = &[
    (
        "item",
        &[
            Model {
                doc: "docs/Item.md",
                prefix: "",
                fields: &[
                    "access_date",
                    "auto_rotate",
                    "client_permissions",
                    "creation_date",
                    "customer_fragment_id",
                    "delete_protection",
                    "deletion_date",
                    "display_id",
                    "gateway_details",
                    "is_enabled",
                    "item_accessibility",
                    "item_general_info",
                    "item_id",
                    "item_metadata",
                    "item_name",
                    "item_size",
                    "item_state",
                    "item_sub_type",
                    "item_tags",
                    "item_targets_assoc",
                    "item_type",
                    "item_versions",
                    "last_rotation_date",
                    "last_version",
                    "modification_date",
                    "next_rotation_date",
                    "protection_key_name",
                    "protection_key_type",
                    "rotation_interval",
                    "with_customer_fragment",
                ],
            },
            Model {
                doc: "docs/ItemVersion.md",
                prefix: "item_versions[]",
                fields: &["creation_date", "deletion_date", "item_version_state", "protection_key_name", "version", "with_customer_fragment"],
            },
            Model {
                doc: "docs/ItemGeneralInfo.md",
                prefix: "item_general_info",
                fields: &["cluster_gw_url", "display_metadata", "rotated_secret_details", "static_secret_info"],
            },
            Model {
                doc: "docs/RotatedSecretDetailsInfo.md",
                prefix: "item_general_info.rotated_secret_details",
                fields: &[
                    "delete_previous_version_in_days",
                    "grace_rotation",
                    "gw_cluster_id",
                    "last_rotation_error",
                    "max_versions",
                    "number_of_versions_to_save",
                    "rotation_hour",
                    "rotation_interval_min",
                    "rotator_creds_type",
                    "rotator_status",
                    "rotator_type",
                    "timeout_seconds",
                ],
            },
        ],
    ),
    (
        "role",
        &[
            Model {
                doc: "docs/Role.md",
                prefix: "",
                fields: &[
                    "access_date",
                    "client_permissions",
                    "comment",
                    "creation_date",
                    "delete_protection",
                    "modification_date",
                    "role_auth_methods_assoc",
                    "role_id",
                    "role_name",
                    "rules",
                ],
            },
            Model { doc: "docs/Rules.md", prefix: "rules", fields: &["admin", "path_rules"] },
            Model {
                doc: "docs/PathRule.md",
                prefix: "rules.path_rules[]",
                fields: &[
                    "assigners",
                    "capabilities",
                    "cb",
                    "is_limit_access",
                    "number_of_access_used",
                    "number_of_allowed_access",
                    "path",
                    "start_time",
                    "ttl",
                    "type",
                ],
            },
            Model {
                doc: "docs/RoleAuthMethodAssociation.md",
                prefix: "role_auth_methods_assoc[]",
                fields: &[
                    "assoc_id",
                    "auth_method_access_id",
                    "auth_method_name",
                    "auth_method_sub_claims",
                    "is_subclaims_with_operator",
                    "sub_claims_case_sensitive",
                ],
            },
        ],
    ),
    (
        "auth_method",
        &[
            Model {
                doc: "docs/AuthMethod.md",
                prefix: "",
                fields: &[
                    "access_date",
                    "access_info",
                    "account_id",
                    "associated_gw_ids",
                    "auth_method_access_id",
                    "auth_method_id",
                    "auth_method_name",
                    "auth_method_roles_assoc",
                    "client_permissions",
                    "creation_date",
                    "delete_protection",
                    "description",
                    "expiration_events",
                    "is_approved",
                    "modification_date",
                ],
            },
            Model {
                doc: "docs/AuthMethodRoleAssociation.md",
                prefix: "auth_method_roles_assoc[]",
                fields: &["assoc_id", "auth_method_sub_claims", "role_name", "rules"],
            },
            Model {
                doc: "docs/AuthMethodAccessInfo.md",
                prefix: "access_info",
                fields: &[
                    "access_expires",
                    "access_id_alias",
                    "api_key_access_rules",
                    "aws_iam_access_rules",
                    "azure_ad_access_rules",
                    "cert_access_rules",
                    "cidr_whitelist",
                    "email_pass_access_rules",
                    "force_sub_claims",
                    "gcp_access_rules",
                    "gw_cidr_whitelist",
                    "huawei_access_rules",
                    "jwt_ttl",
                    "k8s_access_rules",
                    "ldap_access_rules",
                    "oauth2_access_rules",
                    "oci_access_rules",
                    "oidc_access_rules",
                    "rules_type",
                    "saml_access_rules",
                    "sub_claims_delimiters",
                    "universal_identity_access_rules",
                ],
            },
            Model {
                doc: "docs/KubernetesAccessRules.md",
                prefix: "access_info.k8s_access_rules",
                fields: &["alg", "audience", "bound_namespaces", "bound_pod_names", "bound_service_account_names"],
            },
            Model {
                doc: "docs/EmailPassAccessRules.md",
                prefix: "access_info.email_pass_access_rules",
                fields: &["alg", "email", "last_reset_password", "mfa_type"],
            },
            Model {
                doc: "docs/SAMLAccessRules.md",
                prefix: "access_info.saml_access_rules",
                fields: &["allowed_redirect_URIs", "bound_attributes", "idp_metadata_url", "unique_identifier"],
            },
            Model {
                doc: "docs/OIDCAccessRules.md",
                prefix: "access_info.oidc_access_rules",
                fields: &["allowed_redirect_URIs", "audience", "bound_claims", "client_id", "is_internal", "issuer", "required_scopes", "unique_identifier"],
            },
        ],
    ),
];

/// How a column's value is read from a listed object.
pub enum Read {
    /// The value at a path, as text (strings unquoted, anything else as JSON).
    Text(&'static str),
    /// An RFC 3339 time (Go's zero time, `0001-01-01T00:00:00Z`, reads as absent).
    Time(&'static str),
    /// Seconds since the epoch; `0` (Akeyless's "no expiry") reads as absent.
    UnixTime(&'static str),
    /// An integer (from a number or a numeric string).
    Int(&'static str),
    /// A boolean.
    Bool(&'static str),
    /// Every string at a path that goes through arrays (`a[].b`), in order.
    Texts(&'static str),
    /// The value at a path as JSON text (objects, maps).
    Json(&'static str),
    /// A value computed from several paths, all listed.
    Derived(fn(&Json) -> Value, &'static [&'static str]),
}

impl Read {
    /// The paths this read looks at.
    pub fn paths(&self) -> Vec<&'static str> {
        match self {
            Read::Text(p) | Read::Time(p) | Read::UnixTime(p) | Read::Int(p) | Read::Bool(p) | Read::Texts(p) | Read::Json(p) => vec![p],
            Read::Derived(_, paths) => paths.to_vec(),
        }
    }

    /// The column's value for `object`.
    pub fn value(&self, object: &Json) -> Value {
        match self {
            Read::Text(p) => one(object, p).map_or(Value::Null, |v| Value::Str(json_text(v))),
            Read::Time(p) => one(object, p).and_then(|v| parse_json_time(v).ok()).map_or(Value::Null, Value::Time),
            Read::UnixTime(p) => one(object, p).and_then(json_int).filter(|s| *s > 0).and_then(|s| s.checked_mul(1_000_000)).map_or(Value::Null, Value::Time),
            Read::Int(p) => one(object, p).and_then(json_int).map_or(Value::Null, Value::Int),
            Read::Bool(p) => one(object, p).and_then(Json::as_bool).map_or(Value::Null, Value::Bool),
            Read::Texts(p) => Value::StrList(all(object, p).into_iter().flat_map(strings).collect()),
            Read::Json(p) => one(object, p).map_or(Value::Null, |v| Value::Str(v.to_string())),
            Read::Derived(f, _) => f(object),
        }
    }
}

/// The strings of a value: itself, or the elements of an array of them.
fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::Array(items) => items.iter().filter(|i| !i.is_null()).map(json_text).collect(),
        Json::Null => Vec::new(),
        other => vec![json_text(other)],
    }
}

/// The non-null value at a path without arrays.
pub fn one<'a>(object: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.').try_fold(object, |v, key| v.get(key)).filter(|v| !v.is_null())
}

/// The non-null values at a path that may go through arrays (`a[].b`).
pub fn all<'a>(object: &'a Json, path: &str) -> Vec<&'a Json> {
    let mut current = vec![object];
    for key in path.split('.') {
        let (name, each) = key.strip_suffix("[]").map_or((key, false), |n| (n, true));
        current = current
            .into_iter()
            .filter_map(|v| v.get(name))
            .flat_map(|v| if each { v.as_array().map(|a| a.iter().collect()).unwrap_or_default() } else { vec![v] })
            .filter(|v| !v.is_null())
            .collect();
    }
    current
}

/// A typed column: its name, type and how it is read.
pub type ColumnSpec = (&'static str, FieldType, Read);

/// `akeyless_items`, from `/list-items` (docs/Item.md and the models inside it).
pub const ITEM_COLUMNS: &[ColumnSpec] = &[
    ("item_name", FieldType::Str, Read::Text("item_name")),
    ("item_id", FieldType::Str, Read::Text("item_id")),
    ("item_type", FieldType::Str, Read::Text("item_type")),
    ("item_sub_type", FieldType::Str, Read::Text("item_sub_type")),
    ("item_state", FieldType::Str, Read::Text("item_state")),
    ("is_enabled", FieldType::Bool, Read::Bool("is_enabled")),
    ("auto_rotate", FieldType::Bool, Read::Bool("auto_rotate")),
    ("rotation_interval_days", FieldType::Int, Read::Int("rotation_interval")),
    ("last_rotation_date", FieldType::Time, Read::Time("last_rotation_date")),
    ("next_rotation_date", FieldType::Time, Read::Time("next_rotation_date")),
    ("creation_date", FieldType::Time, Read::Time("creation_date")),
    ("modification_date", FieldType::Time, Read::Time("modification_date")),
    ("last_version", FieldType::Int, Read::Int("last_version")),
    ("newest_version", FieldType::Int, Read::Derived(newest_version, &["item_versions[].version"])),
    ("newest_version_date", FieldType::Time, Read::Derived(newest_version_date, &["item_versions[].version", "item_versions[].creation_date"])),
    ("rotator_type", FieldType::Str, Read::Text("item_general_info.rotated_secret_details.rotator_type")),
    ("rotator_status", FieldType::Str, Read::Text("item_general_info.rotated_secret_details.rotator_status")),
    ("last_rotation_error", FieldType::Str, Read::Text("item_general_info.rotated_secret_details.last_rotation_error")),
    ("gateway_url", FieldType::Str, Read::Text("item_general_info.cluster_gw_url")),
    ("with_customer_fragment", FieldType::Bool, Read::Bool("with_customer_fragment")),
    ("protection_key_name", FieldType::Str, Read::Text("protection_key_name")),
];

/// `akeyless_roles`, from `/list-roles` (docs/Role.md, Rules.md, PathRule.md,
/// RoleAuthMethodAssociation.md).
pub const ROLE_COLUMNS: &[ColumnSpec] = &[
    ("role_name", FieldType::Str, Read::Text("role_name")),
    ("comment", FieldType::Str, Read::Text("comment")),
    ("admin", FieldType::Bool, Read::Bool("rules.admin")),
    ("rule_paths", FieldType::StrList, Read::Texts("rules.path_rules[].path")),
    ("rule_types", FieldType::StrList, Read::Texts("rules.path_rules[].type")),
    ("rule_capabilities", FieldType::StrList, Read::Derived(rule_capabilities, &["rules.path_rules[].path", "rules.path_rules[].capabilities"])),
    ("auth_method_names", FieldType::StrList, Read::Texts("role_auth_methods_assoc[].auth_method_name")),
    ("auth_method_access_ids", FieldType::StrList, Read::Texts("role_auth_methods_assoc[].auth_method_access_id")),
    ("auth_method_sub_claims", FieldType::Str, Read::Derived(association_sub_claims, &["role_auth_methods_assoc[].auth_method_sub_claims"])),
    ("modification_date", FieldType::Time, Read::Time("modification_date")),
];

/// `akeyless_auth_methods`, from `/list-auth-methods` (docs/AuthMethod.md,
/// AuthMethodAccessInfo.md and the access-rules models inside it).
pub const AUTH_METHOD_COLUMNS: &[ColumnSpec] = &[
    ("auth_method_name", FieldType::Str, Read::Text("auth_method_name")),
    ("access_id", FieldType::Str, Read::Text("auth_method_access_id")),
    ("auth_method_id", FieldType::Str, Read::Text("auth_method_id")),
    ("method_type", FieldType::Str, Read::Derived(method_type, METHOD_TYPE_PATHS)),
    ("access_expires", FieldType::Time, Read::UnixTime("access_info.access_expires")),
    ("force_sub_claims", FieldType::Bool, Read::Bool("access_info.force_sub_claims")),
    ("bound_namespaces", FieldType::StrList, Read::Texts("access_info.k8s_access_rules.bound_namespaces")),
    ("bound_service_accounts", FieldType::StrList, Read::Texts("access_info.k8s_access_rules.bound_service_account_names")),
    ("mfa_type", FieldType::Str, Read::Text("access_info.email_pass_access_rules.mfa_type")),
    ("cidr_whitelist", FieldType::Str, Read::Text("access_info.cidr_whitelist")),
    ("role_names", FieldType::StrList, Read::Texts("auth_method_roles_assoc[].role_name")),
    ("creation_date", FieldType::Time, Read::Time("creation_date")),
    ("modification_date", FieldType::Time, Read::Time("modification_date")),
];

/// The access-rules objects of AuthMethodAccessInfo and the type each stands for, in the
/// names `/list-auth-methods` filters by (`type`: api_key, azure_ad, oauth2, saml2, ldap,
/// aws_iam, oidc, universal_identity, gcp, k8s, cert; `email` for email/password).
const ACCESS_RULES: &[(&str, &str)] = &[
    ("access_info.api_key_access_rules", "api_key"),
    ("access_info.aws_iam_access_rules", "aws_iam"),
    ("access_info.azure_ad_access_rules", "azure_ad"),
    ("access_info.cert_access_rules", "cert"),
    ("access_info.email_pass_access_rules", "email"),
    ("access_info.gcp_access_rules", "gcp"),
    ("access_info.huawei_access_rules", "huawei"),
    ("access_info.k8s_access_rules", "k8s"),
    ("access_info.ldap_access_rules", "ldap"),
    ("access_info.oauth2_access_rules", "oauth2"),
    ("access_info.oci_access_rules", "oci"),
    ("access_info.oidc_access_rules", "oidc"),
    ("access_info.saml_access_rules", "saml2"),
    ("access_info.universal_identity_access_rules", "universal_identity"),
];

const METHOD_TYPE_PATHS: &[&str] = &[
    "access_info.rules_type",
    "access_info.api_key_access_rules",
    "access_info.aws_iam_access_rules",
    "access_info.azure_ad_access_rules",
    "access_info.cert_access_rules",
    "access_info.email_pass_access_rules",
    "access_info.gcp_access_rules",
    "access_info.huawei_access_rules",
    "access_info.k8s_access_rules",
    "access_info.ldap_access_rules",
    "access_info.oauth2_access_rules",
    "access_info.oci_access_rules",
    "access_info.oidc_access_rules",
    "access_info.saml_access_rules",
    "access_info.universal_identity_access_rules",
];

/// The auth method's type: `access_info.rules_type` as Akeyless reports it, else the type
/// of the one access-rules object it carries (null when neither says).
fn method_type(o: &Json) -> Value {
    if let Some(t) = one(o, "access_info.rules_type").map(json_text).filter(|t| !t.is_empty()) {
        return Value::Str(t);
    }
    let present: Vec<&str> = ACCESS_RULES.iter().filter(|(path, _)| one(o, path).is_some()).map(|(_, t)| *t).collect();
    match present.as_slice() {
        [only] => Value::Str((*only).to_string()),
        _ => Value::Null,
    }
}

/// The version number of the item's newest version, from `item_versions` (null when the
/// list does not carry versions).
fn newest_version(o: &Json) -> Value {
    all(o, "item_versions[].version").into_iter().filter_map(json_int).max().map_or(Value::Null, Value::Int)
}

/// When the item's newest version (highest `version`) was created: when its value last
/// changed, whether by rotation or by hand.
fn newest_version_date(o: &Json) -> Value {
    let versions = o.get("item_versions").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
    versions
        .iter()
        .filter_map(|v| Some((v.get("version").and_then(json_int)?, v.get("creation_date").and_then(|t| parse_json_time(t).ok()))))
        .max_by_key(|(version, _)| *version)
        .and_then(|(_, created)| created)
        .map_or(Value::Null, Value::Time)
}

/// Each path rule as `path:cap,cap`.
fn rule_capabilities(o: &Json) -> Value {
    let rules = all(o, "rules.path_rules[]");
    Value::StrList(
        rules
            .iter()
            .map(|r| {
                let caps: Vec<String> = r.get("capabilities").map(strings).unwrap_or_default();
                format!("{}:{}", r.get("path").map(json_text).unwrap_or_default(), caps.join(","))
            })
            .collect(),
    )
}

/// The sub-claims of each auth-method association, in association order, as a JSON array
/// (null for an association without them).
fn association_sub_claims(o: &Json) -> Value {
    let assoc = o.get("role_auth_methods_assoc").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
    Value::Str(Json::Array(assoc.iter().map(|a| a.get("auth_method_sub_claims").cloned().unwrap_or(Json::Null)).collect()).to_string())
}

/// Field names that hold credentials, removed (at any depth) from an object before it is
/// kept as `raw`: the models carry an OIDC client secret (`OIDCAccessRules.client_secret`)
/// and a password hash (`EmailPassAccessRules.hash_pass`); keytrail never stores them, nor
/// anything named like a key or password.
const CREDENTIAL_FIELDS: &[&str] = &["access_key", "client_secret", "enc_email_with_shared_key", "hash_pass", "password", "private_key"];

/// `object` without credential fields, for `raw`.
pub fn without_credentials(object: &Json) -> Json {
    match object {
        Json::Object(map) => Json::Object(
            map.iter()
                .filter(|(k, _)| !CREDENTIAL_FIELDS.contains(&k.to_ascii_lowercase().as_str()))
                .map(|(k, v)| (k.clone(), without_credentials(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(without_credentials).collect()),
        other => other.clone(),
    }
}

/// The ledger columns of a column table.
pub fn columns(spec: &[ColumnSpec]) -> Vec<Column> {
    spec.iter().map(|(name, kind, _)| Column::new(*name, *kind)).collect()
}

/// Whether `path` is a field of `object`'s model, or lies inside a leaf of it.
pub fn known(object: &str, path: &str) -> bool {
    let Some((_, models)) = MODEL.iter().find(|(name, _)| *name == object) else { return false };
    // The innermost model the path is in.
    let within = |m: &&Model| m.prefix.is_empty() || path.strip_prefix(m.prefix).is_some_and(|rest| rest.starts_with('.'));
    let Some(model) = models.iter().filter(within).max_by_key(|m| m.prefix.len()) else { return false };
    let rest = if model.prefix.is_empty() { path } else { &path[model.prefix.len() + 1..] };
    let field = rest.split('.').next().unwrap_or_default();
    if !model.fields.contains(&field.trim_end_matches("[]")) {
        return false;
    }
    // Below one of its fields only inside a leaf: a field that is a model has its own list.
    let child = if model.prefix.is_empty() { field.to_string() } else { format!("{}.{field}", model.prefix) };
    rest.len() == field.len() || !is_model(object, &child)
}

/// Whether `path` is a model of its own (its fields are listed separately).
fn is_model(object: &str, path: &str) -> bool {
    MODEL.iter().find(|(name, _)| *name == object).is_some_and(|(_, models)| models.iter().any(|m| m.prefix == path))
}

/// Every field path of `value` that `object`'s model does not have (a leaf's contents are
/// not field names and are not looked into).
pub fn unknown_paths(object: &str, value: &Json) -> Vec<String> {
    let mut out = Vec::new();
    walk(object, "", value, &mut out);
    out
}

fn walk(object: &str, at: &str, value: &Json, out: &mut Vec<String>) {
    match value {
        Json::Object(map) if at.is_empty() || is_model(object, at) => {
            for (key, child) in map {
                let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
                if !known(object, &path) {
                    out.push(path);
                    continue;
                }
                walk(object, &path, child, out);
            }
        }
        Json::Array(items) if is_model(object, &format!("{at}[]")) => {
            for item in items {
                walk(object, &format!("{at}[]"), item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_column_reads_only_fields_of_the_published_model() {
        for (object, spec) in [("item", ITEM_COLUMNS), ("role", ROLE_COLUMNS), ("auth_method", AUTH_METHOD_COLUMNS)] {
            for (column, _, read) in spec {
                for path in read.paths() {
                    assert!(known(object, path), "{object}.{column} reads {path}, which no Akeyless SDK model of {object} has");
                }
            }
        }
        assert!(!known("item", "item_general_info.rotated_secret_details.last_rotation_date"), "not in RotatedSecretDetailsInfo");
        assert!(!known("auth_method", "access_info.mfa_required"), "AuthMethodAccessInfo has no MFA flag");
        assert!(known("item", "item_versions[].creation_date"));
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let item = json!({"item_name": "/a", "item_versions": [{"version": 2, "creation_date": "2026-11-02T00:00:00Z", "when": 1}],
                          "item_general_info": {"rotated_secret_details": {"last_rotation_date": "x", "rotator_status": "ok"}},
                          "item_tags": ["any", {"thing": 1}]});
        assert_eq!(unknown_paths("item", &item), ["item_general_info.rotated_secret_details.last_rotation_date", "item_versions[].when"]);
        let role = json!({"role_name": "r", "role_auth_methods_assoc": [{"auth_method_sub_claims": {"namespace": ["eso"]}}]});
        assert!(unknown_paths("role", &role).is_empty(), "sub-claim keys are data, not fields");
    }

    #[test]
    fn values_follow_the_vendor_shapes() {
        let item = json!({"item_name": "/prod/db", "item_type": "ROTATED_SECRET", "last_rotation_date": "2026-11-20T03:00:00Z",
            "item_versions": [{"version": 6, "creation_date": "2026-11-13T03:00:00Z"}, {"version": 7, "creation_date": "2026-11-20T03:00:01Z"}],
            "creation_date": "0001-01-01T00:00:00Z",
            "item_general_info": {"rotated_secret_details": {"last_rotation_error": "connection refused", "rotator_status": "RotationFailed"}}});
        let value = |name: &str| ITEM_COLUMNS.iter().find(|c| c.0 == name).unwrap().2.value(&item);
        assert_eq!(value("newest_version"), Value::Int(7));
        assert_eq!(value("newest_version_date"), Value::Time(parse_json_time(&json!("2026-11-20T03:00:01Z")).unwrap()));
        assert_eq!(value("creation_date"), Value::Null, "Go's zero time is no date");
        assert_eq!(value("last_rotation_error"), Value::Str("connection refused".into()));

        let method = |access_info: Json| json!({"auth_method_name": "m", "auth_method_access_id": "p-1", "access_info": access_info});
        let read = |o: &Json, name: &str| AUTH_METHOD_COLUMNS.iter().find(|c| c.0 == name).unwrap().2.value(o);
        let k8s = method(json!({"rules_type": "k8s", "access_expires": 0, "k8s_access_rules": {"bound_namespaces": ["external-secrets"]}}));
        assert_eq!(read(&k8s, "method_type"), Value::Str("k8s".into()));
        assert_eq!(read(&k8s, "access_expires"), Value::Null, "0 is no expiry");
        assert_eq!(read(&k8s, "bound_namespaces"), Value::StrList(vec!["external-secrets".into()]));
        let email = method(json!({"email_pass_access_rules": {"email": "a@b.c", "mfa_type": "auth_app"}}));
        assert_eq!(read(&email, "method_type"), Value::Str("email".into()), "from the access rules present");
        assert_eq!(read(&email, "mfa_type"), Value::Str("auth_app".into()));

        let secret = method(json!({"oidc_access_rules": {"issuer": "https://idp", "client_secret": "s3cr3t"}, "email_pass_access_rules": {"hash_pass": "h"}}));
        let kept = without_credentials(&secret).to_string();
        assert!(!kept.contains("s3cr3t") && !kept.contains("\"h\"") && kept.contains("https://idp"), "{kept}");
    }
}
