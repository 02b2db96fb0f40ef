//! Validated codes and code hierarchies: GB/T 2260 administrative divisions (regions), GB/T
//! 4754-2017 national economic industries and the GB 32100-2015 unified social credit code
//! (统一社会信用代码, USCC) with the GB 11714 organization code embedded in it.
//!
//! The code types check structure only: [`RegionCode`] knows that `110105` is a county under
//! `110100` because of its digits, [`IndustryCode`] knows that `1351` is a four-digit class.
//! Whether a code exists, what it is called and which section an industry belongs to is data:
//! [`RegionTable`] and [`IndustryTable`] are built from the reference lists by their `from_rows`
//! constructors, which report every problem found as a [`TableProblem`] instead of failing.
//!
//! Parsing is deliberately strict about characters: full-width digits typed by Chinese input
//! methods are rejected (with a hint saying so) rather than silently folded, because a code that
//! went through such a path has often been retyped and deserves a second look.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Why a code could not be parsed or resolved.
///
/// Every message names the offending text in backticks; [`CodeError::hint`] adds advice for the
/// common causes (full-width digits, spreadsheets dropping leading zeros, old registration
/// numbers given instead of a USCC).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// The text was empty after trimming.
    #[error("{what} is empty")]
    Empty {
        /// What was expected, e.g. `region code`.
        what: &'static str,
    },
    /// Not a structurally valid six-digit GB/T 2260 code.
    #[error("`{text}` is not a GB/T 2260 region code: {reason}")]
    RegionFormat {
        /// The trimmed input.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a structurally valid GB/T 4754-2017 code.
    #[error("`{text}` is not a GB/T 4754-2017 industry code: {reason}")]
    IndustryFormat {
        /// The trimmed input.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Well-formed, but not in the industry table.
    #[error("industry code `{code}` is not in the GB/T 4754-2017 table")]
    UnknownIndustry {
        /// The code as written (with its section letter when one was given).
        code: String,
    },
    /// The section letter given with the digits contradicts the table, e.g. `A1351`.
    #[error("section letter of `{code}` is `{found}`, expected `{expected}`")]
    SectionMismatch {
        /// The code as written.
        code: String,
        /// The letter given.
        found: char,
        /// The letter of the section the digits belong to.
        expected: char,
    },
    /// Wrong number of characters (18 for a USCC, 17 for [`Uscc::check_char`]).
    #[error("`{text}` has {len} characters, expected {expected}")]
    UsccLength {
        /// The trimmed, upper-cased input.
        text: String,
        /// Its length in characters.
        len: usize,
        /// The length required.
        expected: usize,
    },
    /// A character outside the GB 32100 character set (which omits I, O, Z, S and V).
    #[error("character {pos} of `{text}` is `{ch}`, which GB 32100 does not use")]
    UsccCharset {
        /// The trimmed, upper-cased input.
        text: String,
        /// 1-based position of the first bad character.
        pos: usize,
        /// The bad character.
        ch: char,
    },
    /// Characters 3–8 (the registering authority's region code) are not six digits.
    #[error("characters 3–8 of `{text}` are `{part}`, expected six digits (a region code)")]
    UsccRegion {
        /// The trimmed, upper-cased input.
        text: String,
        /// Characters 3–8.
        part: String,
    },
    /// The GB 32100 check character (position 18) does not match the first 17 characters.
    #[error("check character of `{text}` is `{found}`, expected `{expected}`")]
    UsccCheck {
        /// The trimmed, upper-cased input.
        text: String,
        /// Character 18 as given.
        found: char,
        /// The check character computed from characters 1–17.
        expected: char,
    },
    /// Not the eight digits or letters an organization code body consists of.
    #[error("`{text}` is not an organization code body: {reason}")]
    OrgCodeFormat {
        /// The trimmed, upper-cased input.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The GB 11714 check character of the embedded organization code (position 17) is wrong.
    #[error(
        "check character of organization code `{org}` in `{text}` is `{found}`, expected `{expected}`"
    )]
    OrgCodeCheck {
        /// The trimmed, upper-cased USCC.
        text: String,
        /// Characters 9–17.
        org: String,
        /// Character 17 as given.
        found: char,
        /// The check character computed from characters 9–16.
        expected: char,
    },
}

impl CodeError {
    /// Advice for fixing the input, when the cause can be guessed.
    pub fn hint(&self) -> Option<String> {
        if self.text().is_some_and(has_full_width) {
            return Some(
                "use half-width digits and letters; Chinese input methods may type full-width \
                 ones such as `１` or `Ａ`"
                    .to_string(),
            );
        }
        match self {
            CodeError::RegionFormat { text, .. } => region_hint(text),
            CodeError::IndustryFormat { text, .. } => {
                let digits = text.trim_start_matches(|c: char| c.is_ascii_alphabetic());
                (digits.len() == 1 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| {
                    format!("spreadsheets drop leading zeros: `{text}` may be division `0{digits}`")
                })
            }
            CodeError::UnknownIndustry { code } => (code.len() == 3
                && code.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("spreadsheets drop leading zeros: `{code}` may be class `0{code}`")),
            CodeError::SectionMismatch { code, expected, .. } => {
                let digits = code.trim_start_matches(|c: char| c.is_ascii_alphabetic());
                Some(format!(
                    "write `{expected}{digits}` or the digits `{digits}` alone"
                ))
            }
            CodeError::UsccLength {
                text,
                len,
                expected,
            } => uscc_length_hint(text, *len, *expected),
            CodeError::UsccCharset { ch, .. } => uscc_charset_hint(*ch),
            CodeError::UsccCheck { .. } => Some(
                "a character is probably mistyped: the check catches every single wrong \
                 character and every swap of neighbouring characters among the first 17"
                    .to_string(),
            ),
            CodeError::OrgCodeCheck { .. } => Some(
                "characters 9–17 must be a valid GB 11714 organization code; compare them with \
                 the business licence"
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// The text the error is about, for the checks shared by all variants.
    fn text(&self) -> Option<&str> {
        match self {
            CodeError::Empty { .. } => None,
            CodeError::RegionFormat { text, .. }
            | CodeError::IndustryFormat { text, .. }
            | CodeError::UsccLength { text, .. }
            | CodeError::UsccCharset { text, .. }
            | CodeError::UsccRegion { text, .. }
            | CodeError::UsccCheck { text, .. }
            | CodeError::OrgCodeFormat { text, .. }
            | CodeError::OrgCodeCheck { text, .. } => Some(text),
            CodeError::UnknownIndustry { code } | CodeError::SectionMismatch { code, .. } => {
                Some(code)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regions (GB/T 2260)
// ---------------------------------------------------------------------------------------------

/// A structurally valid six-digit GB/T 2260 administrative division code.
///
/// Digits 1–2 are the province (11–82, the same numbers as ISO 3166-2:CN), 3–4 the prefecture,
/// 5–6 the county. Whether the code exists is a question for [`RegionTable`]; codes of abolished
/// divisions are retired rather than reused, so an unknown but well-formed code is still
/// meaningful (it names a former division).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode(u32);

impl RegionCode {
    /// Parses exactly six ASCII digits after trimming.
    ///
    /// Rejects province parts outside 11–82 (so `000000` and `010000`), and a county part without
    /// a prefecture part (`110001`), because GB/T 2260 has no such codes. Full-width digits are
    /// rejected; [`CodeError::hint`] says why.
    pub fn parse(text: &str) -> Result<RegionCode, CodeError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CodeError::Empty {
                what: "region code",
            });
        }
        let error = |reason| CodeError::RegionFormat {
            text: text.to_string(),
            reason,
        };
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error("expected exactly six digits"));
        }
        let value = text
            .bytes()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'));
        region_structure(value).map_err(error)?;
        Ok(RegionCode(value))
    }

    /// Checks the structure of a number such as `110105`, as [`RegionCode::parse`] does.
    pub fn from_u32(value: u32) -> Result<RegionCode, CodeError> {
        region_structure(value).map_err(|reason| CodeError::RegionFormat {
            text: format!("{value:06}"),
            reason,
        })?;
        Ok(RegionCode(value))
    }

    /// The code as a number, e.g. `110105`.
    pub fn as_u32(self) -> u32 {
        self.0
    }

    /// The province by the digits: `xx0000`.
    pub fn province(self) -> RegionCode {
        RegionCode(self.0 / 10_000 * 10_000)
    }

    /// The prefecture by the digits: `xxxx00` (a province code stays itself).
    pub fn prefecture(self) -> RegionCode {
        RegionCode(self.0 / 100 * 100)
    }

    /// The level the digits give: `xx0000` province, `xxxx00` prefecture, else county.
    ///
    /// The table may say otherwise for a prefecture without counties, which stands for its own
    /// county level; see [`RegionTable::at_level`].
    pub fn structural_level(self) -> RegionLevel {
        if self.0.is_multiple_of(10_000) {
            RegionLevel::Province
        } else if self.0.is_multiple_of(100) {
            RegionLevel::Prefecture
        } else {
            RegionLevel::County
        }
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl FromStr for RegionCode {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<RegionCode, CodeError> {
        RegionCode::parse(text)
    }
}

/// A level of the region hierarchy, coarsest first (the derived order relies on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegionLevel {
    /// The whole country (全国); has no code.
    National,
    /// 省级: provinces, autonomous regions, municipalities.
    Province,
    /// 地级: prefectures, including `xx0100 市辖区` and `xx9000 省直辖县级行政区划` rows.
    Prefecture,
    /// 县级: counties, districts, county-level cities.
    County,
}

impl RegionLevel {
    /// All levels, coarsest first.
    pub const ALL: [RegionLevel; 4] = [
        RegionLevel::National,
        RegionLevel::Province,
        RegionLevel::Prefecture,
        RegionLevel::County,
    ];

    /// Accepts `national|province|prefecture|county` (any ASCII case) and the Chinese
    /// `全国|省|省级|市|地级|县|县级`.
    pub fn parse(text: &str) -> Option<RegionLevel> {
        match text.trim().to_ascii_lowercase().as_str() {
            "national" | "全国" => Some(RegionLevel::National),
            "province" | "省" | "省级" => Some(RegionLevel::Province),
            "prefecture" | "市" | "地级" | "地市" => Some(RegionLevel::Prefecture),
            "county" | "县" | "县级" | "区县" => Some(RegionLevel::County),
            _ => None,
        }
    }

    /// The English name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RegionLevel::National => "national",
            RegionLevel::Province => "province",
            RegionLevel::Prefecture => "prefecture",
            RegionLevel::County => "county",
        }
    }

    /// The Chinese name used in reports.
    pub fn chinese(self) -> &'static str {
        match self {
            RegionLevel::National => "全国",
            RegionLevel::Province => "省级",
            RegionLevel::Prefecture => "地级",
            RegionLevel::County => "县级",
        }
    }

