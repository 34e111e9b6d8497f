-- One row per Akeyless audit record, whichever sinks it arrived through: the same record
-- forwarded to a file and to Log Analytics has one record_id (docs/SOURCES.md); the copy
-- committed first (the lowest seq) is kept. Joining each record_id's first seq is a hash
-- aggregate and a hash join, several times cheaper than numbering every row with a window
-- over a sort (BENCHMARKS.md); an inner join (not `seq IN (…)`) streams its output, where
-- a semi-join would emit the kept rows in one batch at the end.
SELECT a.seq, a.event_time, a.timestamp, a.record_id, a.account_id, a.access_id, a.action, a.item_type, a.item_path,
       a.status, a.is_error, a.remote_addrs, a.duration_ms, a.component, a.severity, a.access_type, a.product,
       a.operation, a.user_agent, a.unique_id, a.client_email, a.k8s_namespace, a.k8s_service_account,
       a.sub_claims, a.source
FROM akeyless_audit a
JOIN (SELECT min(seq) AS first_seq FROM akeyless_audit GROUP BY record_id) AS firsts ON a.seq = firsts.first_seq
