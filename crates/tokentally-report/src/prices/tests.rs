use super::*;
use crate::deployments::DeploymentType;

const HEADER: &str = "model,token_class,unit,price,currency,effective_from,effective_to,source\n";

fn parse(rows: &str) -> Result<PriceTable> {
    PriceTable::parse(Path::new("prices.csv"), &format!("{HEADER}{rows}"))
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn parse_err(rows: &str) -> String {
    parse(rows).expect_err("should fail").to_string()
}

fn kind(deployment_type: DeploymentType, region: Option<&str>) -> Option<DeploymentKind<'_>> {
    Some(DeploymentKind {
        deployment_type,
        region,
    })
}

/// Every deployment of the sample, as the shipped deployment table describes it,
/// finds input and output prices (except the provisioned one, which has none).
#[test]
fn shipped_tables_price_every_sample_deployment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    let table = PriceTable::load(&root.join("prices.csv")).expect("shipped prices parse");
    let deployments =
        crate::Deployments::load(&root.join("deployments.csv")).expect("shipped deployments parse");
    let d = day("2026-10-15");
    for (deployment, model) in [
        ("gpt-4o", "gpt-4o-2024-08-06"),
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("o3-mini", "o3-mini-2025-01-31"),
        ("gpt-35-turbo", "gpt-35-turbo-0125"),
        ("chat-prod", "gpt-4o-mini-2024-07-18"),
    ] {
        let row = deployments.on(deployment, d).expect("listed");
        let kind = kind(row.deployment_type, row.region.as_deref());
        for class in [TokenClass::Input, TokenClass::Output] {
            let p = table.lookup(Some(model), Some(deployment), kind, class, d);
            assert!(
                p.is_some_and(|p| p.currency == "USD"),
                "{deployment} {model} {class}"
            );
        }
    }
    let emb = deployments.on("text-embedding-3-small", d).expect("listed");
    let emb_kind = kind(emb.deployment_type, emb.region.as_deref());
    assert!(
        table
            .lookup(
                Some("text-embedding-3-small"),
                None,
                emb_kind,
                TokenClass::Input,
                d
            )
            .is_some()
    );
    let global = kind(DeploymentType::Global, None);
    assert!(
        table
            .lookup(Some("gpt-4o"), None, global, TokenClass::Input, day("2025-12-31"))
            .is_none()
    );
    // Shipped prices all name a type: an unlisted deployment is unpriced, not guessed.
    assert!(
        table
            .lookup(Some("gpt-4o"), None, None, TokenClass::Input, d)
            .is_none()
    );
}

/// Whether `source` says when the figure was read: `read YYYY-MM-DD` or
/// `checked YYYY-MM-DD`.
fn names_a_reading_date(source: &str) -> bool {
    ["read ", "checked "].iter().any(|verb| {
        source.match_indices(verb).any(|(at, _)| {
            source
                .get(at + verb.len()..at + verb.len() + 10)
                .is_some_and(|d| d.parse::<NaiveDate>().is_ok())
        })
    })
}

#[test]
fn families_not_sold_per_token_are_catalog_families() {
    let families: Vec<&str> = tokentally_core::model::families().collect();
    for n in crate::prices_check::NOT_SOLD_PER_TOKEN {
        assert!(
            families.contains(&n.family),
            "{} is not a catalog family",
            n.family
        );
    }
}

#[test]
fn shipped_prices_cover_the_catalog() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/prices.csv");
    let table = PriceTable::load(&path).expect("shipped prices parse");
    for family in tokentally_core::model::families() {
        let rows: Vec<&Price> = table.prices().iter().filter(|p| p.model == family).collect();
        let classes: Vec<TokenClass> = rows.iter().map(|p| p.class).collect();
        // Azure has no per-token price for these; every other family has shipped rows.
        if crate::prices_check::not_sold_per_token(family).is_some() {
            assert!(rows.is_empty(), "{family} has rows now: take it off the list");
            continue;
        }
        assert!(
            classes.contains(&TokenClass::Input),
            "{family} has no input price"
        );
        let embeddings = family.starts_with("text-embedding");
        let image = family.starts_with("gpt-image");
        assert_eq!(
            classes.contains(&TokenClass::Output),
            !embeddings && !image,
            "{family}: output prices are for text-producing models"
        );
        if family.contains("audio") || family.contains("realtime") {
            for class in [TokenClass::AudioInput, TokenClass::AudioOutput] {
                assert!(classes.contains(&class), "{family} has no {class} price");
            }
        }
        if image {
            for class in [TokenClass::ImageInput, TokenClass::ImageOutput] {
                assert!(classes.contains(&class), "{family} has no {class} price");
            }
        }
        for p in rows {
            assert!(
                p.deployment_type.is_some(),
                "{family} line {}: no deployment type",
                p.line
            );
            assert!(
                names_a_reading_date(&p.source) || p.source.contains("no stored source"),
                "{family} line {}: the source says where and when",
                p.line
            );
        }
    }
}

