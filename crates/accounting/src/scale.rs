//! Scale classes (规模等级): the coefficient tables' labels such as `≥750兆瓦`,
//! `300-600兆瓦`, `<1500头/天屠宰` or `所有规模`, parsed into numeric ranges so that an
//! enterprise's capacity picks its class.
//!
//! # Label grammar
//!
//! Labels are first normalized (see [`ScaleClass::normalize_label`]): full-width forms become
//! half-width (`＜` → `<`, `～` → `~`), spaces and thousands separators go (`1,500` → `1500`),
//! `>=` and `<=` become `≥` and `≤`, and every range dash (`~` `～` `〜` `—` `–` `－`) becomes
//! `-`. The normalized text is then one of:
//!
//! | form | example | range |
//! | --- | --- | --- |
//! | `所有规模`, `全部规模`, `不分规模` | | everything ([`ScaleKind::All`]) |
//! | `≥` number unit \[qualifier\] | `≥750兆瓦` | x ≥ 750 |
//! | `>` number unit \[qualifier\] | `>65蒸吨/小时` | x > 65 |
//! | `≤` number unit \[qualifier\] | `≤35蒸吨/小时` | x ≤ 35 |
//! | `<` number unit \[qualifier\] | `<1500头/天屠宰` | x < 1500 |
//! | number `-` number unit \[qualifier\] | `300-600兆瓦` | 300 ≤ x < 600 |
//! | number unit `以上` or `及以上` | `10蒸吨/小时及以上` | x ≥ 10 |
//! | number unit `以下` | `10蒸吨/小时以下` | x < 10 |
//! | number unit `及以下` | `10蒸吨/小时及以下` | x ≤ 10 |
//! | anything else | `小型` | a [`ScaleKind::Named`] class, matched by label only |
//!
//! A range `a-b` includes its lower end and excludes its upper end. That is the convention
//! chosen because the census tables list adjacent classes such as `300-600兆瓦` next to
//! `≥600兆瓦`: a 600 MW unit must fall in exactly one of them, and `≥` claims it. For the same
//! reason `以上` and `及以上` both mean ≥ while `以下` means <, so that the usual pair
//! `X及以上` / `X以下` splits at X without overlap.
//!
//! The unit is the longest prefix of the text after the number that [`Unit::parse`] accepts;
//! whatever follows it (`屠宰` in `≥1500头/天屠宰`) is kept as the qualifier and plays no part
//! in capacity matching. A label that starts like a range but cannot be read as one (a bad
//! number, an unknown or missing unit, `600-300`) is an error rather than a named class, so a
//! typo in a coefficient table is reported instead of silently never matching.
//!
//! # Matching a capacity
//!
//! [`ScaleClass::contains`] converts the capacity to the label's unit with the exact factor from
//! [`Unit::conversion_to`] (`头/年` to `头/天` divides by 365, the 365-day year of
//! [`crate::units`]), so 547 500 头/年 is in `≥1500头/天`. When a conversion was needed, a
//! converted value within `2 · f64::EPSILON` (relative) of a bound counts as on the bound: that is
//! the rounding budget of the decimal capacity, the decimal bound and the conversion, and it keeps
//! a capacity that is on a boundary in the units it was given from slipping an ulp to either
//! side. A capacity already in the label's unit is compared as given. `所有规模` contains every
//! capacity, in any unit; a named class contains none.

use std::cmp::Ordering;
use std::fmt;

use crate::units::{Ratio, Unit, UnitError};

/// One scale class of a coefficient table: the label as written, its normalized comparison
/// key and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleClass {
    label: String,
    normalized: String,
    kind: ScaleKind,
}

/// What a scale-class label means.
#[derive(Debug, Clone, PartialEq)]
pub enum ScaleKind {
    /// `所有规模`, `全部规模` or `不分规模`: every capacity.
    All,
    /// A numeric range in `unit`; a missing bound is unbounded.
    Range {
        /// The lower bound, if any.
        lower: Option<Bound>,
        /// The upper bound, if any.
        upper: Option<Bound>,
        /// The unit the bounds are written in.
        unit: Unit,
        /// Text after the unit that is not part of it, e.g. `屠宰`; not matched.
        qualifier: Option<String>,
    },
    /// A label that is not a range (e.g. `小型`); matched only by exact label.
    Named,
}

/// One end of a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// The bound in the range's unit.
    pub value: f64,
    /// Whether a capacity equal to the bound is inside.
    pub inclusive: bool,
}

