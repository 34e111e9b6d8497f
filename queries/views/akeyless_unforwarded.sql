-- The Akeyless records that arrived only through another sink (Log Analytics): other sinks'
-- rows whose record_id no forwarded file holds. The same record has one record_id whichever
-- sink it came through (docs/SOURCES.md), and copies share their timestamp (it is part of
-- what record_id hashes), so matching on it too lets a time range reach the files' side.
--
-- In-process, a session computes this view once per time range, a slice of time at a time
-- so that the look-up's hash table holds one slice's records, and keeps the rows (in memory
-- or a temporary file): every query of akeyless_events then reads them without a join
-- (crates/query/src/cached_view.rs).
SELECT a.seq, a.event_time, a.timestamp, a.record_id, a.account_id, a.access_id, a.action, a.item_type, a.item_path,
       a.status, a.is_error, a.remote_addrs, a.duration_ms, a.component, a.severity, a.access_type, a.product,
       a.operation, a.user_agent, a.unique_id, a.client_email, a.k8s_namespace, a.k8s_service_account,
       a.sub_claims, a.source
FROM akeyless_audit a
WHERE a.source <> 'akeyless_logs'
  AND NOT EXISTS (SELECT 1 FROM akeyless_audit f
                  WHERE f.source = 'akeyless_logs' AND f.record_id = a.record_id AND f.timestamp = a.timestamp)
