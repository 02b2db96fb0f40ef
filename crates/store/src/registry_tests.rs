//! Registry store tests. Every test body runs against SQLite (a temporary file) and, when
//! `TEST_PG_URL` is set, against a fresh PostgreSQL database created for the test. An unreachable
//! `TEST_PG_URL` fails the test; an unset one is reported as skipped.

use std::path::Path;

use accounting::activity::{Registry, Status};
use accounting::codes::Uscc;
use accounting::date::Date;
use ingest::Source;
use ingest::reference::Reference;

use crate::store_tests::{each_backend, reference};

use crate::StoreError;
use crate::registry::StatusChange;

/// The sample registry's text (30 enterprises).
fn sample_text() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/sample-synthetic/registry.csv");
    std::fs::read_to_string(path).expect("sample registry")
}

fn registry(reference: &Reference, name: &str, text: &str) -> Registry {
    ingest::registry::read_registry(
        Source::Bytes {
            name,
            bytes: text.as_bytes(),
        },
        reference,
        &Default::default(),
    )
    .unwrap_or_else(|issues| panic!("{name} reads: {:?}", issues.into_vec()))
}

/// Replaces the line of `uscc` in a registry text (or removes it when `line` is empty).
fn with_line(text: &str, uscc: &str, line: &str) -> String {
    let mut out = String::new();
    for l in text.lines() {
        if l.starts_with(uscc) {
            if !line.is_empty() {
                out.push_str(line);
                out.push('\n');
            }
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

const SHEEP: &str = "91152502MA2BPPBJ0K";
const BOILER: &str = "91130109MAK4GR6066";
const CLOSED: &str = "91130481MA4BPPLX2U";
const GONE: &str = "91371503MAUB6LCY6H";
/// Not in the sample.
const NEW: &str = "91110105MA01ABCD5F";

fn uscc(text: &str) -> Uscc {
    Uscc::parse(text).expect("valid USCC")
}

/// A newer registry: one renamed and moved, one closed, one whose permit number disappears, one
/// new enterprise, one missing.
fn newer_text() -> String {
    let text = sample_text();
    let text = with_line(
        &text,
        SHEEP,
        &format!("{SHEEP},示例锡林浩特草原羊肉集团有限公司（样例）,152525,1351,运行,,{SHEEP}001P"),
    );
    let text = with_line(
        &text,
        BOILER,
        &format!("{BOILER},示例石家庄藁城供热有限公司（样例）,130109,4430,关闭,2024-05-31,"),
    );
    let text = with_line(&text, GONE, "");
    format!("{text}{NEW},示例朝阳区新建热力有限公司（样例）,110105,4430,运行,2024-03-01,\n")
}

/// A changed field: name, old value, new value.
type Field<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

#[tokio::test]
async fn a_first_import_adds_every_enterprise_with_its_initial_status() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let file = registry(&reference, "registry.csv", &sample_text());
            let dry = store.registry_changes(&file).await.unwrap();
            assert_eq!(
                (dry.added.len(), dry.changed.len(), dry.missing.len()),
                (30, 0, 0)
            );
            assert!(store.enterprises().await.unwrap().is_empty(), "dry run");

            let applied = store
                .import_registry(&file, "registry.csv", "alice")
                .await
                .unwrap();
            assert_eq!(applied, dry);
            let stored = store.enterprises().await.unwrap();
            assert_eq!(stored.len(), 30);
            assert!(stored.windows(2).all(|w| w[0].uscc < w[1].uscc));

            // The registry handed to accounting is the file's, record for record.
            let back = store.registry().await.unwrap();
            assert_eq!(back.len(), 30);
            for e in file.iter() {
                let id = back.find(&e.uscc).expect("stored");
                let b = back.get(id);
                assert_eq!(
                    (
                        &b.name,
                        b.region,
                        &b.industry,
                        b.status,
                        b.status_date,
                        &b.permit_no
                    ),
                    (
                        &e.name,
                        e.region,
                        &e.industry,
                        e.status,
                        e.status_date,
                        &e.permit_no
                    )
                );
            }
            // The closed enterprise is excluded from 2023 as it would be from the file.
            let id = back.find(&uscc(CLOSED)).unwrap();
            assert!(back.exclusion(id, 2023).is_some());
            assert!(back.exclusion(id, 2022).is_none());

            let history = store.status_history(&uscc(CLOSED)).await.unwrap();
            assert_eq!(history.len(), 1);
            assert_eq!(history[0].status, Status::Closed);
            assert_eq!(history[0].status_date, Date::parse("2022-09-30").ok());
            assert_eq!(history[0].reason, "import registry.csv");
            assert_eq!(history[0].actor, "alice");

            let audit = store.audit(10).await.unwrap();
            assert_eq!(audit.len(), 1);
            assert_eq!(audit[0].action, "registry-import");
            assert!(audit[0].detail.contains("30 added"), "{}", audit[0].detail);

            // The same file again changes nothing and writes nothing.
            let again = store
                .import_registry(&file, "registry.csv", "alice")
                .await
                .unwrap();
            assert!(again.is_empty());
            assert_eq!(again.unchanged, 30);
            assert_eq!(store.audit(10).await.unwrap().len(), 1);
        }
    })
    .await;
}

