-- Judges the Akeyless snapshot taken nearest the period's end (docs/CONTROLS.md).
-- When a secret's value last changed: a rotated secret's last_rotation_date, else the
-- creation of its newest version; a static secret's newest version (version 1 is its
-- creation). A date the snapshot does not carry is unknown, never "never".
WITH items AS (
    -- Item types as the API spells them (STATIC_SECRET) or as its requests do (static-secret).
    SELECT *, upper(replace(item_type, '-', '_')) AS kind FROM akeyless_items
    WHERE snapshot_time = (SELECT snapshot_time FROM snapshots l WHERE l.table_name = 'akeyless_items'
                             AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
                             AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until))
), dated AS (
    SELECT *,
           CASE WHEN kind = 'ROTATED_SECRET' THEN COALESCE(last_rotation_date, newest_version_date)
                ELSE COALESCE(newest_version_date, CASE WHEN last_version = 1 THEN creation_date END) END AS changed_at,
           CASE WHEN kind = 'ROTATED_SECRET' AND last_rotation_date IS NOT NULL THEN 'last rotated'
                WHEN newest_version_date IS NOT NULL THEN 'version ' || CAST(newest_version AS VARCHAR) || ' created'
                WHEN kind <> 'ROTATED_SECRET' AND last_version = 1 AND creation_date IS NOT NULL THEN 'created (version 1, never changed)'
           END AS changed_basis,
           kind IN ('ROTATED_SECRET', 'STATIC_SECRET') AND (kind = 'ROTATED_SECRET' OR item_name LIKE $prod_prefix || '%') AS judged,
           $period_end - INTERVAL '$max_age_days days' AS due
    FROM items
)
SELECT item_name AS resource,
       CASE WHEN NOT judged THEN 'skip'
            WHEN changed_at IS NOT NULL AND changed_at < due THEN 'alarm'
            WHEN changed_at IS NOT NULL THEN 'ok'
            -- Without a version date, a value older than its last modification is at least
            -- that old: a modification before the limit still proves the value is due.
            WHEN modification_date IS NOT NULL AND modification_date < due THEN 'alarm'
            ELSE 'unknown' END AS status,
       CASE WHEN NOT judged AND kind = 'STATIC_SECRET' THEN 'static secret outside ' || $prod_prefix || ': not judged'
            WHEN NOT judged THEN 'item type ' || COALESCE(item_type, '?') || ': not a secret keytrail judges rotation of'
            WHEN changed_at IS NOT NULL
                THEN lower(replace(kind, '_', ' ')) || ', ' || changed_basis || ' ' || CAST(changed_at AS VARCHAR)
                     || CASE WHEN changed_at < due THEN ', more than ' || CAST($max_age_days AS VARCHAR) || ' days before the period''s end' ELSE '' END
            WHEN modification_date IS NOT NULL AND modification_date < due
                THEN lower(replace(kind, '_', ' ')) || ' unchanged since at least its last modification ' || CAST(modification_date AS VARCHAR)
                     || ', more than ' || CAST($max_age_days AS VARCHAR) || ' days before the period''s end (the snapshot lists no version dates)'
            ELSE 'when its value last changed is unknown: the snapshot has no ' ||
                 CASE WHEN kind = 'ROTATED_SECRET' THEN 'last_rotation_date' ELSE 'version dates' END
                 || ' and no modification date before the limit' END AS reason,
       item_name, item_type, last_rotation_date, newest_version, newest_version_date, last_version, creation_date, modification_date,
       rotator_status, last_rotation_error, snapshot_time
FROM dated
UNION ALL
-- A rotator that reports failure is a finding of its own, whatever the dates say.
SELECT item_name || ' rotator' AS resource, 'alarm' AS status,
       'the rotator reports ' || CASE WHEN last_rotation_error IS NOT NULL AND last_rotation_error <> ''
                                      THEN 'its last rotation failed: ' || last_rotation_error
                                      ELSE 'status ' || rotator_status END AS reason,
       item_name, item_type, last_rotation_date, newest_version, newest_version_date, last_version, creation_date, modification_date,
       rotator_status, last_rotation_error, snapshot_time
FROM items
WHERE (last_rotation_error IS NOT NULL AND last_rotation_error <> '')
   OR array_has(string_to_array($failed_rotator_statuses, ','), rotator_status)
