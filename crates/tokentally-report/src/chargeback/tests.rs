use super::*;
use crate::charges::{Charge, Priced, Pricing, price_month};
use crate::prices::PriceTable;
use std::path::Path;
use tokentally_core::TokenCounts;

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

fn prices(rows: &str) -> PriceTable {
    let text = format!("model,token_class,unit,price,currency,effective_from,effective_to,source\n{rows}");
    PriceTable::parse(Path::new("prices.csv"), &text).expect("valid prices")
}

fn usage(model: Option<&str>, day: &str, prompt: i64, cached: i64, completion: i64) -> DayUsage {
    DayUsage {
        app_id: "app".into(),
        app_id_source: "claim".into(),
        deployment: Some("dep".into()),
        model: model.map(Into::into),
        day: day.parse().expect("day"),
        calls: 1,
        failed_calls: 0,
        tokens: TokenCounts {
            prompt,
            cached_prompt: cached,
            completion,
            total: prompt + completion,
            ..TokenCounts::default()
        },
        estimated_calls: 0,
    }
}

fn month() -> Month {
    "2026-10".parse().expect("month")
}

/// Prices `days` with no deployment table: only prices for any type apply.
fn build(days: &[DayUsage], table: &PriceTable) -> Result<Vec<ChargebackLine>> {
    let deployments = Deployments::default();
    let priced = price_month(month(), days, table, &deployments)?;
    build_lines(month(), days, &deployments, &priced)
}

#[test]
fn exact_cost_and_half_even_rounding() {
    let cases = [
        (1, "2.50", "0.000002"),  // 0.0000025 → even below
        (3, "2.50", "0.000008"),  // 0.0000075 → even above
        (5, "2.50", "0.000012"),  // 0.0000125 → even below
        (1, "0.075", "0.000000"), // 0.000000075
        (7, "0.15", "0.000001"),  // 0.00000105
        (1_000_000, "10", "10.000000"),
        (123_456_789, "1.10", "135.802468"), // 135.8024679 exactly
        (0, "2.50", "0.000000"),
    ];
    for (tokens, price, want) in cases {
        let exact = exact_cost(tokens, dec(price)).expect("fits");
        assert_eq!(round_cost(exact).to_string(), want, "{tokens} × {price}");
    }
    assert_eq!(exact_cost(1, dec("2.50")).expect("fits"), dec("0.0000025"));
    assert_eq!(
        exact_cost(1, dec("0.0000000001")).expect("fits"),
        dec("0.0000000000000001")
    );
}

#[test]
fn rounds_once_per_line_not_per_day() {
    let table = prices("gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,x\n");
    let days = [
        usage(Some("gpt-4o"), "2026-10-01", 1, 0, 0),
        usage(Some("gpt-4o"), "2026-10-02", 1, 0, 0),
    ];
    let lines = build(&days, &table).expect("lines");
    let [line] = lines.as_slice() else {
        panic!("one line: {lines:?}")
    };
    // Per-day rounding would give 0.000002 + 0.000002.
    assert_eq!(line.class_costs.get(TokenClass::Input), Some(dec("0.000005")));
    assert_eq!(line.calls, 2);
}

#[test]
fn classes_are_priced_separately_and_cost_is_the_sum_of_rounded_parts() {
    let table = prices(concat!(
        "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,x\n",
        "gpt-4o,cached_input,1M tokens,1.25,USD,2026-01-01,,x\n",
        "gpt-4o,output,1M tokens,10,USD,2026-01-01,,x\n",
    ));
    // input 7 × 2.5 = 0.0000175 → 0.000018; cached 3 × 1.25 = 0.00000375 → 0.000004;
    // output 1 × 10 = 0.00001.
    let lines = build(
        &[usage(Some("gpt-4o-2024-08-06"), "2026-10-05", 10, 3, 1)],
        &table,
    )
    .expect("lines");
    let line = &lines[0];
    assert_eq!(line.class_costs.get(TokenClass::Input), Some(dec("0.000018")));
    assert_eq!(
        line.class_costs.get(TokenClass::CachedInput),
        Some(dec("0.000004"))
    );
    assert_eq!(line.class_costs.get(TokenClass::Output), Some(dec("0.000010")));
    assert_eq!(line.cost.map(|c| c.to_string()), Some("0.000032".to_owned()));
    assert_eq!(line.currency.as_deref(), Some("USD"));
    assert!(line.priced);
}