/// Why a label did not parse or a capacity selected no single class.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScaleError {
    /// The label is empty or only spaces.
    #[error("scale class label is empty; write e.g. `≥750兆瓦` or `所有规模`")]
    Empty,
    /// A number in a range label does not parse.
    #[error("bad number `{text}` in scale class `{label}`")]
    BadNumber {
        /// The label as given, trimmed.
        label: String,
        /// The number's text.
        text: String,
    },
    /// A range label has the wrong shape (no number after `≥`, a comparator and `以上` together).
    #[error("malformed scale class `{label}`: {reason}")]
    Malformed {
        /// The label as given, trimmed.
        label: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A range `a-b` with `a ≥ b`.
    #[error(
        "scale class `{label}` is an empty range: {lower} is not below {upper}; write the smaller number first"
    )]
    EmptyRange {
        /// The label as given, trimmed.
        label: String,
        /// The first number.
        lower: f64,
        /// The second number.
        upper: f64,
    },
    /// A range label has a number but no unit after it.
    #[error("scale class `{label}` has no unit; write it after the number, as in `≥750兆瓦`")]
    MissingUnit {
        /// The label as given, trimmed.
        label: String,
    },
    /// The text after a range label's number starts with no known unit.
    #[error("scale class `{label}` has no known unit: {error}")]
    UnknownUnit {
        /// The label as given, trimmed.
        label: String,
        /// Why the text after the number is not a unit.
        error: UnitError,
    },
    /// The capacity's unit does not convert to a class's unit.
    #[error("scale class `{label}` cannot hold the capacity: {error}")]
    Unit {
        /// The class's label.
        label: String,
        /// The failed conversion.
        error: UnitError,
    },
    /// The capacity is NaN or infinite.
    #[error("capacity `{capacity}` is not a finite number")]
    InvalidCapacity {
        /// The capacity as given.
        capacity: f64,
    },
    /// No class contains the capacity.
    #[error("no scale class contains `{capacity}{unit}`; the classes are {}", quote_list(.labels))]
    NoClass {
        /// The capacity as given.
        capacity: f64,
        /// The capacity's unit symbol.
        unit: String,
        /// Every class's label.
        labels: Vec<String>,
    },
    /// Several classes contain the capacity.
    #[error(
        "capacity `{capacity}{unit}` falls in several scale classes: {}; the classes overlap",
        quote_list(.labels)
    )]
    Ambiguous {
        /// The capacity as given.
        capacity: f64,
        /// The capacity's unit symbol.
        unit: String,
        /// The labels of the classes that contain it.
        labels: Vec<String>,
    },
}

impl ScaleClass {
    /// Parses a label; see the module documentation for the grammar.
    ///
    /// Errors: an empty label, a range with a bad number, a range whose lower end is not below
    /// its upper end, a range with a missing or unknown unit, and a range with conflicting
    /// comparators. Labels that do not look like ranges at all are [`ScaleKind::Named`].
    pub fn parse(label: &str) -> Result<ScaleClass, ScaleError> {
        let label = label.trim();
        if label.is_empty() {
            return Err(ScaleError::Empty);
        }
        let normalized = ScaleClass::normalize_label(label);
        let kind = parse_kind(label, &normalized)?;
        Ok(ScaleClass {
            label: label.to_string(),
            normalized,
            kind,
        })
    }

    /// The label as given, trimmed.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key used to compare labels: full-width → half-width, thousands separators and
    /// spaces removed, `>=`→`≥` etc.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The comparison key of any label text: full-width forms folded to half-width, whitespace
    /// and thousands separators (a `,` between digits) removed, `>=` `≧` → `≥`, `<=` `≦` → `≤`,
    /// range dashes (`~` `～` `〜` `—` `–` `－`) → `-`, ASCII lower-cased.
    pub fn normalize_label(text: &str) -> String {
        let mut folded = String::with_capacity(text.len());
        for ch in text.chars() {
            let ch = match ch {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFF01 + 0x21).unwrap_or(ch),
                _ => ch,
            };
            match ch {
                c if c.is_whitespace() => {}
                '≧' => folded.push('≥'),
                '≦' => folded.push('≤'),
                '~' | '〜' | '—' | '–' | '―' => folded.push('-'),
                c => folded.push(c.to_ascii_lowercase()),
            }
        }
        let folded = folded.replace(">=", "≥").replace("<=", "≤");
        let chars: Vec<char> = folded.chars().collect();
        let mut out = String::with_capacity(folded.len());
        for (i, &ch) in chars.iter().enumerate() {
            let between_digits = i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if ch == ',' && between_digits {
                continue;
            }
            out.push(ch);
        }
        out
    }

    /// What the label means.
    pub fn kind(&self) -> &ScaleKind {
        &self.kind
    }

    /// Whether a numeric capacity in `unit` falls in this class, converting units.
    ///
    /// [`ScaleKind::All`] contains everything, in any unit; [`ScaleKind::Named`] contains
    /// nothing (`Ok(false)`); a range errs when `unit` does not convert to the range's unit.
    /// NaN is in no range.
    pub fn contains(&self, capacity: f64, unit: &Unit) -> Result<bool, UnitError> {
        let (lower, upper, range_unit) = match &self.kind {
            ScaleKind::All => return Ok(true),
            ScaleKind::Named => return Ok(false),
            ScaleKind::Range {
                lower, upper, unit, ..
            } => (lower, upper, unit),
        };
        let ratio = unit.conversion_to(range_unit)?;
        // A capacity is inside a bound when it lies on the bound's open side, or on the bound
        // itself and the bound is inclusive.
        let inside =
            |bound: &Bound, open_side: Ordering| match compare(capacity, ratio, bound.value) {
                Some(Ordering::Equal) => bound.inclusive,
                Some(order) => order == open_side,
                None => false,
            };
        let above_lower = lower.is_none_or(|b| inside(&b, Ordering::Greater));
        let below_upper = upper.is_none_or(|b| inside(&b, Ordering::Less));
        Ok(above_lower && below_upper)
    }
}

