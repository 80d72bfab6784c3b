//! Which copy of a call the month keeps, read back from Parquet as the ingest
//! writes it. Copies differ only in the field under test; the copy that must win
//! is written both before and after the other (by file and by `source`), so a rule
//! that fell back to the source order would fail one of the two.

use super::*;

/// The two copies of one call: `winner` must be billed, `loser` must not.
fn check_winner(winner: &UsageRecord, loser: &UsageRecord, what: &str) {
    check_billed(winner, loser, winner, what);
}

/// The two copies of one call, `winner` written first and then second: one
/// line is billed, with `expected`'s app, identity source, tokens and estimate.
fn check_billed(winner: &UsageRecord, loser: &UsageRecord, expected: &UsageRecord, what: &str) {
    for winner_first in [true, false] {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        let (mut first, mut second) = if winner_first {
            (winner.clone(), loser.clone())
        } else {
            (loser.clone(), winner.clone())
        };
        first.source.source = "a-first.jsonl".into();
        second.source.source = "b-second.jsonl".into();
        write_usage(&data, "a", &[first]);
        write_usage(&data, "b", &[second]);
        let report = report(root.path(), "2026-10");
        let billed: Vec<(&str, &str, i64, i64, i64)> = report
            .lines
            .iter()
            // The fixture's provisioned deployment bills its idle capacity too.
            .filter(|l| l.calls > 0)
            .map(|l| {
                (
                    l.app_id.as_str(),
                    l.app_id_source.as_str(),
                    l.tokens.prompt,
                    l.tokens.completion,
                    l.estimated_calls,
                )
            })
            .collect();
        let expected = (
            expected.app_id.as_str(),
            expected.app_id_source.as_str(),
            expected.prompt_tokens,
            expected.completion_tokens,
            i64::from(expected.usage_source == UsageSource::Estimated),
        );
        assert_eq!(
            billed,
            vec![expected],
            "{what}, winner written {}",
            if winner_first { "first" } else { "second" }
        );
        assert_eq!(report.totals.calls, 1, "{what}: one call");
    }
}

fn copy(app: &str, source: AppIdSource) -> UsageRecord {
    let mut c = call("dup", "2026-10-09T09:00:00Z", app, Some("gpt-4o"), 700, 70);
    c.app_id_source = source;
    c
}

#[test]
fn a_token_claim_beats_a_subscription_beats_a_key_beats_nothing() {
    let ranked = [
        copy("claim-app", AppIdSource::Claim),
        copy("sub-7f3a", AppIdSource::Subscription),
        copy("api-key:0f0f", AppIdSource::ApiKey),
        copy(UsageRecord::UNATTRIBUTED, AppIdSource::None),
    ];
    for pair in ranked.windows(2) {
        let what = format!("{} over {}", pair[0].app_id_source, pair[1].app_id_source);
        check_winner(&pair[0], &pair[1], &what);
    }
    check_winner(&ranked[0], &ranked[3], "claim over none");
}

#[test]
fn reported_usage_beats_an_estimate_beats_none() {
    let reported = copy("app", AppIdSource::Claim);
    let mut estimated = reported.clone();
    estimated.usage_source = UsageSource::Estimated;
    estimated.prompt_tokens = 650;
    estimated.completion_tokens = 64;
    estimated.total_tokens = 714;
    check_winner(&reported, &estimated, "reported over estimated");
    let mut none = reported.clone();
    none.usage_source = UsageSource::None;
    none.prompt_tokens = 0;
    none.completion_tokens = 0;
    none.total_tokens = 0;
    check_winner(&estimated, &none, "estimated over none");
}

/// A call logged by APIM's LLM log (reported tokens, the shared subscription)
/// and by the gateway policy (an estimate, the caller's token): the reported
/// tokens are charged to the token's app.
#[test]
fn reported_tokens_are_charged_to_the_caller_the_best_copy_names() {
    let mut reported_by_subscription = copy("sub-7f3a", AppIdSource::Subscription);
    reported_by_subscription.prompt_tokens = 800;
    let mut estimated_by_claim = copy("claim-app", AppIdSource::Claim);
    estimated_by_claim.usage_source = UsageSource::Estimated;
    let mut expected = reported_by_subscription.clone();
    expected.app_id = "claim-app".into();
    expected.app_id_source = AppIdSource::Claim;
    check_billed(
        &reported_by_subscription,
        &estimated_by_claim,
        &expected,
        "reported tokens (subscription), the caller from the claim",
    );
}