#[test]
fn missing_price_for_billed_tokens_leaves_the_line_unpriced() {
    let table = prices("gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,x\n");
    let lines = build(
        &[
            usage(Some("gpt-4o"), "2026-10-01", 10, 0, 5),  // no output price
            usage(Some("llama-3"), "2026-10-01", 10, 0, 0), // no price at all
            usage(Some("gpt-4o"), "2025-10-01", 10, 0, 0),  // before effective_from
        ],
        &table,
    )
    .expect("lines");
    let [gpt, llama] = lines.as_slice() else {
        panic!("two lines: {lines:?}")
    };
    // The priced part keeps its cost; the rest is counted, not guessed.
    assert!(!gpt.priced);
    assert_eq!(gpt.class_costs.get(TokenClass::Input), Some(dec("0.000025")));
    assert_eq!(
        (gpt.class_costs.get(TokenClass::Output), gpt.cost),
        (None, Some(dec("0.000025")))
    );
    assert_eq!(gpt.unpriced_tokens, 15);
    assert!(!llama.priced);
    assert_eq!(
        (
            llama.class_costs.get(TokenClass::Input),
            llama.cost,
            llama.currency.as_deref()
        ),
        (None, None, None)
    );
    assert_eq!(llama.unpriced_tokens, 10);
}

#[test]
fn classes_without_tokens_need_no_price() {
    let table = prices("text-embedding-3-small,input,1M tokens,0.02,USD,2026-01-01,,x\n");
    let mut failed = usage(None, "2026-10-01", 0, 0, 0);
    failed.deployment = None;
    let lines = build(
        &[
            usage(Some("text-embedding-3-small"), "2026-10-01", 50, 0, 0),
            failed,
        ],
        &table,
    )
    .expect("lines");
    assert_eq!(
        (lines[0].deployment.as_str(), lines[0].model.as_str()),
        ("(none)", "(unknown)")
    );
    assert!(lines[0].priced);
    assert_eq!(lines[0].cost, Some(dec("0.000000")));
    assert_eq!(lines[0].currency, None);
    assert_eq!(lines[1].cost, Some(dec("0.000001")));
    assert_eq!(lines[1].currency.as_deref(), Some("USD"));
}

#[test]
fn mixed_currencies_on_one_line_are_an_error() {
    let table = prices(concat!(
        "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,x\n",
        "gpt-4o,output,1M tokens,9,EUR,2026-01-01,,x\n",
    ));
    let err = build(&[usage(Some("gpt-4o"), "2026-10-01", 1, 0, 1)], &table)
        .expect_err("currency conflict")
        .to_string();
    assert!(
        err.contains("app/dep/gpt-4o") && err.contains("line 2") && err.contains("line 3"),
        "{err}"
    );
}

const DEPLOYMENTS: &str =
    "deployment,deployment_type,region,monthly_cost,currency,effective_from,effective_to,source
dep,data_zone,eastus2,,,,,x
ptu,provisioned,swedencentral,100.00,USD,2026-10-01,,x
idle,provisioned,,31,USD,2026-10-01,,x
";

fn typed_prices() -> PriceTable {
    let text =
        "model,deployment_type,region,token_class,unit,price,currency,effective_from,effective_to,source
gpt-4o,global,,input,1M tokens,2.50,USD,2026-01-01,,x
gpt-4o,data_zone,,input,1M tokens,2.75,USD,2026-01-01,,x
";
    PriceTable::parse(Path::new("prices.csv"), text).expect("valid prices")
}

fn on(deployment: &str, app: &str, prompt: i64, cached: i64, completion: i64) -> DayUsage {
    let mut d = usage(Some("gpt-4o"), "2026-10-07", prompt, cached, completion);
    d.deployment = Some(deployment.into());
    d.app_id = app.into();
    d
}

fn build_typed(days: &[DayUsage]) -> (Priced, Vec<ChargebackLine>) {
    let deployments = Deployments::parse(Path::new("d.csv"), DEPLOYMENTS).expect("deployments");
    let priced = price_month(month(), days, &typed_prices(), &deployments).expect("priced");
    let lines = build_lines(month(), days, &deployments, &priced).expect("lines");
    (priced, lines)
}