#[test]
fn type_and_region_pick_the_most_specific_row() {
    let text = concat!(
        "model,deployment_type,region,token_class,unit,price,currency,effective_from,effective_to,source\n",
        "gpt-4o,,,input,1M tokens,3.00,USD,2026-01-01,,any\n",
        "gpt-4o,global,,input,1M tokens,2.50,USD,2026-01-01,,global\n",
        "gpt-4o,regional,,input,1M tokens,2.75,USD,2026-01-01,,regional\n",
        "gpt-4o,regional,swedencentral,input,1M tokens,2.80,USD,2026-01-01,,regional-swc\n",
        "gpt-4o,batch,,input,1M tokens,1.25,USD,2026-01-01,,batch\n",
    );
    let table = PriceTable::parse(Path::new("prices.csv"), text).expect("valid");
    let src = |kind: Option<DeploymentKind<'_>>| {
        table
            .lookup(
                Some("gpt-4o-2024-08-06"),
                Some("dep"),
                kind,
                TokenClass::Input,
                day("2026-10-01"),
            )
            .map(|p| p.source.as_str())
    };
    assert_eq!(src(kind(DeploymentType::Global, Some("eastus2"))), Some("global"));
    assert_eq!(
        src(kind(DeploymentType::Regional, Some("eastus2"))),
        Some("regional")
    );
    assert_eq!(
        src(kind(DeploymentType::Regional, Some("SwedenCentral"))),
        Some("regional-swc")
    );
    assert_eq!(src(kind(DeploymentType::Batch, None)), Some("batch"));
    assert_eq!(src(kind(DeploymentType::DataZone, None)), Some("any"));
    assert_eq!(src(None), Some("any"));
    let p = table
        .lookup(
            Some("gpt-4o"),
            None,
            kind(DeploymentType::Regional, Some("swedencentral")),
            TokenClass::Input,
            day("2026-10-01"),
        )
        .expect("price");
    assert_eq!((p.line, p.region.as_deref()), (5, Some("swedencentral")));
}

#[test]
fn provisioned_prices_are_rejected() {
    let text = "model,deployment_type,token_class,unit,price,currency,effective_from\n\
                gpt-4o,provisioned,input,1M tokens,1,USD,2026-01-01\n";
    let err = PriceTable::parse(Path::new("p.csv"), text)
        .expect_err("provisioned")
        .to_string();
    assert!(
        err.starts_with("p.csv:2: provisioned deployments are not priced per token"),
        "{err}"
    );
}

#[test]
fn errors_name_file_and_line() {
    let ok = "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,list\n";
    let cases = [
        (
            "gpt-4o,input,1M tokens,2,50,USD,2026-01-01,,x\n",
            "prices.csv:3:",
            "found record with 9 fields",
        ),
        (
            "gpt-4o,input,1M tokens,2.5.0,USD,2026-01-01,,x\n",
            "prices.csv:3:",
            "not a decimal",
        ),
        (
            "gpt-4o,input,1M tokens,-1,USD,2026-01-01,,x\n",
            "prices.csv:3:",
            "negative",
        ),
        (
            "gpt-4o,prompt,1M tokens,1,USD,2026-01-01,,x\n",
            "prices.csv:3:",
            "unknown token_class \"prompt\"",
        ),
        (
            "gpt-4o,output,1K tokens,1,USD,2026-01-01,,x\n",
            "prices.csv:3:",
            "unit \"1K tokens\"",
        ),
        (
            "gpt-4o,output,1M tokens,1,usd,2026-01-01,,x\n",
            "prices.csv:3:",
            "currency",
        ),
        (
            "gpt-4o,output,1M tokens,1,USD,2026-02-30,,x\n",
            "prices.csv:3:",
            "effective_from \"2026-02-30\"",
        ),
        (
            "gpt-4o,output,1M tokens,1,USD,2026-02-01,2026-01-01,x\n",
            "prices.csv:3:",
            "not after",
        ),
        (
            "gpt-4o,output,1M tokens,0.00000000001,USD,2026-01-01,,x\n",
            "prices.csv:3:",
            "decimal places",
        ),
    ];
    for (row, location, what) in cases {
        let msg = parse_err(&format!("{ok}{row}"));
        assert!(msg.starts_with(location) && msg.contains(what), "{row}: {msg}");
    }
}

