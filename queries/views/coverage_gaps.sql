-- Time ranges a collection run could not collect, per source table.
SELECT source, table_name, stream, window_start, window_end, reason, run_id
FROM collection_gaps
