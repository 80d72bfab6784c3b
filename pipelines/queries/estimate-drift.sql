/* Estimate drift: how far tokentally's tokenizer estimates are from the counts
   AOAI reported, per model. Only rows that carry both (usage_source = 'reported'
   and an estimate) are compared. Positive drift = the estimate is too high.
   Completion drift of reasoning models is expected to be negative: hidden
   reasoning tokens are billed but never visible in the response text.
   Run: tokentally sql --file pipelines/queries/estimate-drift.sql
*/
SELECT
  coalesce(model, '(unknown)') AS model,
  encoding,
  count(*) AS calls,
  sum(prompt_tokens) AS reported_prompt,
  sum(estimated_prompt_tokens) AS estimated_prompt,
  round(100.0 * (sum(estimated_prompt_tokens) - sum(prompt_tokens))
        / nullif(sum(prompt_tokens), 0), 2) AS prompt_drift_pct,
  sum(completion_tokens) AS reported_completion,
  sum(estimated_completion_tokens) AS estimated_completion,
  round(100.0 * (sum(estimated_completion_tokens) - sum(completion_tokens))
        / nullif(sum(completion_tokens), 0), 2) AS completion_drift_pct,
  round(100.0 * (sum(estimated_completion_tokens) - sum(completion_tokens - reasoning_tokens))
        / nullif(sum(completion_tokens - reasoning_tokens), 0), 2) AS visible_completion_drift_pct
FROM calls
WHERE usage_source = 'reported'
  AND estimated_prompt_tokens IS NOT NULL
  AND NOT partial
GROUP BY 1, 2
ORDER BY calls DESC, model