    /// The next coarser level (National stays National).
    fn coarser(self) -> RegionLevel {
        match self {
            RegionLevel::National | RegionLevel::Province => RegionLevel::National,
            RegionLevel::Prefecture => RegionLevel::Province,
            RegionLevel::County => RegionLevel::Prefecture,
        }
    }
}

impl fmt::Display for RegionLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One division of the region table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The code.
    pub code: RegionCode,
    /// The name as listed (trimmed), e.g. `市辖区` for a municipality's prefecture row.
    pub name: String,
    /// The level the table gives it.
    pub level: RegionLevel,
    /// The parent; `None` for provinces.
    pub parent: Option<RegionCode>,
}

/// One input row of a region list (`code,name,level,parent`; level `1|2|3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionRow<'a> {
    /// The six-digit code.
    pub code: &'a str,
    /// The name.
    pub name: &'a str,
    /// `1` province, `2` prefecture, `3` county (the English and Chinese level names also work).
    pub level: &'a str,
    /// The parent's code; empty for provinces.
    pub parent: &'a str,
}

/// A problem found while building a table; the row is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProblem {
    /// 0-based index of the row in the input (not counting a header the caller removed).
    pub index: usize,
    /// `code`, `name`, `level` or `parent`.
    pub column: &'static str,
    /// The offending value as given.
    pub value: String,
    /// What is wrong, for people.
    pub message: String,
}

/// The GB/T 2260 region hierarchy, keyed by code and iterated in code order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionTable {
    regions: BTreeMap<RegionCode, Region>,
}

impl RegionTable {
    /// Builds the table from rows `(code, name, level 1|2|3, parent)`.
    ///
    /// Returns the table and the problems found: bad code, level or parent text, empty name,
    /// duplicate code, unknown parent, a level that does not fit the code's digits or the
    /// parent's level, and a parent other than the one the digits name. Rows with problems are
    /// skipped. Parents may come after their children in the input.
    ///
    /// One duplicate shape is accepted without a problem: a county row whose parent is its own
    /// code, repeating a prefecture row of the same name (`441900,东莞市,3,441900`). The
    /// statistical division lists use it to say that a prefecture without counties stands for
    /// its own county level, which is what [`RegionTable::at_level`] does anyway, so the row adds
    /// nothing and is dropped.
    pub fn from_rows<'a>(
        rows: impl IntoIterator<Item = RegionRow<'a>>,
    ) -> (RegionTable, Vec<TableProblem>) {
        let mut problems = Vec::new();
        let mut candidates = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            let mut problem = |column, value: &str, message: String| {
                problems.push(TableProblem {
                    index,
                    column,
                    value: value.to_string(),
                    message,
                });
            };
            let code = RegionCode::parse(row.code)
                .map_err(|e| problem("code", row.code, e.to_string()))
                .ok();
            let name = row.name.trim();
            if name.is_empty() {
                problem("name", row.name, "the name is empty".to_string());
            }
            let level = match row.level.trim() {
                "1" => Some(RegionLevel::Province),
                "2" => Some(RegionLevel::Prefecture),
                "3" => Some(RegionLevel::County),
                other => RegionLevel::parse(other).filter(|l| *l != RegionLevel::National),
            };
            if level.is_none() {
                problem(
                    "level",
                    row.level,
                    format!(
                        "level `{}` is not 1 (province), 2 (prefecture) or 3 (county)",
                        row.level.trim()
                    ),
                );
            }
            let parent = if row.parent.trim().is_empty() {
                Some(None)
            } else {
                RegionCode::parse(row.parent)
                    .map(Some)
                    .map_err(|e| problem("parent", row.parent, e.to_string()))
                    .ok()
            };
            if let (Some(code), Some(level), Some(parent), false) =
                (code, level, parent, name.is_empty())
            {
                candidates.push((index, row, code, name, level, parent));
            }
        }

        // Coarser levels first, so that every parent is in place before its children are checked.
        candidates.sort_by_key(|c| c.4);
        let mut regions: BTreeMap<RegionCode, Region> = BTreeMap::new();
        for (index, row, code, name, level, parent) in candidates {
            match check_region_row(&regions, code, name, level, parent) {
                Ok(true) => {
                    let region = Region {
                        code,
                        name: name.to_string(),
                        level,
                        parent,
                    };
                    regions.insert(code, region);
                }
                Ok(false) => {}
                Err((column, message)) => problems.push(TableProblem {
                    index,
                    column,
                    value: row_value(column, row.code, row.name, row.level, row.parent),
                    message,
                }),
            }
        }
        sort_problems(&mut problems);
        (RegionTable { regions }, problems)
    }

    /// The region with this code.
    pub fn get(&self, code: RegionCode) -> Option<&Region> {
        self.regions.get(&code)
    }

    /// The number of regions.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether the table has no regions.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The region's ancestor (or itself) at `level`; `None` for [`RegionLevel::National`].
    ///
    /// A region whose own level is coarser than `level` stands for itself: a prefecture without
    /// counties such as 东莞 `441900` asked at county level gives `441900`, and so does a unit
    /// registered only at province level. Ancestors follow the table's parents, so 仙桃 `429004`
    /// at prefecture level is `429000 省直辖县级行政区划` and 朝阳区 `110105` is `110100 市辖区`.
    ///
    /// A well-formed code missing from the table (for example a retired code from an old
    /// registry) is mapped by its digits, so that it still lands in its province.
    pub fn at_level(&self, code: RegionCode, level: RegionLevel) -> Option<RegionCode> {
        if level == RegionLevel::National {
            return None;
        }
        let Some(mut region) = self.get(code) else {
            return Some(match level {
                _ if code.structural_level() <= level => code,
                RegionLevel::Province => code.province(),
                _ => code.prefecture(),
            });
        };
        while region.level > level {
            match region.parent.and_then(|p| self.get(p)) {
                Some(parent) => region = parent,
                // Unreachable for tables built by from_rows, which checks every parent.
                None => break,
            }
        }
        Some(region.code)
    }

    /// The region's name.
    pub fn name(&self, code: RegionCode) -> Option<&str> {
        self.get(code).map(|r| r.name.as_str())
    }

    /// The names from the province down, e.g. `湖北省 / 省直辖县级行政区划 / 仙桃市`.
    pub fn path_name(&self, code: RegionCode) -> Option<String> {
        let mut names = vec![self.name(code)?];
        let mut current = self.get(code)?;
        while let Some(parent) = current.parent.and_then(|p| self.get(p)) {
            names.push(&parent.name);
            current = parent;
        }
        names.reverse();
        Some(names.join(" / "))
    }

    /// All regions in code order (a province, then its prefectures and their counties).
    pub fn iter(&self) -> impl Iterator<Item = &Region> {
        self.regions.values()
    }

    /// The regions whose parent is `code`, in code order.
    pub fn children(&self, code: RegionCode) -> impl Iterator<Item = &Region> {
        // Children share the parent's leading digits, so a range scan suffices.
        let end = match code.structural_level() {
            RegionLevel::Province => code.0 + 10_000,
            _ => code.0 + 100,
        };
        self.regions
            .range(code..RegionCode(end))
            .map(|(_, r)| r)
            .filter(move |r| r.parent == Some(code))
    }

    /// The regions whose name contains `query` (trimmed), in code order.
    pub fn find_by_name(&self, query: &str) -> impl Iterator<Item = &Region> {
        let query = query.trim().to_string();
        self.regions
            .values()
            .filter(move |r| !query.is_empty() && r.name.contains(&query))
    }
}

// ---------------------------------------------------------------------------------------------
// Industries (GB/T 4754-2017)
// ---------------------------------------------------------------------------------------------

/// A structurally valid GB/T 4754-2017 code: a section letter, two to four digits, or both.
///
/// Parsed codes carry a section letter only when one was written; codes coming out of an
/// [`IndustryTable`] always carry it. Equality, hashing and order include the letter, so `1351`
/// and `C1351` are different keys: resolve codes through the table before using them as keys.
/// Among resolved codes the derived order is the order the standard prints them in: section by
/// letter, then each division followed by its groups and classes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndustryCode {
    /// The section letter as an ASCII byte, or 0 when none was given.
    section: u8,
    /// ASCII digits, padded with zero bytes; the padding makes `13` sort before `131`.
    digits: [u8; 4],
    /// The number of digits: 0 (a section alone), 2, 3 or 4.
    len: u8,
}

impl IndustryCode {
    /// Accepts `1351`, `C1351`, `c1351`, `13`, `135` and a section letter alone (`C`), with
    /// surrounding whitespace trimmed.
    ///
    /// Rejects one digit, five or more digits, letters outside A–T and anything else. Whether a
    /// letter given with digits is the right one is checked by [`IndustryTable::resolve`].
    pub fn parse(text: &str) -> Result<IndustryCode, CodeError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CodeError::Empty {
                what: "industry code",
            });
        }
        let error = |reason| CodeError::IndustryFormat {
            text: text.to_string(),
            reason,
        };
        let bytes = text.as_bytes();
        let (section, digits) = match bytes[0] {
            b if b.is_ascii_alphabetic() => (b.to_ascii_uppercase(), &bytes[1..]),
            _ => (0, bytes),
        };
        if section != 0 && !(b'A'..=b'T').contains(&section) {
            return Err(error("section letters run from A to T"));
        }
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(error(
                "expected an optional section letter A–T followed by two to four digits",
            ));
        }
        match digits.len() {
            0 | 2..=4 => {
                let mut padded = [0; 4];
                padded[..digits.len()].copy_from_slice(digits);
                Ok(IndustryCode {
                    section,
                    digits: padded,
                    len: digits.len() as u8,
                })
            }
            1 => Err(error("one digit is not a code; divisions have two digits")),
            _ => Err(error("more than four digits; classes have four")),
        }
    }

    /// Section for a letter alone, division for 2 digits, group for 3, class for 4.
    pub fn level(&self) -> IndustryLevel {
        match self.len {
            0 => IndustryLevel::Section,
            2 => IndustryLevel::Division,
            3 => IndustryLevel::Group,
            _ => IndustryLevel::Class,
        }
    }

    /// The digits, e.g. `1351`; empty for a section.
    pub fn digits(&self) -> &str {
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The section letter, when known.
    pub fn section(&self) -> Option<char> {
        (self.section != 0).then_some(char::from(self.section))
    }

    /// The same digits without a section letter: the key the table looks digits up by.
    fn without_section(&self) -> IndustryCode {
        IndustryCode {
            section: 0,
            ..self.clone()
        }
    }

    /// The same digits with the given section letter.
    fn with_section(&self, section: u8) -> IndustryCode {
        IndustryCode {
            section,
            ..self.clone()
        }
    }

    /// The first `len` digits, keeping the section letter.
    fn truncated(&self, len: u8) -> IndustryCode {
        let mut digits = [0; 4];
        digits[..usize::from(len)].copy_from_slice(&self.digits[..usize::from(len)]);
        IndustryCode {
            section: self.section,
            digits,
            len,
        }
    }
}

