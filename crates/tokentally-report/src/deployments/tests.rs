use super::*;

const HEADER: &str =
    "deployment,deployment_type,region,monthly_cost,currency,effective_from,effective_to,source\n";

fn parse(rows: &str) -> Result<Deployments> {
    Deployments::parse(Path::new("deployments.csv"), &format!("{HEADER}{rows}"))
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

#[test]
fn shipped_table_parses_and_names_every_sample_deployment() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/deployments.csv");
    let table = Deployments::load(&path).expect("shipped deployments parse");
    let d = day("2026-10-15");
    for name in [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "o3-mini",
        "gpt-35-turbo",
        "text-embedding-3-small",
        "chat-prod",
    ] {
        assert!(table.on(name, d).is_some(), "{name}");
    }
    let month: Month = "2026-10".parse().expect("month");
    assert_eq!(table.provisioned_in(month).count(), 1);
}

#[test]
fn lookup_by_name_and_day() {
    let table = parse(concat!(
        "chat,global,,,,2026-01-01,2026-10-16,x\n",
        "CHAT,provisioned,swedencentral,3100.00,USD,2026-10-16,,ptu\n",
    ))
    .expect("valid");
    let ty = |d: &str| table.on("Chat", day(d)).map(|r| r.deployment_type);
    assert_eq!(ty("2026-10-15"), Some(DeploymentType::Global));
    assert_eq!(ty("2026-10-16"), Some(DeploymentType::Provisioned));
    assert_eq!(ty("2025-12-31"), None);
    let month: Month = "2026-10".parse().expect("month");
    let ptu: Vec<_> = table.provisioned_in(month).collect();
    assert_eq!(ptu.len(), 1);
    assert_eq!(ptu[0].days_in(month), 16);
    assert_eq!(ptu[0].region.as_deref(), Some("swedencentral"));
    assert_eq!(table.rows()[0].days_in(month), 15);
    let nov: Month = "2026-11".parse().expect("month");
    assert_eq!(table.rows()[0].days_in(nov), 0);
}

#[test]
fn errors_name_file_and_line() {
    let cases = [
        ("x,standard,,,,,,s\n", "unknown deployment_type \"standard\""),
        ("x,provisioned,,,,,,s\n", "needs monthly_cost"),
        ("x,provisioned,,100,usd,,,s\n", "currency \"usd\""),
        ("x,provisioned,,-5,USD,,,s\n", "negative"),
        ("x,global,,100,USD,,,s\n", "provisioned deployments only"),
        ("x,global,,,,2026-13-01,,s\n", "effective_from"),
        ("x,global,,,,2026-02-01,2026-01-01,s\n", "not after"),
        (",global,,,,,,s\n", "deployment is empty"),
        ("x,global,,,,,,s,extra\n", "found record with 9 fields"),
    ];
    for (row, what) in cases {
        let msg = parse(row).expect_err(row).to_string();
        assert!(
            msg.starts_with("deployments.csv:2: ") && msg.contains(what),
            "{row}: {msg}"
        );
    }
    let overlap = parse("x,global,,,,,,a\nX,regional,eastus,,,2026-01-01,,b\n")
        .expect_err("overlap")
        .to_string();
    assert!(
        overlap.starts_with("deployments.csv:3: deployment x effective 2026-01-01..open overlaps line 2"),
        "{overlap}"
    );
}
