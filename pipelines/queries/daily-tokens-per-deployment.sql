/* Daily tokens per deployment over the latest month in the usage dataset: calls,
   input (cached included) and output tokens per UTC day, with the deployment's
   type from the deployment table ((unlisted) when it has none). Calls are
   counted once even when two inputs hold them (the `calls` view keeps the copy
   the report counts).
   Run: tokentally sql --file pipelines/queries/daily-tokens-per-deployment.sql
*/
WITH latest AS (
  SELECT date, deployment, prompt_tokens, completion_tokens
  FROM calls
  WHERE substr(date, 1, 7) = (SELECT max(substr(date, 1, 7)) FROM calls)
)
SELECT
  c.date AS day,
  coalesce(c.deployment, '(none)') AS deployment,
  coalesce(max(d.deployment_type), '(unlisted)') AS deployment_type,
  count(*) AS calls,
  sum(c.prompt_tokens) AS input_tokens,
  sum(c.completion_tokens) AS output_tokens
FROM latest c
LEFT JOIN deployments d
  ON d.deployment = c.deployment
 AND CAST(c.date AS DATE) >= coalesce(d.effective_from, DATE '0001-01-01')
 AND (d.effective_to IS NULL OR CAST(c.date AS DATE) < d.effective_to)
GROUP BY 1, 2
ORDER BY 1, 2