impl fmt::Display for ScaleClass {
    /// The label as given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// Pick the one class among `classes` that contains the capacity. Errors: none contains it, or
/// several do (name them).
///
/// Also errs when the capacity is not finite or when its unit does not convert to a range
/// class's unit: mixing, say, 吨 capacities with 兆瓦 classes is a data error, not a miss.
pub fn select_by_capacity<'a>(
    classes: &'a [ScaleClass],
    capacity: f64,
    unit: &Unit,
) -> Result<&'a ScaleClass, ScaleError> {
    if !capacity.is_finite() {
        return Err(ScaleError::InvalidCapacity { capacity });
    }
    let mut found = Vec::new();
    for class in classes {
        let inside = class
            .contains(capacity, unit)
            .map_err(|error| ScaleError::Unit {
                label: class.label.clone(),
                error,
            })?;
        if inside {
            found.push(class);
        }
    }
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(ScaleError::NoClass {
            capacity,
            unit: unit.symbol().to_string(),
            labels: classes.iter().map(|c| c.label.clone()).collect(),
        }),
        several => Err(ScaleError::Ambiguous {
            capacity,
            unit: unit.symbol().to_string(),
            labels: several.iter().map(|c| c.label.clone()).collect(),
        }),
    }
}

/// Pick the class whose normalized label equals the given label's normalization.
///
/// The comparison is textual: `≥1,500头/天屠宰` finds `≥1500头/天屠宰`, but `≥1500头/天` does
/// not (the qualifier is part of the label) and `全部规模` does not find `所有规模`. When
/// several classes share a normalized label, the first wins.
pub fn select_by_label<'a>(classes: &'a [ScaleClass], label: &str) -> Option<&'a ScaleClass> {
    let key = ScaleClass::normalize_label(label);
    classes.iter().find(|c| c.normalized == key)
}

/// The normalized labels that mean every scale.
const ALL_LABELS: [&str; 3] = ["所有规模", "全部规模", "不分规模"];

/// How far apart, relative to the larger magnitude, a converted capacity and a bound may be and
/// still count as equal: the decimal capacity, the decimal bound and the two roundings of
/// [`Ratio::apply`] each contribute at most half an ulp (`f64::EPSILON / 2`).
const BOUNDARY_TOLERANCE: f64 = 2.0 * f64::EPSILON;

/// Orders `capacity · ratio` against `bound`; see the module documentation for the tolerance.
fn compare(capacity: f64, ratio: Ratio, bound: f64) -> Option<Ordering> {
    if ratio.is_one() {
        return capacity.partial_cmp(&bound);
    }
    let converted = ratio.apply(capacity);
    if (converted - bound).abs() <= BOUNDARY_TOLERANCE * converted.abs().max(bound.abs()) {
        return Some(Ordering::Equal);
    }
    converted.partial_cmp(&bound)
}

