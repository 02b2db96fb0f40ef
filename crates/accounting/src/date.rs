//! Calendar dates (registry status dates, coefficient effective dates) without a date crate:
//! only parsing, ordering and the year are needed here.

use std::fmt;

/// A proleptic Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Why a date did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a date")]
pub struct DateError {
    /// The text as given.
    pub text: String,
}

impl Date {
    /// A date from its parts; `None` when the day does not exist.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Accepts `2022-09-30`, `2022/9/30`, `2022.09.30`, `20220930` and `2022年9月30日`.
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let err = || DateError {
            text: text.to_string(),
        };
        let trimmed = text.trim();
        let digits_only = trimmed.chars().all(|c| c.is_ascii_digit());
        let parts: Vec<&str> = if digits_only && trimmed.len() == 8 {
            vec![&trimmed[0..4], &trimmed[4..6], &trimmed[6..8]]
        } else {
            let cleaned = trimmed.strip_suffix('日').unwrap_or(trimmed);
            cleaned
                .split(['-', '/', '.', '年', '月'])
                .collect::<Vec<_>>()
        };
        if parts.len() != 3 || parts[0].len() != 4 {
            return Err(err());
        }
        let number = |s: &str| -> Result<u16, DateError> {
            if s.is_empty() || s.len() > 4 || !s.chars().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            s.parse::<u16>().map_err(|_| err())
        };
        let year = number(parts[0])?;
        let month = u8::try_from(number(parts[1])?).map_err(|_| err())?;
        let day = u8::try_from(number(parts[2])?).map_err(|_| err())?;
        Date::new(year, month, day).ok_or_else(err)
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month.
    pub fn day(self) -> u8 {
        self.day
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        for text in [
            "2022-09-30",
            "2022/9/30",
            "2022.09.30",
            "20220930",
            "2022年9月30日",
        ] {
            assert_eq!(
                Date::parse(text).unwrap().to_string(),
                "2022-09-30",
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_impossible_and_malformed_dates() {
        for text in [
            "2023-02-29",
            "2022-13-01",
            "22-09-30",
            "",
            "2022-09",
            "2022-09-30x",
            "２０２２-09-30",
        ] {
            assert!(Date::parse(text).is_err(), "{text}");
        }
        assert!(Date::parse("2024-02-29").is_ok());
    }
}
