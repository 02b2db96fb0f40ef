//! Permit execution reports (排污许可证执行报告): the actual emissions an enterprise reports per
//! outlet, pollutant and period, with the method behind each number.

use crate::codes::Uscc;
use crate::pollutant::PollutantId;
use crate::reconcile::Method;

/// A reporting period: a year, a quarter or a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A calendar year.
    Year(u16),
    /// A quarter (1–4) of a year.
    Quarter(u16, u8),
    /// A month (1–12) of a year.
    Month(u16, u8),
}

impl Period {
    /// Reads `2023`, `2023Q1` / `2023-Q1` / `2023年第1季度` / `2023年一季度`, `2023-03` /
    /// `2023/3` / `2023年3月` / `202303`.
    pub fn parse(text: &str) -> Result<Period, String> {
        let t: String = text
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        let bad = || {
            format!(
                "`{}` is not a period: write a year `2023`, a quarter `2023Q1` or a month `2023-03`",
                text.trim()
            )
        };
        let year_of = |digits: &str| -> Result<u16, String> {
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let year: u16 = digits.parse().map_err(|_| bad())?;
            if (1900..=2200).contains(&year) {
                Ok(year)
            } else {
                Err(format!("the year {year} is out of range (1900–2200)"))
            }
        };
        let small = |digits: &str, max: u8, what: &str| -> Result<u8, String> {
            let value: u8 = match digits {
                "一" => 1,
                "二" => 2,
                "三" => 3,
                "四" => 4,
                d => d.parse().map_err(|_| bad())?,
            };
            if (1..=max).contains(&value) {
                Ok(value)
            } else {
                Err(format!(
                    "{what} {value} is out of range (1–{max}) in `{}`",
                    text.trim()
                ))
            }
        };
        let t = t.trim_end_matches('年');
        if t.len() == 4 {
            return Ok(Period::Year(year_of(t)?));
        }
        if let Some((year, rest)) = t.split_once('年') {
            let year = year_of(year)?;
            if let Some(q) = rest.strip_prefix('第').unwrap_or(rest).strip_suffix("季度") {
                return Ok(Period::Quarter(year, small(q, 4, "quarter")?));
            }
            if let Some(m) = rest.strip_suffix('月') {
                return Ok(Period::Month(year, small(m, 12, "month")?));
            }
            return Err(bad());
        }
        let (year, rest) = match t.find(['-', '/', 'Q', '.']) {
            Some(i) => (&t[..i], &t[i..]),
            None if t.len() == 6 => (&t[..4], &t[4..]),
            None => return Err(bad()),
        };
        let year = year_of(year)?;
        let rest = rest.trim_start_matches(['-', '/', '.']);
        if let Some(q) = rest.strip_prefix('Q') {
            return Ok(Period::Quarter(year, small(q, 4, "quarter")?));
        }
        if !rest.is_empty() && rest.len() <= 2 && rest.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Period::Month(year, small(rest, 12, "month")?));
        }
        Err(bad())
    }

    /// The year the period lies in.
    pub fn year(self) -> u16 {
        match self {
            Period::Year(y) | Period::Quarter(y, _) | Period::Month(y, _) => y,
        }
    }

    /// The quarter a quarter or month lies in.
    pub fn quarter(self) -> Option<u8> {
        match self {
            Period::Year(_) => None,
            Period::Quarter(_, q) => Some(q),
            Period::Month(_, m) => Some((m - 1) / 3 + 1),
        }
    }

    /// `2023`, `2023Q1` or `2023-03`.
    pub fn label(self) -> String {
        match self {
            Period::Year(y) => format!("{y}"),
            Period::Quarter(y, q) => format!("{y}Q{q}"),
            Period::Month(y, m) => format!("{y}-{m:02}"),
        }
    }
}

/// The type of an outlet in the permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutletKind {
    /// 主要排放口: concentration and quantity limits; automatic monitoring usually required.
    Main,
    /// 一般排放口: concentration limits only.
    General,
    /// 其他排放口 / 无组织.
    Other,
}

impl OutletKind {
    /// Reads `main` / `主要排放口` / `主要`, `general` / `一般排放口` / `一般`, `other` / `其他`
    /// / `无组织`.
    pub fn parse(text: &str) -> Option<OutletKind> {
        match text.trim() {
            "main" | "主要排放口" | "主要" => Some(OutletKind::Main),
            "general" | "一般排放口" | "一般" => Some(OutletKind::General),
            "other" | "其他排放口" | "其他" | "无组织" | "无组织排放" => {
                Some(OutletKind::Other)
            }
            _ => None,
        }
    }

    /// The stable word.
    pub fn as_str(self) -> &'static str {
        match self {
            OutletKind::Main => "main",
            OutletKind::General => "general",
            OutletKind::Other => "other",
        }
    }
}

/// One line of a permit execution report.
#[derive(Debug, Clone, PartialEq)]
pub struct PermitReport {
    /// Where the line came from (file and row), for provenance and messages.
    pub origin: String,
    /// The enterprise's USCC, when the report gives it.
    pub uscc: Option<Uscc>,
    /// The permit number, when the report gives it (resolved to a USCC through the registry).
    pub permit_no: Option<String>,
    /// The outlet (排放口编号), when reported per outlet.
    pub outlet_id: Option<String>,
    /// The outlet's type.
    pub outlet_kind: Option<OutletKind>,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The period the value covers.
    pub period: Period,
    /// Reported actual emissions, tonnes.
    pub reported_t: f64,
    /// How the value was obtained.
    pub method: Method,
    /// Valid-data capture rate of automatic monitoring per quarter (index 0 = Q1), as a
    /// fraction 0–1, where reported.
    pub capture_rates: [Option<f64>; 4],
    /// The permitted annual quantity (年许可排放量), tonnes, where the permit sets one.
    pub permitted_t: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_in_the_ways_people_write_them() {
        for (text, period) in [
            ("2023", Period::Year(2023)),
            ("2023年", Period::Year(2023)),
            ("2023Q1", Period::Quarter(2023, 1)),
            ("2023-q4", Period::Quarter(2023, 4)),
            ("2023年第2季度", Period::Quarter(2023, 2)),
            ("2023年三季度", Period::Quarter(2023, 3)),
            ("2023-03", Period::Month(2023, 3)),
            ("2023/3", Period::Month(2023, 3)),
            ("2023.12", Period::Month(2023, 12)),
            ("202311", Period::Month(2023, 11)),
            ("2023年11月", Period::Month(2023, 11)),
            (" 2023 Q2 ", Period::Quarter(2023, 2)),
        ] {
            assert_eq!(Period::parse(text), Ok(period), "{text}");
        }
        for text in [
            "",
            "23",
            "2023Q5",
            "2023-13",
            "2023-00",
            "abcd",
            "2023年第5季度",
            "1800",
            "2023-3-1",
        ] {
            assert!(Period::parse(text).is_err(), "{text}");
        }
        assert_eq!(Period::Month(2023, 8).quarter(), Some(3));
        assert_eq!(Period::Month(2023, 8).label(), "2023-08");
        assert_eq!(Period::Quarter(2023, 1).label(), "2023Q1");
    }

    #[test]
    fn outlet_kinds() {
        assert_eq!(OutletKind::parse("主要排放口"), Some(OutletKind::Main));
        assert_eq!(OutletKind::parse("一般"), Some(OutletKind::General));
        assert_eq!(OutletKind::parse("无组织"), Some(OutletKind::Other));
        assert_eq!(OutletKind::parse("重点"), None);
    }
}
