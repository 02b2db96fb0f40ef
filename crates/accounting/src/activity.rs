//! The enterprise registry and activity rows: who produces what, where, and how much.

use std::fmt;

use crate::codes::{IndustryCode, RegionCode, Uscc};
use crate::date::Date;
use crate::pollutant::{PollutantCatalog, PollutantId};
use crate::text::{fold_width, normalize_name};
use crate::units::Unit;

/// Registry status (运行状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// 运行.
    Operating,
    /// 停产: still in the registry and accounted when it reports activity.
    Suspended,
    /// 关闭.
    Closed,
    /// 注销.
    Deregistered,
}

impl Status {
    /// Accepts the Chinese and the English words.
    pub fn parse(text: &str) -> Option<Status> {
        match normalize_name(text).as_str() {
            "运行" | "正常" | "在产" | "operating" => Some(Status::Operating),
            "停产" | "停业" | "suspended" => Some(Status::Suspended),
            "关闭" | "关停" | "closed" => Some(Status::Closed),
            "注销" | "deregistered" => Some(Status::Deregistered),
            _ => None,
        }
    }

    /// English word used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Operating => "operating",
            Status::Suspended => "suspended",
            Status::Closed => "closed",
            Status::Deregistered => "deregistered",
        }
    }

    /// Closed or deregistered.
    pub fn is_closed(self) -> bool {
        matches!(self, Status::Closed | Status::Deregistered)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registered enterprise (排污单位).
#[derive(Debug, Clone, PartialEq)]
pub struct Enterprise {
    /// 统一社会信用代码.
    pub uscc: Uscc,
    /// 单位名称.
    pub name: String,
    /// 行政区划代码 (any level present in the region list).
    pub region: RegionCode,
    /// 行业代码 (a GB/T 4754-2017 class).
    pub industry: IndustryCode,
    /// 运行状态.
    pub status: Status,
    /// 状态日期.
    pub status_date: Option<Date>,
    /// 排污许可证编号.
    pub permit_no: Option<String>,
    /// 1-based row in the registry file.
    pub row: u64,
}

/// Index of an enterprise in its registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnterpriseId(pub u32);

/// Why an activity row is left out of a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    /// Closed or deregistered before the year began.
    ClosedBefore {
        /// The registry's status.
        status: Status,
        /// The status date.
        date: Date,
    },
    /// Closed or deregistered with no date: excluded from every year.
    ClosedUndated {
        /// The registry's status.
        status: Status,
    },
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::ClosedBefore { status, date } => {
                write!(f, "enterprise {status} on {date}, before the year began")
            }
            Exclusion::ClosedUndated { status } => {
                write!(
                    f,
                    "enterprise {status} with no status date, excluded from every year"
                )
            }
        }
    }
}

/// All enterprises, indexed by USCC.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    enterprises: Vec<Enterprise>,
    /// Ids, found by the hash of their enterprise's USCC and compared on it: the table holds
    /// 4 bytes a slot instead of a copy of each USCC (about 80 MB less at census size).
    by_uscc: hashbrown::HashTable<EnterpriseId>,
}

fn uscc_hash(uscc: &Uscc) -> u64 {
    use std::hash::BuildHasher as _;
    foldhash::fast::FixedState::default().hash_one(uscc)
}

impl Registry {
    /// Builds the index; a USCC given twice is a problem `(row of the second, row of the first)`.
    pub fn new(enterprises: Vec<Enterprise>) -> Result<Registry, Vec<(u64, u64, Uscc)>> {
        let mut by_uscc = hashbrown::HashTable::with_capacity(enterprises.len());
        let mut duplicates = Vec::new();
        let uscc_of = |id: &EnterpriseId| &enterprises[id.0 as usize].uscc;
        for (index, e) in enterprises.iter().enumerate() {
            let id = EnterpriseId(u32::try_from(index).expect("fewer than 2^32 enterprises"));
            let hash = uscc_hash(&e.uscc);
            match by_uscc.find(hash, |other| uscc_of(other) == &e.uscc) {
                Some(first) => {
                    duplicates.push((e.row, enterprises[first.0 as usize].row, e.uscc));
                }
                None => {
                    by_uscc.insert_unique(hash, id, |other| uscc_hash(uscc_of(other)));
                }
            }
        }
        if duplicates.is_empty() {
            Ok(Registry {
                enterprises,
                by_uscc,
            })
        } else {
            Err(duplicates)
        }
    }

    /// Looks an enterprise up.
    pub fn find(&self, uscc: &Uscc) -> Option<EnterpriseId> {
        self.by_uscc
            .find(uscc_hash(uscc), |id| {
                &self.enterprises[id.0 as usize].uscc == uscc
            })
            .copied()
    }

