-- Judges each cluster's snapshot taken nearest the period's end (docs/CONTROLS.md).
WITH nearest AS (
    SELECT cluster_name, snapshot_time FROM snapshots l
    WHERE l.table_name = 'k8s_rbac'
      AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
      AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until)
), bindings AS (
    SELECT b.* FROM k8s_rbac b JOIN nearest l ON b.cluster_name = l.cluster_name AND b.snapshot_time = l.snapshot_time
    WHERE b.kind IN ('RoleBinding', 'ClusterRoleBinding') AND b.grants_secrets
), subjects AS (
    SELECT cluster_name, uid, bool_and(subject LIKE 'Group:system:%') AS system_only
    FROM (SELECT cluster_name, uid, unnest(subjects) AS subject FROM bindings) AS s
    GROUP BY cluster_name, uid
)
SELECT r.cluster_name || '/' || r.kind || '/' || COALESCE(r.namespace || '/', '') || r.name AS resource,
       CASE WHEN r.wildcard AND NOT COALESCE(s.system_only, true) THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN r.wildcard AND NOT COALESCE(s.system_only, true)
                THEN r.role_ref_kind || ' ' || r.role_ref_name || ' grants ' || array_to_string(r.verbs, ',') || ' on ' || array_to_string(r.resources, ',')
                     || ' to ' || array_to_string(r.subjects, ', ')
            WHEN r.wildcard THEN 'wildcard granted to built-in system groups only: ' || array_to_string(r.subjects, ', ')
            ELSE 'grants ' || array_to_string(r.verbs, ',') || ' on ' || array_to_string(r.resources, ',') || ', no wildcard' END AS reason,
       r.cluster_name, r.kind, r.namespace, r.name, r.role_ref_name, r.verbs, r.resources, r.subjects, r.snapshot_time
FROM bindings r
LEFT JOIN subjects s ON s.cluster_name = r.cluster_name AND s.uid = r.uid
