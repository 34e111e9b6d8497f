-- Judges each cluster's snapshot taken nearest the period's end (docs/CONTROLS.md).
-- A platform's own bindings (Kubernetes' and AKS's cluster-admin bindings, to built-in
-- groups or the cluster's admin groups) are shown as info, so a wildcard granted to an
-- application stands out; a service account outside kube-system in such a binding is not
-- the platform's and is judged like any other subject.
WITH nearest AS (
    SELECT cluster_name, snapshot_time FROM snapshots l
    WHERE l.table_name = 'k8s_rbac'
      AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
      AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until)
), bindings AS (
    SELECT b.* FROM k8s_rbac b JOIN nearest l ON b.cluster_name = l.cluster_name AND b.snapshot_time = l.snapshot_time
    WHERE b.kind IN ('RoleBinding', 'ClusterRoleBinding') AND b.grants_secrets
), subjects AS (
    SELECT cluster_name, uid,
           bool_and(subject LIKE 'Group:system:%' OR array_has(string_to_array($platform_subjects, ','), subject)) AS platform_subjects_only,
           bool_or(subject LIKE 'ServiceAccount:%' AND subject NOT LIKE 'ServiceAccount:kube-system/%') AS application_accounts
    FROM (SELECT cluster_name, uid, unnest(subjects) AS subject FROM bindings) AS s
    GROUP BY cluster_name, uid
), judged AS (
    SELECT r.*,
           COALESCE(s.platform_subjects_only, true)
             OR (r.kind = 'ClusterRoleBinding' AND array_has(string_to_array($platform_bindings, ','), r.name) AND NOT COALESCE(s.application_accounts, false))
             AS platform
    FROM bindings r LEFT JOIN subjects s ON s.cluster_name = r.cluster_name AND s.uid = r.uid
)
SELECT cluster_name || '/' || kind || '/' || COALESCE(namespace || '/', '') || name AS resource,
       CASE WHEN wildcard AND platform THEN 'info' WHEN wildcard THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN wildcard AND platform
                THEN 'platform default binding: ' || role_ref_kind || ' ' || role_ref_name || ' grants ' || array_to_string(verbs, ',') || ' on '
                     || array_to_string(resources, ',') || ' to ' || array_to_string(subjects, ', ')
            WHEN wildcard
                THEN role_ref_kind || ' ' || role_ref_name || ' grants ' || array_to_string(verbs, ',') || ' on ' || array_to_string(resources, ',')
                     || ' to ' || array_to_string(subjects, ', ')
            ELSE 'grants ' || array_to_string(verbs, ',') || ' on ' || array_to_string(resources, ',') || ', no wildcard' END AS reason,
       cluster_name, kind, namespace, name, role_ref_name, verbs, resources, subjects, snapshot_time
FROM judged
