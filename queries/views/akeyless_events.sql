-- One row per Akeyless audit record, whichever sinks it arrived through: the forwarded
-- file's copy is kept, and another sink's row only when it is not among akeyless_copies.
-- Each sink reads each file or query window once (its cursor), so copies come only from
-- two sinks. The controls' filters reach both branches, and through the timestamp match
-- a query's time range reaches akeyless_copies too.
SELECT seq, event_time, timestamp, record_id, account_id, access_id, action, item_type, item_path,
       status, is_error, remote_addrs, duration_ms, component, severity, access_type, product,
       operation, user_agent, unique_id, client_email, k8s_namespace, k8s_service_account,
       sub_claims, source
FROM akeyless_audit
WHERE source = 'akeyless_logs'
UNION ALL
SELECT a.seq, a.event_time, a.timestamp, a.record_id, a.account_id, a.access_id, a.action, a.item_type, a.item_path,
       a.status, a.is_error, a.remote_addrs, a.duration_ms, a.component, a.severity, a.access_type, a.product,
       a.operation, a.user_agent, a.unique_id, a.client_email, a.k8s_namespace, a.k8s_service_account,
       a.sub_claims, a.source
FROM akeyless_audit a
WHERE a.source <> 'akeyless_logs'
  AND NOT EXISTS (SELECT 1 FROM akeyless_copies c WHERE c.record_id = a.record_id AND c.timestamp = a.timestamp)
