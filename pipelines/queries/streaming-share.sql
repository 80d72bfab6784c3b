/* Streaming share per app over the latest month in the usage dataset: how many
   successful calls streamed, and how many of those streams carried no usage
   (the caller did not ask for stream_options.include_usage), so their tokens
   had to be estimated. A high estimated share is worth a word with the app team:
   one request option makes their chargeback exact.
   Run: tokentally sql --file pipelines/queries/streaming-share.sql
*/
SELECT
  app_id,
  count(DISTINCT event_id) AS calls,
  count(DISTINCT CASE WHEN streamed THEN event_id END) AS streamed_calls,
  round(100.0 * count(DISTINCT CASE WHEN streamed THEN event_id END)
        / count(DISTINCT event_id), 1) AS streamed_pct,
  count(DISTINCT CASE WHEN streamed AND usage_source = 'estimated' THEN event_id END)
    AS streams_estimated,
  round(100.0 * count(DISTINCT CASE WHEN streamed AND usage_source = 'estimated' THEN event_id END)
        / nullif(count(DISTINCT CASE WHEN streamed THEN event_id END), 0), 1) AS estimated_pct_of_streams
FROM calls
WHERE status < 400 AND status > 0
  AND substr(date, 1, 7) = (SELECT max(substr(date, 1, 7)) FROM calls)
GROUP BY app_id
ORDER BY calls DESC, app_id
