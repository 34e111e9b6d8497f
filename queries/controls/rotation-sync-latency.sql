SELECT akeyless_item || ' -> ' || cluster_name || '/' || namespace || '/' || external_secret || ' at ' || CAST(rotated_at AS VARCHAR) AS resource,
       CASE WHEN latency_secs IS NULL THEN 'alarm'
            WHEN latency_secs > $max_latency_hours * 3600 THEN 'alarm'
            ELSE 'ok' END AS status,
       CASE WHEN latency_secs IS NULL THEN 'rotated at ' || CAST(rotated_at AS VARCHAR) || '; ESO has not updated the Secret since'
            ELSE 'rotated at ' || CAST(rotated_at AS VARCHAR) || ', Secret updated ' || CAST(round(latency_secs / 60.0) AS VARCHAR) || ' min later'
                 || CASE WHEN latency_secs > $max_latency_hours * 3600 THEN ' (limit ' || CAST($max_latency_hours AS VARCHAR) || ' h)' ELSE '' END END AS reason,
       akeyless_item, cluster_name, namespace, external_secret, rotated_at, synced_at, latency_secs
FROM rotation_syncs
WHERE rotated_at >= $period_start AND rotated_at < $period_end
