-- The Akeyless records that arrived through another sink (Log Analytics) as well as through
-- the forwarded files: their record_id and timestamp (an analyst's view of what was
-- delivered twice; akeyless_events keeps one row per record through akeyless_unforwarded).
-- The same record has one record_id whichever sink it came through (docs/SOURCES.md), and
-- copies share their timestamp, so matching on it too lets a query's time range reach the
-- files' side: only that range's record_ids are read.
SELECT a.record_id, a.timestamp
FROM akeyless_audit a
WHERE a.source <> 'akeyless_logs'
  AND EXISTS (SELECT 1 FROM akeyless_audit f
              WHERE f.source = 'akeyless_logs' AND f.record_id = a.record_id AND f.timestamp = a.timestamp)
