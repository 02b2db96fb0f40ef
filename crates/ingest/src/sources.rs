//! The canonical formats of the source categories other than industry (CSV or Excel, English or
//! Chinese headers), read into [`accounting::sources`] values with every problem located:
//!
//! - [`SOURCE_COEFFICIENTS`]: the area-source coefficient table (生活源 and 畜禽养殖 coefficients:
//!   `类别, 来源, 行政区划代码, 污染物, 单位, 产污系数, 排污系数, 去除效率, 备注`);
//! - [`AREA_ACTIVITY`]: domestic or livestock activity (`年份, 行政区划代码, 来源, 活动水平,
//!   计量单位, 天数, 参数, 养殖规模, 治理设施运行率, 备注`); the category is the file's role;
//! - [`PLANTS`]: centralized facilities' monitoring (`年份, 行政区划代码, 设施名称, 设施类型,
//!   污染物, 处理水量, 水量单位, 进水浓度, 出水浓度, 生活污水比例, 备注`), concentrations in mg/L;
//! - [`MOBILE`]: mobile-source emissions as supplied (`年份, 行政区划代码, 来源, 污染物, 排放量,
//!   计量单位, 备注`).
//!
//! A unit may also be given as the header's bracketed note: `处理水量(万吨)`, `排放量(吨)`;
//! a unit column, where present and filled, wins. Concentration headers may carry `(mg/L)` or
//! `(毫克/升)` and nothing else.

use std::collections::BTreeMap;

use accounting::activity::Parameters;
use accounting::codes::RegionCode;
use accounting::coefficient::{Removal, RowOrigin, SetProblem};
use accounting::formula::Formula;
use accounting::pollutant::PollutantId;
use accounting::sources::{
    ActivityUnit, AreaActivity, AreaKind, FacilityKind, Monitoring, SourceCoefficient,
    SourceCoefficients, SourceUnit,
};
use accounting::text::normalize_name;
use accounting::units::{Dimension, Unit};

use crate::issue::{Issue, Issues, Location};
use crate::reference::Reference;
use crate::table::{Field, ReadOptions, Record, Schema, TableReader};
use crate::{Source, open_table};

const fn required(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field {
        name,
        aliases,
        required: true,
    }
}

const fn optional(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field {
        name,
        aliases,
        required: false,
    }
}

const YEAR: Field = required("year", &["年份", "年度"]);
const REGION: Field = required("region_code", &["行政区划代码", "区划代码", "地区代码"]);
const POLLUTANT: Field = required("pollutant", &["污染物", "污染物指标", "污染物名称"]);
const NOTE: Field = optional("note", &["备注", "说明"]);

/// The area-source coefficient table.
pub static SOURCE_COEFFICIENTS: Schema = Schema {
    kind: "source coefficient table",
    fields: &[
        required("category", &["类别", "源类别", "污染源类别"]),
        required("source", &["来源", "源项", "畜种", "人口类型"]),
        optional(
            "region_code",
            &["行政区划代码", "适用区域代码", "区划代码", "适用区域"],
        ),
        POLLUTANT,
        required("unit", &["单位", "系数单位", "计量单位"]),
        required("generation_coefficient", &["产污系数", "产生系数"]),
        optional("emission_coefficient", &["排污系数", "排放系数"]),
        optional("removal_efficiency", &["去除效率", "去除率"]),
        optional("note", &["备注", "来源说明", "数据来源"]),
    ],
    wide: None,
};

/// Field indices of [`SOURCE_COEFFICIENTS`].
pub mod coefficient_fields {
    #![allow(missing_docs)]
    pub const CATEGORY: usize = 0;
    pub const SOURCE: usize = 1;
    pub const REGION: usize = 2;
    pub const POLLUTANT: usize = 3;
    pub const UNIT: usize = 4;
    pub const GENERATION: usize = 5;
    pub const EMISSION: usize = 6;
    pub const EFFICIENCY: usize = 7;
    pub const NOTE: usize = 8;
}

/// Domestic or livestock activity.
pub static AREA_ACTIVITY: Schema = Schema {
    kind: "area-source activity",
    fields: &[
        YEAR,
        REGION,
        required("source", &["来源", "源项", "畜种", "人口类型"]),
        required(
            "activity",
            &[
                "活动水平",
                "数量",
                "人口",
                "常住人口",
                "存栏量",
                "出栏量",
                "消费量",
            ],
        ),
        required("activity_unit", &["计量单位", "单位"]),
        optional("days", &["天数", "饲养天数", "饲养周期"]),
        optional("parameters", &["参数"]),
        optional("scale", &["养殖规模", "规模"]),
        optional("operation_rate", &["治理设施运行率", "运行率"]),
        NOTE,
    ],
    wide: None,
};

