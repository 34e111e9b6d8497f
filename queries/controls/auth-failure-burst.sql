SELECT COALESCE(client_ip, '?') || ' at ' || CAST(bucket AS VARCHAR) AS resource,
       CASE WHEN failures >= $threshold THEN 'alarm' ELSE 'info' END AS status,
       CAST(failures AS VARCHAR) || ' failed authentications from ' || COALESCE(client_ip, '?') || ' in 15 minutes from ' || CAST(bucket AS VARCHAR) AS reason,
       client_ip, bucket, failures
FROM (
  SELECT client_ip, date_bin(INTERVAL '15 minutes', time) AS bucket, count(*) AS failures
  FROM auth_failures
  WHERE time >= $period_start AND time < $period_end
  GROUP BY client_ip, date_bin(INTERVAL '15 minutes', time)
) AS windows