#[test]
fn overlapping_ranges_are_rejected() {
    let msg = parse_err(concat!(
        "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,2026-07-01,a\n",
        "gpt-4o,output,1M tokens,10,USD,2026-01-01,,a\n",
        "GPT-4o,input,1M tokens,2.00,USD,2026-06-01,,b\n",
    ));
    assert!(
        msg.starts_with("prices.csv:4: gpt-4o input effective 2026-06-01..open overlaps line 2"),
        "{msg}"
    );
    let open = parse_err(concat!(
        "gpt-4o,input,1M tokens,2.00,USD,2026-06-01,,b\n",
        "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,a\n",
    ));
    assert!(
        open.starts_with("prices.csv:3: gpt-4o input effective 2026-01-01..open overlaps line 2"),
        "{open}"
    );
    // Back-to-back ranges (effective_to exclusive) are fine.
    parse(concat!(
        "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,2026-07-01,a\n",
        "gpt-4o,input,1M tokens,2.00,USD,2026-07-01,,b\n",
    ))
    .expect("adjacent ranges");
}

#[test]
fn lookup_prefers_exact_then_family_then_deployment_by_day() {
    let table = parse(concat!(
        "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,family\n",
        "gpt-4o-2024-08-06,input,1M tokens,2.00,USD,2026-10-10,2026-10-20,exact\n",
        "gpt-3.5-turbo,input,1M tokens,0.50,USD,2026-01-01,,family35\n",
        "contract-llm,input,1M tokens,1.00,EUR,2026-01-01,,deployment\n",
    ))
    .expect("valid");
    let src = |model: Option<&str>, dep: Option<&str>, d: &str| {
        table
            .lookup(model, dep, None, TokenClass::Input, day(d))
            .map(|p| p.source.as_str())
    };
    assert_eq!(src(Some("gpt-4o-2024-08-06"), None, "2026-10-09"), Some("family"));
    assert_eq!(src(Some("gpt-4o-2024-08-06"), None, "2026-10-10"), Some("exact"));
    assert_eq!(src(Some("gpt-4o-2024-08-06"), None, "2026-10-19"), Some("exact"));
    assert_eq!(src(Some("gpt-4o-2024-08-06"), None, "2026-10-20"), Some("family"));
    assert_eq!(
        src(Some("gpt-35-turbo-0125"), None, "2026-10-01"),
        Some("family35")
    );
    assert_eq!(
        src(Some("llama-3"), Some("contract-llm"), "2026-10-01"),
        Some("deployment")
    );
    assert_eq!(src(None, Some("contract-llm"), "2026-10-01"), Some("deployment"));
    assert_eq!(src(Some("llama-3"), Some("other"), "2026-10-01"), None);
    assert_eq!(src(Some("gpt-4o"), None, "2025-12-31"), None);
    assert!(
        table
            .lookup(Some("gpt-4o"), None, None, TokenClass::Output, day("2026-10-01"))
            .is_none()
    );
}

#[test]
fn arrow_batch_keeps_prices_exact() {
    let table = parse("gpt-4o,cached_input,1M tokens,1.25,USD,2026-01-01,2027-01-01,x\n").expect("valid");
    let batch = crate::sql_tables::prices_batch(&table).expect("batch");
    let formatted = arrow::util::pretty::pretty_format_batches(&[batch])
        .expect("format")
        .to_string();
    assert!(
        formatted.contains("1.2500000000") && formatted.contains("2027-01-01"),
        "{formatted}"
    );
}
