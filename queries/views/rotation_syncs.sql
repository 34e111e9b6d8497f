-- Each Akeyless rotation of an item that ExternalSecrets read (secret_lineage), and when ESO
-- next updated each of those ExternalSecrets' Secrets (its first `Updated` event at or after
-- the rotation). `latency_secs` is null when no update followed.
SELECT r.time AS rotated_at, r.item AS akeyless_item, l.cluster_name, l.namespace, l.external_secret,
       min(u.first_timestamp) AS synced_at,
       date_part('epoch', min(u.first_timestamp)) - date_part('epoch', r.time) AS latency_secs
FROM rotations r
JOIN secret_lineage l ON l.akeyless_item = r.item
LEFT JOIN eso_events u
  ON u.involved_kind = 'ExternalSecret' AND u.reason = 'Updated'
 AND u.cluster_name = l.cluster_name AND u.namespace = l.namespace AND u.involved_name = l.external_secret
 AND u.first_timestamp >= r.time
WHERE r.result = 'rotated'
GROUP BY r.time, r.item, l.cluster_name, l.namespace, l.external_secret
