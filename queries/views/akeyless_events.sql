-- One row per Akeyless audit record, whichever sinks it arrived through: the same record
-- forwarded to a file and to Log Analytics has one record_id (docs/SOURCES.md); the copy
-- committed first is kept.
SELECT seq, event_time, timestamp, record_id, account_id, access_id, action, item_type, item_path,
       status, is_error, remote_addrs, duration_ms, component, severity, access_type, product,
       operation, user_agent, unique_id, client_email, k8s_namespace, k8s_service_account,
       sub_claims, source
FROM (
  SELECT *, row_number() OVER (PARTITION BY record_id ORDER BY seq) AS copy
  FROM akeyless_audit
) AS numbered
WHERE copy = 1
