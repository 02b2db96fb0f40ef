//! Reading the enterprise registry (排污单位名录).

use accounting::activity::{Enterprise, Registry, Status};
use accounting::codes::{RegionCode, Uscc};
use accounting::date::Date;

use crate::coefficients::parse_industry_class;
use crate::issue::{Issue, Issues};
use crate::reference::Reference;
use crate::schemas::{self, registry as r};
use crate::table::ReadOptions;
use crate::{Source, each_record_in_parts};

/// Parts a large CSV registry is read in, one thread each.
const PARALLEL_PARTS: usize = 2;
/// Files smaller than this are read in one part.
const PARALLEL_MIN_BYTES: u64 = 32 << 20;

/// The years a status date may fall in: a year 0 or 9999 is a placeholder or a typo, and would
/// silently decide which activity rows are excluded.
const STATUS_YEARS: std::ops::RangeInclusive<u16> = 1949..=2100;

/// Reads and validates a registry; every bad cell is reported.
pub fn read_registry(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<Registry, Issues> {
    read(source, reference, options, Details::Keep)
}

/// [`read_registry`] for accounting, which needs only code, region, industry and status: names
/// and permit numbers are checked as always but not kept (their heap copies, about 50 bytes an
/// enterprise, are 120 MB at census size: 2.5 million enterprises).
pub fn read_registry_for_accounting(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<Registry, Issues> {
    read(source, reference, options, Details::Drop)
}

#[derive(Clone, Copy, PartialEq)]
enum Details {
    Keep,
    Drop,
}

fn read(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
    details: Details,
) -> Result<Registry, Issues> {
    read_in_parts(
        source,
        reference,
        options,
        details,
        (PARALLEL_PARTS, PARALLEL_MIN_BYTES),
    )
}

/// [`read`] with the parts a large file is read in: `(parts, from this many bytes)`.
fn read_in_parts(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
    details: Details,
    split: (usize, u64),
) -> Result<Registry, Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    // A census-sized registry (2.5 million enterprises) is read in two parts on two threads,
    // as the activity data is.
    let opened = each_record_in_parts(
        source,
        &schemas::REGISTRY,
        options,
        split,
        &mut issues,
        Vec::new,
        |reader, record, issues, enterprises: &mut Vec<Enterprise>| {
            let row = record.row();
            let at = |field| reader.location(row, field);
            let before = issues.error_count();
            let required = |field: usize, issues: &mut Issues| -> Option<&str> {
                let value = record.get(field);
                if value.is_none() {
                    issues.push(Issue::error(
                        at(field),
                        "missing-value",
                        "a value is required",
                    ));
                }
                value
            };
            let uscc = required(r::USCC, issues).and_then(|text| {
                parse_uscc(text, at(r::USCC))
                    .map_err(|issue| issues.push(issue))
                    .ok()
            });
            let name = required(r::NAME, issues);
            let region =
                required(r::REGION_CODE, issues).and_then(|text| match RegionCode::parse(text) {
                    Ok(code) if reference.regions.get(code).is_some() => Some(code),
                    Ok(_) => {
                        issues.push(
                            Issue::error(
                                at(r::REGION_CODE),
                                "unknown-region",
                                "not in the GB/T 2260 region list",
                            )
                            .with_value(text)
                            .with_hint("look codes up with `npsc codes region <code or name>`"),
                        );
                        None
                    }
                    Err(e) => {
                        let mut issue =
                            Issue::error(at(r::REGION_CODE), "bad-region-code", e.to_string())
                                .with_value(text);
                        if let Some(hint) = e.hint() {
                            issue = issue.with_hint(hint);
                        }
                        issues.push(issue);
                        None
                    }
                });
            let industry = required(r::INDUSTRY_CODE, issues).and_then(|text| {
                parse_industry_class(text, reference, at(r::INDUSTRY_CODE), issues)
            });
            let status = required(r::STATUS, issues).and_then(|text| {
            let status = Status::parse(text);
            if status.is_none() {
                issues.push(
                    Issue::error(at(r::STATUS), "bad-status", "unknown status")
                        .with_value(text)
                        .with_hint("use 运行, 停产, 关闭 or 注销 (operating, suspended, closed, deregistered)"),
                );
            }
            status
        });
            let status_date = record.get(r::STATUS_DATE).and_then(|text| {
                let message = match Date::parse(text) {
                    Ok(date) if STATUS_YEARS.contains(&date.year()) => return Some(date),
                    Ok(_) => format!(
                        "`{text}` is outside the years {}–{}",
                        STATUS_YEARS.start(),
                        STATUS_YEARS.end()
                    ),
                    Err(e) => e.to_string(),
                };
                issues.push(
                    Issue::error(at(r::STATUS_DATE), "bad-date", message)
                        .with_value(text)
                        .with_hint("write dates as `2022-09-30`"),
                );
                None
            });
            if issues.error_count() > before || record.is_bad() {
                return;
            }
            if let (Some(uscc), Some(name), Some(region), Some(industry), Some(status)) =
                (uscc, name, region, industry, status)
            {
                let (name, permit_no) = match details {
                    Details::Keep => (
                        name.to_string(),
                        record.get(r::PERMIT_NO).map(str::to_string),
                    ),
                    Details::Drop => (String::new(), None),
                };
                enterprises.push(Enterprise {
                    uscc,
                    name,
                    region,
                    industry,
                    status,
                    status_date,
                    permit_no,
                    row,
                });
            }
        },
    );
    let Some(parts) = opened else {
        return Err(issues);
    };
    // The first part grows to hold the others (a large block grows in place), so the
    // enterprises are not held twice.
    let mut parts = parts.into_iter();
    let mut enterprises = parts.next().unwrap_or_default();
    for part in parts {
        enterprises.extend(part);
    }
    enterprises.shrink_to_fit();
    let file = source.name();
    let cell_errors = issues.has_errors();
    let built = Registry::new(enterprises);
    if let Ok(registry) = built {
        return if cell_errors {
            Err(issues)
        } else {
            Ok(registry)
        };
    }
    built.map_err(|duplicates| {
        for (row, first, uscc) in duplicates {
            let location = crate::issue::Location {
                file: file.clone(),
                sheet: None,
                row: Some(row),
                column: Some("uscc".to_string()),
            };
            issues.push(
                Issue::error(
                    location,
                    "duplicate-enterprise",
                    format!("enterprise `{uscc}` is already listed at row {first}"),
                )
                .with_value(uscc.as_str()),
            );
        }
        issues
    })
}

/// Parses a USCC; a bad one becomes an issue at `location`.
pub(crate) fn parse_uscc(text: &str, location: crate::issue::Location) -> Result<Uscc, Issue> {
    Uscc::parse(text).map_err(|e| {
        let mut issue = Issue::error(location, "bad-uscc", e.to_string()).with_value(text);
        if let Some(hint) = e.hint() {
            issue = issue.with_hint(hint);
        }
        issue
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_accounting_read_keeps_everything_but_names_and_permits() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let reference = reference();
        let file = root.join("datasets/sample-synthetic/registry.csv");
        let options = ReadOptions::default();
        let full = read_registry(Source::Path(&file), &reference, &options).expect("reads");
        let lean =
            read_registry_for_accounting(Source::Path(&file), &reference, &options).expect("reads");
        assert_eq!(full.len(), lean.len());
        assert!(full.iter().any(|e| e.permit_no.is_some()));
        for (f, l) in full.iter().zip(lean.iter()) {
            assert!(!f.name.is_empty());
            assert_eq!((l.name.as_str(), &l.permit_no), ("", &None));
            assert_eq!(
                (
                    f.uscc,
                    f.region,
                    &f.industry,
                    f.status,
                    f.status_date,
                    f.row
                ),
                (
                    l.uscc,
                    l.region,
                    &l.industry,
                    l.status,
                    l.status_date,
                    l.row
                )
            );
            assert_eq!(lean.find(&f.uscc), full.find(&f.uscc));
        }
    }

    fn reference() -> Reference {
        crate::reference::bundled_for_tests()
    }

    #[test]
    fn a_registry_read_in_parts_gives_what_it_gives_in_one() {
        let reference = reference();
        let sample = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../datasets/sample-synthetic/registry.csv"),
        )
        .expect("the sample registry");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let options = ReadOptions::default();
        // Good: the sample as it is. Bad: problems in both halves of the file, and a USCC of
        // the first half listed again in the second.
        // The sample and 400 more enterprises, so that the file is larger than what the reader
        // reads ahead while it looks for the header.
        let mut more = Vec::new();
        for i in 0..400 {
            let org8 = format!("{:08}", 10_000_000 + i);
            let org = format!("{org8}{}", Uscc::org_check_char(&org8).expect("org check"));
            let first17 = format!("91130102{org}");
            let uscc = format!("{first17}{}", Uscc::check_char(&first17).expect("check"));
            more.push(format!(
                "{uscc},合成企业{i}号（SYNTHETIC）,130102,2511,运行,,"
            ));
        }
        let lines: Vec<&str> = sample
            .lines()
            .chain(more.iter().map(String::as_str))
            .collect();
        let mut bad = lines.clone();
        let first = lines[1].replacen(",152502,", ",999999,", 1);
        bad[1] = &first;
        bad.insert(5, "91152502MA2BPPBJ0K,重复,152502,1351,运行,,");
        bad.push("not-a-uscc,坏,152502,1351,运行,,");
        bad.push(lines[3]);
        bad.push("91152525MAWTL29GX3,\"unclosed,152525,1351,运行,,");
        for (name, content) in [("good.csv", lines), ("bad.csv", bad)] {
            let path = dir.path().join(name);
            std::fs::write(&path, content.join("\n") + "\n").expect("written");
            let whole = read_in_parts(
                Source::Path(&path),
                &reference,
                &options,
                Details::Keep,
                (1, u64::MAX),
            );
            // The file is really read in two parts, each seeing its own rows.
            let mut issues = Issues::new();
            let counts = crate::each_record_in_parts(
                Source::Path(&path),
                &schemas::REGISTRY,
                &options,
                (2, 0),
                &mut issues,
                || 0_usize,
                |_, _, _, count| *count += 1,
            )
            .expect("read");
            assert_eq!(counts.len(), 2, "{name}");
            assert!(counts.iter().all(|c| *c > 0), "{name}: {counts:?}");
            let parts = read_in_parts(
                Source::Path(&path),
                &reference,
                &options,
                Details::Keep,
                (2, 0),
            );
            match (whole, parts) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(name, "good.csv");
                    assert_eq!(a.len(), lines_len(&path));
                    assert!(a.iter().eq(b.iter()));
                }
                (Err(a), Err(b)) => {
                    assert_eq!(name, "bad.csv");
                    let (a, b) = (a.to_string(), b.to_string());
                    assert_eq!(a, b);
                    for code in [
                        "bad-region-code",
                        "duplicate-enterprise",
                        "bad-uscc",
                        "unclosed-quote",
                    ] {
                        assert!(a.contains(code), "{code} in {a}");
                    }
                }
                (a, b) => panic!("{name}: one pass {a:?}, in parts {b:?}"),
            }
        }
    }

    fn lines_len(path: &Path) -> usize {
        std::fs::read_to_string(path).expect("read").lines().count() - 1
    }
}
