//! Reading a key-unit list (重点调查单位名录): one row per key unit with the area it was
//! selected in and why. Such lists are made by `npsc key-units` and kept as versioned reference
//! tables; a list kept by hand (or by a statistics office) in the same format is read the same.

use std::collections::BTreeMap;

use accounting::codes::{RegionCode, RegionLevel, Uscc};

use crate::issue::{Issue, Issues};
use crate::table::{Field, ReadOptions, Schema};
use crate::{Source, each_record};

/// Field indices of [`KEY_UNITS`].
pub mod fields {
    #![allow(missing_docs)]
    pub const USCC: usize = 0;
    pub const NAME: usize = 1;
    pub const AREA_CODE: usize = 2;
    pub const LEVEL: usize = 3;
    pub const REASONS: usize = 4;
    pub const BASE_YEAR: usize = 5;
    pub const NOTE: usize = 6;
}

/// A key-unit list.
pub static KEY_UNITS: Schema = Schema {
    kind: "key-unit list",
    fields: &[
        Field {
            name: "uscc",
            aliases: &["统一社会信用代码"],
            required: true,
        },
        Field {
            name: "name",
            aliases: &["单位名称", "企业名称"],
            required: false,
        },
        Field {
            name: "area_code",
            aliases: &["筛选区域代码", "区域代码"],
            required: true,
        },
        Field {
            name: "level",
            aliases: &["筛选层级", "层级"],
            required: true,
        },
        Field {
            name: "reasons",
            aliases: &["入选原因", "筛选依据"],
            required: false,
        },
        Field {
            name: "base_year",
            aliases: &["基准年", "基准年份"],
            required: false,
        },
        Field {
            name: "note",
            aliases: &["备注"],
            required: false,
        },
    ],
    wide: None,
};

/// One key unit of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUnit {
    /// The enterprise.
    pub uscc: Uscc,
    /// The area it was selected in (`None` for a national list).
    pub area: Option<RegionCode>,
    /// The level of the areas.
    pub level: RegionLevel,
    /// Why, as written.
    pub reasons: String,
}

/// Reads a key-unit list; every bad cell and every unit listed twice is reported.
pub fn read_key_units(
    source: Source<'_>,
    options: &ReadOptions,
) -> Result<Vec<ListedUnit>, Issues> {
    use fields as f;
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut units = Vec::new();
    let mut seen: BTreeMap<Uscc, u64> = BTreeMap::new();
    each_record(
        source,
        &KEY_UNITS,
        options,
        &mut issues,
        |reader, record, issues| {
            let row = record.row();
            let at = |field| reader.location(row, field);
            let uscc_text = record.get(f::USCC).unwrap_or("");
            let uscc = match Uscc::parse(uscc_text) {
                Ok(u) => Some(u),
                Err(e) => {
                    issues.push(
                        Issue::error(at(f::USCC), "bad-uscc", e.to_string()).with_value(uscc_text),
                    );
                    None
                }
            };
            let level_text = record.get(f::LEVEL).unwrap_or("");
            let level = RegionLevel::parse(level_text);
            if level.is_none() {
                issues.push(
                    Issue::error(
                        at(f::LEVEL),
                        "bad-level",
                        "the level must be national, province, prefecture or county",
                    )
                    .with_value(level_text),
                );
            }
            let area_text = record.get(f::AREA_CODE).unwrap_or("");
            let area = match (level, area_text) {
                (Some(RegionLevel::National), "" | "000000") => Some(None),
                (_, text) => match RegionCode::parse(text) {
                    Ok(code) => Some(Some(code)),
                    Err(e) => {
                        issues.push(
                            Issue::error(at(f::AREA_CODE), "bad-region", e.to_string())
                                .with_value(text),
                        );
                        None
                    }
                },
            };
            let (Some(uscc), Some(level), Some(area)) = (uscc, level, area) else {
                return;
            };
            if let Some(first) = seen.insert(uscc, row) {
                issues.push(
                    Issue::error(
                        at(f::USCC),
                        "duplicate-unit",
                        format!("the unit is already listed on row {first}"),
                    )
                    .with_value(uscc_text),
                );
                return;
            }
            units.push(ListedUnit {
                uscc,
                area,
                level,
                reasons: record.get(f::REASONS).unwrap_or("").to_string(),
            });
        },
    );
    if issues.has_errors() {
        Err(issues)
    } else {
        Ok(units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_reads_and_its_errors_are_located() {
        let good = "uscc,area_code,level,reasons\n\
                    91130109MAK4GR6066,130100,prefecture,SO2 emission rank 1\n";
        let units = read_key_units(
            Source::Bytes {
                name: "k.csv",
                bytes: good.as_bytes(),
            },
            &ReadOptions::default(),
        )
        .expect("reads");
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].level, RegionLevel::Prefecture);
        let bad = "统一社会信用代码,筛选区域代码,筛选层级\n\
                   91130109MAK4GR6066,130100,市\n\
                   91130109MAK4GR6066,130100,市\n\
                   X,13010,town\n";
        let issues = read_key_units(
            Source::Bytes {
                name: "k.csv",
                bytes: bad.as_bytes(),
            },
            &ReadOptions::default(),
        )
        .expect_err("bad");
        let text = format!("{issues:?}");
        for code in ["duplicate-unit", "bad-uscc", "bad-level", "bad-region"] {
            assert!(text.contains(code), "{code} in {text}");
        }
    }
}