#[tokio::test]
async fn a_newer_file_is_a_change_set_and_nothing_is_silently_overwritten() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let first = registry(&reference, "registry.csv", &sample_text());
            store
                .import_registry(&first, "registry.csv", "alice")
                .await
                .unwrap();
            let newer = registry(&reference, "registry-2024.csv", &newer_text());

            let dry = store.registry_changes(&newer).await.unwrap();
            assert_eq!(
                dry.added
                    .iter()
                    .map(|e| e.uscc.as_str())
                    .collect::<Vec<_>>(),
                [NEW]
            );
            assert_eq!(
                dry.missing
                    .iter()
                    .map(|e| e.uscc.as_str())
                    .collect::<Vec<_>>(),
                [GONE]
            );
            assert_eq!(dry.unchanged, 27);
            let changed: Vec<(&str, Vec<Field<'_>>)> = dry
                .changed
                .iter()
                .map(|c| {
                    (
                        c.before.uscc.as_str(),
                        c.fields
                            .iter()
                            .map(|f| (f.field, f.old.as_deref(), f.new.as_deref()))
                            .collect(),
                    )
                })
                .collect();
            let boiler_permit = format!("{BOILER}001P");
            assert_eq!(
                changed,
                [
                    (
                        BOILER,
                        vec![
                            ("status", Some("operating"), Some("closed")),
                            ("status_date", None, Some("2024-05-31")),
                            ("permit_no", Some(boiler_permit.as_str()), None),
                        ]
                    ),
                    (
                        SHEEP,
                        vec![
                            (
                                "name",
                                Some("示例锡林浩特草原羊肉食品有限公司（样例）"),
                                Some("示例锡林浩特草原羊肉集团有限公司（样例）")
                            ),
                            ("region_code", Some("152502"), Some("152525")),
                        ]
                    ),
                ]
            );
            assert_eq!(dry.status_changes(), 1);
            // The dry run wrote nothing.
            let boiler = store.enterprise(&uscc(BOILER)).await.unwrap();
            assert_eq!(boiler.status, Status::Operating);
            assert_eq!(store.audit(10).await.unwrap().len(), 1);

            let applied = store
                .import_registry(&newer, "registry-2024.csv", "bob")
                .await
                .unwrap();
            assert_eq!(applied, dry);

            let boiler = store.enterprise(&uscc(BOILER)).await.unwrap();
            assert_eq!(
                (boiler.status, boiler.status_date, boiler.permit_no.clone()),
                (Status::Closed, Date::parse("2024-05-31").ok(), None)
            );
            assert_eq!(boiler.revision, 2);
            let history = store.status_history(&uscc(BOILER)).await.unwrap();
            let summary: Vec<_> = history
                .iter()
                .map(|h| (h.status, h.reason.as_str(), h.actor.as_str()))
                .collect();
            assert_eq!(
                summary,
                [
                    (Status::Operating, "import registry.csv", "alice"),
                    (Status::Closed, "import registry-2024.csv", "bob"),
                ]
            );
            // A change of name or region keeps the old value in the change history, and adds no
            // status entry.
            assert_eq!(store.status_history(&uscc(SHEEP)).await.unwrap().len(), 1);
            let sheep_changes = store.field_changes(&uscc(SHEEP)).await.unwrap();
            let fields: Vec<_> = sheep_changes
                .iter()
                .map(|c| (c.field.as_str(), c.old.as_deref(), c.new.as_deref()))
                .collect();
            assert_eq!(fields[1], ("region_code", Some("152502"), Some("152525")));
            assert_eq!(sheep_changes[0].reason, "import registry-2024.csv");
            let sheep = store.enterprise(&uscc(SHEEP)).await.unwrap();
            assert_eq!(sheep.region.to_string(), "152525");
            assert_ne!(sheep.first_seen, "");

            // The enterprise missing from the newer file is kept as it was.
            let gone = store.enterprise(&uscc(GONE)).await.unwrap();
            assert_eq!((gone.status, gone.revision), (Status::Operating, 1));
            assert_eq!(store.enterprises().await.unwrap().len(), 31);
            let new = store.status_history(&uscc(NEW)).await.unwrap();
            assert_eq!(new[0].status_date, Date::parse("2024-03-01").ok());

            let audit = store.audit(10).await.unwrap();
            assert_eq!(audit.len(), 2);
            assert_eq!(audit[0].action, "registry-import");
            assert_eq!(
                audit[0].detail,
                "1 added, 2 changed (1 status change), 1 not in the file, 27 unchanged \
                 from registry-2024.csv"
            );

            // Every enterprise's newest status entry is its current status and date.
            for e in store.enterprises().await.unwrap() {
                let history = store.status_history(&e.uscc).await.unwrap();
                let last = history.last().expect("a history");
                assert_eq!((last.status, last.status_date), (e.status, e.status_date));
            }
        }
    })
    .await;
}

