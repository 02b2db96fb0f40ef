//! Scale labels, units and codes on arbitrary text: `accounting::scale` (labels, capacity
//! membership), `accounting::units` (units, coefficient units, conversions), the codes (GB/T 2260
//! regions, GB/T 4754 industries, GB 32100 USCC with its check characters), dates, activity
//! parameters, declared treatments, plain numbers, and the lookups and query parsers of `app`
//! that read the same texts from the command line and the service's query strings.
//! Input: `label \0 unit \0 capacity (8 bytes)`; every parser sees every text.
//!
//! Checked beyond "no panic": what parses round-trips through its canonical text.
#![no_main]

use accounting::activity::{Parameters, Status, parse_plain_number, parse_treatments};
use accounting::codes::{IndustryCode, IndustryLevel, RegionCode, RegionLevel, Uscc};
use accounting::date::Date;
use accounting::scale::{ScaleClass, select_by_capacity, select_by_label};
use accounting::units::{Basis, CoefficientUnit, Unit};
use libfuzzer_sys::fuzz_target;

fn text_checks(text: &str) {
    let reference = npsc_fuzz::reference();
    if let Ok(class) = ScaleClass::parse(text) {
        let again = ScaleClass::parse(class.label()).expect("a parsed label parses again");
        assert_eq!(again.normalized(), class.normalized());
        assert_eq!(again.kind(), class.kind());
        assert_eq!(
            ScaleClass::normalize_label(class.normalized()),
            class.normalized(),
            "normalizing is idempotent"
        );
        std::hint::black_box(class.to_string());
    }
    if let Ok(unit) = Unit::parse(text) {
        let again = Unit::parse(unit.symbol()).expect("a unit's symbol parses");
        assert!(
            again.is_equivalent(&unit),
            "{text:?}: {unit:?} vs {again:?}"
        );
        for target in Unit::vocabulary() {
            if let Ok(ratio) = unit.conversion_to(&target) {
                std::hint::black_box(ratio.to_f64());
                std::hint::black_box(unit.convert(1234.5, &target).ok());
            }
        }
    }
    if let Ok(unit) = CoefficientUnit::parse(text) {
        let again = CoefficientUnit::parse(&unit.text()).expect("a coefficient unit's text");
        assert_eq!(again, unit, "{text:?}");
    }
    std::hint::black_box(Basis::parse(text));
    if let Ok(code) = RegionCode::parse(text) {
        assert_eq!(RegionCode::from_u32(code.as_u32()).ok(), Some(code));
        assert_eq!(RegionCode::parse(&code.to_string()).ok(), Some(code));
        std::hint::black_box((code.province(), code.prefecture(), code.structural_level()));
        std::hint::black_box(reference.regions.path_name(code));
        for level in [
            RegionLevel::National,
            RegionLevel::Province,
            RegionLevel::Prefecture,
            RegionLevel::County,
        ] {
            std::hint::black_box(reference.regions.at_level(code, level));
        }
    }
    if let Ok(code) = IndustryCode::parse(text) {
        let again = IndustryCode::parse(&code.to_string()).expect("an industry code's text");
        assert_eq!(again, code);
        std::hint::black_box((code.level(), code.digits(), code.section()));
        if let Ok(industry) = reference.industries.resolve(&code) {
            std::hint::black_box(industry);
        }
        for level in [
            IndustryLevel::Section,
            IndustryLevel::Division,
            IndustryLevel::Group,
            IndustryLevel::Class,
        ] {
            std::hint::black_box(reference.industries.at_level(&code, level));
        }
    }
    if let Ok(uscc) = Uscc::parse(text) {
        assert_eq!(Uscc::parse(uscc.as_str()).ok(), Some(uscc));
        std::hint::black_box((
            uscc.registration_authority(),
            uscc.category(),
            uscc.region_part(),
            uscc.region_code(),
            uscc.organization_code(),
        ));
    }
    std::hint::black_box(Uscc::check_char(text).ok());
    std::hint::black_box(Uscc::org_check_char(text).ok());
    if let Ok(date) = Date::parse(text) {
        assert_eq!(Date::parse(&date.to_string()).ok(), Some(date), "{text:?}");
    }
    if let Ok(parameters) = Parameters::parse(text) {
        for name in parameters.names() {
            assert!(parameters.get(name).is_some_and(f64::is_finite));
        }
    }
    if let Some(x) = parse_plain_number(text) {
        assert!(x.is_finite());
    }
    std::hint::black_box(parse_treatments(text, &reference.pollutants).ok());
    std::hint::black_box(reference.pollutants.lookup(text));
    std::hint::black_box(Status::parse(text));
    std::hint::black_box(RegionLevel::parse(text));
    std::hint::black_box(IndustryLevel::parse(text));
    std::hint::black_box(accounting::pollutant::Medium::parse(text));
    std::hint::black_box(accounting::sources::AreaKind::parse(text));
    std::hint::black_box(ingest::tax::Particulates::parse(text));
    std::hint::black_box(accounting::text::normalize_name(text));
    // The application's parsers of the same texts (command-line arguments, query strings).
    // Name searches scan every region and industry (slow under libFuzzer's compare hooks): only
    // for texts starting with `?`, as the fuzzer finds.
    if let Some(query) = text.strip_prefix('?') {
        std::hint::black_box(app::lookup::regions(reference, query).len());
        std::hint::black_box(app::lookup::industries(reference, query).len());
    }
    std::hint::black_box(app::lookup::uscc(reference, text));
    std::hint::black_box(app::registry::region_prefix(text).ok());
    std::hint::black_box(app::registry::industry_prefix(text, reference).ok());
    std::hint::black_box(app::registry::parse_status(text).ok());
    std::hint::black_box(app::registry::parse_uscc(text).ok());
    std::hint::black_box(app::account::parse_region_level(text).ok());
    std::hint::black_box(app::account::parse_industry_level(text).ok());
    std::hint::black_box(app::editions::selector(text, None, "effective").ok());
    std::hint::black_box(app::editions::selector(text, Some(text), "next-month").ok());
    let search = app::registry::Search {
        q: Some(text.to_string()),
        region: Some(text.to_string()),
        industry: Some(text.to_string()),
        status: Some(text.to_string()),
    };
    std::hint::black_box(app::registry::search_filter(&search, reference).ok());
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let label = String::from_utf8_lossy(parts.next().unwrap_or(&[]));
    let unit_text = String::from_utf8_lossy(parts.next().unwrap_or(&[]));
    let capacity = parts
        .next()
        .and_then(|b| b.get(..8))
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .unwrap_or(1.0);
    text_checks(&label);
    text_checks(&unit_text);
    // Scale membership with a capacity in a unit, as the engine selects a class.
    if let (Ok(class), Ok(unit)) = (ScaleClass::parse(&label), Unit::parse(&unit_text)) {
        std::hint::black_box(class.contains(capacity, &unit).ok());
        let classes = [class.clone(), ScaleClass::parse("所有规模").unwrap()];
        if let Err(e) = select_by_capacity(&classes, capacity, &unit) {
            std::hint::black_box(e.to_string());
        }
        std::hint::black_box(select_by_label(&classes, &unit_text));
    }
});
