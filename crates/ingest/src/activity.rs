//! Streaming reader of activity data: one row at a time, parsed into an
//! [`accounting::activity::ActivityRow`] that borrows the reader's buffers, so that millions of
//! rows are read in bounded memory with almost no allocation per row.

use accounting::activity::{ActivityRow, Parameters, Registry, ScaleSpec, parse_plain_number};
use accounting::codes::{IndustryCode, Uscc};
use accounting::units::Unit;

use crate::coefficients::parse_industry_class;
use crate::issue::{Issue, Issues, Location};
use crate::reference::Reference;
use crate::registry::parse_uscc;
use crate::schemas::{self, activity as a};
use crate::table::{ReadOptions, Record, TableReader};
use crate::{Source, open_table};

/// One parsed activity row with the columns that only travel to the results.
#[derive(Debug, Clone, Copy)]
pub struct ActivityItem<'a> {
    /// The row the engine accounts.
    pub row: ActivityRow<'a>,
    /// The enterprise's USCC.
    pub uscc: &'a Uscc,
    /// 生产单元编号.
    pub unit_id: Option<&'a str>,
    /// 排放口编号.
    pub outlet_id: Option<&'a str>,
}

/// What [`ActivityReader::next`] found.
#[derive(Debug)]
pub enum Next<R> {
    /// A good row; the callback's value.
    Row(R),
    /// A bad row: its problems were pushed to the issues.
    Bad,
    /// End of file.
    End,
}

/// The streaming reader.
pub struct ActivityReader {
    table: TableReader,
    record: Record,
    units: accounting::FastMap<String, Unit>,
    industries: accounting::FastMap<String, Option<IndustryCode>>,
    parameters: Parameters,
    no_parameters: Parameters,
}

/// Year range accepted in activity files.
const YEARS: std::ops::RangeInclusive<u16> = 1949..=2100;

impl ActivityReader {
    /// Opens an activity file; header problems come back all at once.
    pub fn open(source: Source<'_>, options: &ReadOptions) -> Result<ActivityReader, Issues> {
        Ok(ActivityReader {
            table: open_table(source, &schemas::ACTIVITY, options)?,
            record: Record::new(),
            units: accounting::FastMap::default(),
            industries: accounting::FastMap::default(),
            parameters: Parameters::default(),
            no_parameters: Parameters::default(),
        })
    }

    /// The underlying table reader (for progress and locations).
    pub fn table(&self) -> &TableReader {
        &self.table
    }

    /// Restricts the reader to one part of a CSV file (see [`TableReader::restrict`]).
    pub fn restrict(&mut self, part: crate::table::CsvPart) -> bool {
        self.table.restrict(part)
    }

    /// Location of a cell.
    pub fn location(&self, row: u64, field: usize) -> Location {
        self.table.location(row, field)
    }

