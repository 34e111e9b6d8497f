-- One row per read of a secret: Akeyless secret-value reads, Kubernetes Secret reads
-- (get, list, watch) from the AKS audit log, and ESO syncs (an ExternalSecret's `Updated`
-- or `UpdateFailed` event, once per event however often it repeated). `secret_path` is the
-- Akeyless item path, or namespace/name of the Kubernetes Secret (namespace/ for a list) or
-- of the ExternalSecret.
SELECT timestamp AS time,
       'akeyless' AS source,
       COALESCE(client_email, k8s_namespace || '/' || k8s_service_account, access_id) AS actor,
       action,
       item_path AS secret_path,
       CAST(NULL AS VARCHAR) AS cluster_name,
       CASE WHEN is_error THEN 'denied' ELSE 'allowed' END AS result,
       remote_addrs[1] AS client_ip
FROM akeyless_events
WHERE action IN ('get_secret_value', 'get_rotated_secret_value', 'get_dynamic_secret_value')
UNION ALL
SELECT stage_received_time AS time,
       'kubernetes' AS source,
       username AS actor,
       verb AS action,
       namespace || '/' || COALESCE(name, '') AS secret_path,
       cluster_name,
       CASE WHEN response_code < 400 THEN 'allowed' ELSE 'denied' END AS result,
       source_ips[1] AS client_ip
FROM aks_audit
WHERE resource = 'secrets' AND subresource IS NULL AND verb IN ('get', 'list', 'watch')
UNION ALL
SELECT time,
       'eso' AS source,
       'external-secrets' AS actor,
       reason AS action,
       namespace || '/' || external_secret AS secret_path,
       cluster_name,
       CASE WHEN reason = 'Updated' THEN 'allowed' ELSE 'denied' END AS result,
       CAST(NULL AS VARCHAR) AS client_ip
FROM eso_syncs
WHERE reason IN ('Updated', 'UpdateFailed')