#[test]
fn provisioned_cost_is_shared_by_tokens_and_idle_capacity_is_billed() {
    // Weights: a 1000 + 0 tokens (cached counts as input), b 2000 + 0 (two classes).
    let days = [
        on("ptu", "a", 1000, 400, 0),
        on("ptu", "b", 1500, 0, 500),
        on("dep", "a", 10, 0, 0),
    ];
    let (priced, lines) = build_typed(&days);
    let ptu: Vec<&Charge> = priced.charges.iter().filter(|c| c.deployment == "ptu").collect();
    let shares: Vec<String> = ptu.iter().filter_map(|c| c.cost.map(|x| x.to_string())).collect();
    // 100 × 600/3000, 100 × 400/3000, 100 × 1500/3000, 100 × 500/3000 → 16.666667 + 16.666666.
    assert_eq!(shares, ["20.000000", "13.333333", "50.000000", "16.666667"]);
    assert_eq!(ptu.iter().filter_map(|c| c.cost).sum::<Decimal>(), dec("100"));
    let line = |app: &str, dep: &str| {
        lines
            .iter()
            .find(|l| l.app_id == app && l.deployment == dep)
            .expect("line")
    };
    assert_eq!(line("a", "ptu").provisioned_cost, Some(dec("33.333333")));
    assert_eq!(
        line("a", "ptu").class_costs.get(TokenClass::Input),
        Some(dec("0"))
    );
    assert_eq!(line("b", "ptu").cost, Some(dec("66.666667")));
    assert_eq!(
        line("b", "ptu").deployment_type,
        Some(DeploymentType::Provisioned)
    );
    // Nobody called `idle`: its whole month goes to the idle-capacity app.
    let idle = line(crate::ptu::IDLE_CAPACITY_APP, "idle");
    assert_eq!((idle.calls, idle.cost), (0, Some(dec("31.000000"))));
    assert_eq!(idle.currency.as_deref(), Some("USD"));
    // The data-zone deployment is priced at the data-zone price: 10 × 2.75.
    assert_eq!(line("a", "dep").cost, Some(dec("0.000028")));
    let total: Decimal = lines.iter().filter_map(|l| l.cost).sum();
    let charged: Decimal = priced.charges.iter().filter_map(|c| c.cost).sum();
    assert_eq!(total, charged);
    // The detail file's order is the lines': the idle charge, added after the
    // others, sorts first by its app.
    let apps: Vec<&str> = priced.charges.iter().map(|c| c.app_id.as_str()).collect();
    assert_eq!(apps, [crate::ptu::IDLE_CAPACITY_APP, "a", "a", "a", "b", "b"]);
}

/// The reason of the one unpriced charge in `priced`.
fn only_unpriced_reason(priced: &Priced) -> &str {
    let unpriced: Vec<&Charge> = priced.charges.iter().filter(|c| !c.is_priced()).collect();
    let [charge] = unpriced.as_slice() else {
        panic!("one unpriced charge: {unpriced:?}")
    };
    let Pricing::Unpriced { reason } = &charge.pricing else {
        panic!("{charge:?}")
    };
    reason
}

#[test]
fn unlisted_deployments_are_unpriced_with_a_reason() {
    let (priced, lines) = build_typed(&[on("other", "a", 10, 0, 0)]);
    let reason = only_unpriced_reason(&priced);
    assert!(
        reason.contains("deployment other is not in the deployment table"),
        "{reason}"
    );
    let line = lines.iter().find(|l| l.deployment == "other").expect("line");
    assert_eq!(
        (line.priced, line.unpriced_tokens, line.deployment_type),
        (false, 10, None)
    );
}

#[test]
fn calls_without_a_deployment_are_unpriced_with_their_own_reason() {
    let mut day = on("other", "a", 10, 0, 0);
    day.deployment = None;
    let (priced, _) = build_typed(&[day]);
    let reason = only_unpriced_reason(&priced);
    assert!(
        reason.starts_with("no deployment named; no input price for model gpt-4o"),
        "{reason}"
    );
}