/// Letter and digits, e.g. `C1351`; the digits alone when no letter is known.
impl fmt::Display for IndustryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(section) = self.section() {
            write!(f, "{section}")?;
        }
        f.write_str(self.digits())
    }
}

impl fmt::Debug for IndustryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndustryCode({self})")
    }
}

impl FromStr for IndustryCode {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<IndustryCode, CodeError> {
        IndustryCode::parse(text)
    }
}

/// A level of the industry hierarchy, coarsest first (the derived order relies on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndustryLevel {
    /// 门类: a letter A–T.
    Section,
    /// 大类: two digits.
    Division,
    /// 中类: three digits.
    Group,
    /// 小类: four digits.
    Class,
}

impl IndustryLevel {
    /// All levels, coarsest first.
    pub const ALL: [IndustryLevel; 4] = [
        IndustryLevel::Section,
        IndustryLevel::Division,
        IndustryLevel::Group,
        IndustryLevel::Class,
    ];

    /// Accepts `section|division|group|class` (any ASCII case), the digit counts `2|3|4` (and `1`
    /// for sections, as in the level column of the code list) and the Chinese
    /// `门类|大类|中类|小类`.
    pub fn parse(text: &str) -> Option<IndustryLevel> {
        match text.trim().to_ascii_lowercase().as_str() {
            "section" | "1" | "门类" => Some(IndustryLevel::Section),
            "division" | "2" | "大类" => Some(IndustryLevel::Division),
            "group" | "3" | "中类" => Some(IndustryLevel::Group),
            "class" | "4" | "小类" => Some(IndustryLevel::Class),
            _ => None,
        }
    }

    /// The English name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            IndustryLevel::Section => "section",
            IndustryLevel::Division => "division",
            IndustryLevel::Group => "group",
            IndustryLevel::Class => "class",
        }
    }

    /// The Chinese name used in the standard.
    pub fn chinese(self) -> &'static str {
        match self {
            IndustryLevel::Section => "门类",
            IndustryLevel::Division => "大类",
            IndustryLevel::Group => "中类",
            IndustryLevel::Class => "小类",
        }
    }

    /// The number of digits of a code at this level (0 for a section).
    pub fn digit_count(self) -> usize {
        match self {
            IndustryLevel::Section => 0,
            IndustryLevel::Division => 2,
            IndustryLevel::Group => 3,
            IndustryLevel::Class => 4,
        }
    }
}

impl fmt::Display for IndustryLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the industry table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Industry {
    /// The code, always with its section letter.
    pub code: IndustryCode,
    /// The section letter (also in `code`, repeated for convenience).
    pub section: char,
    /// The name as listed (trimmed).
    pub name: String,
    /// The level.
    pub level: IndustryLevel,
    /// The parent, with its section letter; `None` for sections.
    pub parent: Option<IndustryCode>,
}

/// One input row of an industry list (`code,name,level,parent`; level `1|2|3|4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndustryRow<'a> {
    /// A section letter or two to four digits (a leading section letter is allowed).
    pub code: &'a str,
    /// The name.
    pub name: &'a str,
    /// `1` section, `2` division, `3` group, `4` class (level names also work).
    pub level: &'a str,
    /// The parent's code; empty for sections.
    pub parent: &'a str,
}

/// The GB/T 4754-2017 industry hierarchy.
///
/// Iteration is in the order the standard prints the codes: sections by letter, each followed by
/// its divisions in digit order, each division followed by its groups and each group by its
/// classes (a depth-first walk).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndustryTable {
    /// Keyed by codes with their section letter.
    industries: BTreeMap<IndustryCode, Industry>,
    /// Digits (codes without their letter) → section letter, for divisions, groups and classes.
    section_of: BTreeMap<IndustryCode, u8>,
}

impl IndustryTable {
    /// Builds the table from rows `(code, name, level 1|2|3|4, parent)`.
    ///
    /// Returns the table and the problems found: bad code, level or parent text, empty name,
    /// duplicate code, unknown parent, a level that does not fit the code or the parent's level,
    /// a parent whose digits are not the code's leading digits, and a section letter written in
    /// the code that contradicts the parent's section. Rows with problems are skipped. Parents
    /// may come after their children in the input.
    pub fn from_rows<'a>(
        rows: impl IntoIterator<Item = IndustryRow<'a>>,
    ) -> (IndustryTable, Vec<TableProblem>) {
        let mut problems = Vec::new();
        let mut candidates = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            let mut problem = |column, value: &str, message: String| {
                problems.push(TableProblem {
                    index,
                    column,
                    value: value.to_string(),
                    message,
                });
            };
            let code = IndustryCode::parse(row.code)
                .map_err(|e| problem("code", row.code, e.to_string()))
                .ok();
            let name = row.name.trim();
            if name.is_empty() {
                problem("name", row.name, "the name is empty".to_string());
            }
            let level = IndustryLevel::parse(row.level);
            if level.is_none() {
                problem(
                    "level",
                    row.level,
                    format!(
                        "level `{}` is not 1 (section), 2 (division), 3 (group) or 4 (class)",
                        row.level.trim()
                    ),
                );
            }
            let parent = if row.parent.trim().is_empty() {
                Some(None)
            } else {
                IndustryCode::parse(row.parent)
                    .map(Some)
                    .map_err(|e| problem("parent", row.parent, e.to_string()))
                    .ok()
            };
            if let (Some(code), Some(level), Some(parent), false) =
                (code, level, parent, name.is_empty())
            {
                candidates.push((index, row, code, name, level, parent));
            }
        }

        // Coarser levels first, so that every parent is in place before its children are checked.
        candidates.sort_by_key(|c| c.4);
        let mut table = IndustryTable::default();
        for (index, row, code, name, level, parent) in candidates {
            match table.check_row(&code, level, parent.as_ref()) {
                Ok((section, parent)) => {
                    let code = code.with_section(section);
                    if code.len > 0 {
                        table.section_of.insert(code.without_section(), section);
                    }
                    let industry = Industry {
                        code: code.clone(),
                        section: char::from(section),
                        name: name.to_string(),
                        level,
                        parent,
                    };
                    table.industries.insert(code, industry);
                }
                Err((column, message)) => problems.push(TableProblem {
                    index,
                    column,
                    value: row_value(column, row.code, row.name, row.level, row.parent),
                    message,
                }),
            }
        }
        sort_problems(&mut problems);
        (table, problems)
    }

    /// Resolves a parsed code against the table: fills in the section letter.
    ///
    /// Fails if the code is not in the table or if a letter given with the digits contradicts
    /// the table (`A1351` when 1351 is in section C).
    pub fn resolve(&self, code: &IndustryCode) -> Result<&Industry, CodeError> {
        let unknown = || CodeError::UnknownIndustry {
            code: code.to_string(),
        };
        let section = if code.len == 0 {
            code.section
        } else {
            let &section = self
                .section_of
                .get(&code.without_section())
                .ok_or_else(unknown)?;
            if code.section != 0 && code.section != section {
                return Err(CodeError::SectionMismatch {
                    code: code.to_string(),
                    found: char::from(code.section),
                    expected: char::from(section),
                });
            }
            section
        };
        self.industries
            .get(&code.with_section(section))
            .ok_or_else(unknown)
    }

    /// The industry for a code, with or without its section letter ([`IndustryTable::resolve`]
    /// without the reason).
    pub fn get(&self, code: &IndustryCode) -> Option<&Industry> {
        self.resolve(code).ok()
    }

    /// The code's ancestor (or itself) at `level`, with its section letter.
    ///
    /// `None` if the code does not resolve or if `level` is finer than the code's own level
    /// (a division has no single class).
    pub fn at_level(&self, code: &IndustryCode, level: IndustryLevel) -> Option<IndustryCode> {
        let mut industry = self.resolve(code).ok()?;
        if industry.level < level {
            return None;
        }
        while industry.level > level {
            industry = self.get(industry.parent.as_ref()?)?;
        }
        Some(industry.code.clone())
    }

    /// The number of entries (sections, divisions, groups and classes together).
    pub fn len(&self) -> usize {
        self.industries.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.industries.is_empty()
    }

    /// All entries in the standard's order (see the type's documentation).
    pub fn iter(&self) -> impl Iterator<Item = &Industry> {
        self.industries.values()
    }

    /// The entries whose parent is `code`, in order.
    pub fn children(&self, code: &IndustryCode) -> impl Iterator<Item = &Industry> {
        let parent = self.get(code).map(|i| i.code.clone());
        self.industries
            .values()
            .filter(move |i| parent.is_some() && i.parent == parent)
    }

    /// The entries whose name contains `query` (trimmed), in order.
    pub fn find_by_name(&self, query: &str) -> impl Iterator<Item = &Industry> {
        let query = query.trim().to_string();
        self.industries
            .values()
            .filter(move |i| !query.is_empty() && i.name.contains(&query))
    }

    /// Checks one row against the entries accepted so far; gives the section letter and the
    /// resolved parent, or the column and message of the problem.
    fn check_row(
        &self,
        code: &IndustryCode,
        level: IndustryLevel,
        parent: Option<&IndustryCode>,
    ) -> Result<(u8, Option<IndustryCode>), (&'static str, String)> {
        if code.level() != level {
            return Err((
                "level",
                format!(
                    "level {} does not fit code `{code}`, which is a {}",
                    level,
                    code.level()
                ),
            ));
        }
        if let Ok(existing) = self.resolve(code) {
            return Err((
                "code",
                format!(
                    "duplicate code `{code}`: already listed as `{}` {}",
                    existing.code, existing.name
                ),
            ));
        }
        if code.len > 0 {
            // Reached when the row writes a letter that contradicts the digits already listed
            // (resolve then fails with a section mismatch instead of finding the duplicate).
            if let Some(&section) = self.section_of.get(&code.without_section()) {
                return Err((
                    "code",
                    format!(
                        "duplicate code `{code}`: already listed in section `{}`",
                        char::from(section)
                    ),
                ));
            }
        }
        let Some(parent) = parent else {
            return match level {
                IndustryLevel::Section => Ok((code.section, None)),
                _ => Err(("parent", format!("a {level} needs a parent"))),
            };
        };
        if level == IndustryLevel::Section {
            return Err((
                "parent",
                format!("a section has no parent, found `{parent}`"),
            ));
        }
        let Ok(parent) = self.resolve(parent) else {
            return Err(("parent", format!("unknown parent `{parent}`")));
        };
        let expected_level = IndustryLevel::ALL[level as usize - 1];
        if parent.level != expected_level {
            return Err((
                "level",
                format!(
                    "a {level} needs a {expected_level} as parent, `{}` is a {}",
                    parent.code, parent.level
                ),
            ));
        }
        if level != IndustryLevel::Division && !code.digits().starts_with(parent.code.digits()) {
            return Err((
                "parent",
                format!(
                    "parent `{}` does not match the code's digits, expected `{}`",
                    parent.code.digits(),
                    code.truncated(code.len - 1).digits()
                ),
            ));
        }
        let section = parent.code.section;
        if code.section != 0 && code.section != section {
            return Err((
                "code",
                format!(
                    "section letter of `{code}` is `{}`, but parent `{}` is in section `{}`",
                    char::from(code.section),
                    parent.code,
                    char::from(section)
                ),
            ));
        }
        Ok((section, Some(parent.code.clone())))
    }
}

