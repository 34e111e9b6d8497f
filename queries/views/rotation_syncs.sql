-- Each Akeyless rotation of an item that ExternalSecrets read, and when ESO next updated
-- each of those ExternalSecrets' Secrets (its first `Updated` event at or after the
-- rotation). `latency_secs` is null when no update followed. Which ExternalSecrets read the
-- item, and how often each refreshes (`refresh_interval_secs`: null is ESO's default of one
-- hour, 0 is no periodic refresh), comes from each cluster's snapshot taken nearest the
-- rotation, so an ExternalSecret deleted (or changed) since does not change what a past
-- rotation is judged by.
--
-- Rotations and updates form one timeline per ExternalSecret; walking it from the newest
-- entry back, the running minimum of update times is, at each rotation, its first update
-- at or after it (an update at the same instant sorts first, so it counts). A sort, which
-- spills, where joining every rotation to every later update held rotations × updates rows
-- in memory (a month of 10M Akeyless rows with 1M ESO events exhausted the query pool).
WITH rotated AS (
    SELECT r.time AS rotated_at, r.item AS akeyless_item, e.cluster_name, e.namespace, e.external_secret, e.refresh_interval_secs
    FROM rotations r
    JOIN (SELECT cluster_name, snapshot_time, namespace, name AS external_secret, refresh_interval_secs, unnest(remote_keys) AS akeyless_item
          FROM eso_externalsecrets) AS e
      ON e.akeyless_item = r.item
    JOIN snapshots l
      ON l.table_name = 'eso_externalsecrets' AND l.cluster_name = e.cluster_name AND l.snapshot_time = e.snapshot_time
     AND (l.nearest_from IS NULL OR date_part('epoch', r.time) >= l.nearest_from)
     AND (l.nearest_until IS NULL OR date_part('epoch', r.time) < l.nearest_until)
    WHERE r.result = 'rotated'
    GROUP BY r.time, r.item, e.cluster_name, e.namespace, e.external_secret, e.refresh_interval_secs
), timeline AS (
    -- NULLIF(x, x): a null of x's type (UTC microseconds, as first_timestamp).
    SELECT cluster_name, namespace, external_secret, rotated_at AS entry_time, akeyless_item, refresh_interval_secs,
           NULLIF(rotated_at, rotated_at) AS updated_at
    FROM rotated
    UNION ALL
    -- Every occurrence either source recorded: an Event object's first, and the last of
    -- each of its states (an Event merges repeats, so those are all the times known).
    SELECT cluster_name, namespace, involved_name, first_timestamp, NULL, NULL, first_timestamp AS updated_at
    FROM eso_observations
    WHERE involved_kind = 'ExternalSecret' AND reason = 'Updated'
    UNION ALL
    SELECT cluster_name, namespace, involved_name, last_timestamp, NULL, NULL, last_timestamp AS updated_at
    FROM eso_observations
    WHERE involved_kind = 'ExternalSecret' AND reason = 'Updated'
), walked AS (
    SELECT entry_time, akeyless_item, cluster_name, namespace, external_secret, refresh_interval_secs,
           min(updated_at) OVER (PARTITION BY cluster_name, namespace, external_secret
                                 ORDER BY entry_time DESC, akeyless_item IS NULL DESC
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS synced_at
    FROM timeline
)
SELECT entry_time AS rotated_at, akeyless_item, cluster_name, namespace, external_secret, refresh_interval_secs, synced_at,
       date_part('epoch', synced_at) - date_part('epoch', entry_time) AS latency_secs
FROM walked
WHERE akeyless_item IS NOT NULL