    /// The enterprise with this id.
    pub fn get(&self, id: EnterpriseId) -> &Enterprise {
        &self.enterprises[id.0 as usize]
    }

    /// All enterprises in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Enterprise> {
        self.enterprises.iter()
    }

    /// Number of enterprises.
    pub fn len(&self) -> usize {
        self.enterprises.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.enterprises.is_empty()
    }

    /// Whether the enterprise's activity in `year` is excluded: closed or deregistered before
    /// 1 January of that year (or with no date at all).
    pub fn exclusion(&self, id: EnterpriseId, year: u16) -> Option<Exclusion> {
        let e = self.get(id);
        if !e.status.is_closed() {
            return None;
        }
        match e.status_date {
            None => Some(Exclusion::ClosedUndated { status: e.status }),
            Some(date) if date.year() < year => Some(Exclusion::ClosedBefore {
                status: e.status,
                date,
            }),
            Some(_) => None,
        }
    }
}

/// Named formula parameters of an activity row, e.g. `S=1.2; Aar=25`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parameters {
    entries: Vec<(String, f64)>,
}

/// Why a parameter list did not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParameterError {
    /// An entry is not `name=value`.
    #[error("`{entry}` is not `name=value`")]
    Malformed {
        /// The entry.
        entry: String,
    },
    /// The value is not a finite number.
    #[error("value of `{name}` is `{value}`, not a finite number")]
    BadValue {
        /// The name.
        name: String,
        /// The value text.
        value: String,
    },
    /// A name given twice.
    #[error("`{name}` is given twice")]
    Duplicate {
        /// The name.
        name: String,
    },
}

impl Parameters {
    /// Parses `S=1.2; Aar=25` (separators `;` `；` `,` `，`, full-width `＝` accepted).
    pub fn parse(text: &str) -> Result<Parameters, ParameterError> {
        let mut entries: Vec<(String, f64)> = Vec::new();
        for entry in text.split([';', '；', ',', '，']) {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let folded: String = entry.chars().map(fold_width).collect();
            let Some((name, value)) = folded.split_once('=') else {
                return Err(ParameterError::Malformed {
                    entry: entry.to_string(),
                });
            };
            let (name, value) = (name.trim(), value.trim());
            let identifier = name
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            if !identifier {
                return Err(ParameterError::Malformed {
                    entry: entry.to_string(),
                });
            }
            let number = parse_plain_number(value).ok_or_else(|| ParameterError::BadValue {
                name: name.to_string(),
                value: value.to_string(),
            })?;
            if entries.iter().any(|(n, _)| n == name) {
                return Err(ParameterError::Duplicate {
                    name: name.to_string(),
                });
            }
            entries.push((name.to_string(), number));
        }
        Ok(Parameters { entries })
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    /// Names in the order given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// Whether none are given.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Parses a plain decimal number (`12`, `-3.5`, `.5`, `1e3`); rejects NaN, infinities,
/// thousands separators and anything else `f64::from_str` would accept loosely.
///
/// Full-width digits and signs, as a Chinese input method types them (`１２３`, `１２．５`), read
/// as their ASCII counterparts, as they do in formulas ([`crate::formula`]). `-0` is 0: the sign
/// of a zero is dropped, so that no `-0` reaches a result.
pub fn parse_plain_number(text: &str) -> Option<f64> {
    match parse_ascii_number(text) {
        Some(value) => Some(value),
        None if !text.is_ascii() => {
            let folded: String = text.chars().map(crate::text::fold_width).collect();
            if folded.is_ascii() {
                parse_ascii_number(&folded)
            } else {
                None
            }
        }
        None => None,
    }
}

fn parse_ascii_number(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        || !t.chars().any(|c| c.is_ascii_digit())
    {
        return None;
    }
    let value: f64 = t.parse().ok()?;
    // `-0.0 + 0.0` is `+0.0`; every other value is unchanged.
    value.is_finite().then_some(value + 0.0)
}

/// One declared end-of-pipe technology of an activity row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredTreatment {
    /// The pollutant prefix (`二氧化硫:湿式除尘脱硫`), if any.
    pub pollutant: Option<PollutantId>,
    /// The technology as written.
    pub name: String,
    /// Normalised for matching.
    pub key: String,
}

/// Why a treatment declaration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreatmentError {
    /// The prefix is not a known pollutant.
    #[error("`{prefix}` in `{entry}` is not a known pollutant")]
    UnknownPollutant {
        /// The prefix.
        prefix: String,
        /// The whole entry.
        entry: String,
    },
    /// `pollutant:` with no technology.
    #[error("`{entry}` names no technology")]
    Empty {
        /// The whole entry.
        entry: String,
    },
}

