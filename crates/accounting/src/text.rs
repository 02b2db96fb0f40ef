//! Text normalisation shared by every lookup that compares names written by people
//! (products, processes, treatments, pollutant names).
//!
//! Chinese spreadsheets mix full-width and half-width forms (`（` and `(`, `＋` and `+`) and
//! stray spaces; two names that differ only in those ways are the same name.

/// Folds full-width ASCII variants to half-width, the ideographic space to a space, removes all
/// whitespace and lower-cases ASCII letters.
pub fn normalize_name(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        let ch = fold_width(ch);
        if ch.is_whitespace() {
            continue;
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// Maps a full-width form (U+FF01..U+FF5E) to its ASCII counterpart and U+3000 to a space.
pub fn fold_width(ch: char) -> char {
    match ch {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFF01 + 0x21).unwrap_or(ch),
        _ => ch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_width_space_and_case() {
        assert_eq!(
            normalize_name(" 物理＋厌氧/好氧 生物 "),
            "物理+厌氧/好氧生物"
        );
        assert_eq!(normalize_name("CODcr"), "codcr");
        assert_eq!(normalize_name("（NH３-N）"), "(nh3-n)");
    }
}