fn parse_kind(label: &str, normalized: &str) -> Result<ScaleKind, ScaleError> {
    if ALL_LABELS.contains(&normalized) {
        return Ok(ScaleKind::All);
    }
    let malformed = |reason: String| ScaleError::Malformed {
        label: label.to_string(),
        reason,
    };
    let number = |text: &str| -> Result<f64, ScaleError> {
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| ScaleError::BadNumber {
                label: label.to_string(),
                text: text.to_string(),
            })
    };
    if let Some(comparator) = normalized
        .chars()
        .next()
        .filter(|c| matches!(c, '≥' | '>' | '≤' | '<'))
    {
        let (digits, rest) = split_number(&normalized[comparator.len_utf8()..]);
        if digits.is_empty() {
            return Err(malformed(format!("no number after `{comparator}`")));
        }
        let value = number(digits)?;
        if rest.starts_with('-') {
            return Err(malformed(format!(
                "`{comparator}` and a range `a-b` together; write either `≥600兆瓦` or `300-600兆瓦`"
            )));
        }
        if find_word(rest).is_some() {
            return Err(malformed(format!(
                "`{comparator}` and `以上`/`以下` together; write only one of them"
            )));
        }
        let (unit, qualifier) = split_unit(label, rest)?;
        let inclusive = matches!(comparator, '≥' | '≤');
        let bound = Some(Bound { value, inclusive });
        let (lower, upper) = if matches!(comparator, '≥' | '>') {
            (bound, None)
        } else {
            (None, bound)
        };
        return Ok(ScaleKind::Range {
            lower,
            upper,
            unit,
            qualifier,
        });
    }
    let (digits, rest) = split_number(normalized);
    if digits.is_empty() {
        return Ok(ScaleKind::Named);
    }
    if let Some(after_dash) = rest.strip_prefix('-') {
        let lower = number(digits)?;
        let (second, rest) = split_number(after_dash);
        if second.is_empty() {
            return Err(malformed("no number after `-`".to_string()));
        }
        let upper = number(second)?;
        if find_word(rest).is_some() {
            return Err(malformed(
                "a range `a-b` and `以上`/`以下` together; write only one of them".to_string(),
            ));
        }
        let (unit, qualifier) = split_unit(label, rest)?;
        if lower >= upper {
            return Err(ScaleError::EmptyRange {
                label: label.to_string(),
                lower,
                upper,
            });
        }
        return Ok(ScaleKind::Range {
            lower: Some(Bound {
                value: lower,
                inclusive: true,
            }),
            upper: Some(Bound {
                value: upper,
                inclusive: false,
            }),
            unit,
            qualifier,
        });
    }
    let Some((start, word)) = find_word(rest) else {
        // A number with neither a comparator, a dash nor 以上/以下 (`2号机组`) is a name.
        return Ok(ScaleKind::Named);
    };
    let value = number(digits)?;
    let before = &rest[..start];
    let (before, with_ji) = match before.strip_suffix('及') {
        Some(stripped) => (stripped, true),
        None => (before, false),
    };
    let (unit, qualifier) = split_unit(label, before)?;
    let after = &rest[start + word.len()..];
    let qualifier = match (qualifier, after.is_empty()) {
        (q, true) => q,
        (Some(q), false) => Some(format!("{q}{after}")),
        (None, false) => Some(after.to_string()),
    };
    let (lower, upper) = if word == "以上" {
        (
            Some(Bound {
                value,
                inclusive: true,
            }),
            None,
        )
    } else {
        (
            None,
            Some(Bound {
                value,
                inclusive: with_ji,
            }),
        )
    };
    Ok(ScaleKind::Range {
        lower,
        upper,
        unit,
        qualifier,
    })
}

/// Splits a leading run of ASCII digits and `.` from the rest.
fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(end)
}

/// The first `以上` or `以下` in `text`, with its byte offset.
fn find_word(text: &str) -> Option<(usize, &'static str)> {
    ["以上", "以下"]
        .into_iter()
        .filter_map(|word| Some((text.find(word)?, word)))
        .min_by_key(|(at, _)| *at)
}

/// Splits the longest prefix that is a unit from the qualifier after it.
fn split_unit(label: &str, text: &str) -> Result<(Unit, Option<String>), ScaleError> {
    if text.is_empty() {
        return Err(ScaleError::MissingUnit {
            label: label.to_string(),
        });
    }
    let ends = text.char_indices().map(|(i, c)| i + c.len_utf8()).rev();
    for end in ends {
        if let Ok(unit) = Unit::parse(&text[..end]) {
            let qualifier = Some(&text[end..])
                .filter(|q| !q.is_empty())
                .map(str::to_string);
            return Ok((unit, qualifier));
        }
    }
    let error = match Unit::parse(text) {
        Err(error) => error,
        // Unreachable: the whole text was the first prefix tried.
        Ok(_) => UnitError::Empty,
    };
    Err(ScaleError::UnknownUnit {
        label: label.to_string(),
        error,
    })
}