/// Field indices of [`AREA_ACTIVITY`].
pub mod activity_fields {
    #![allow(missing_docs)]
    pub const YEAR: usize = 0;
    pub const REGION: usize = 1;
    pub const SOURCE: usize = 2;
    pub const ACTIVITY: usize = 3;
    pub const UNIT: usize = 4;
    pub const DAYS: usize = 5;
    pub const PARAMETERS: usize = 6;
    pub const SCALE: usize = 7;
    pub const OPERATION_RATE: usize = 8;
    pub const NOTE: usize = 9;
}

/// Centralized treatment facilities' monitoring.
pub static PLANTS: Schema = Schema {
    kind: "facility monitoring",
    fields: &[
        YEAR,
        REGION,
        required("facility", &["设施名称", "单位名称", "污水处理厂名称"]),
        optional("facility_type", &["设施类型", "类型"]),
        POLLUTANT,
        required("water", &["处理水量", "污水处理量", "废水处理量", "水量"]),
        optional("water_unit", &["水量单位"]),
        required("inflow", &["进水浓度", "进口浓度"]),
        required("outflow", &["出水浓度", "出口浓度"]),
        optional("domestic_share", &["生活污水比例", "生活污水占比"]),
        NOTE,
    ],
    wide: None,
};

/// Field indices of [`PLANTS`].
pub mod plant_fields {
    #![allow(missing_docs)]
    pub const YEAR: usize = 0;
    pub const REGION: usize = 1;
    pub const FACILITY: usize = 2;
    pub const FACILITY_TYPE: usize = 3;
    pub const POLLUTANT: usize = 4;
    pub const WATER: usize = 5;
    pub const WATER_UNIT: usize = 6;
    pub const INFLOW: usize = 7;
    pub const OUTFLOW: usize = 8;
    pub const DOMESTIC_SHARE: usize = 9;
    pub const NOTE: usize = 10;
}

/// Mobile-source emissions as supplied.
pub static MOBILE: Schema = Schema {
    kind: "mobile-source emissions",
    fields: &[
        YEAR,
        REGION,
        optional("source", &["来源", "车型", "源项"]),
        POLLUTANT,
        required("emission", &["排放量"]),
        optional("unit", &["计量单位", "单位"]),
        NOTE,
    ],
    wide: None,
};

/// Field indices of [`MOBILE`].
pub mod mobile_fields {
    #![allow(missing_docs)]
    pub const YEAR: usize = 0;
    pub const REGION: usize = 1;
    pub const SOURCE: usize = 2;
    pub const POLLUTANT: usize = 3;
    pub const EMISSION: usize = 4;
    pub const UNIT: usize = 5;
    pub const NOTE: usize = 6;
}

/// Rows read from one table, with what is needed to locate a later problem on any of their
/// cells.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// The rows, in file order.
    pub rows: Vec<T>,
    /// The file name used in locations.
    pub file: String,
    sheet: Option<String>,
    lines: Vec<u64>,
    /// Per schema field, its column label (header as written, Excel letter first).
    labels: Vec<Option<String>>,
}

impl<T> Located<T> {
    /// The row (as the user sees it) of row `index`.
    pub fn line(&self, index: usize) -> u64 {
        self.lines.get(index).copied().unwrap_or(0)
    }

    /// The location of field `field` (by index) of row `index`.
    pub fn location(&self, index: usize, field: usize) -> Location {
        Location {
            file: self.file.clone(),
            sheet: self.sheet.clone(),
            row: Some(self.line(index)),
            column: self.labels.get(field).cloned().flatten(),
        }
    }
}

/// Large-scale farm (规模化养殖场) or not: only large-scale farming is taxable (环境保护税法 Art. 12
/// (1) exempts 农业生产(不含规模化养殖)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FarmScale {
    /// 规模化 (规模养殖场).
    LargeScale,
    /// 规模以下 (养殖户).
    Small,
}

impl FarmScale {
    /// `规模化`, `规模化养殖`, `规模养殖场`, `large`; `规模以下`, `规模以下养殖户`, `散养`, `small`.
    pub fn parse(text: &str) -> Option<FarmScale> {
        match normalize_name(text).as_str() {
            "规模化" | "规模化养殖" | "规模化养殖场" | "规模养殖场" | "规模场" | "large" => {
                Some(FarmScale::LargeScale)
            }
            "规模以下" | "规模以下养殖户" | "养殖户" | "散养" | "small" => {
                Some(FarmScale::Small)
            }
            _ => None,
        }
    }

