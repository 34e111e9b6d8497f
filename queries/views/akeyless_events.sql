-- One row per Akeyless audit record, whichever sinks it arrived through: the forwarded
-- file's copy is kept, and another sink's row only when no forwarded file holds it
-- (akeyless_unforwarded). Each sink reads each file or query window once (its cursor), so
-- copies come only from two sinks.
SELECT seq, event_time, timestamp, record_id, account_id, access_id, action, item_type, item_path,
       status, is_error, remote_addrs, duration_ms, component, severity, access_type, product,
       operation, user_agent, unique_id, client_email, k8s_namespace, k8s_service_account,
       sub_claims, source
FROM akeyless_audit
WHERE source = 'akeyless_logs'
UNION ALL
SELECT * FROM akeyless_unforwarded