fn quote_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none (the list of classes is empty)".to_string();
    }
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unit(text: &str) -> Unit {
        Unit::parse(text).unwrap()
    }

    fn class(label: &str) -> ScaleClass {
        ScaleClass::parse(label).unwrap_or_else(|e| panic!("`{label}` should parse: {e}"))
    }

    fn classes(labels: &[&str]) -> Vec<ScaleClass> {
        labels.iter().map(|l| class(l)).collect()
    }

    fn selected(labels: &[&str], capacity: f64, unit_text: &str) -> String {
        let list = classes(labels);
        select_by_capacity(&list, capacity, &unit(unit_text))
            .unwrap_or_else(|e| panic!("{capacity} {unit_text}: {e}"))
            .label()
            .to_string()
    }

    fn incl(value: f64) -> Option<Bound> {
        Some(Bound {
            value,
            inclusive: true,
        })
    }

    fn excl(value: f64) -> Option<Bound> {
        Some(Bound {
            value,
            inclusive: false,
        })
    }

    #[test]
    fn parses_range_labels() {
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<Bound>,
            Option<Bound>,
            &'a str,
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            ("≥750兆瓦", "≥750兆瓦", incl(750.0), None, "兆瓦", None),
            (
                "≥1500头/天屠宰",
                "≥1500头/天屠宰",
                incl(1500.0),
                None,
                "头/天",
                Some("屠宰"),
            ),
            (
                "≥1,500头/天屠宰",
                "≥1500头/天屠宰",
                incl(1500.0),
                None,
                "头/天",
                Some("屠宰"),
            ),
            (
                "<1500头/天屠宰",
                "<1500头/天屠宰",
                None,
                excl(1500.0),
                "头/天",
                Some("屠宰"),
            ),
            (
                "300-600兆瓦",
                "300-600兆瓦",
                incl(300.0),
                excl(600.0),
                "兆瓦",
                None,
            ),
            (
                "300～600兆瓦",
                "300-600兆瓦",
                incl(300.0),
                excl(600.0),
                "兆瓦",
                None,
            ),
            (
                "300~600兆瓦",
                "300-600兆瓦",
                incl(300.0),
                excl(600.0),
                "兆瓦",
                None,
            ),
            (
                "300—600兆瓦",
                "300-600兆瓦",
                incl(300.0),
                excl(600.0),
                "兆瓦",
                None,
            ),
            (
                "300－600兆瓦",
                "300-600兆瓦",
                incl(300.0),
                excl(600.0),
                "兆瓦",
                None,
            ),
            (
                "10蒸吨/小时及以上",
                "10蒸吨/小时及以上",
                incl(10.0),
                None,
                "蒸吨/小时",
                None,
            ),
            (
                "10蒸吨/小时以上",
                "10蒸吨/小时以上",
                incl(10.0),
                None,
                "蒸吨/小时",
                None,
            ),
            (
                "10蒸吨/小时以下",
                "10蒸吨/小时以下",
                None,
                excl(10.0),
                "蒸吨/小时",
                None,
            ),
            (
                "10蒸吨/小时及以下",
                "10蒸吨/小时及以下",
                None,
                incl(10.0),
                "蒸吨/小时",
                None,
            ),
            (
                "≤35蒸吨/小时",
                "≤35蒸吨/小时",
                None,
                incl(35.0),
                "蒸吨/小时",
                None,
            ),
            (
                ">65蒸吨/小时",
                ">65蒸吨/小时",
                excl(65.0),
                None,
                "蒸吨/小时",
                None,
            ),
            (
                "＜1500头/天",
                "<1500头/天",
                None,
                excl(1500.0),
                "头/天",
                None,
            ),
            (
                "＞1500头/天",
                ">1500头/天",
                excl(1500.0),
                None,
                "头/天",
                None,
            ),
            (">=750兆瓦", "≥750兆瓦", incl(750.0), None, "兆瓦", None),
            (
                "<=35蒸吨/小时",
                "≤35蒸吨/小时",
                None,
                incl(35.0),
                "蒸吨/小时",
                None,
            ),
            ("≧750兆瓦", "≥750兆瓦", incl(750.0), None, "兆瓦", None),
            (" ≥ 750 MW ", "≥750mw", incl(750.0), None, "兆瓦", None),
            (
                "≥750兆瓦机组",
                "≥750兆瓦机组",
                incl(750.0),
                None,
                "兆瓦",
                Some("机组"),
            ),
            (
                "0.5-1万吨/年",
                "0.5-1万吨/年",
                incl(0.5),
                excl(1.0),
                "万吨/年",
                None,
            ),
            (
                "1500头/天以上屠宰",
                "1500头/天以上屠宰",
                incl(1500.0),
                None,
                "头/天",
                Some("屠宰"),
            ),
            (
                "≥10万头/年",
                "≥10万头/年",
                incl(10.0),
                None,
                "万头/年",
                None,
            ),
        ];
        for (label, normalized, lower, upper, unit_symbol, qualifier) in cases {
            let c = class(label);
            assert_eq!(c.label(), label.trim(), "{label}");
            assert_eq!(c.normalized(), *normalized, "{label}");
            assert_eq!(c.to_string(), label.trim(), "{label}");
            match c.kind() {
                ScaleKind::Range {
                    lower: l,
                    upper: u,
                    unit: un,
                    qualifier: q,
                } => {
                    assert_eq!(l, lower, "{label}");
                    assert_eq!(u, upper, "{label}");
                    assert_eq!(un.symbol(), *unit_symbol, "{label}");
                    assert_eq!(q.as_deref(), *qualifier, "{label}");
                }
                other => panic!("{label}: expected a range, got {other:?}"),
            }
        }
    }

    #[test]
    fn parses_all_and_named_labels() {
        for label in ["所有规模", "全部规模", "不分规模", " 所有 规模 "] {
            assert_eq!(class(label).kind(), &ScaleKind::All, "{label}");
        }
        for label in ["小型", "大型及以上", "2号机组", "规模以上"] {
            assert_eq!(class(label).kind(), &ScaleKind::Named, "{label}");
        }
    }

    #[test]
    fn refuses_bad_labels() {
        assert_eq!(ScaleClass::parse("").unwrap_err(), ScaleError::Empty);
        assert_eq!(ScaleClass::parse("  ").unwrap_err(), ScaleError::Empty);
        assert_eq!(
            ScaleClass::parse("≥1.2.3兆瓦").unwrap_err(),
            ScaleError::BadNumber {
                label: "≥1.2.3兆瓦".to_string(),
                text: "1.2.3".to_string(),
            }
        );
        assert!(matches!(
            ScaleClass::parse("3..5-600兆瓦").unwrap_err(),
            ScaleError::BadNumber { text, .. } if text == "3..5"
        ));
        assert_eq!(
            ScaleClass::parse("600-300兆瓦").unwrap_err(),
            ScaleError::EmptyRange {
                label: "600-300兆瓦".to_string(),
                lower: 600.0,
                upper: 300.0,
            }
        );
        assert!(matches!(
            ScaleClass::parse("300-300兆瓦").unwrap_err(),
            ScaleError::EmptyRange { .. }
        ));
        assert!(matches!(
            ScaleClass::parse("≥750公升").unwrap_err(),
            ScaleError::UnknownUnit { error: UnitError::Unknown { text, .. }, .. } if text == "公升"
        ));
        assert_eq!(
            ScaleClass::parse("≥750").unwrap_err(),
            ScaleError::MissingUnit {
                label: "≥750".to_string()
            }
        );
        let cases = [
            ("≥兆瓦", "no number after `≥`"),
            ("300-兆瓦", "no number after `-`"),
            ("≥10蒸吨/小时以上", "`≥` and `以上`/`以下` together"),
            ("≥300-600兆瓦", "`≥` and a range"),
            ("300-600兆瓦以下", "a range `a-b` and `以上`/`以下`"),
        ];
        for (label, reason) in cases {
            match ScaleClass::parse(label).unwrap_err() {
                ScaleError::Malformed {
                    label: l,
                    reason: r,
                } => {
                    assert_eq!(l, label);
                    assert!(r.contains(reason), "{label}: {r}");
                }
                other => panic!("{label}: expected malformed, got {other:?}"),
            }
        }
        assert_eq!(
            ScaleClass::parse("600-300兆瓦").unwrap_err().to_string(),
            "scale class `600-300兆瓦` is an empty range: 600 is not below 300; write the smaller number first"
        );
        assert_eq!(
            ScaleClass::parse("≥750公升").unwrap_err().to_string(),
            "scale class `≥750公升` has no known unit: unknown unit `公升`; use 升 or L"
        );
    }

    #[test]
    fn normalizes_labels() {
        let cases = [
            ("≥1,500头/天屠宰", "≥1500头/天屠宰"),
            ("≥1，500头／天", "≥1500头/天"),
            ("＞＝750 兆瓦", "≥750兆瓦"),
            ("<= 35", "≤35"),
            ("300 ～ 600兆瓦", "300-600兆瓦"),
            ("300〜600兆瓦", "300-600兆瓦"),
            ("a,b", "a,b"),
            ("1,500,000吨", "1500000吨"),
            ("≥750MW", "≥750mw"),
        ];
        for (text, expected) in cases {
            assert_eq!(ScaleClass::normalize_label(text), expected, "{text}");
        }
    }

    const SLAUGHTER: [&str; 2] = ["≥1500头/天屠宰", "<1500头/天屠宰"];

    #[test]
    fn slaughterhouse_pair_by_capacity() {
        assert_eq!(selected(&SLAUGHTER, 1500.0, "头/天"), "≥1500头/天屠宰");
        assert_eq!(selected(&SLAUGHTER, 1499.0, "头/天"), "<1500头/天屠宰");
        assert_eq!(selected(&SLAUGHTER, 1499.999, "头/日"), "<1500头/天屠宰");
        // 547 500 头/年 ÷ 365 天 = 1500 头/天 exactly.
        assert_eq!(selected(&SLAUGHTER, 547_500.0, "头/年"), "≥1500头/天屠宰");
        assert_eq!(selected(&SLAUGHTER, 547_499.0, "头/年"), "<1500头/天屠宰");
        assert_eq!(selected(&SLAUGHTER, 54.75, "万头/年"), "≥1500头/天屠宰");
        // 60 万头/年 is about 1644 头/天.
        assert_eq!(selected(&SLAUGHTER, 60.0, "万头/年"), "≥1500头/天屠宰");
        assert_eq!(selected(&SLAUGHTER, 50.0, "万头/年"), "<1500头/天屠宰");
        assert_eq!(selected(&SLAUGHTER, 62.5, "头/小时"), "≥1500头/天屠宰");
    }

    #[test]
    fn selects_by_normalized_label() {
        let list = classes(&SLAUGHTER);
        let by_label = |text: &str| select_by_label(&list, text).map(ScaleClass::label);
        assert_eq!(by_label("≥1,500头/天屠宰"), Some("≥1500头/天屠宰"));
        assert_eq!(by_label("≥1500头/天屠宰"), Some("≥1500头/天屠宰"));
        assert_eq!(by_label(" >= 1500 头／天屠宰"), Some("≥1500头/天屠宰"));
        assert_eq!(by_label("＜1,500头/天屠宰"), Some("<1500头/天屠宰"));
        assert_eq!(by_label("≥1500头/天"), None);
        assert_eq!(by_label("所有规模"), None);
        let all = classes(&["所有规模"]);
        assert_eq!(
            select_by_label(&all, "所有规模").map(ScaleClass::label),
            Some("所有规模")
        );
        assert_eq!(select_by_label(&all, "全部规模"), None);
    }

    #[test]
    fn adjacent_ranges_meet_without_overlap() {
        let labels = ["<300兆瓦", "300-600兆瓦", "≥600兆瓦"];
        assert_eq!(selected(&labels, 600.0, "兆瓦"), "≥600兆瓦");
        assert_eq!(selected(&labels, 600_000.0, "千瓦"), "≥600兆瓦");
        assert_eq!(selected(&labels, 60.0, "万千瓦"), "≥600兆瓦");
        assert_eq!(selected(&labels, 599.999, "兆瓦"), "300-600兆瓦");
        assert_eq!(selected(&labels, 300.0, "兆瓦"), "300-600兆瓦");
        assert_eq!(selected(&labels, 299.0, "MW"), "<300兆瓦");
        let boilers = ["10蒸吨/小时以下", "10蒸吨/小时及以上"];
        assert_eq!(selected(&boilers, 10.0, "蒸吨/小时"), "10蒸吨/小时及以上");
        assert_eq!(selected(&boilers, 240.0, "蒸吨/天"), "10蒸吨/小时及以上");
        assert_eq!(selected(&boilers, 9.5, "蒸吨/时"), "10蒸吨/小时以下");
    }

    #[test]
    fn converted_capacity_on_a_boundary_stays_on_it() {
        // 0.2628 万吨/年 is 0.3 吨/小时 exactly in decimals; in binary the conversion lands one
        // ulp below 0.3, and the tolerance keeps it on the boundary.
        let to_rate = unit("万吨/年").conversion_to(&unit("吨/小时")).unwrap();
        assert_eq!(to_rate, Ratio::new(250, 219));
        assert!(to_rate.apply(0.2628) < 0.3);
        let labels = ["<0.3吨/小时", "≥0.3吨/小时"];
        assert_eq!(selected(&labels, 0.2628, "万吨/年"), "≥0.3吨/小时");
        assert_eq!(selected(&labels, 0.2627, "万吨/年"), "<0.3吨/小时");
        assert_eq!(
            selected(&["<0.1吨/小时", "≥0.1吨/小时"], 0.0876, "万吨/年"),
            "≥0.1吨/小时"
        );
        // Without a conversion the values are compared as given.
        assert_eq!(
            selected(&labels, 0.29999999999999993, "吨/小时"),
            "<0.3吨/小时"
        );
        let c = class("≤0.0001兆瓦");
        assert!(c.contains(0.1, &unit("千瓦")).unwrap());
    }

    #[test]
    fn reports_gaps_overlaps_and_unit_mismatches() {
        let gap = classes(&["<300兆瓦", "≥600兆瓦"]);
        let err = select_by_capacity(&gap, 450.0, &unit("兆瓦")).unwrap_err();
        assert_eq!(
            err,
            ScaleError::NoClass {
                capacity: 450.0,
                unit: "兆瓦".to_string(),
                labels: vec!["<300兆瓦".to_string(), "≥600兆瓦".to_string()],
            }
        );
        assert_eq!(
            err.to_string(),
            "no scale class contains `450兆瓦`; the classes are `<300兆瓦`, `≥600兆瓦`"
        );
        let overlap = classes(&["≤600兆瓦", "≥600兆瓦"]);
        let err = select_by_capacity(&overlap, 600.0, &unit("兆瓦")).unwrap_err();
        assert_eq!(
            err,
            ScaleError::Ambiguous {
                capacity: 600.0,
                unit: "兆瓦".to_string(),
                labels: vec!["≤600兆瓦".to_string(), "≥600兆瓦".to_string()],
            }
        );
        assert_eq!(
            err.to_string(),
            "capacity `600兆瓦` falls in several scale classes: `≤600兆瓦`, `≥600兆瓦`; the classes overlap"
        );
        assert_eq!(
            select_by_capacity(&overlap, 500.0, &unit("兆瓦")).map(ScaleClass::label),
            Ok("≤600兆瓦")
        );
        let with_all = classes(&["所有规模", "≥750兆瓦"]);
        assert!(matches!(
            select_by_capacity(&with_all, 800.0, &unit("兆瓦")),
            Err(ScaleError::Ambiguous { labels, .. }) if labels.len() == 2
        ));
        let mismatch = classes(&["≥750兆瓦"]);
        let err = select_by_capacity(&mismatch, 800.0, &unit("吨")).unwrap_err();
        assert!(
            matches!(
                &err,
                ScaleError::Unit { label, error: UnitError::Incompatible { .. } } if label == "≥750兆瓦"
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "scale class `≥750兆瓦` cannot hold the capacity: cannot convert `吨` (mass) to `兆瓦` (power)"
        );
        assert!(matches!(
            select_by_capacity(&[], 1.0, &unit("吨")),
            Err(ScaleError::NoClass { labels, .. }) if labels.is_empty()
        ));
        assert_eq!(
            select_by_capacity(&mismatch, f64::NAN, &unit("兆瓦"))
                .unwrap_err()
                .to_string(),
            "capacity `NaN` is not a finite number"
        );
    }

    #[test]
    fn all_and_named_contain_as_documented() {
        let all = class("所有规模");
        assert!(all.contains(1.0, &unit("吨")).unwrap());
        assert!(all.contains(-5.0, &unit("兆瓦")).unwrap());
        assert_eq!(
            select_by_capacity(std::slice::from_ref(&all), 123.0, &unit("头/天"))
                .map(ScaleClass::label),
            Ok("所有规模")
        );
        let named = class("小型");
        assert!(!named.contains(1.0, &unit("吨")).unwrap());
        assert!(matches!(
            select_by_capacity(&[named], 1.0, &unit("吨")),
            Err(ScaleError::NoClass { .. })
        ));
        assert!(!class("≥750兆瓦").contains(f64::NAN, &unit("兆瓦")).unwrap());
        assert!(class("≥750兆瓦").contains(1.0, &unit("吨")).is_err());
    }

    fn label_number(value: f64) -> String {
        // `Display` for f64 prints the shortest text that parses back to the same value.
        format!("{value}")
    }

    proptest! {
        #[test]
        fn partition_has_exactly_one_class(
            a in 0u32..1_000_000,
            width in 1u32..1_000_000,
            scale in prop_oneof![Just(1.0), Just(0.5), Just(0.001)],
            pick in 0usize..4,
            random in 0.0f64..3_000_000.0,
            in_kilowatts in any::<bool>(),
        ) {
            let a = f64::from(a) * scale;
            let b = a + f64::from(width) * scale;
            let (la, lb) = (label_number(a), label_number(b));
            let partition = classes(&[
                &format!("<{la}兆瓦"),
                &format!("{la}-{lb}兆瓦"),
                &format!("≥{lb}兆瓦"),
            ]);
            let capacity_mw = [a, b, random * scale, (a + b) / 2.0][pick];
            let (capacity, unit_text) = if in_kilowatts {
                (capacity_mw * 1000.0, "千瓦")
            } else {
                (capacity_mw, "兆瓦")
            };
            let u = unit(unit_text);
            let inside = partition
                .iter()
                .filter(|c| c.contains(capacity, &u).unwrap())
                .count();
            prop_assert_eq!(inside, 1, "{} {} in {:?}", capacity, unit_text, partition);
            prop_assert!(select_by_capacity(&partition, capacity, &u).is_ok());
        }
    }
}