    /// The Chinese label.
    pub fn label(self) -> &'static str {
        match self {
            FarmScale::LargeScale => "规模化",
            FarmScale::Small => "规模以下",
        }
    }
}

/// A domestic or livestock activity row with what the report shows besides the numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaRow {
    /// The activity.
    pub activity: AreaActivity,
    /// Farm scale (livestock).
    pub scale: Option<FarmScale>,
    /// The note.
    pub note: String,
}

/// A monitoring row with its note.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantRow {
    /// The monitoring.
    pub monitoring: Monitoring,
    /// The note.
    pub note: String,
}

/// A mobile-source emission as supplied.
#[derive(Debug, Clone, PartialEq)]
pub struct MobileRow {
    /// The year.
    pub year: u16,
    /// The region (any level).
    pub region: RegionCode,
    /// The source, `机动车` when not given.
    pub source: String,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The emission as given.
    pub emission: f64,
    /// Its unit, a mass.
    pub unit: Unit,
    /// The note.
    pub note: String,
}

/// The cells of one record, with problem reporting.
struct Cells<'a> {
    reader: &'a TableReader,
    record: &'a Record,
}

impl Cells<'_> {
    fn at(&self, field: usize) -> Location {
        self.reader.location(self.record.row(), field)
    }

    fn get(&self, field: usize) -> Option<&str> {
        if self.record.is_bad_cell(field) {
            None
        } else {
            self.record
                .get(field)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        }
    }

    fn required(&self, field: usize, issues: &mut Issues) -> Option<&str> {
        let value = self.get(field);
        if value.is_none() && !self.record.is_bad_cell(field) {
            issues.push(Issue::error(
                self.at(field),
                "missing-value",
                "a value is required",
            ));
        }
        value
    }

    fn year(&self, field: usize, issues: &mut Issues) -> Option<u16> {
        let text = self.required(field, issues)?;
        match text.trim_end_matches('年').parse::<u16>() {
            Ok(y) if (1990..=2100).contains(&y) => Some(y),
            _ => {
                issues.push(
                    Issue::error(self.at(field), "bad-year", "not a year from 1990 to 2100")
                        .with_value(text),
                );
                None
            }
        }
    }

    fn region(
        &self,
        field: usize,
        reference: &Reference,
        issues: &mut Issues,
    ) -> Option<RegionCode> {
        let text = self.required(field, issues)?;
        match RegionCode::parse(text) {
            Ok(code) if reference.regions.get(code).is_some() => Some(code),
            Ok(_) => {
                issues.push(
                    Issue::error(
                        self.at(field),
                        "unknown-region",
                        "not a region of GB/T 2260",
                    )
                    .with_value(text),
                );
                None
            }
            Err(e) => {
                issues.push(
                    Issue::error(self.at(field), "bad-region", e.to_string()).with_value(text),
                );
                None
            }
        }
    }

    fn pollutant(
        &self,
        field: usize,
        reference: &Reference,
        issues: &mut Issues,
    ) -> Option<PollutantId> {
        let text = self.required(field, issues)?;
        let id = reference.pollutants.lookup(text);
        if id.is_none() {
            issues.push(
                Issue::error(
                    self.at(field),
                    "unknown-pollutant",
                    "not a pollutant of the reference list",
                )
                .with_value(text)
                .with_hint("use a name or code such as 化学需氧量, 氨氮, 二氧化硫 or NOX"),
            );
        }
        id
    }

    /// A finite number within `range` (`what` names it in the message).
    fn number(
        &self,
        field: usize,
        text: &str,
        what: &str,
        range: std::ops::RangeInclusive<f64>,
        issues: &mut Issues,
    ) -> Option<f64> {
        match accounting::activity::parse_plain_number(text) {
            Some(v) if range.contains(&v) => Some(v),
            _ => {
                let bound = if *range.end() == f64::MAX {
                    format!("not below {}", range.start())
                } else {
                    format!("from {} to {}", range.start(), range.end())
                };
                issues.push(
                    Issue::error(
                        self.at(field),
                        "bad-number",
                        format!("{what} must be a finite number {bound}"),
                    )
                    .with_value(text)
                    .with_hint("write a plain decimal number such as `1234.5`"),
                );
                None
            }
        }
    }

    fn formula(&self, field: usize, text: &str, issues: &mut Issues) -> Option<Formula> {
        match crate::coefficients::parse_formula(text) {
            Ok(f) => Some(f),
            Err((message, hint)) => {
                let mut issue =
                    Issue::error(self.at(field), "bad-formula", message).with_value(text);
                if let Some(hint) = hint {
                    issue = issue.with_hint(hint);
                }
                issues.push(issue);
                None
            }
        }
    }

    fn text(&self, field: usize) -> String {
        self.get(field).unwrap_or("").to_string()
    }
}

