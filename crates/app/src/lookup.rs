//! Code look-ups: regions (GB/T 2260), industries (GB/T 4754-2017) and USCC checks.

use accounting::codes::{IndustryCode, RegionCode, Uscc};
use ingest::reference::Reference;

/// Most matches returned by a name search.
pub const MAX_MATCHES: usize = 50;

/// One region found.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionMatch {
    /// The code.
    pub code: RegionCode,
    /// Its level.
    pub level: String,
    /// Name path from the province down.
    pub path: String,
}

/// Looks a region up by six-digit code, or searches names containing `query`.
pub fn regions(reference: &Reference, query: &str) -> Vec<RegionMatch> {
    let query = query.trim();
    let describe = |code: RegionCode| {
        reference.regions.get(code).map(|r| RegionMatch {
            code,
            level: r.level.to_string(),
            path: reference.regions.path_name(code).unwrap_or_default(),
        })
    };
    if let Ok(code) = RegionCode::parse(query) {
        return describe(code).into_iter().collect();
    }
    reference
        .regions
        .iter()
        .filter(|r| r.name.contains(query))
        .filter_map(|r| describe(r.code))
        .take(MAX_MATCHES)
        .collect()
}

/// One industry found.
#[derive(Debug, Clone, PartialEq)]
pub struct IndustryMatch {
    /// The code (with its section letter).
    pub code: String,
    /// Its level.
    pub level: String,
    /// Name path from the section down.
    pub path: String,
}

/// Looks an industry up by code, or searches names containing `query`.
pub fn industries(reference: &Reference, query: &str) -> Vec<IndustryMatch> {
    let query = query.trim();
    let describe = |code: &IndustryCode| {
        let industry = reference.industries.get(code)?;
        let mut names = vec![industry.name.clone()];
        let mut parent = industry.parent.clone();
        while let Some(p) = parent {
            let up = reference.industries.get(&p)?;
            names.push(up.name.clone());
            parent = up.parent.clone();
        }
        names.reverse();
        Some(IndustryMatch {
            code: format!("{}{}", industry.section, industry.code.digits()),
            level: industry.level.to_string(),
            path: names.join(" / "),
        })
    };
    if let Ok(code) = IndustryCode::parse(query)
        && let Ok(industry) = reference.industries.resolve(&code)
    {
        return describe(&industry.code).into_iter().collect();
    }
    reference
        .industries
        .iter()
        .filter(|i| i.name.contains(query))
        .filter_map(|i| describe(&i.code))
        .take(MAX_MATCHES)
        .collect()
}

/// The result of checking a unified social credit code.
#[derive(Debug, Clone, PartialEq)]
pub struct UsccCheck {
    /// The code as given.
    pub text: String,
    /// `Ok` with the code, or the reason it is invalid.
    pub result: Result<Uscc, String>,
    /// A suggestion when invalid.
    pub hint: Option<String>,
    /// The registration region (positions 3–8) with its name, when valid and known.
    pub region: Option<String>,
}

/// Checks a USCC (GB 32100-2015 check character and the embedded GB 11714 organization code).
pub fn uscc(reference: &Reference, text: &str) -> UsccCheck {
    match Uscc::parse(text) {
        Ok(code) => UsccCheck {
            text: text.to_string(),
            region: RegionCode::parse(code.region_part())
                .ok()
                .and_then(|r| reference.regions.path_name(r).map(|p| format!("{r} {p}"))),
            result: Ok(code),
            hint: None,
        },
        Err(e) => UsccCheck {
            text: text.to_string(),
            hint: e.hint(),
            result: Err(e.to_string()),
            region: None,
        },
    }
}