#[tokio::test]
async fn status_changes_are_conditional_and_all_or_nothing() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let file = registry(&reference, "registry.csv", &sample_text());
            store
                .import_registry(&file, "registry.csv", "alice")
                .await
                .unwrap();
            let close = |code: &str, revision: i64| StatusChange {
                uscc: uscc(code),
                revision,
                status: Status::Closed,
                status_date: Date::parse("2021-12-31").ok(),
                reason: "no activity for 2 years (writeoff)".to_string(),
            };
            // One stale change spoils the whole write.
            let stale = store
                .change_statuses(
                    &[close(SHEEP, 1), close(BOILER, 7)],
                    "registry-writeoff",
                    "carol",
                )
                .await;
            assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
            assert_eq!(
                store.enterprise(&uscc(SHEEP)).await.unwrap().status,
                Status::Operating
            );
            let unknown = store
                .change_statuses(&[close(NEW, 1)], "registry-writeoff", "carol")
                .await;
            assert!(
                matches!(unknown, Err(StoreError::NotFound(_))),
                "{unknown:?}"
            );
            let mut no_reason = close(SHEEP, 1);
            no_reason.reason = " ".to_string();
            let refused = store
                .change_statuses(&[no_reason], "registry-writeoff", "carol")
                .await;
            assert!(
                matches!(refused, Err(StoreError::Invalid(_))),
                "{refused:?}"
            );

            let done = store
                .change_statuses(
                    &[close(SHEEP, 1), close(BOILER, 1)],
                    "registry-writeoff",
                    "carol",
                )
                .await
                .unwrap();
            assert_eq!(done, 2);
            let sheep = store.enterprise(&uscc(SHEEP)).await.unwrap();
            assert_eq!(
                (sheep.status, sheep.status_date, sheep.revision),
                (Status::Closed, Date::parse("2021-12-31").ok(), 2)
            );
            let history = store.status_history(&uscc(SHEEP)).await.unwrap();
            assert_eq!(history.len(), 2);
            assert_eq!(history[1].reason, "no activity for 2 years (writeoff)");
            assert_eq!(history[1].actor, "carol");
            let audit = store.audit(10).await.unwrap();
            let writeoffs: Vec<_> = audit
                .iter()
                .filter(|a| a.action == "registry-writeoff")
                .map(|a| (a.object.as_str(), a.detail.as_str()))
                .collect();
            assert_eq!(
                writeoffs,
                [
                    (
                        BOILER,
                        "closed on 2021-12-31: no activity for 2 years (writeoff)"
                    ),
                    (
                        SHEEP,
                        "closed on 2021-12-31: no activity for 2 years (writeoff)"
                    ),
                ]
            );
            // Re-importing the older file now reports the closures as changes, not silently.
            let dry = store.registry_changes(&file).await.unwrap();
            assert_eq!(dry.status_changes(), 2);
        }
    })
    .await;
}

