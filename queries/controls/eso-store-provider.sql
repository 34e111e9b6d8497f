-- Judges each cluster's snapshot taken nearest the period's end (docs/CONTROLS.md).
SELECT s.cluster_name || '/' || s.kind || '/' || COALESCE(s.namespace || '/', '') || s.name AS resource,
       CASE WHEN NOT array_has(string_to_array($allowed_providers, ','), COALESCE(s.provider, '')) THEN 'alarm'
            WHEN s.ready_status IS DISTINCT FROM 'True' THEN 'alarm'
            ELSE 'ok' END AS status,
       CASE WHEN NOT array_has(string_to_array($allowed_providers, ','), COALESCE(s.provider, ''))
                THEN 'provider ' || COALESCE(s.provider, 'none') || ' is not one of ' || $allowed_providers
            WHEN s.ready_status IS DISTINCT FROM 'True'
                THEN 'does not validate: ' || COALESCE(s.ready_reason, 'no Ready condition') || COALESCE(' (' || s.ready_message || ')', '')
            ELSE s.provider || ' store, validated' END AS reason,
       s.cluster_name, s.kind, s.namespace, s.name, s.provider, s.akeyless_auth_kind, s.akeyless_access_id, s.ready_status, s.snapshot_time
FROM eso_secretstores s
JOIN snapshots l ON l.table_name = 'eso_secretstores' AND l.cluster_name = s.cluster_name AND l.snapshot_time = s.snapshot_time
  AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
  AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until)
