//! The one place where floating-point quantities become text, so that every output (tables,
//! CSV, JSON, snapshots) renders the same value the same way.

/// How a quantity is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// The shortest text that reads back as the same `f64` (for files and provenance).
    Exact,
    /// A fixed number of decimals, for tables read by people.
    Decimals(u8),
}

/// Renders a quantity. Negative zero renders as `0`; non-finite values (which the engine never
/// produces) render as `NaN`/`inf` rather than panicking.
pub fn quantity(value: f64, precision: Precision) -> String {
    let value = if value == 0.0 { 0.0 } else { value };
    match precision {
        Precision::Exact => format!("{value}"),
        Precision::Decimals(places) => {
            let text = format!("{value:.*}", usize::from(places));
            if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
                text[1..].to_string()
            } else {
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_exactly_and_with_decimals() {
        assert_eq!(quantity(0.1 + 0.2, Precision::Exact), "0.30000000000000004");
        assert_eq!(quantity(1500.0, Precision::Exact), "1500");
        assert_eq!(quantity(-0.0, Precision::Exact), "0");
        assert_eq!(quantity(2.0 / 3.0, Precision::Decimals(4)), "0.6667");
        assert_eq!(quantity(-0.00001, Precision::Decimals(3)), "0.000");
    }
}