#[tokio::test]
async fn the_database_itself_keeps_enterprises_and_their_histories() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let first = registry(&reference, "registry.csv", &sample_text());
            store
                .import_registry(&first, "registry.csv", "alice")
                .await
                .unwrap();
            let newer = registry(&reference, "registry-2024.csv", &newer_text());
            store
                .import_registry(&newer, "registry-2024.csv", "bob")
                .await
                .unwrap();
            for sql in [
                "DELETE FROM enterprise",
                "UPDATE enterprise SET uscc = '91110105MA01ABCD5F' WHERE uscc = '91152502MA2BPPBJ0K'",
                "UPDATE enterprise_status SET reason = 'x'",
                "DELETE FROM enterprise_status",
                "UPDATE enterprise_change SET new_value = 'x'",
                "DELETE FROM enterprise_change",
                "INSERT INTO enterprise_status (uscc, status, status_date, reason, recorded_at, actor) \
                 VALUES ('91110105MA01ABCD5F', 'paused', NULL, 'r', 't', 'a')",
            ] {
                let result = sqlx::query(sql).execute(store.pool()).await;
                assert!(result.is_err(), "{sql} must be refused");
            }
            assert_eq!(store.enterprises().await.unwrap().len(), 31);
            assert_eq!(store.status_history(&uscc(BOILER)).await.unwrap().len(), 2);
            assert_eq!(store.field_changes(&uscc(SHEEP)).await.unwrap().len(), 2);
            let missing = store.status_history(&uscc("91110108MA01QQQQ91")).await;
            assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
        }
    })
    .await;
}

/// A valid USCC registered in Chaoyang (110105) with the organization code from `n`.
fn made_uscc(n: u32) -> Uscc {
    let org = format!("{n:08}");
    let org_check = Uscc::org_check_char(&org).expect("org code");
    let body = format!("91110105{org}{org_check}");
    let check = Uscc::check_char(&body).expect("body");
    uscc(&format!("{body}{check}"))
}

/// Every USCC of a search result.
fn usccs(page: &crate::registry::EnterprisePage) -> Vec<String> {
    page.enterprises
        .iter()
        .map(|e| e.uscc.as_str().to_string())
        .collect()
}

