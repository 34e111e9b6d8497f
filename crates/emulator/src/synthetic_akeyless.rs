//! Generated Akeyless audit records for benchmarks: record `i` of a month of `count` is made
//! from `(seed, i)` alone, so `keytrail-bench gen` can write them as forwarded files and the
//! emulator can serve the very same records as `AkeylessAudit_CL` (two sinks delivering one
//! month) without holding them.

/// SplitMix64: tiny, fast and deterministic; statistical quality is irrelevant here.
pub struct Rng(pub u64);

impl Rng {
    /// The next word.
    pub fn next_word(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_word() % items.len() as u64) as usize]
    }
}

const ACTIONS: &[&str] = &[
    "get_secret_value",
    "get_secret_value",
    "get_secret_value",
    "get_secret_value",
    "get_rotated_secret_value",
    "get_dynamic_secret_value",
    "list_items",
    "Authentication",
    "update_item",
];
/// One record in this many is a rotation: a real account rotates an item every few days at
/// most (here ~4 times a month per item at 10M records), where a uniform pick would rotate
/// each every few minutes and make rotation-to-sync findings number in the hundreds of
/// millions.
const ROTATION_EVERY: u64 = 20_000;
/// Environments of item paths (`/ENV/APP/KIND`).
pub const ENVS: &[&str] = &["prod", "prod", "dev", "staging"];
/// Applications of item paths.
pub const APPS: &[&str] = &["payments", "orders", "ledger", "search", "identity", "billing", "gateway", "reports"];
/// Kinds of item paths.
pub const KINDS: &[&str] = &["db/password", "api/token", "tls/key", "queue/credentials", "oauth/client-secret"];
const NAMESPACES: &[&str] = &["external-secrets", "payments", "orders", "platform"];

/// Microseconds a month of records spans: 30 days.
pub const SPAN_US: i64 = 30 * 86_400 * 1_000_000;

/// When record `i` of `count` starting at `start_us` was sent (before its own jitter): the
/// records are spread evenly over [`SPAN_US`].
pub fn sent_at(i: u64, count: u64, start_us: i64) -> i64 {
    start_us + (i as i128 * SPAN_US as i128 / count.max(1) as i128) as i64
}

/// Record `i` of `count` as one JSON line (no newline): an Akeyless Gateway audit record.
pub fn record(seed: u64, i: u64, count: u64, start_us: i64) -> String {
    let mut rng = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ i);
    // Time advances with a little jitter, like a real forwarded log.
    let t = sent_at(i, count, start_us) + (rng.next_word() % 1000) as i64;
    let t = chrono::DateTime::from_timestamp_micros(t).expect("in range");
    let env = rng.pick(ENVS);
    let app = rng.pick(APPS);
    let action = if rng.next_word().is_multiple_of(ROTATION_EVERY) { "rotate_item" } else { rng.pick(ACTIONS) };
    let status = if rng.next_word().is_multiple_of(50) { 401 } else { 200 };
    let ip = format!("10.{}.{}.{}", rng.next_word() % 4, rng.next_word() % 256, rng.next_word() % 256);
    let ns = rng.pick(NAMESPACES);
    format!(
        r#"{{"timestamp":"{}","account_id":"acc-7f3a9c2e1b","access_id":"p-{:012x}","action":"{action}","item_name":"/{env}/{app}/{}","item_type":"static-secret","status":{status},"remote_addr":"{ip}","duration":{},"component":"gateway","severity":"info","request_parameters":{{"access_type":"k8s","product":"gateway","unique_id":"{:016x}","user_agent":"external-secrets/v0.19"}},"client_sub_claims":{{"k8s_namespace":"{ns}","k8s_service_account":"{app}-sa","cluster":"aks-{env}-westeurope"}}}}"#,
        t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        rng.next_word() & 0xffff_ffff_ffff,
        rng.pick(KINDS),
        rng.next_word() % 400,
        rng.next_word(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_depends_on_its_seed_and_index_alone_and_time_advances() {
        let start = 1_793_491_200_000_000; // 2026-11-01
        assert_eq!(record(1, 5, 100, start), record(1, 5, 100, start));
        assert_ne!(record(1, 5, 100, start), record(2, 5, 100, start));
        let time = |i| -> String {
            let r: serde_json::Value = serde_json::from_str(&record(1, i, 100, start)).unwrap();
            r["timestamp"].as_str().unwrap().to_string()
        };
        assert!(time(0) < time(1) && time(1) < time(99), "{} {} {}", time(0), time(1), time(99));
        assert!(time(0).starts_with("2026-11-01T00:00:00.") && time(99).starts_with("2026-11-30T16:48:00."), "{}", time(99));
    }
}
