-- The Akeyless records that arrived through another sink (Log Analytics) as well as through
-- the forwarded files: their record_id and timestamp. The same record has one record_id
-- whichever sink it came through (docs/SOURCES.md), and copies share their timestamp (it is
-- part of what record_id hashes), so matching on it too lets a query's time range reach
-- the files' side: only the period's record_ids are read.
--
-- Finding them reads every forwarded record_id of the period, to find at most as many rows
-- as the other sinks hold; an in-process session computes this view once per period and
-- keeps the rows while they take at most an eighth of its query memory, so a report's
-- controls pay for it once.
SELECT a.record_id, a.timestamp
FROM akeyless_audit a
WHERE a.source <> 'akeyless_logs'
  AND EXISTS (SELECT 1 FROM akeyless_audit f
              WHERE f.source = 'akeyless_logs' AND f.record_id = a.record_id AND f.timestamp = a.timestamp)
