-- Judges the Akeyless snapshot taken nearest the period's end (docs/CONTROLS.md).
SELECT role_name AS resource,
       CASE WHEN k8s_methods > 1 THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN k8s_methods > 1 THEN 'role ' || role_name || ' is associated with ' || CAST(k8s_methods AS VARCHAR) || ' Kubernetes auth methods: ' || methods
            ELSE 'role ' || role_name || ' is used by at most one cluster' END AS reason,
       role_name, k8s_methods, snapshot_time
FROM (
  SELECT r.role_name, r.snapshot_time, count(m.access_id) AS k8s_methods, COALESCE(string_agg(m.auth_method_name || ' (' || m.access_id || ')', ', ' ORDER BY m.auth_method_name, m.access_id), '') AS methods
  FROM (SELECT role_name, snapshot_time, unnest(auth_method_access_ids) AS access_id FROM akeyless_roles
        WHERE snapshot_time = (SELECT snapshot_time FROM snapshots l WHERE l.table_name = 'akeyless_roles'
                         AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
                         AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until))) AS r
  LEFT JOIN (SELECT access_id, auth_method_name FROM akeyless_auth_methods
             WHERE method_type = 'k8s' AND snapshot_time = (SELECT snapshot_time FROM snapshots l WHERE l.table_name = 'akeyless_auth_methods'
                         AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
                         AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until))) AS m
    ON r.access_id = m.access_id
  GROUP BY r.role_name, r.snapshot_time
) AS roles