    /// Reads the next non-blank row and, if it is good, calls `f` with it. Bad cells are pushed
    /// to `issues` (all of the row's, not only the first). A fatal I/O error ends the file.
    pub fn next<'s, R>(
        &'s mut self,
        reference: &Reference,
        registry: &'s Registry,
        issues: &mut Issues,
        f: impl FnOnce(&ActivityItem<'_>) -> R,
    ) -> Result<Next<R>, Issue> {
        loop {
            if !self.table.read(&mut self.record, issues)? {
                return Ok(Next::End);
            }
            if !self.record.is_blank() {
                break;
            }
        }
        let record = &self.record;
        let table = &self.table;
        let row = record.row();
        let at = |field| table.location(row, field);
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

        let year = required(a::YEAR, issues).and_then(|text| {
            let year = text
                .trim_end_matches('年')
                .parse::<u16>()
                .ok()
                .filter(|y| YEARS.contains(y));
            if year.is_none() {
                issues.push(Issue::error(at(a::YEAR), "bad-year", "not a year").with_value(text));
            }
            year
        });
        let enterprise = required(a::USCC, issues).and_then(|text| match parse_uscc(text, at(a::USCC)) {
            Ok(uscc) => match registry.find(&uscc) {
                Some(id) => Some(id),
                None => {
                    issues.push(
                        Issue::error(at(a::USCC), "unknown-enterprise", "enterprise is not in the registry")
                            .with_value(text)
                            .with_hint("every activity row's enterprise must be listed in the registry file"),
                    );
                    None
                }
            },
            Err(issue) => {
                issues.push(issue);
                None
            }
        });
        let industry_text = record.get(a::INDUSTRY_CODE);
        if let Some(text) = industry_text {
            if !self.industries.contains_key(text) {
                let mut found = Issues::new();
                let code = parse_industry_class(text, reference, at(a::INDUSTRY_CODE), &mut found);
                self.industries.insert(text.to_string(), code);
            }
            if self.industries[text].is_none() {
                let mut found = Issues::new();
                parse_industry_class(text, reference, at(a::INDUSTRY_CODE), &mut found);
                issues.extend(found);
            }
        }
        let product = required(a::PRODUCT, issues);
        let raw_material = required(a::RAW_MATERIAL, issues);
        let process = required(a::PROCESS, issues);

        let unit_for = |field: usize,
                        issues: &mut Issues,
                        units: &mut accounting::FastMap<String, Unit>| {
            let text = record.get(field)?;
            if !units.contains_key(text) {
                match Unit::parse(text) {
                    Ok(unit) => {
                        units.insert(text.to_string(), unit);
                    }
                    Err(e) => {
                        issues.push(
                            Issue::error(at(field), "unknown-unit", e.to_string()).with_value(text),
                        );
                        return None;
                    }
                }
            }
            Some(text)
        };
        let activity_unit_text = match record.get(a::ACTIVITY_UNIT) {
            None => {
                issues.push(Issue::error(
                    at(a::ACTIVITY_UNIT),
                    "missing-value",
                    "a value is required",
                ));
                None
            }
            Some(_) => unit_for(a::ACTIVITY_UNIT, issues, &mut self.units),
        };
        let capacity_unit_text = unit_for(a::CAPACITY_UNIT, issues, &mut self.units);

        let number = |field: usize, issues: &mut Issues| -> Option<f64> {
            let text = record.get(field)?;
            match parse_plain_number(text) {
                Some(v) if v >= 0.0 => Some(v),
                Some(_) => {
                    issues.push(
                        Issue::error(at(field), "negative-quantity", "must not be negative")
                            .with_value(text),
                    );
                    None
                }
                None => {
                    issues.push(
                        Issue::error(at(field), "bad-number", "not a finite number")
                            .with_value(text)
                            .with_hint("write plain decimal numbers such as `1234.5`, without thousands separators"),
                    );
                    None
                }
            }
        };
        let activity = match record.get(a::ACTIVITY) {
            None => {
                issues.push(Issue::error(
                    at(a::ACTIVITY),
                    "missing-value",
                    "a value is required",
                ));
                None
            }
            Some(_) => number(a::ACTIVITY, issues),
        };
        let capacity = number(a::CAPACITY, issues);
        if capacity.is_some() != record.get(a::CAPACITY_UNIT).is_some() {
            let field = if capacity.is_some() {
                a::CAPACITY_UNIT
            } else {
                a::CAPACITY
            };
            if record.get(a::CAPACITY).is_some() == capacity.is_some() {
                issues.push(
                    Issue::error(
                        at(field),
                        "missing-value",
                        "`capacity` and `capacity_unit` go together",
                    )
                    .with_hint("give both, e.g. `1800` and `头/天`, or give `scale` instead"),
                );
            }
        }
        let operation_rate = record.get(a::OPERATION_RATE).and_then(|text| {
            let (digits, percent) = match text.strip_suffix(['%', '％']) {
                Some(d) => (d, true),
                None => (text, false),
            };
            let value = parse_plain_number(digits).map(|v| if percent { v / 100.0 } else { v });
            match value {
                Some(k) if (0.0..=1.0).contains(&k) => Some(k),
                _ => {
                    issues.push(
                        Issue::error(
                            at(a::OPERATION_RATE),
                            "bad-operation-rate",
                            "the operation rate k must be between 0 and 1",
                        )
                        .with_value(text)
                        .with_hint("write `0.8` or `80%`"),
                    );
                    None
                }
            }
        });
        let has_parameters = match record.get(a::PARAMETERS) {
            None => false,
            Some(text) => match Parameters::parse(text) {
                Ok(p) => {
                    self.parameters = p;
                    true
                }
                Err(e) => {
                    issues.push(
                        Issue::error(at(a::PARAMETERS), "bad-parameters", e.to_string())
                            .with_value(text),
                    );
                    false
                }
            },
        };
        // A cell the table reader could not decode was reported by `read`; the row is bad even
        // though its other cells were checked above.
        if issues.error_count() > before || record.is_bad() {
            return Ok(Next::Bad);
        }
        let (Some(year), Some(enterprise), Some(product), Some(raw_material), Some(process)) =
            (year, enterprise, product, raw_material, process)
        else {
            return Ok(Next::Bad);
        };
        let (Some(activity), Some(unit_text)) = (activity, activity_unit_text) else {
            return Ok(Next::Bad);
        };
        let industry = match industry_text {
            Some(text) => match &self.industries[text] {
                Some(code) => code,
                None => return Ok(Next::Bad),
            },
            None => &registry.get(enterprise).industry,
        };
        let scale = match (record.get(a::SCALE), capacity, capacity_unit_text) {
            (Some(label), _, _) => ScaleSpec::Label(label),
            (None, Some(value), Some(unit)) => ScaleSpec::Capacity {
                value,
                unit: &self.units[unit],
            },
            _ => ScaleSpec::Unspecified,
        };
        let item = ActivityItem {
            row: ActivityRow {
                row,
                year,
                enterprise,
                industry,
                product,
                raw_material,
                process,
                scale,
                treatment: record.get(a::TREATMENT).unwrap_or(""),
                activity,
                activity_unit: &self.units[unit_text],
                operation_rate,
                parameters: if has_parameters {
                    &self.parameters
                } else {
                    &self.no_parameters
                },
            },
            uscc: &registry.get(enterprise).uscc,
            unit_id: record.get(a::UNIT_ID),
            outlet_id: record.get(a::OUTLET_ID),
        };
        Ok(Next::Row(f(&item)))
    }
}
