-- One row per Akeyless audit record, whichever sinks it arrived through: the same record
-- forwarded to a file and to Log Analytics has one record_id (docs/SOURCES.md), and the
-- forwarded file's copy is kept. Each sink reads each file or query window once (its
-- cursor), so copies come only from two sinks. Looking up the other sinks' records among
-- the files' record_ids is one hash join whose build side is the smaller sink, instead of
-- an aggregate over every record_id (BENCHMARKS.md); and the controls' filters reach both
-- branches before the join. Copies of one record have one timestamp (it is part of what
-- record_id hashes), so the join also matches on it: a query's time range then reaches the
-- files' side too, and the lookup reads the period's record_ids, not the whole ledger's.
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
  AND NOT EXISTS (SELECT 1 FROM akeyless_audit f
                  WHERE f.source = 'akeyless_logs' AND f.record_id = a.record_id AND f.timestamp = a.timestamp)