// ---------------------------------------------------------------------------------------------
// Unified social credit code (GB 32100-2015) and organization code (GB 11714)
// ---------------------------------------------------------------------------------------------

/// A validated unified social credit code (统一社会信用代码), stored upper-case.
///
/// Layout: 1 registration authority (登记管理部门), 2 organization category (机构类别),
/// 3–8 the registering authority's region code, 9–17 the organization code (组织机构代码, GB 11714,
/// whose 9th character is its own check), 18 the GB 32100 check character.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc([u8; 18]);

impl Uscc {
    /// Parses and validates a USCC.
    ///
    /// Trims and upper-cases ASCII letters first: lower-case input is accepted, because the
    /// standard's character set has no lower-case letters that could be confused with it. Then
    /// checks, in order: length 18; the character set `0123456789ABCDEFGHJKLMNPQRTUWXY` (no I,
    /// O, Z, S, V) in characters 1–17; characters 3–8 are six digits (structure only: codes
    /// registered by central authorities carry `100000`, which is no GB/T 2260 division); the
    /// GB 32100 check character; the GB 11714 check character of the organization code in
    /// characters 9–17.
    ///
    /// Character 18 is not checked against the character set on its own: whatever it is, the
    /// useful report is the check character it should have been (`…Y4Z` → expected `3`).
    pub fn parse(text: &str) -> Result<Uscc, CodeError> {
        let text = text.trim().to_ascii_uppercase();
        if text.is_empty() {
            return Err(CodeError::Empty {
                what: "unified social credit code",
            });
        }
        let len = text.chars().count();
        if len != 18 {
            return Err(CodeError::UsccLength {
                text,
                len,
                expected: 18,
            });
        }
        let (split, found) = text.char_indices().last().unwrap_or((0, '0'));
        let body: [u8; 17] = uscc_chars(&text[..split]).map_err(|e| match e {
            // Report the whole code, not just the body that was checked.
            CodeError::UsccCharset { pos, ch, .. } => CodeError::UsccCharset {
                text: text.clone(),
                pos,
                ch,
            },
            other => other,
        })?;
        let part = &text[2..8];
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::UsccRegion {
                part: part.to_string(),
                text,
            });
        }
        let expected = char::from(uscc_check(&body));
        if found != expected {
            return Err(CodeError::UsccCheck {
                text,
                found,
                expected,
            });
        }
        let expected = org_check(&body[8..16]);
        if body[16] != expected {
            return Err(CodeError::OrgCodeCheck {
                org: text[8..17].to_string(),
                text,
                found: char::from(body[16]),
                expected: char::from(expected),
            });
        }
        let mut bytes = [0; 18];
        bytes[..17].copy_from_slice(&body);
        bytes[17] = uscc_check(&body);
        Ok(Uscc(bytes))
    }

    /// The code, upper-case.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Character 1, the registration authority (1 机构编制, 5 民政, 9 工商/市场监管, Y 其他, …).
    pub fn registration_authority(&self) -> char {
        char::from(self.0[0])
    }

    /// Character 2, the organization category within the authority.
    pub fn category(&self) -> char {
        char::from(self.0[1])
    }

    /// Characters 3–8, the registering authority's region code.
    pub fn region_part(&self) -> &str {
        &self.as_str()[2..8]
    }

    /// Characters 3–8 as a region code, when they form one (`100000`, used by central
    /// authorities, does not).
    pub fn region_code(&self) -> Option<RegionCode> {
        RegionCode::parse(self.region_part()).ok()
    }

    /// Characters 9–17, the GB 11714 organization code including its check character.
    pub fn organization_code(&self) -> &str {
        &self.as_str()[8..17]
    }

    /// Computes the GB 32100 check character (character 18) for the first 17 characters.
    ///
    /// Trims and upper-cases like [`Uscc::parse`] but checks only length and character set, so
    /// that test-data generators can use it for any body.
    pub fn check_char(first17: &str) -> Result<char, CodeError> {
        let text = first17.trim().to_ascii_uppercase();
        let bytes: [u8; 17] = uscc_chars(&text)?;
        Ok(char::from(uscc_check(&bytes)))
    }

    /// Computes the GB 11714 check character for the first eight characters of an organization
    /// code (digits and the letters A–Z, which count 10–35; lower case is upper-cased).
    pub fn org_check_char(first8: &str) -> Result<char, CodeError> {
        let text = first8.trim().to_ascii_uppercase();
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CodeError::OrgCodeFormat {
                text,
                reason: "expected eight digits or letters",
            });
        }
        Ok(char::from(org_check(text.as_bytes())))
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uscc({})", self.as_str())
    }
}

impl FromStr for Uscc {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Uscc, CodeError> {
        Uscc::parse(text)
    }
}

// ---------------------------------------------------------------------------------------------
// Private helpers
// ---------------------------------------------------------------------------------------------

/// The GB 32100 character set; a character's value is its index.
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100 weights W_i = 3^(i−1) mod 31 for i = 1..17.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// GB 11714 weights for characters 1–8 of an organization code.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// The value of a GB 32100 character, or `None` outside the character set.
fn uscc_value(byte: u8) -> Option<u32> {
    USCC_CHARSET
        .iter()
        .position(|&c| c == byte)
        .and_then(|p| u32::try_from(p).ok())
}

/// Σ C_i·W_i over a body of at most 17 characters already checked against the character set.
fn uscc_weighted_sum(body: &[u8]) -> u32 {
    body.iter()
        .zip(USCC_WEIGHTS)
        .map(|(&b, w)| uscc_value(b).unwrap_or(0) * w)
        .sum()
}

/// C18 = 31 − (Σ mod 31), where 31 stands for `0`.
fn uscc_check(body: &[u8]) -> u8 {
    let check = (31 - uscc_weighted_sum(body) % 31) % 31;
    USCC_CHARSET[check as usize]
}

/// C9 = 11 − (Σ mod 11) over eight digits or letters (A = 10 … Z = 35); 10 is `X`, 11 is `0`.
fn org_check(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(ORG_WEIGHTS)
        .map(|(&b, w)| {
            let value = if b.is_ascii_digit() {
                b - b'0'
            } else {
                b - b'A' + 10
            };
            u32::from(value) * w
        })
        .sum();
    match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        // The match arm only sees 1..=9 here, which fits a digit.
        n => b'0' + n as u8,
    }
}

/// Checks length (in characters) and character set of an upper-cased text of `N` characters
/// (the 17-character USCC body); gives its bytes.
fn uscc_chars<const N: usize>(text: &str) -> Result<[u8; N], CodeError> {
    let len = text.chars().count();
    if len != N {
        return Err(CodeError::UsccLength {
            text: text.to_string(),
            len,
            expected: N,
        });
    }
    let mut bytes = [0; N];
    for (i, ch) in text.chars().enumerate() {
        match u8::try_from(ch).ok().filter(|&b| uscc_value(b).is_some()) {
            Some(b) => bytes[i] = b,
            None => {
                return Err(CodeError::UsccCharset {
                    text: text.to_string(),
                    pos: i + 1,
                    ch,
                });
            }
        }
    }
    Ok(bytes)
}

/// Checks the digit structure of a region code number; gives the reason when it is wrong.
fn region_structure(value: u32) -> Result<(), &'static str> {
    let province = value / 10_000;
    if value > 999_999 {
        Err("expected exactly six digits")
    } else if value == 0 {
        Err("all zeros is not a division")
    } else if !(11..=82).contains(&province) {
        Err("the province part (digits 1–2) must be between 11 and 82")
    } else if (value / 100).is_multiple_of(100) && !value.is_multiple_of(100) {
        Err("a county part (digits 5–6) needs a prefecture part (digits 3–4)")
    } else {
        Ok(())
    }
}

/// Checks one region row against the regions accepted so far: `Ok(true)` to insert, `Ok(false)`
/// to drop a redundant self-standing row, or the column and message of the problem.
fn check_region_row(
    regions: &BTreeMap<RegionCode, Region>,
    code: RegionCode,
    name: &str,
    level: RegionLevel,
    parent: Option<RegionCode>,
) -> Result<bool, (&'static str, String)> {
    if let Some(existing) = regions.get(&code) {
        let self_standing = level == RegionLevel::County
            && parent == Some(code)
            && existing.level == RegionLevel::Prefecture
            && existing.name == name;
        if self_standing {
            return Ok(false);
        }
        return Err((
            "code",
            format!(
                "duplicate code `{code}`: already listed as {} {}",
                existing.level, existing.name
            ),
        ));
    }
    let structural = code.structural_level();
    if structural != level {
        return Err((
            "level",
            format!(
                "level {level} does not fit code `{code}`, whose digits make it a {structural}"
            ),
        ));
    }
    let Some(parent) = parent else {
        return match level {
            RegionLevel::Province => Ok(true),
            _ => Err(("parent", format!("a {level} needs a parent"))),
        };
    };
    if level == RegionLevel::Province {
        return Err((
            "parent",
            format!("a province has no parent, found `{parent}`"),
        ));
    }
    let Some(parent_region) = regions.get(&parent) else {
        return Err(("parent", format!("unknown parent `{parent}`")));
    };
    if parent_region.level != level.coarser() {
        return Err((
            "level",
            format!(
                "a {level} needs a {} as parent, `{parent}` is a {}",
                level.coarser(),
                parent_region.level
            ),
        ));
    }
    let expected = match level {
        RegionLevel::Prefecture => code.province(),
        _ => code.prefecture(),
    };
    if parent != expected {
        return Err((
            "parent",
            format!("parent `{parent}` does not match the code's digits, expected `{expected}`"),
        ));
    }
    Ok(true)
}

