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
JOIN (SELECT cluster_name, snapshot_time FROM (
      SELECT cluster_name, snapshot_time,
             row_number() OVER (PARTITION BY cluster_name ORDER BY abs(date_part('epoch', snapshot_time) - date_part('epoch', $period_end)), snapshot_time DESC) AS nearness
      FROM (SELECT DISTINCT cluster_name, snapshot_time FROM eso_secretstores) AS taken) AS ranked
  WHERE nearness = 1) AS l
  ON s.cluster_name = l.cluster_name AND s.snapshot_time = l.snapshot_time
