-- Judges the Akeyless snapshot taken nearest the period's end (docs/CONTROLS.md).
SELECT o.actor || ' ' || o.action || ' ' || o.target AS resource,
       CASE WHEN m.mfa_required THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN m.mfa_required THEN o.action || ' by ' || o.actor || ' (MFA required)'
            WHEN m.access_id IS NULL THEN o.action || ' by ' || o.actor || ', an auth method missing from the configuration snapshot'
            ELSE o.action || ' by ' || o.actor || ' (' || COALESCE(m.method_type, '?') || ') without MFA at ' || CAST(o.time AS VARCHAR) END AS reason,
       o.time, o.actor, o.action, o.target, m.method_type, m.snapshot_time AS auth_methods_snapshot_time
FROM privileged_ops o
LEFT JOIN (
  SELECT access_id, method_type, mfa_required, snapshot_time
  FROM akeyless_auth_methods
  WHERE snapshot_time = (SELECT snapshot_time FROM snapshots l WHERE l.table_name = 'akeyless_auth_methods'
                         AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
                         AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until))
) AS m ON o.actor = m.access_id
WHERE o.source = 'akeyless' AND o.time >= $period_start AND o.time < $period_end
