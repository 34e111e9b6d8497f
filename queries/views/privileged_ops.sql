-- Changes to who can reach secrets: Akeyless item, role and auth-method changes, and
-- Kubernetes RBAC and ESO store changes.
SELECT timestamp AS time, 'akeyless' AS source, access_id AS actor, access_type, action,
       item_path AS target, CASE WHEN is_error THEN 'failed' ELSE 'done' END AS result
FROM akeyless_events
WHERE action IN ('create_item', 'update_item', 'delete_item', 'create_role', 'update_role',
                 'delete_role', 'create_auth_method', 'delete_auth_method',
                 'create_assoc_role_auth_method')
UNION ALL
SELECT stage_received_time AS time, 'kubernetes' AS source, username AS actor,
       CAST(NULL AS VARCHAR) AS access_type, verb AS action,
       resource || ' ' || COALESCE(namespace || '/', '') || COALESCE(name, '') AS target,
       CASE WHEN response_code < 400 THEN 'done' ELSE 'failed' END AS result
FROM aks_audit
WHERE verb IN ('create', 'update', 'patch', 'delete')
  AND resource IN ('roles', 'rolebindings', 'clusterroles', 'clusterrolebindings',
                   'secretstores', 'clustersecretstores', 'externalsecrets')
