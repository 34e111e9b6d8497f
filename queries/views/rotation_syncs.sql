-- Each Akeyless rotation of an item that ExternalSecrets read (secret_lineage), and when ESO
-- next updated each of those ExternalSecrets' Secrets (its first `Updated` event at or after
-- the rotation). `latency_secs` is null when no update followed.
--
-- Rotations and updates form one timeline per ExternalSecret; walking it from the newest
-- entry back, the running minimum of update times is, at each rotation, its first update
-- at or after it (an update at the same instant sorts first, so it counts). A sort, which
-- spills, where joining every rotation to every later update held rotations × updates rows
-- in memory (a month of 10M Akeyless rows with 1M ESO events exhausted the query pool).
WITH rotated AS (
    SELECT r.time AS rotated_at, r.item AS akeyless_item, l.cluster_name, l.namespace, l.external_secret
    FROM rotations r
    JOIN secret_lineage l ON l.akeyless_item = r.item
    WHERE r.result = 'rotated'
    GROUP BY r.time, r.item, l.cluster_name, l.namespace, l.external_secret
), timeline AS (
    -- NULLIF(x, x): a null of x's type (UTC microseconds, as first_timestamp).
    SELECT cluster_name, namespace, external_secret, rotated_at AS entry_time, akeyless_item, NULLIF(rotated_at, rotated_at) AS updated_at
    FROM rotated
    UNION ALL
    SELECT cluster_name, namespace, involved_name, first_timestamp, NULL, first_timestamp AS updated_at
    FROM eso_events
    WHERE involved_kind = 'ExternalSecret' AND reason = 'Updated'
), walked AS (
    SELECT entry_time, akeyless_item, cluster_name, namespace, external_secret,
           min(updated_at) OVER (PARTITION BY cluster_name, namespace, external_secret
                                 ORDER BY entry_time DESC, akeyless_item IS NULL DESC
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS synced_at
    FROM timeline
)
SELECT entry_time AS rotated_at, akeyless_item, cluster_name, namespace, external_secret, synced_at,
       date_part('epoch', synced_at) - date_part('epoch', entry_time) AS latency_secs
FROM walked
WHERE akeyless_item IS NOT NULL