/// The raw value of a row's column, for a problem report.
fn row_value(column: &str, code: &str, name: &str, level: &str, parent: &str) -> String {
    match column {
        "code" => code,
        "name" => name,
        "level" => level,
        _ => parent,
    }
    .to_string()
}

/// Sorts problems by row, then column in file order, so reports are deterministic.
fn sort_problems(problems: &mut [TableProblem]) {
    let rank = |column: &str| match column {
        "code" => 0,
        "name" => 1,
        "level" => 2,
        _ => 3,
    };
    problems.sort_by_key(|p| (p.index, rank(p.column)));
}

/// Whether the text contains full-width ASCII variants (U+FF01..U+FF5E) or U+3000.
fn has_full_width(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}'))
}

/// Advice for a malformed region code.
fn region_hint(text: &str) -> Option<String> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if text.len() == 12 && all_digits(text) {
        return Some(format!(
            "12-digit statistical division codes begin with the six-digit GB/T 2260 code: use `{}`",
            &text[..6]
        ));
    }
    if text
        .strip_suffix(".0")
        .is_some_and(|s| s.len() == 6 && all_digits(s))
    {
        return Some("the code was stored as a number; format the column as text".to_string());
    }
    None
}

/// Advice for a USCC of the wrong length.
fn uscc_length_hint(text: &str, len: usize, expected: usize) -> Option<String> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if compact.chars().count() == expected && compact.len() != text.len() {
        return Some("remove the spaces and hyphens inside the code".to_string());
    }
    match len {
        15 => Some(
            "15-digit numbers are old business registration numbers (注册号), not unified social \
             credit codes"
                .to_string(),
        ),
        9 | 10 if expected == 18 => Some(
            "this looks like an organization code (组织机构代码); the unified social credit code \
             contains it as characters 9–17"
                .to_string(),
        ),
        _ => None,
    }
}