#[tokio::test]
async fn searches_filter_count_and_page_in_the_database() {
    use crate::registry::{EnterpriseFilter, TextMatch};
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let file = registry(&reference, "registry.csv", &sample_text());
            store
                .import_registry(&file, "registry.csv", "alice")
                .await
                .unwrap();
            let all = store.enterprises().await.unwrap();
            let search = |filter: EnterpriseFilter| {
                let store = store.clone();
                async move { store.search_enterprises(&filter, 0, 1000).await.unwrap() }
            };
            // Every filter against the same condition computed in Rust over all records.
            let expect = |keep: &dyn Fn(&crate::registry::StoredEnterprise) -> bool| {
                all.iter()
                    .filter(|e| keep(e))
                    .map(|e| e.uscc.as_str().to_string())
                    .collect::<Vec<_>>()
            };
            let text = |name: &str, prefix: Option<&str>| EnterpriseFilter {
                text: Some(TextMatch {
                    name: name.to_string(),
                    uscc_prefix: prefix.map(str::to_string),
                }),
                ..EnterpriseFilter::default()
            };
            let page = search(EnterpriseFilter::default()).await;
            assert_eq!(page.total, 30);
            assert_eq!(usccs(&page), expect(&|_| true), "ordered by USCC");

            let page = search(text("羊肉", None)).await;
            assert_eq!(usccs(&page), expect(&|e| e.name.contains("羊肉")));
            assert_eq!(page.total, 6);
            // Full-width parentheses in the stored names match half-width ones.
            assert_eq!(search(text("(样例)", None)).await.total, 30);
            let page = search(text("供热有限公司(样例)", None)).await;
            assert_eq!(
                usccs(&page),
                expect(&|e| e.name.contains("供热有限公司（样例）"))
            );
            assert_eq!(page.total, 5);
            // The prefix of a USCC, or a name: either matches.
            let page = search(text("911301", Some("911301"))).await;
            assert_eq!(
                usccs(&page),
                expect(&|e| e.uscc.as_str().starts_with("911301"))
            );
            assert_eq!(page.total, 3);
            assert_eq!(search(text("911301", None)).await.total, 0);

            let region = |p: &str| EnterpriseFilter {
                region_prefix: Some(p.to_string()),
                ..EnterpriseFilter::default()
            };
            for prefix in ["15", "1525", "152502", "13", "1304", "37", "44"] {
                let page = search(region(prefix)).await;
                assert_eq!(
                    usccs(&page),
                    expect(&|e| e.region.to_string().starts_with(prefix)),
                    "region {prefix}"
                );
            }
            assert_eq!(search(region("15")).await.total, 12);
            assert_eq!(search(region("1525")).await.total, 6);
            assert_eq!(search(region("152502")).await.total, 1);

            let industry = |p: &str| EnterpriseFilter {
                industry_prefix: Some(p.to_string()),
                ..EnterpriseFilter::default()
            };
            for (prefix, count) in [
                ("C", 13),
                ("C13", 13),
                ("C135", 13),
                ("C1351", 13),
                ("D", 17),
                ("D44", 17),
                ("D441", 2),
                ("D4411", 2),
                ("D4430", 15),
                ("A", 0),
            ] {
                let page = search(industry(prefix)).await;
                assert_eq!(page.total, count, "industry {prefix}");
                assert_eq!(
                    usccs(&page),
                    expect(&|e| e.industry.to_string().starts_with(prefix)),
                    "industry {prefix}"
                );
            }
            let status = |s: Status| EnterpriseFilter {
                status: Some(s),
                ..EnterpriseFilter::default()
            };
            assert_eq!(usccs(&search(status(Status::Closed)).await), [CLOSED]);
            assert_eq!(search(status(Status::Suspended)).await.total, 1);
            assert_eq!(search(status(Status::Operating)).await.total, 28);
            assert_eq!(search(status(Status::Deregistered)).await.total, 0);

            // Conditions combine; paging keeps the order and the total.
            let combined = EnterpriseFilter {
                region_prefix: Some("37".to_string()),
                industry_prefix: Some("D4430".to_string()),
                status: Some(Status::Operating),
                text: Some(TextMatch {
                    name: "供".to_string(),
                    uscc_prefix: None,
                }),
            };
            let page = search(combined.clone()).await;
            assert_eq!(
                usccs(&page),
                expect(&|e| {
                    e.region.to_string().starts_with("37")
                        && e.industry.to_string() == "D4430"
                        && e.status == Status::Operating
                        && e.name.contains('供')
                })
            );
            assert_eq!(page.total, 5);
            let mut paged = Vec::new();
            for offset in (0..7).step_by(2) {
                let p = store
                    .search_enterprises(&combined, offset, 2)
                    .await
                    .unwrap();
                assert_eq!(p.total, 5);
                paged.extend(usccs(&p));
            }
            assert_eq!(paged, usccs(&page));
            let past = store
                .search_enterprises(&EnterpriseFilter::default(), u64::MAX, 10)
                .await
                .unwrap();
            assert_eq!((past.total, past.enterprises.len()), (30, 0));
        }
    })
    .await;
}