/// Parses `二氧化硫:湿式除尘脱硫; 颗粒物:袋式除尘` (`;` or `；` between entries, `:` or `：`
/// after a pollutant prefix).
pub fn parse_treatments(
    text: &str,
    catalog: &PollutantCatalog,
) -> Result<Vec<DeclaredTreatment>, TreatmentError> {
    let mut out = Vec::new();
    for entry in text.split([';', '；']) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (pollutant, name) = match entry.split_once([':', '：']) {
            Some((prefix, name)) => {
                let id =
                    catalog
                        .lookup(prefix)
                        .ok_or_else(|| TreatmentError::UnknownPollutant {
                            prefix: prefix.trim().to_string(),
                            entry: entry.to_string(),
                        })?;
                (Some(id), name.trim())
            }
            None => (None, entry),
        };
        if name.is_empty() {
            return Err(TreatmentError::Empty {
                entry: entry.to_string(),
            });
        }
        out.push(DeclaredTreatment {
            pollutant,
            name: name.to_string(),
            key: normalize_name(name),
        });
    }
    Ok(out)
}

/// How an activity row names its scale class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScaleSpec<'a> {
    /// The exact label, e.g. `≥1500头/天屠宰`.
    Label(&'a str),
    /// A numeric capacity with its unit.
    Capacity {
        /// The capacity.
        value: f64,
        /// Its unit, e.g. `头/天`.
        unit: &'a Unit,
    },
    /// Neither: only valid when the group has a single scale class.
    Unspecified,
}

/// One activity row, borrowed from the reader's buffers so that streaming allocates nothing per
/// row on the common path.
#[derive(Debug, Clone, Copy)]
pub struct ActivityRow<'a> {
    /// 1-based row in the activity file.
    pub row: u64,
    /// 年份.
    pub year: u16,
    /// The enterprise (already found in the registry).
    pub enterprise: EnterpriseId,
    /// The row's industry class, or the registry's.
    pub industry: &'a IndustryCode,
    /// 产品名称.
    pub product: &'a str,
    /// 原料名称.
    pub raw_material: &'a str,
    /// 工艺名称.
    pub process: &'a str,
    /// 规模等级 or 生产规模 + 规模单位.
    pub scale: ScaleSpec<'a>,
    /// 末端治理技术名称 as written (parsed by the engine, cached).
    pub treatment: &'a str,
    /// 活动水平.
    pub activity: f64,
    /// 计量单位.
    pub activity_unit: &'a Unit,
    /// 治理设施运行率 k, 0–1.
    pub operation_rate: Option<f64>,
    /// 参数.
    pub parameters: &'a Parameters,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parameters() {
        let p = Parameters::parse("S=1.2; Aar＝25；Vdaf = 30").unwrap();
        assert_eq!(p.get("S"), Some(1.2));
        assert_eq!(p.get("Aar"), Some(25.0));
        assert_eq!(p.get("Vdaf"), Some(30.0));
        assert_eq!(p.get("s"), None);
        assert!(Parameters::parse("").unwrap().is_empty());
        for bad in [
            "S", "=1", "S=abc", "S=NaN", "S=inf", "S=1,2=3", "S=1;S=2", "S=1e400",
        ] {
            assert!(Parameters::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_numbers_are_strict() {
        assert_eq!(parse_plain_number(" 12.5 "), Some(12.5));
        assert_eq!(parse_plain_number("1e3"), Some(1000.0));
        // Full-width digits and signs read as ASCII ones; a zero has no sign.
        assert_eq!(parse_plain_number("１２３"), Some(123.0));
        assert_eq!(parse_plain_number("－１２．５"), Some(-12.5));
        for zero in ["-0", "-0.0", "－０", "-0e5"] {
            let value = parse_plain_number(zero).expect("a number");
            assert!(value == 0.0 && value.is_sign_positive(), "{zero}");
        }
        for bad in [
            "",
            "1,234.5",
            "１，２３４",
            "NaN",
            "inf",
            "-",
            "0x10",
            "e",
            "١٢٣",
            "12 345",
            "1e400",
        ] {
            assert_eq!(parse_plain_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_statuses() {
        assert_eq!(Status::parse("关闭"), Some(Status::Closed));
        assert_eq!(Status::parse("Operating"), Some(Status::Operating));
        assert_eq!(Status::parse("停产"), Some(Status::Suspended));
        assert_eq!(Status::parse("注销"), Some(Status::Deregistered));
        assert_eq!(Status::parse("未知"), None);
    }
}
