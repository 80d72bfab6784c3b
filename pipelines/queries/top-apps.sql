/* Top apps: the ten apps that cost most in the latest month `tokentally report`
   has written (run daily with `tokentally run --month-to-date`, that is this
   month so far), with their cost center, tokens and how much of their cost is
   a share of provisioned (PTU) capacity. Unpriced tokens have no cost: see
   unpriced-YYYY-MM.csv.
   Reads the `chargeback` view (FOCUS column names, so they are "quoted").
   Run: tokentally sql --file pipelines/queries/top-apps.sql
*/
SELECT
  "x_CostCenter" AS cost_center,
  "x_AppId" AS app_id,
  sum("ConsumedQuantity") AS tokens,
  sum("BilledCost") AS cost,
  sum(CASE WHEN "PricingCategory" = 'Committed' THEN "BilledCost" END) AS provisioned_cost,
  "BillingCurrency" AS currency
FROM chargeback
WHERE "BillingPeriodStart" = (SELECT max("BillingPeriodStart") FROM chargeback)
GROUP BY 1, 2, 6
ORDER BY cost DESC NULLS LAST, app_id
LIMIT 10
