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
    let mut text = String::new();
    quantity_into(&mut text, value, precision);
    text
}

/// [`quantity`] appended to `out`, for loops that render millions of quantities into one
/// buffer.
pub fn quantity_into(out: &mut String, value: f64, precision: Precision) {
    use std::fmt::Write as _;
    let value = if value == 0.0 { 0.0 } else { value };
    let start = out.len();
    // Writing into a String cannot fail.
    let _ = match precision {
        Precision::Exact => write!(out, "{value}"),
        Precision::Decimals(places) => write!(out, "{value:.*}", usize::from(places)),
    };
    // `-0.000`: a negative value that rounds to zero is written as zero.
    if matches!(precision, Precision::Decimals(_))
        && out[start..].starts_with('-')
        && out[start + 1..].chars().all(|c| c == '0' || c == '.')
    {
        out.remove(start);
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
        assert_eq!(quantity(-0.5, Precision::Decimals(1)), "-0.5");
        let mut out = String::from("x=");
        quantity_into(&mut out, -0.00001, Precision::Decimals(2));
        quantity_into(&mut out, 1e21, Precision::Exact);
        assert_eq!(out, "x=0.001000000000000000000000");
    }
}