#[tokio::test]
async fn name_search_in_sql_is_normalize_name_and_values_stay_values() {
    use crate::registry::{EnterpriseFilter, TextMatch};
    use accounting::activity::Enterprise;
    use accounting::codes::{IndustryCode, RegionCode};
    use accounting::text::normalize_name;
    // Names that only the full normalisation matches: full-width letters and signs, the
    // ideographic space, tabs and other Unicode whitespace, a non-ASCII capital that
    // `normalize_name` keeps, and characters that mean something to LIKE or to SQL.
    let names = [
        "示例ＡＢＣ　热力\t有限公司（样例）",
        "示例abc热力有限公司(样例)",
        "示例Äbc\u{2003}供汽有限公司",
        "示例äbc供汽有限公司",
        "示例 100％ 热力有限公司",
        "示例100_热力有限公司",
        "示例O＇Brien\\热力",
        "示例'; DROP TABLE enterprise; --",
        "示例＂引号＂热力",
        "示例[A]^B-C*D?E 热力",
        "示例［ａ］＾ｂ－ｃ＊ｄ？ｅ",
        "示例\u{2028}a\u{85}b\u{a0}c",
    ];
    let enterprises: Vec<Enterprise> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Enterprise {
            uscc: made_uscc(1000 + i as u32),
            name: (*name).to_string(),
            region: RegionCode::parse("110105").unwrap(),
            industry: IndustryCode::parse("D4430").unwrap(),
            status: Status::Operating,
            status_date: None,
            permit_no: None,
            row: i as u64 + 2,
        })
        .collect();
    let file = Registry::new(enterprises).expect("no duplicates");
    let queries = [
        "abc",
        "ＡＢＣ",
        "A B C",
        "abc热力有限公司(样例)",
        "Äbc",
        "äbc",
        "bc供汽",
        "100%",
        "%",
        "_",
        "100_",
        "\\",
        "o'brien\\",
        "'",
        "';droptableenterprise;--",
        "' OR 1=1 --",
        "\"",
        "热力",
        "样例)",
        "nothing",
        "[a]^b-c*d?e",
        "]^",
        "^b",
        "-c",
        "*",
        "?",
        "[",
        "]",
        "a]",
        "abc",
        "e热力",
    ];
    each_backend(|store| {
        let file = file.clone();
        async move {
            store
                .import_registry(&file, "names.csv", "alice")
                .await
                .unwrap();
            for q in queries {
                let name = normalize_name(q);
                let expected: Vec<String> = file
                    .iter()
                    .filter(|e| normalize_name(&e.name).contains(&name))
                    .map(|e| e.uscc.as_str().to_string())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let filter = EnterpriseFilter {
                    text: Some(TextMatch {
                        name,
                        uscc_prefix: None,
                    }),
                    ..EnterpriseFilter::default()
                };
                let page = store.search_enterprises(&filter, 0, 100).await.unwrap();
                assert_eq!(usccs(&page), expected, "query {q:?}");
            }
            // The expectations are not trivial.
            let count = |q: &str| {
                let q = normalize_name(q);
                file.iter()
                    .filter(|e| normalize_name(&e.name).contains(&q))
                    .count()
            };
            assert_eq!(
                (
                    count("ＡＢＣ"),
                    count("%"),
                    count("_"),
                    count("'"),
                    count("Äbc"),
                    count("[a]^b-c*d?e"),
                    count("e热力"),
                ),
                (3, 1, 1, 2, 1, 2, 1)
            );
            // Values that are not what a filter promises never reach the database.
            for filter in [
                EnterpriseFilter {
                    text: Some(TextMatch {
                        name: "a\0".to_string(),
                        uscc_prefix: None,
                    }),
                    ..EnterpriseFilter::default()
                },
                EnterpriseFilter {
                    region_prefix: Some("44%".to_string()),
                    ..EnterpriseFilter::default()
                },
                EnterpriseFilter {
                    region_prefix: Some("4".to_string()),
                    ..EnterpriseFilter::default()
                },
                EnterpriseFilter {
                    industry_prefix: Some("C_".to_string()),
                    ..EnterpriseFilter::default()
                },
                EnterpriseFilter {
                    industry_prefix: Some("c13".to_string()),
                    ..EnterpriseFilter::default()
                },
                EnterpriseFilter {
                    text: Some(TextMatch {
                        name: String::new(),
                        uscc_prefix: Some("91%".to_string()),
                    }),
                    ..EnterpriseFilter::default()
                },
            ] {
                let refused = store.search_enterprises(&filter, 0, 10).await;
                assert!(
                    matches!(refused, Err(StoreError::Invalid(_))),
                    "{filter:?}: {refused:?}"
                );
            }
            assert_eq!(store.enterprises().await.unwrap().len(), names.len());
        }
    })
    .await;
}