/// Advice for a character outside the GB 32100 set.
fn uscc_charset_hint(ch: char) -> Option<String> {
    let likely = match ch {
        'O' => "the digit `0`",
        'I' => "the digit `1`",
        'Z' => "the digit `2`",
        'S' => "the digit `5`",
        'V' => "`U` or `Y`",
        _ => return None,
    };
    Some(format!(
        "GB 32100 codes never contain I, O, Z, S or V; `{ch}` is probably {likely}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // -----------------------------------------------------------------------------------------
    // USCC
    // -----------------------------------------------------------------------------------------

    /// Parses each input; `Ok` holds the canonical code, `Err` the exact error message.
    fn check_uscc(cases: &[(&str, Result<&str, &str>)]) {
        for (input, expected) in cases {
            let got = Uscc::parse(input)
                .map(|u| u.as_str().to_string())
                .map_err(|e| e.to_string());
            let expected = expected.map(str::to_string).map_err(str::to_string);
            assert_eq!(got, expected, "input `{input}`");
        }
    }

    #[test]
    fn uscc_vectors_from_the_standard_and_the_domain_notes() {
        check_uscc(&[
            ("91350100M000100Y43", Ok("91350100M000100Y43")),
            ("91512081MA62K0260E", Ok("91512081MA62K0260E")),
            (
                "91350100M000100Y4Z",
                Err("check character of `91350100M000100Y4Z` is `Z`, expected `3`"),
            ),
        ]);
    }

    #[test]
    fn uscc_weighted_sums_match_the_worked_examples() {
        assert_eq!(uscc_weighted_sum(b"91350100M000100Y4"), 1640);
        // The source page prints 1495, an arithmetic slip; 1505 gives the printed check `E`.
        assert_eq!(uscc_weighted_sum(b"91512081MA62K0260"), 1505);
    }

    #[test]
    fn uscc_weights_are_powers_of_three_mod_31() {
        let mut w = 1;
        for (i, weight) in USCC_WEIGHTS.iter().enumerate() {
            assert_eq!(*weight, w, "W_{}", i + 1);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn uscc_case_and_whitespace() {
        check_uscc(&[
            (" 91512081ma62k0260e\t", Ok("91512081MA62K0260E")),
            ("91350100m000100y43", Ok("91350100M000100Y43")),
            ("", Err("unified social credit code is empty")),
            ("   ", Err("unified social credit code is empty")),
        ]);
    }

    #[test]
    fn uscc_length_errors() {
        check_uscc(&[
            (
                "91350100M000100Y4",
                Err("`91350100M000100Y4` has 17 characters, expected 18"),
            ),
            (
                "91350100M000100Y433",
                Err("`91350100M000100Y433` has 19 characters, expected 18"),
            ),
            (
                "9135 0100M000100Y43",
                Err("`9135 0100M000100Y43` has 19 characters, expected 18"),
            ),
        ]);
    }

    #[test]
    fn uscc_charset_errors_name_the_position() {
        check_uscc(&[
            (
                "91350100I000100Y43",
                Err("character 9 of `91350100I000100Y43` is `I`, which GB 32100 does not use"),
            ),
            (
                "91350100M0O0100Y43",
                Err("character 11 of `91350100M0O0100Y43` is `O`, which GB 32100 does not use"),
            ),
            (
                "Z1350100M000100Y43",
                Err("character 1 of `Z1350100M000100Y43` is `Z`, which GB 32100 does not use"),
            ),
            (
                "91350100M000100S43",
                Err("character 16 of `91350100M000100S43` is `S`, which GB 32100 does not use"),
            ),
            // Character 18 is reported as a wrong check character, naming the right one.
            (
                "91350100M000100Y4V",
                Err("check character of `91350100M000100Y4V` is `V`, expected `3`"),
            ),
            (
                "91350100M000100Y4-",
                Err("check character of `91350100M000100Y4-` is `-`, expected `3`"),
            ),
        ]);
    }

    #[test]
    fn uscc_region_part_must_be_digits() {
        check_uscc(&[(
            "91AB0100M000100Y43",
            Err(
                "characters 3–8 of `91AB0100M000100Y43` are `AB0100`, expected six digits (a region code)",
            ),
        )]);
    }

    #[test]
    fn uscc_with_valid_outer_check_but_wrong_organization_code_is_rejected() {
        // Character 17 changed from `4` to `5`, character 18 recomputed so the outer check holds.
        let body = "91350100M000100Y5";
        let check = Uscc::check_char(body).unwrap();
        assert_eq!(check, '6');
        let text = format!("{body}{check}");
        assert_eq!(
            Uscc::parse(&text),
            Err(CodeError::OrgCodeCheck {
                text: "91350100M000100Y56".to_string(),
                org: "M000100Y5".to_string(),
                found: '5',
                expected: '4',
            })
        );
        check_uscc(&[(
            "91350100M000100Y56",
            Err(
                "check character of organization code `M000100Y5` in `91350100M000100Y56` is `5`, expected `4`",
            ),
        )]);
    }

    #[test]
    fn organization_code_check_characters() {
        for (body, expected) in [
            ("M000100Y", '4'),
            ("MA62K026", '0'), // Σ mod 11 = 0, so 11 − 0 = 11 maps to `0`.
            ("m000100y", '4'),
            ("00000006", 'X'), // Σ = 12, 11 − 1 = 10 maps to `X`.
            ("00000000", '0'),
            ("D2143569", 'X'), // Letters outside the USCC set still count (D = 13).
        ] {
            assert_eq!(Uscc::org_check_char(body), Ok(expected), "body `{body}`");
        }
        assert_eq!(
            Uscc::org_check_char("M000100").map_err(|e| e.to_string()),
            Err(
                "`M000100` is not an organization code body: expected eight digits or letters"
                    .to_string()
            )
        );
        assert!(Uscc::org_check_char("M000-100").is_err());
    }

    #[test]
    fn check_char_validates_its_input() {
        assert_eq!(Uscc::check_char("91350100M000100Y4"), Ok('3'));
        assert_eq!(Uscc::check_char("91512081ma62k0260"), Ok('E'));
        assert_eq!(
            Uscc::check_char("91350100M000100Y").map_err(|e| e.to_string()),
            Err("`91350100M000100Y` has 16 characters, expected 17".to_string())
        );
        assert_eq!(
            Uscc::check_char("91350100M000100O4").map_err(|e| e.to_string()),
            Err(
                "character 16 of `91350100M000100O4` is `O`, which GB 32100 does not use"
                    .to_string()
            )
        );
        // A body whose sum is a multiple of 31 gets `0` (31 − 0 = 31 stands for 0).
        assert_eq!(Uscc::check_char("00000000000000000"), Ok('0'));
    }

    #[test]
    fn uscc_accessors() {
        let u = Uscc::parse("91512081MA62K0260E").unwrap();
        assert_eq!(u.as_str(), "91512081MA62K0260E");
        assert_eq!(u.to_string(), "91512081MA62K0260E");
        assert_eq!(format!("{u:?}"), "Uscc(91512081MA62K0260E)");
        assert_eq!(u.registration_authority(), '9');
        assert_eq!(u.category(), '1');
        assert_eq!(u.region_part(), "512081");
        assert_eq!(u.region_code().map(RegionCode::as_u32), Some(512081));
        assert_eq!(u.organization_code(), "MA62K0260");
        assert_eq!("91512081MA62K0260E".parse::<Uscc>(), Ok(u));
    }

    #[test]
    fn uscc_central_authority_region_part_is_accepted() {
        // Central authorities register with `100000`, which is no GB/T 2260 division.
        let body = format!(
            "11100000{}{}",
            "M000100Y",
            Uscc::org_check_char("M000100Y").unwrap()
        );
        let text = format!("{body}{}", Uscc::check_char(&body).unwrap());
        let u = Uscc::parse(&text).unwrap();
        assert_eq!(u.region_part(), "100000");
        assert_eq!(u.region_code(), None);
    }

    #[test]
    fn uscc_hints() {
        let hint = |text: &str| Uscc::parse(text).unwrap_err().hint();
        assert!(
            hint("９１３５０１００Ｍ０００１００Ｙ４３")
                .unwrap()
                .contains("half-width")
        );
        assert!(
            hint("91350100O000100Y43")
                .unwrap()
                .contains("the digit `0`")
        );
        assert!(hint("91350100M000100Y4Z").unwrap().contains("mistyped"));
        assert!(hint("91350100M000100Y56").unwrap().contains("GB 11714"));
        assert!(hint("350100000012345").unwrap().contains("注册号"));
        assert!(hint("M00010044").unwrap().contains("组织机构代码"));
        assert!(hint("9135-0100M000100Y43").unwrap().contains("hyphens"));
    }

    fn charset_char(index: usize) -> char {
        char::from(USCC_CHARSET[index])
    }

    /// A valid USCC: random characters 1–2, digits 3–8, random 9–16, then both check characters.
    fn valid_uscc(head: &[usize], region: &[u8], org: &[usize]) -> String {
        let mut body: String = head.iter().map(|&i| charset_char(i)).collect();
        body.extend(region.iter().map(|&d| char::from(b'0' + d)));
        let org_body: String = org.iter().map(|&i| charset_char(i)).collect();
        body.push_str(&org_body);
        body.push(Uscc::org_check_char(&org_body).unwrap());
        let check = Uscc::check_char(&body).unwrap();
        body.push(check);
        body
    }

    fn uscc_parts() -> impl Strategy<Value = (Vec<usize>, Vec<u8>, Vec<usize>)> {
        (
            prop::collection::vec(0usize..31, 2),
            prop::collection::vec(0u8..10, 6),
            prop::collection::vec(0usize..31, 8),
        )
    }

    proptest! {
        #[test]
        fn generated_uscc_parses((head, region, org) in uscc_parts()) {
            let text = valid_uscc(&head, &region, &org);
            let parsed = Uscc::parse(&text);
            prop_assert_eq!(parsed.map(|u| u.as_str().to_string()), Ok(text));
        }

        /// GB 32100's weights are all non-zero mod the prime 31, so changing any one character to
        /// another of the 31 changes Σ mod 31: every single substitution must be detected by the
        /// outer check alone, at every position.
        #[test]
        fn every_single_substitution_is_detected((head, region, org) in uscc_parts(), pos in 0usize..18) {
            let text = valid_uscc(&head, &region, &org);
            let original = text.as_bytes()[pos];
            for &replacement in USCC_CHARSET.iter().filter(|&&c| c != original) {
                let mut bytes = text.clone().into_bytes();
                bytes[pos] = replacement;
                let changed = String::from_utf8(bytes).unwrap();
                prop_assert!(Uscc::parse(&changed).is_err(), "`{}` accepted", changed);
                let outer = Uscc::check_char(&changed[..17]).unwrap();
                prop_assert_ne!(outer, char::from(changed.as_bytes()[17]), "`{}` passes the GB 32100 check", changed);
            }
        }

        /// The same claim for the check layer alone over arbitrary 17-character bodies (characters
        /// 3–8 not restricted to digits): no substitution in 1–17 leaves the check unchanged.
        #[test]
        fn outer_check_detects_substitutions_in_any_body(body in prop::collection::vec(0usize..31, 17), pos in 0usize..17) {
            let text: String = body.iter().map(|&i| charset_char(i)).collect();
            let check = Uscc::check_char(&text).unwrap();
            for &replacement in USCC_CHARSET.iter().filter(|&&c| c != text.as_bytes()[pos]) {
                let mut bytes = text.clone().into_bytes();
                bytes[pos] = replacement;
                let changed = String::from_utf8(bytes).unwrap();
                prop_assert_ne!(Uscc::check_char(&changed).unwrap(), check, "`{}` vs `{}`", changed, text);
            }
        }

        /// Swapping two different neighbours among characters 1–17 changes Σ by
        /// (a − b)(W_i − W_{i+1}) = −2(a − b)·W_i, never 0 mod 31.
        #[test]
        fn every_neighbour_swap_is_detected((head, region, org) in uscc_parts(), pos in 0usize..16) {
            let text = valid_uscc(&head, &region, &org);
            let mut bytes = text.clone().into_bytes();
            // Equal neighbours (about 1 draw in 20) swap to the same code: nothing to detect.
            // Skipped rather than rejected, so that long runs (PROPTEST_CASES=30000) do not hit
            // proptest's global reject limit.
            if bytes[pos] == bytes[pos + 1] {
                return Ok(());
            }
            bytes.swap(pos, pos + 1);
            let changed = String::from_utf8(bytes).unwrap();
            let outer = Uscc::check_char(&changed[..17]).unwrap();
            prop_assert_ne!(outer, char::from(changed.as_bytes()[17]));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Region codes
    // -----------------------------------------------------------------------------------------

    /// Parses each input; `Ok` holds the number, `Err` the exact error message.
    fn check_region(cases: &[(&str, Result<u32, &str>)]) {
        for (input, expected) in cases {
            let got = RegionCode::parse(input)
                .map(RegionCode::as_u32)
                .map_err(|e| e.to_string());
            let expected = expected.map_err(str::to_string);
            assert_eq!(got, expected, "input `{input}`");
        }
    }

    #[test]
    fn region_code_parsing() {
        check_region(&[
            ("110105", Ok(110_105)),
            (" 429004\t", Ok(429_004)),
            ("441900", Ok(441_900)),
            ("820000", Ok(820_000)),
            ("", Err("region code is empty")),
            (
                "11010",
                Err("`11010` is not a GB/T 2260 region code: expected exactly six digits"),
            ),
            (
                "1101050",
                Err("`1101050` is not a GB/T 2260 region code: expected exactly six digits"),
            ),
            (
                "11010a",
                Err("`11010a` is not a GB/T 2260 region code: expected exactly six digits"),
            ),
            (
                "+11010",
                Err("`+11010` is not a GB/T 2260 region code: expected exactly six digits"),
            ),
            (
                "１１０１０５",
                Err("`１１０１０５` is not a GB/T 2260 region code: expected exactly six digits"),
            ),
            (
                "000000",
                Err("`000000` is not a GB/T 2260 region code: all zeros is not a division"),
            ),
            (
                "100000",
                Err(
                    "`100000` is not a GB/T 2260 region code: the province part (digits 1–2) must be between 11 and 82",
                ),
            ),
            (
                "010101",
                Err(
                    "`010101` is not a GB/T 2260 region code: the province part (digits 1–2) must be between 11 and 82",
                ),
            ),
            (
                "910000",
                Err(
                    "`910000` is not a GB/T 2260 region code: the province part (digits 1–2) must be between 11 and 82",
                ),
            ),
            (
                "110001",
                Err(
                    "`110001` is not a GB/T 2260 region code: a county part (digits 5–6) needs a prefecture part (digits 3–4)",
                ),
            ),
        ]);
    }

    #[test]
    fn region_code_hints() {
        let hint = |text: &str| RegionCode::parse(text).unwrap_err().hint();
        assert!(hint("１１０１０５").unwrap().contains("half-width"));
        assert_eq!(
            hint("110105000000").as_deref(),
            Some(
                "12-digit statistical division codes begin with the six-digit GB/T 2260 code: use `110105`"
            )
        );
        assert!(hint("110105.0").unwrap().contains("as text"));
        assert_eq!(hint("11010"), None);
    }

    #[test]
    fn region_code_structure() {
        let code = |n| RegionCode::from_u32(n).unwrap();
        for (n, level, province, prefecture) in [
            (110_000, RegionLevel::Province, 110_000, 110_000),
            (110_100, RegionLevel::Prefecture, 110_000, 110_100),
            (110_105, RegionLevel::County, 110_000, 110_100),
            (429_004, RegionLevel::County, 420_000, 429_000),
            (441_900, RegionLevel::Prefecture, 440_000, 441_900),
        ] {
            assert_eq!(code(n).structural_level(), level, "{n}");
            assert_eq!(code(n).province(), code(province), "{n}");
            assert_eq!(code(n).prefecture(), code(prefecture), "{n}");
            assert_eq!(code(n).to_string(), n.to_string());
        }
        assert!(RegionCode::from_u32(1_100_000).is_err());
        assert_eq!("110105".parse::<RegionCode>(), Ok(code(110_105)));
    }

    #[test]
    fn region_level_names() {
        for (text, level) in [
            ("national", RegionLevel::National),
            (" Province ", RegionLevel::Province),
            ("PREFECTURE", RegionLevel::Prefecture),
            ("county", RegionLevel::County),
            ("全国", RegionLevel::National),
            ("省", RegionLevel::Province),
            ("市", RegionLevel::Prefecture),
            ("县", RegionLevel::County),
            ("县级", RegionLevel::County),
        ] {
            assert_eq!(RegionLevel::parse(text), Some(level), "`{text}`");
        }
        assert_eq!(RegionLevel::parse("city"), None);
        assert_eq!(RegionLevel::parse("2"), None);
        for level in RegionLevel::ALL {
            assert_eq!(RegionLevel::parse(&level.to_string()), Some(level));
            assert_eq!(RegionLevel::parse(level.chinese()), Some(level));
        }
        assert!(RegionLevel::National < RegionLevel::Province);
        assert!(RegionLevel::Prefecture < RegionLevel::County);
    }

    fn region_rows(rows: &[[&'static str; 4]]) -> Vec<RegionRow<'static>> {
        rows.iter()
            .map(|&[code, name, level, parent]| RegionRow {
                code,
                name,
                level,
                parent,
            })
            .collect()
    }

    /// The three shapes: a municipality (`110100 市辖区`), a 省直辖县级市 under `429000`, and a
    /// prefecture without counties (东莞) with the lists' self-standing county row.
    const SHAPES: &[[&str; 4]] = &[
        ["110000", "北京市", "1", ""],
        ["110100", "市辖区", "2", "110000"],
        ["110105", "朝阳区", "3", "110100"],
        ["420000", "湖北省", "1", ""],
        ["420100", "武汉市", "2", "420000"],
        ["420102", "江岸区", "3", "420100"],
        ["429000", "省直辖县级行政区划", "2", "420000"],
        ["429004", "仙桃市", "3", "429000"],
        ["440000", "广东省", "1", ""],
        ["441900", "东莞市", "2", "440000"],
        ["441900", "东莞市", "3", "441900"],
    ];

    fn shapes() -> RegionTable {
        let (table, problems) = RegionTable::from_rows(region_rows(SHAPES));
        assert_eq!(problems, vec![]);
        table
    }

    fn rc(n: u32) -> RegionCode {
        RegionCode::from_u32(n).unwrap()
    }

    #[test]
    fn region_table_builds_the_three_shapes() {
        let table = shapes();
        assert_eq!(table.len(), 10);
        assert!(!table.is_empty());
        let codes: Vec<u32> = table.iter().map(|r| r.code.as_u32()).collect();
        assert_eq!(
            codes,
            [
                110_000, 110_100, 110_105, 420_000, 420_100, 420_102, 429_000, 429_004, 440_000,
                441_900
            ]
        );
        assert_eq!(
            table.get(rc(441_900)),
            Some(&Region {
                code: rc(441_900),
                name: "东莞市".to_string(),
                level: RegionLevel::Prefecture,
                parent: Some(rc(440_000)),
            })
        );
        assert_eq!(table.name(rc(110_100)), Some("市辖区"));
        assert_eq!(table.name(rc(110_101)), None);
    }

    #[test]
    fn region_at_level() {
        use RegionLevel::*;
        let table = shapes();
        for (code, level, expected) in [
            (110_105, National, None),
            (110_105, Province, Some(110_000)),
            (110_105, Prefecture, Some(110_100)),
            (110_105, County, Some(110_105)),
            (429_004, Province, Some(420_000)),
            (429_004, Prefecture, Some(429_000)),
            (429_004, County, Some(429_004)),
            (420_102, Prefecture, Some(420_100)),
            (441_900, National, None),
            (441_900, Province, Some(440_000)),
            (441_900, Prefecture, Some(441_900)),
            (441_900, County, Some(441_900)),
            (110_000, Prefecture, Some(110_000)),
            (110_000, County, Some(110_000)),
            // Not in the table (崇文区, retired in 2010): mapped by its digits.
            (110_103, Province, Some(110_000)),
            (110_103, Prefecture, Some(110_100)),
            (110_103, County, Some(110_103)),
            (130_000, Prefecture, Some(130_000)),
        ] {
            assert_eq!(
                table.at_level(rc(code), level),
                expected.map(rc),
                "{code} at {level}"
            );
        }
    }

    #[test]
    fn region_path_names() {
        let table = shapes();
        for (code, expected) in [
            (429_004, Some("湖北省 / 省直辖县级行政区划 / 仙桃市")),
            (110_105, Some("北京市 / 市辖区 / 朝阳区")),
            (441_900, Some("广东省 / 东莞市")),
            (440_000, Some("广东省")),
            (110_103, None),
        ] {
            assert_eq!(table.path_name(rc(code)).as_deref(), expected, "{code}");
        }
    }

    #[test]
    fn region_children_and_names() {
        let table = shapes();
        let codes = |it: Box<dyn Iterator<Item = &Region> + '_>| {
            it.map(|r| r.code.as_u32()).collect::<Vec<_>>()
        };
        assert_eq!(
            codes(Box::new(table.children(rc(420_000)))),
            [420_100, 429_000]
        );
        assert_eq!(codes(Box::new(table.children(rc(429_000)))), [429_004]);
        assert_eq!(
            codes(Box::new(table.children(rc(441_900)))),
            Vec::<u32>::new()
        );
        assert_eq!(codes(Box::new(table.find_by_name("仙桃"))), [429_004]);
        assert_eq!(codes(Box::new(table.find_by_name("市辖区"))), [110_100]);
        assert_eq!(codes(Box::new(table.find_by_name(" "))), Vec::<u32>::new());
    }

    /// Builds a table and compares the problems as `(index, column, value, message)`.
    fn check_region_problems(rows: &[[&'static str; 4]], expected: &[(usize, &str, &str, &str)]) {
        let (_, problems) = RegionTable::from_rows(region_rows(rows));
        let got: Vec<_> = problems
            .iter()
            .map(|p| (p.index, p.column, p.value.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn region_table_reports_problems_and_skips_rows() {
        let rows: &[[&str; 4]] = &[
            ["110000", "北京市", "1", ""],         // 0 ok
            ["110100", "市辖区", "2", "110000"],   // 1 ok
            ["11010X", "坏代码", "3", "110100"],   // 2 bad code
            ["110105", "朝阳区", "3", "110100"],   // 3 ok
            ["110105", "朝阳区", "3", "110100"],   // 4 duplicate
            ["120101", "和平区", "3", "120100"],   // 5 unknown parent
            ["110106", "丰台区", "2", "110000"],   // 6 level vs digits
            ["110107", "石景山区", "3", "110000"], // 7 parent is a province
            ["110108", "海淀区", "3", "110100"],   // 8 ok
            ["130100", "石家庄市", "2", "110000"], // 9 parent digits mismatch
            ["130000", "河北省", "1", "110000"],   // 10 province with a parent
            ["140100", "太原市", "2", ""],         // 11 missing parent
            ["150000", "内蒙古自治区", "4", ""],   // 12 bad level
            ["160000", " ", "1", ""],              // 13 empty name
            ["110109", "门头沟区", "3", "11010"],  // 14 bad parent text
            ["110100", "市辖区二", "3", "110100"], // 15 self-standing with a different name
            ["110200", "县", "2", "110000"],       // 16 ok, parent listed before
            ["110228", "密云县", "3", "110200"],   // 17 ok
        ];
        check_region_problems(
            rows,
            &[
                (
                    2,
                    "code",
                    "11010X",
                    "`11010X` is not a GB/T 2260 region code: expected exactly six digits",
                ),
                (
                    4,
                    "code",
                    "110105",
                    "duplicate code `110105`: already listed as county 朝阳区",
                ),
                (5, "parent", "120100", "unknown parent `120100`"),
                (
                    6,
                    "level",
                    "2",
                    "level prefecture does not fit code `110106`, whose digits make it a county",
                ),
                (
                    7,
                    "level",
                    "3",
                    "a county needs a prefecture as parent, `110000` is a province",
                ),
                (
                    9,
                    "parent",
                    "110000",
                    "parent `110000` does not match the code's digits, expected `130000`",
                ),
                (
                    10,
                    "parent",
                    "110000",
                    "a province has no parent, found `110000`",
                ),
                (11, "parent", "", "a prefecture needs a parent"),
                (
                    12,
                    "level",
                    "4",
                    "level `4` is not 1 (province), 2 (prefecture) or 3 (county)",
                ),
                (13, "name", " ", "the name is empty"),
                (
                    14,
                    "parent",
                    "11010",
                    "`11010` is not a GB/T 2260 region code: expected exactly six digits",
                ),
                (
                    15,
                    "code",
                    "110100",
                    "duplicate code `110100`: already listed as prefecture 市辖区",
                ),
            ],
        );
        let (table, _) = RegionTable::from_rows(region_rows(rows));
        let codes: Vec<u32> = table.iter().map(|r| r.code.as_u32()).collect();
        assert_eq!(
            codes,
            [110_000, 110_100, 110_105, 110_108, 110_200, 110_228]
        );
    }

    #[test]
    fn region_table_accepts_children_before_parents_and_level_names() {
        let rows: &[[&str; 4]] = &[
            ["429004", "仙桃市", "county", "429000"],
            ["429000", "省直辖县级行政区划", "地级", "420000"],
            ["420000", " 湖北省 ", "1", ""],
        ];
        let (table, problems) = RegionTable::from_rows(region_rows(rows));
        assert_eq!(problems, vec![]);
        assert_eq!(
            table.path_name(rc(429_004)).as_deref(),
            Some("湖北省 / 省直辖县级行政区划 / 仙桃市")
        );
    }

    proptest! {
        #[test]
        fn region_code_display_round_trips(n in 0u32..1_000_000) {
            match RegionCode::from_u32(n) {
                Ok(code) => prop_assert_eq!(RegionCode::parse(&code.to_string()), Ok(code)),
                Err(_) => {
                    let text = format!("{n:06}");
                    prop_assert!(RegionCode::parse(&text).is_err());
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Industry codes
    // -----------------------------------------------------------------------------------------

    /// An expected parse: `(display, digits, level)`, or the exact error message.
    type ParsedIndustry = Result<(&'static str, &'static str, IndustryLevel), &'static str>;

    /// Parses each input and compares with the expectation.
    fn check_industry(cases: &[(&str, ParsedIndustry)]) {
        for (input, expected) in cases {
            let got = IndustryCode::parse(input)
                .map(|c| (c.to_string(), c.digits().to_string(), c.level()))
                .map_err(|e| e.to_string());
            let expected = expected
                .map(|(s, d, l)| (s.to_string(), d.to_string(), l))
                .map_err(str::to_string);
            assert_eq!(got, expected, "input `{input}`");
        }
    }

    #[test]
    fn industry_code_parsing() {
        use IndustryLevel::*;
        check_industry(&[
            ("1351", Ok(("1351", "1351", Class))),
            ("C1351", Ok(("C1351", "1351", Class))),
            (" c1351 ", Ok(("C1351", "1351", Class))),
            ("13", Ok(("13", "13", Division))),
            ("135", Ok(("135", "135", Group))),
            ("0111", Ok(("0111", "0111", Class))),
            ("C", Ok(("C", "", Section))),
            ("t", Ok(("T", "", Section))),
            ("", Err("industry code is empty")),
            (
                "1",
                Err(
                    "`1` is not a GB/T 4754-2017 industry code: one digit is not a code; divisions have two digits",
                ),
            ),
            (
                "C1",
                Err(
                    "`C1` is not a GB/T 4754-2017 industry code: one digit is not a code; divisions have two digits",
                ),
            ),
            (
                "13511",
                Err(
                    "`13511` is not a GB/T 4754-2017 industry code: more than four digits; classes have four",
                ),
            ),
            (
                "U",
                Err("`U` is not a GB/T 4754-2017 industry code: section letters run from A to T"),
            ),
            (
                "13a1",
                Err(
                    "`13a1` is not a GB/T 4754-2017 industry code: expected an optional section letter A–T followed by two to four digits",
                ),
            ),
            (
                "C-1351",
                Err(
                    "`C-1351` is not a GB/T 4754-2017 industry code: expected an optional section letter A–T followed by two to four digits",
                ),
            ),
            (
                "CC13",
                Err(
                    "`CC13` is not a GB/T 4754-2017 industry code: expected an optional section letter A–T followed by two to four digits",
                ),
            ),
            (
                "１３５１",
                Err(
                    "`１３５１` is not a GB/T 4754-2017 industry code: expected an optional section letter A–T followed by two to four digits",
                ),
            ),
        ]);
        let c = IndustryCode::parse("c1351").unwrap();
        assert_eq!(c.section(), Some('C'));
        assert_eq!(IndustryCode::parse("1351").unwrap().section(), None);
        assert_eq!(format!("{c:?}"), "IndustryCode(C1351)");
        assert_eq!("C1351".parse::<IndustryCode>(), Ok(c));
    }

    #[test]
    fn industry_level_names() {
        use IndustryLevel::*;
        for (text, level) in [
            ("section", Section),
            ("1", Section),
            ("门类", Section),
            ("2", Division),
            ("Division", Division),
            ("大类", Division),
            ("3", Group),
            ("group", Group),
            ("中类", Group),
            ("4", Class),
            (" class ", Class),
            ("小类", Class),
        ] {
            assert_eq!(IndustryLevel::parse(text), Some(level), "`{text}`");
        }
        assert_eq!(IndustryLevel::parse("5"), None);
        for level in IndustryLevel::ALL {
            assert_eq!(IndustryLevel::parse(&level.to_string()), Some(level));
            assert_eq!(IndustryLevel::parse(level.chinese()), Some(level));
            assert_eq!(
                IndustryCode::parse(&"C1351"[..level.digit_count() + 1])
                    .unwrap()
                    .level(),
                level
            );
        }
    }

    fn industry_rows(rows: &[[&'static str; 4]]) -> Vec<IndustryRow<'static>> {
        rows.iter()
            .map(|&[code, name, level, parent]| IndustryRow {
                code,
                name,
                level,
                parent,
            })
            .collect()
    }

    const INDUSTRIES: &[[&str; 4]] = &[
        ["A", "农、林、牧、渔业", "1", ""],
        ["01", "农业", "2", "A"],
        ["011", "谷物种植", "3", "01"],
        ["0111", "稻谷种植", "4", "011"],
        ["C", "制造业", "1", ""],
        ["13", "农副食品加工业 ", "2", "C"],
        ["135", "屠宰及肉类加工", "3", "13"],
        ["1351", "牲畜屠宰", "4", "135"],
        ["1352", "禽类屠宰", "4", "135"],
        ["D", "电力、热力、燃气及水生产和供应业", "1", ""],
        ["44", "电力、热力生产和供应业", "2", "D"],
        ["443", "热力生产和供应", "3", "44"],
        ["4430", "热力生产和供应", "4", "443"],
    ];

    fn industries() -> IndustryTable {
        let (table, problems) = IndustryTable::from_rows(industry_rows(INDUSTRIES));
        assert_eq!(problems, vec![]);
        table
    }

    fn ic(text: &str) -> IndustryCode {
        IndustryCode::parse(text).unwrap()
    }

    #[test]
    fn industry_resolve() {
        let table = industries();
        for (input, expected) in [
            ("1351", Ok(("C1351", 'C', "牲畜屠宰", Some("C135")))),
            ("c1351", Ok(("C1351", 'C', "牲畜屠宰", Some("C135")))),
            ("13", Ok(("C13", 'C', "农副食品加工业", Some("C")))),
            ("C", Ok(("C", 'C', "制造业", None))),
            ("0111", Ok(("A0111", 'A', "稻谷种植", Some("A011")))),
            (
                "A1351",
                Err("section letter of `A1351` is `A`, expected `C`"),
            ),
            (
                "9999",
                Err("industry code `9999` is not in the GB/T 4754-2017 table"),
            ),
            (
                "C1399",
                Err("industry code `C1399` is not in the GB/T 4754-2017 table"),
            ),
            (
                "B",
                Err("industry code `B` is not in the GB/T 4754-2017 table"),
            ),
            (
                "111",
                Err("industry code `111` is not in the GB/T 4754-2017 table"),
            ),
        ] {
            let got = table
                .resolve(&ic(input))
                .map(|i| {
                    (
                        i.code.to_string(),
                        i.section,
                        i.name.clone(),
                        i.parent.as_ref().map(ToString::to_string),
                    )
                })
                .map_err(|e| e.to_string());
            let expected = expected
                .map(|(c, s, n, p)| (c.to_string(), s, n.to_string(), p.map(str::to_string)))
                .map_err(str::to_string);
            assert_eq!(got, expected, "input `{input}`");
        }
        assert_eq!(
            table.get(&ic("1351")).map(|i| i.level),
            Some(IndustryLevel::Class)
        );
        assert_eq!(table.get(&ic("A1351")), None);
        let mismatch = table.resolve(&ic("A1351")).unwrap_err();
        assert_eq!(
            mismatch.hint().as_deref(),
            Some("write `C1351` or the digits `1351` alone")
        );
        let dropped_zero = table.resolve(&ic("111")).unwrap_err();
        assert!(dropped_zero.hint().unwrap().contains("`0111`"));
    }

    #[test]
    fn industry_at_level() {
        use IndustryLevel::*;
        let table = industries();
        for (code, level, expected) in [
            ("1351", Class, Some("C1351")),
            ("1351", Group, Some("C135")),
            ("1351", Division, Some("C13")),
            ("1351", Section, Some("C")),
            ("C1351", Division, Some("C13")),
            ("4430", Division, Some("D44")),
            ("0111", Section, Some("A")),
            ("13", Division, Some("C13")),
            ("13", Class, None),
            ("C", Division, None),
            ("A1351", Division, None),
            ("1399", Division, None),
        ] {
            assert_eq!(
                table
                    .at_level(&ic(code), level)
                    .map(|c| c.to_string())
                    .as_deref(),
                expected,
                "{code} at {level}"
            );
        }
    }

    #[test]
    fn industry_iteration_is_the_standards_order() {
        let table = industries();
        assert_eq!(table.len(), 13);
        assert!(!table.is_empty());
        let order: Vec<String> = table.iter().map(|i| i.code.to_string()).collect();
        assert_eq!(
            order,
            [
                "A", "A01", "A011", "A0111", "C", "C13", "C135", "C1351", "C1352", "D", "D44",
                "D443", "D4430"
            ]
        );
        let children: Vec<String> = table
            .children(&ic("135"))
            .map(|i| i.code.to_string())
            .collect();
        assert_eq!(children, ["C1351", "C1352"]);
        let children: Vec<String> = table
            .children(&ic("C"))
            .map(|i| i.code.to_string())
            .collect();
        assert_eq!(children, ["C13"]);
        assert_eq!(table.children(&ic("1351")).count(), 0);
        assert_eq!(table.children(&ic("99")).count(), 0);
        let found: Vec<String> = table
            .find_by_name("屠宰")
            .map(|i| i.code.to_string())
            .collect();
        assert_eq!(found, ["C135", "C1351", "C1352"]);
    }

    fn check_industry_problems(rows: &[[&'static str; 4]], expected: &[(usize, &str, &str, &str)]) {
        let (_, problems) = IndustryTable::from_rows(industry_rows(rows));
        let got: Vec<_> = problems
            .iter()
            .map(|p| (p.index, p.column, p.value.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn industry_table_reports_problems_and_skips_rows() {
        let rows: &[[&str; 4]] = &[
            ["C", "制造业", "1", ""],                    // 0 ok
            ["13", "农副食品加工业", "2", "C"],          // 1 ok
            ["135", "屠宰及肉类加工", "3", "13"],        // 2 ok
            ["1351", "牲畜屠宰", "4", "135"],            // 3 ok
            ["1351", "牲畜屠宰", "4", "135"],            // 4 duplicate
            ["C1351", "牲畜屠宰", "4", "135"],           // 5 duplicate, other spelling
            ["1361", "水产品冷冻加工", "4", "136"],      // 6 unknown parent
            ["1352", "禽类屠宰", "3", "135"],            // 7 level vs code
            ["1353", "肉制品及副产品加工", "4", "13"],   // 8 parent is a division
            ["14", "食品制造业", "2", "13"],             // 9 parent is a division
            ["A15", "酒、饮料和精制茶制造业", "2", "C"], // 10 letter contradicts parent
            ["D", "电力", "1", "C"],                     // 11 section with a parent
            ["16", "烟草制品业", "2", ""],               // 12 missing parent
            ["17", "纺织业", "x", "C"],                  // 13 bad level
            ["18", "", "2", "C"],                        // 14 empty name
            ["19", "皮革", "2", "CC"],                   // 15 bad parent text
            ["1", "坏", "2", "C"],                       // 16 bad code
            ["E", "建筑业", "1", ""],                    // 17 ok
            ["47", "房屋建筑业", "2", "E"],              // 18 ok
            ["471", "住宅房屋建筑", "3", "47"],          // 19 ok
            ["4810", "铁路工程建筑", "4", "471"],        // 20 parent digits mismatch
        ];
        check_industry_problems(
            rows,
            &[
                (
                    4,
                    "code",
                    "1351",
                    "duplicate code `1351`: already listed as `C1351` 牲畜屠宰",
                ),
                (
                    5,
                    "code",
                    "C1351",
                    "duplicate code `C1351`: already listed as `C1351` 牲畜屠宰",
                ),
                (6, "parent", "136", "unknown parent `136`"),
                (
                    7,
                    "level",
                    "3",
                    "level group does not fit code `1352`, which is a class",
                ),
                (
                    8,
                    "level",
                    "4",
                    "a class needs a group as parent, `C13` is a division",
                ),
                (
                    9,
                    "level",
                    "2",
                    "a division needs a section as parent, `C13` is a division",
                ),
                (
                    10,
                    "code",
                    "A15",
                    "section letter of `A15` is `A`, but parent `C` is in section `C`",
                ),
                (11, "parent", "C", "a section has no parent, found `C`"),
                (12, "parent", "", "a division needs a parent"),
                (
                    13,
                    "level",
                    "x",
                    "level `x` is not 1 (section), 2 (division), 3 (group) or 4 (class)",
                ),
                (14, "name", "", "the name is empty"),
                (
                    15,
                    "parent",
                    "CC",
                    "`CC` is not a GB/T 4754-2017 industry code: expected an optional section letter A–T followed by two to four digits",
                ),
                (
                    16,
                    "code",
                    "1",
                    "`1` is not a GB/T 4754-2017 industry code: one digit is not a code; divisions have two digits",
                ),
                (
                    20,
                    "parent",
                    "471",
                    "parent `471` does not match the code's digits, expected `481`",
                ),
            ],
        );
        let (table, _) = IndustryTable::from_rows(industry_rows(rows));
        let order: Vec<String> = table.iter().map(|i| i.code.to_string()).collect();
        assert_eq!(order, ["C", "C13", "C135", "C1351", "E", "E47", "E471"]);
    }

    #[test]
    fn industry_table_accepts_letters_and_children_first() {
        let rows: &[[&str; 4]] = &[
            ["C1351", "牲畜屠宰", "小类", "C135"],
            ["C135", "屠宰及肉类加工", "中类", "13"],
            ["C13", "农副食品加工业", "大类", "C"],
            ["c", "制造业", "门类", ""],
        ];
        let (table, problems) = IndustryTable::from_rows(industry_rows(rows));
        assert_eq!(problems, vec![]);
        assert_eq!(
            table.at_level(&ic("1351"), IndustryLevel::Section),
            Some(ic("C"))
        );
    }
}