const NON_NEGATIVE: std::ops::RangeInclusive<f64> = 0.0..=f64::MAX;

/// Reads every record of a table, calling `f` with the record's cells; returns the rows with
/// their locations.
fn read_table<T>(
    source: Source<'_>,
    schema: &'static Schema,
    options: &ReadOptions,
    issues: &mut Issues,
    mut f: impl FnMut(&TableReader, &Cells<'_>, &mut Issues) -> Option<T>,
) -> Located<T> {
    let mut located = Located {
        rows: Vec::new(),
        file: source.name(),
        sheet: None,
        lines: Vec::new(),
        labels: Vec::new(),
    };
    let mut reader = match open_table(source, schema, options) {
        Ok(reader) => reader,
        Err(problems) => {
            issues.extend(problems);
            return located;
        }
    };
    located.file = reader.file_name().to_string();
    located.sheet = reader.sheet().map(str::to_string);
    located.labels = (0..schema.fields.len())
        .map(|field| reader.location(reader.header_row(), field).column)
        .collect();
    let mut record = Record::new();
    loop {
        match reader.read(&mut record, issues) {
            Ok(true) if record.is_blank() => {}
            Ok(true) => {
                let cells = Cells {
                    reader: &reader,
                    record: &record,
                };
                if let Some(row) = f(&reader, &cells, issues) {
                    located.rows.push(row);
                    located.lines.push(record.row());
                }
            }
            Ok(false) => break,
            Err(issue) => {
                issues.push(issue);
                break;
            }
        }
    }
    located
}

/// The header's bracketed note, e.g. `万吨` of `处理水量(万吨)`.
fn header_note(reader: &TableReader, field: usize) -> Option<String> {
    let column = reader.column(field)?;
    let header = reader.headers().get(column)?.trim();
    let inner = header
        .strip_suffix(')')
        .or_else(|| header.strip_suffix('）'))?;
    let open = inner.rfind(['(', '（'])?;
    Some(
        inner[open..]
            .trim_start_matches(['(', '（'])
            .trim()
            .to_string(),
    )
}

/// The unit of a quantity: the unit column's cell, else the quantity header's note, else `吨`;
/// it must be a mass.
fn mass_unit(
    reader: &TableReader,
    cells: &Cells<'_>,
    unit_field: usize,
    quantity_field: usize,
    issues: &mut Issues,
) -> Option<Unit> {
    let (text, field) = match cells.get(unit_field) {
        Some(text) => (text.to_string(), unit_field),
        None => match header_note(reader, quantity_field) {
            Some(note) => (note, quantity_field),
            None => ("吨".to_string(), unit_field),
        },
    };
    let location = if field == quantity_field {
        reader.location(reader.header_row(), field)
    } else {
        cells.at(field)
    };
    match Unit::parse(&text) {
        Ok(unit) if unit.dimension() == Dimension::MASS => Some(unit),
        Ok(_) => {
            issues.push(
                Issue::error(location, "unit-mismatch", "the unit must be a mass")
                    .with_value(text)
                    .with_hint("write 吨 or 万吨 (1 m³ of wastewater counts as 1 t)"),
            );
            None
        }
        Err(e) => {
            issues.push(Issue::error(location, "bad-unit", e.to_string()).with_value(text));
            None
        }
    }
}

/// Reads and validates an area-source coefficient table; every problem is reported, cell
/// problems and table problems (duplicates, a unit that does not measure the pollutant)
/// together.
pub fn read_source_coefficients(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<Located<SourceCoefficient>, Issues> {
    use coefficient_fields as f;
    let mut issues = Issues::with_cap(options.issue_cap);
    let located = read_table(
        source,
        &SOURCE_COEFFICIENTS,
        options,
        &mut issues,
        |reader, cells, issues| {
            let kind = cells.required(f::CATEGORY, issues).and_then(|text| {
                let kind = AreaKind::parse(text);
                if kind.is_none() {
                    issues.push(
                        Issue::error(
                            cells.at(f::CATEGORY),
                            "bad-category",
                            "the category must be 生活源 or 畜禽养殖",
                        )
                        .with_value(text),
                    );
                }
                kind
            });
            let source = cells.required(f::SOURCE, issues).map(str::to_string);
            let region = match cells.get(f::REGION) {
                Some(_) => cells.region(f::REGION, reference, issues).map(Some),
                None => Some(None),
            };
            let pollutant = cells.pollutant(f::POLLUTANT, reference, issues);
            let unit =
                cells
                    .required(f::UNIT, issues)
                    .and_then(|text| match SourceUnit::parse(text) {
                        Ok(unit) => Some(unit),
                        Err(e) => {
                            issues.push(
                                Issue::error(cells.at(f::UNIT), "bad-unit", e.to_string())
                                    .with_value(text)
                                    .with_hint(
                                        "write e.g. `克/(人·天)`, `克/(头·天)` or `千克/吨`",
                                    ),
                            );
                            None
                        }
                    });
            let generation = cells
                .required(f::GENERATION, issues)
                .and_then(|text| cells.formula(f::GENERATION, text, issues));
            let removal = match (cells.get(f::EMISSION), cells.get(f::EFFICIENCY)) {
                (Some(_), Some(_)) => {
                    issues.push(Issue::error(
                        cells.at(f::EFFICIENCY),
                        "two-removals",
                        "give an emission coefficient or a removal efficiency, not both",
                    ));
                    None
                }
                (Some(text), None) => cells
                    .formula(f::EMISSION, text, issues)
                    .map(Removal::EmissionCoefficient),
                (None, Some(text)) => cells
                    .number(
                        f::EFFICIENCY,
                        text,
                        "a removal efficiency",
                        0.0..=100.0,
                        issues,
                    )
                    .map(|percent| Removal::Efficiency { percent }),
                (None, None) => Some(Removal::None),
            };
            let note = cells.get(f::NOTE).map(str::to_string);
            Some(SourceCoefficient {
                origin: RowOrigin {
                    table: reader.file_name().to_string(),
                    row: cells.record.row(),
                },
                kind: kind?,
                source: source?,
                region: region?,
                pollutant: pollutant?,
                unit: unit?,
                generation: generation?,
                removal: removal?,
                note,
            })
        },
    );
    if issues.has_errors() {
        return Err(issues);
    }
    Ok(located)
}

/// Builds the table of coefficients read, locating the table's problems on their cells.
pub fn build_source_coefficients(
    located: &Located<SourceCoefficient>,
    reference: &Reference,
) -> Result<SourceCoefficients, Issues> {
    use coefficient_fields as f;
    SourceCoefficients::build(located.rows.clone(), &reference.pollutants).map_err(|problems| {
        let mut issues = Issues::new();
        for SetProblem {
            origin,
            column,
            code,
            message,
        } in problems
        {
            let field = match column {
                "unit" => f::UNIT,
                "generation_coefficient" => f::GENERATION,
                "emission_coefficient" => f::EMISSION,
                "removal_efficiency" => f::EFFICIENCY,
                _ => f::POLLUTANT,
            };
            let index = located
                .rows
                .iter()
                .position(|r| r.origin == origin)
                .unwrap_or(0);
            issues.push(Issue::error(located.location(index, field), code, message));
        }
        issues
    })
}

/// Reads domestic (`kind` = [`AreaKind::Domestic`]) or livestock activity; every problem is
/// reported. A farm scale on a domestic row is an error.
pub fn read_area_activity(
    source: Source<'_>,
    kind: AreaKind,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<Located<AreaRow>, Issues> {
    use activity_fields as f;
    let mut issues = Issues::with_cap(options.issue_cap);
    let located = read_table(
        source,
        &AREA_ACTIVITY,
        options,
        &mut issues,
        |_, cells, issues| {
            let year = cells.year(f::YEAR, issues);
            let region = cells.region(f::REGION, reference, issues);
            let source = cells.required(f::SOURCE, issues).map(str::to_string);
            let amount = cells
                .required(f::ACTIVITY, issues)
                .and_then(|t| cells.number(f::ACTIVITY, t, "the activity", NON_NEGATIVE, issues));
            let unit =
                cells
                    .required(f::UNIT, issues)
                    .and_then(|text| match ActivityUnit::parse(text) {
                        Ok(u) => Some(u),
                        Err(e) => {
                            issues.push(
                                Issue::error(cells.at(f::UNIT), "bad-unit", e.to_string())
                                    .with_value(text)
                                    .with_hint("write 人, 万人, 头, 万头, 只, 万只 or 吨"),
                            );
                            None
                        }
                    });
            let days = match cells.get(f::DAYS) {
                Some(t) => cells
                    .number(f::DAYS, t, "the days", 0.0..=366.0, issues)
                    .map(Some),
                None => Some(None),
            };
            let parameters = match Parameters::parse(&cells.text(f::PARAMETERS)) {
                Ok(p) => Some(p),
                Err(e) => {
                    issues.push(
                        Issue::error(cells.at(f::PARAMETERS), "bad-parameters", e.to_string())
                            .with_value(cells.text(f::PARAMETERS))
                            .with_hint("write `S=1.2`, several separated by `;`"),
                    );
                    None
                }
            };
            let scale = match cells.get(f::SCALE) {
                None => Some(None),
                Some(text) if kind == AreaKind::Domestic => {
                    issues.push(
                        Issue::error(
                            cells.at(f::SCALE),
                            "scale-not-applicable",
                            "a farm scale belongs to livestock rows",
                        )
                        .with_value(text),
                    );
                    None
                }
                Some(text) => match FarmScale::parse(text) {
                    Some(s) => Some(Some(s)),
                    None => {
                        issues.push(
                            Issue::error(
                                cells.at(f::SCALE),
                                "bad-scale",
                                "the scale must be 规模化 or 规模以下",
                            )
                            .with_value(text),
                        );
                        None
                    }
                },
            };
            let operation_rate = match cells.get(f::OPERATION_RATE) {
                Some(t) => cells
                    .number(
                        f::OPERATION_RATE,
                        t,
                        "the operation rate",
                        0.0..=1.0,
                        issues,
                    )
                    .map(Some),
                None => Some(None),
            };
            Some(AreaRow {
                activity: AreaActivity {
                    year: year?,
                    region: region?,
                    kind,
                    source: source?,
                    amount: amount?,
                    unit: unit?,
                    days: days?,
                    parameters: parameters?,
                    operation_rate: operation_rate?,
                },
                scale: scale?,
                note: cells.text(f::NOTE),
            })
        },
    );
    if issues.has_errors() {
        return Err(issues);
    }
    Ok(located)
}

/// Reads facilities' monitoring; every problem is reported, and a facility's pollutant given
/// twice in a year.
pub fn read_plants(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<Located<PlantRow>, Issues> {
    use plant_fields as f;
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut concentration_checked = false;
    let mut seen: BTreeMap<(u16, String, PollutantId), u64> = BTreeMap::new();
    let located = read_table(
        source,
        &PLANTS,
        options,
        &mut issues,
        |reader, cells, issues| {
            if !concentration_checked {
                concentration_checked = true;
                for field in [f::INFLOW, f::OUTFLOW] {
                    if let Some(note) = header_note(reader, field)
                        && !matches!(normalize_name(&note).as_str(), "mg/l" | "毫克/升" | "mg/升")
                    {
                        issues.push(
                            Issue::error(
                                reader.location(reader.header_row(), field),
                                "unsupported-unit",
                                "concentrations are in mg/L",
                            )
                            .with_value(note)
                            .with_hint("give concentrations in mg/L, header `进水浓度(mg/L)`"),
                        );
                    }
                }
            }
            let year = cells.year(f::YEAR, issues);
            let region = cells.region(f::REGION, reference, issues);
            let facility = cells.required(f::FACILITY, issues).map(str::to_string);
            let kind = FacilityKind::parse(cells.get(f::FACILITY_TYPE).unwrap_or("污水处理厂"));
            let pollutant = cells.pollutant(f::POLLUTANT, reference, issues);
            let water = cells
                .required(f::WATER, issues)
                .and_then(|t| cells.number(f::WATER, t, "the water treated", NON_NEGATIVE, issues));
            let water_unit = mass_unit(reader, cells, f::WATER_UNIT, f::WATER, issues);
            let inflow = cells
                .required(f::INFLOW, issues)
                .and_then(|t| cells.number(f::INFLOW, t, "a concentration", NON_NEGATIVE, issues));
            let outflow = cells
                .required(f::OUTFLOW, issues)
                .and_then(|t| cells.number(f::OUTFLOW, t, "a concentration", NON_NEGATIVE, issues));
            let domestic_share = match cells.get(f::DOMESTIC_SHARE) {
                Some(t) => cells.number(
                    f::DOMESTIC_SHARE,
                    t,
                    "the domestic share",
                    0.0..=1.0,
                    issues,
                ),
                None => Some(1.0),
            };
            let (year, facility, pollutant) = (year?, facility?, pollutant?);
            if let Some(first) = seen.insert(
                (year, normalize_name(&facility), pollutant),
                cells.record.row(),
            ) {
                issues.push(Issue::error(
                    cells.at(f::POLLUTANT),
                    "duplicate-monitoring",
                    format!(
                        "the facility's {} in {year} is already given on row {first}",
                        reference.pollutants.get(pollutant).name
                    ),
                ));
                return None;
            }
            Some(PlantRow {
                monitoring: Monitoring {
                    origin: RowOrigin {
                        table: reader.file_name().to_string(),
                        row: cells.record.row(),
                    },
                    year,
                    region: region?,
                    facility,
                    kind,
                    pollutant,
                    water: water?,
                    water_unit: water_unit?,
                    inflow: inflow?,
                    outflow: outflow?,
                    domestic_share: domestic_share?,
                },
                note: cells.text(f::NOTE),
            })
        },
    );
    if issues.has_errors() {
        return Err(issues);
    }
    Ok(located)
}

/// Reads mobile-source emissions; every problem is reported.
pub fn read_mobile(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<Located<MobileRow>, Issues> {
    use mobile_fields as f;
    let mut issues = Issues::with_cap(options.issue_cap);
    let located = read_table(
        source,
        &MOBILE,
        options,
        &mut issues,
        |reader, cells, issues| {
            let year = cells.year(f::YEAR, issues);
            let region = cells.region(f::REGION, reference, issues);
            let pollutant = cells.pollutant(f::POLLUTANT, reference, issues);
            let emission = cells
                .required(f::EMISSION, issues)
                .and_then(|t| cells.number(f::EMISSION, t, "an emission", NON_NEGATIVE, issues));
            let unit = mass_unit(reader, cells, f::UNIT, f::EMISSION, issues);
            Some(MobileRow {
                year: year?,
                region: region?,
                source: cells.get(f::SOURCE).unwrap_or("机动车").to_string(),
                pollutant: pollutant?,
                emission: emission?,
                unit: unit?,
                note: cells.text(f::NOTE),
            })
        },
    );
    if issues.has_errors() {
        return Err(issues);
    }
    Ok(located)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Reference {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/reference");
        crate::reference::load(crate::reference::ReferenceSources {
            regions: Source::Path(&dir.join("regions_gbt2260.csv")),
            industries: Source::Path(&dir.join("industries_gbt4754_2017.csv")),
            pollutants: Source::Path(&dir.join("pollutants.csv")),
            equivalents: Source::Path(&dir.join("pollution_equivalents.csv")),
        })
        .expect("reference")
    }

    fn bytes<'a>(name: &'a str, text: &'a str) -> Source<'a> {
        Source::Bytes {
            name,
            bytes: text.as_bytes(),
        }
    }

    fn codes(issues: &Issues) -> Vec<(u64, String, &'static str)> {
        issues
            .iter()
            .map(|i| {
                (
                    i.location.row.unwrap_or(0),
                    i.location.column.clone().unwrap_or_default(),
                    i.code,
                )
            })
            .collect()
    }

    #[test]
    fn a_coefficient_table_reads_and_every_bad_cell_is_located() {
        let reference = reference();
        let good = "类别,来源,行政区划代码,污染物,单位,产污系数,排污系数,备注\n\
                    生活源,城镇居民,,化学需氧量,克/(人·天),70,,示例\n\
                    畜禽养殖,生猪,130000,COD,克/(头·天),400,50,\n";
        let located =
            read_source_coefficients(bytes("c.csv", good), &reference, &ReadOptions::default())
                .expect("reads");
        assert_eq!(located.rows.len(), 2);
        assert_eq!(located.rows[1].region, RegionCode::parse("130000").ok());
        assert_eq!(located.line(1), 3);
        build_source_coefficients(&located, &reference).expect("builds");
        let bad = "类别,来源,行政区划代码,污染物,单位,产污系数,排污系数,去除效率\n\
                   工业源,城镇居民,,化学需氧量,克/(人·天),70,,\n\
                   生活源,城镇居民,999999,二氧化碳,克/人,7%,,\n\
                   生活源,城镇居民,,化学需氧量,克/(人·月),70,60,50\n";
        let issues =
            read_source_coefficients(bytes("c.csv", bad), &reference, &ReadOptions::default())
                .expect_err("bad");
        let mut got = codes(&issues);
        got.sort();
        assert_eq!(
            got,
            [
                (2, "类别".to_string(), "bad-category"),
                (3, "产污系数".to_string(), "bad-formula"),
                (3, "污染物".to_string(), "unknown-pollutant"),
                (3, "行政区划代码".to_string(), "bad-region"),
                (4, "单位".to_string(), "bad-unit"),
                (4, "去除效率".to_string(), "two-removals"),
            ]
        );
        // Table problems are located on their cells too.
        let twice = "类别,来源,污染物,单位,产污系数,排污系数\n\
                     生活源,城镇居民,化学需氧量,克/(人·天),70,\n\
                     生活源,城镇居民,化学需氧量,克/(人·天),70,80\n\
                     生活源,城镇居民,工业废气量,克/(人·天),70,\n";
        let located =
            read_source_coefficients(bytes("c.csv", twice), &reference, &ReadOptions::default())
                .expect("cells are fine");
        let issues = build_source_coefficients(&located, &reference).expect_err("table");
        assert_eq!(
            codes(&issues),
            [
                (3, "排污系数".to_string(), "emission-exceeds-generation"),
                (3, "污染物".to_string(), "duplicate-coefficient"),
                (4, "单位".to_string(), "unit-mismatch"),
            ]
        );
    }

    #[test]
    fn activity_plants_and_mobile_read_with_units_from_columns_or_headers() {
        let reference = reference();
        let activity = "年份,行政区划代码,来源,活动水平,计量单位,天数,参数,养殖规模\n\
                        2023,130102,生猪,3000,头,150,,规模化\n\
                        2023年,130102,蛋鸡,2.5,万只,365,,规模以下\n";
        let rows = read_area_activity(
            bytes("l.csv", activity),
            AreaKind::Livestock,
            &reference,
            &ReadOptions::default(),
        )
        .expect("reads");
        assert_eq!(rows.rows[0].scale, Some(FarmScale::LargeScale));
        assert_eq!(rows.rows[1].activity.year, 2023);
        let issues = read_area_activity(
            bytes("d.csv", activity),
            AreaKind::Domestic,
            &reference,
            &ReadOptions::default(),
        )
        .expect_err("a scale on domestic rows");
        assert_eq!(codes(&issues)[0].2, "scale-not-applicable");
        let plants = "年份,行政区划代码,设施名称,设施类型,污染物,处理水量(万吨),进水浓度(mg/L),出水浓度(mg/L),生活污水比例\n\
                      2023,130102,示例污水处理厂（样例）,城镇污水处理厂,化学需氧量,1000,250,40,0.8\n";
        let rows = read_plants(bytes("p.csv", plants), &reference, &ReadOptions::default())
            .expect("reads");
        assert_eq!(rows.rows[0].monitoring.water_unit.symbol(), "万吨");
        assert_eq!(rows.rows[0].monitoring.kind, FacilityKind::Wastewater);
        let mobile = "年份,行政区划代码,污染物,排放量(千克)\n2023,130100,氮氧化物,1500\n";
        let rows = read_mobile(bytes("m.csv", mobile), &reference, &ReadOptions::default())
            .expect("reads");
        assert_eq!(rows.rows[0].unit.symbol(), "千克");
        assert_eq!(rows.rows[0].source, "机动车");
    }

    #[test]
    fn bad_activity_and_monitoring_files_report_every_cell() {
        let reference = reference();
        let activity = "年份,行政区划代码,来源,活动水平,计量单位,天数,参数\n\
                        1899,130102,城镇居民,-5,人,400,S\n\
                        2023,13010,城镇居民,5,人口,365,\n";
        let issues = read_area_activity(
            bytes("d.csv", activity),
            AreaKind::Domestic,
            &reference,
            &ReadOptions::default(),
        )
        .expect_err("bad");
        let mut got = codes(&issues);
        got.sort();
        assert_eq!(
            got,
            [
                (2, "参数".to_string(), "bad-parameters"),
                (2, "天数".to_string(), "bad-number"),
                (2, "年份".to_string(), "bad-year"),
                (2, "活动水平".to_string(), "bad-number"),
                (3, "行政区划代码".to_string(), "bad-region"),
                (3, "计量单位".to_string(), "bad-unit"),
            ]
        );
        let plants = "年份,行政区划代码,设施名称,污染物,处理水量,水量单位,进水浓度(g/L),出水浓度,生活污水比例\n\
                      2023,130102,甲厂,化学需氧量,1000,立方米,250,40,1.5\n\
                      2023,130102,甲厂,化学需氧量,1000,吨,250,40,1\n";
        let issues = read_plants(bytes("p.csv", plants), &reference, &ReadOptions::default())
            .expect_err("bad");
        let mut got = codes(&issues);
        got.sort();
        assert_eq!(
            got,
            [
                (1, "进水浓度(g/L)".to_string(), "unsupported-unit"),
                (2, "水量单位".to_string(), "unit-mismatch"),
                (2, "生活污水比例".to_string(), "bad-number"),
                (3, "污染物".to_string(), "duplicate-monitoring"),
            ]
        );
    }
}
