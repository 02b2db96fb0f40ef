//! Total-load control (总量控制): accounted totals against caps per region × pollutant × year,
//! progress against reduction targets relative to a base year, and enterprises above their
//! permitted quantity.
//!
//! Quantities are tonnes. Totals may be given at any region level at least as fine as a cap's
//! region: a total counts towards a cap when its region lies inside the cap's region (by the
//! code's digits, [`RegionCode::structural_level`]). Every output is sorted, never in hash order.

use std::collections::BTreeMap;

use crate::codes::{RegionCode, RegionLevel, Uscc};
use crate::pollutant::PollutantId;
use crate::totals::CompensatedSum;

/// The 14th five-year plan's binding reductions against 2020 (国发〔2021〕33号, 2021-12-28:
/// 化学需氧量、氨氮 −8 %, 氮氧化物、挥发性有机物 −10 %), as pollutant names and fractions.
pub const FOURTEENTH_PLAN_TARGETS: [(&str, f64); 4] = [
    ("化学需氧量", 0.08),
    ("氨氮", 0.08),
    ("氮氧化物", 0.10),
    ("挥发性有机物", 0.10),
];

/// The base year of [`FOURTEENTH_PLAN_TARGETS`].
pub const FOURTEENTH_PLAN_BASE_YEAR: u16 = 2020;

/// A cap (总量控制指标): the most a region may emit of a pollutant in a year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cap {
    /// The region (any level).
    pub region: RegionCode,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The year.
    pub year: u16,
    /// The cap, tonnes.
    pub tonnes: f64,
}

/// An accounted total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Total {
    /// The region the total is grouped by.
    pub region: RegionCode,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The year.
    pub year: u16,
    /// The emitted quantity, tonnes.
    pub tonnes: f64,
}

/// A reduction target: `reduction` (a fraction, 0.08 for −8 %) of the base year's total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The required reduction as a fraction of the base year's total.
    pub reduction: f64,
}

/// Whether `region` lies in `area` (or is it).
pub fn contains(area: RegionCode, region: RegionCode) -> bool {
    match area.structural_level() {
        RegionLevel::Province => region.province() == area,
        RegionLevel::Prefecture => region.prefecture() == area,
        RegionLevel::County | RegionLevel::National => region == area,
    }
}

/// The sum of the totals of `pollutant` in `year` inside `area`, or `None` when none is.
fn rolled_up(totals: &[Total], area: RegionCode, pollutant: PollutantId, year: u16) -> Option<f64> {
    let mut sum = CompensatedSum::default();
    let mut any = false;
    for t in totals {
        if t.pollutant == pollutant && t.year == year && contains(area, t.region) {
            sum.add(t.tonnes);
            any = true;
        }
    }
    any.then(|| sum.value())
}

/// One line of the ledger (总量台账).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LedgerLine {
    /// The cap's region.
    pub region: RegionCode,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The year.
    pub year: u16,
    /// The accounted total inside the region, tonnes; `None` when nothing was accounted there.
    pub total: Option<f64>,
    /// The cap, tonnes.
    pub cap: f64,
    /// total / cap (0 when nothing was accounted); `None` for a zero cap.
    pub utilization: Option<f64>,
    /// cap − total (negative above the cap).
    pub headroom: f64,
    /// The total is above the cap.
    pub exceeded: bool,
}

/// The ledger: one line per cap, sorted by year, region, pollutant. Two caps for the same
/// region, pollutant and year are summed (the reader refuses them; callers may not).
pub fn ledger(caps: &[Cap], totals: &[Total]) -> Vec<LedgerLine> {
    let mut merged: BTreeMap<(u16, RegionCode, PollutantId), f64> = BTreeMap::new();
    for c in caps {
        *merged.entry((c.year, c.region, c.pollutant)).or_default() += c.tonnes;
    }
    merged
        .into_iter()
        .map(|((year, region, pollutant), cap)| {
            let total = rolled_up(totals, region, pollutant, year);
            let used = total.unwrap_or(0.0);
            LedgerLine {
                region,
                pollutant,
                year,
                total,
                cap,
                utilization: (cap != 0.0).then(|| used / cap),
                headroom: cap - used,
                exceeded: used > cap,
            }
        })
        .collect()
}

/// Progress of one region and pollutant in one year against its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressLine {
    /// The region.
    pub region: RegionCode,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The base year.
    pub base_year: u16,
    /// The base year's total, tonnes; `None` when nothing was accounted in the base year.
    pub base: Option<f64>,
    /// The year compared.
    pub year: u16,
    /// That year's total, tonnes.
    pub current: f64,
    /// (base − current) / base; `None` without a (non-zero) base.
    pub reduction: Option<f64>,
    /// The required reduction (fraction).
    pub required: f64,
    /// The most the region may emit to meet the target: base × (1 − required).
    pub allowed: Option<f64>,
    /// The reduction reached the target; `None` without a base.
    pub met: Option<bool>,
}

/// Progress against `targets` in every region of `regions` (e.g. the caps' regions), for every
/// year after `base_year` with a total; sorted by region, pollutant, year.
pub fn progress(
    regions: &[RegionCode],
    totals: &[Total],
    targets: &[Target],
    base_year: u16,
) -> Vec<ProgressLine> {
    let mut regions = regions.to_vec();
    regions.sort();
    regions.dedup();
    let mut targets = targets.to_vec();
    targets.sort_by_key(|t| t.pollutant);
    targets.dedup_by_key(|t| t.pollutant);
    let mut years: Vec<u16> = totals
        .iter()
        .map(|t| t.year)
        .filter(|&y| y > base_year)
        .collect();
    years.sort_unstable();
    years.dedup();
    let mut lines = Vec::new();
    for &region in &regions {
        for target in &targets {
            let base = rolled_up(totals, region, target.pollutant, base_year);
            for &year in &years {
                let Some(current) = rolled_up(totals, region, target.pollutant, year) else {
                    continue;
                };
                let usable = base.filter(|&b| b != 0.0);
                let reduction = usable.map(|b| (b - current) / b);
                lines.push(ProgressLine {
                    region,
                    pollutant: target.pollutant,
                    base_year,
                    base,
                    year,
                    current,
                    reduction,
                    required: target.reduction,
                    allowed: base.map(|b| b * (1.0 - target.reduction)),
                    met: reduction.map(|r| r >= target.reduction),
                });
            }
        }
    }
    lines
}

/// An enterprise's accounted emission of a pollutant in a year with its permitted quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Permitted {
    /// The enterprise.
    pub uscc: Uscc,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The year.
    pub year: u16,
    /// The accounted emission, tonnes.
    pub accounted: f64,
    /// The permitted annual quantity (年许可排放量), tonnes.
    pub permitted: f64,
}

/// An enterprise above its permitted quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct Excess {
    /// The enterprise, pollutant, year and both quantities.
    pub line: Permitted,
    /// accounted − permitted, tonnes (positive).
    pub excess: f64,
    /// accounted / permitted; `None` for a zero permitted quantity.
    pub ratio: Option<f64>,
}

/// The enterprises whose accounted emission is above the permitted quantity, sorted by
/// enterprise, pollutant, year.
pub fn above_permitted(lines: &[Permitted]) -> Vec<Excess> {
    let mut out: Vec<Excess> = lines
        .iter()
        .filter(|l| l.accounted > l.permitted)
        .map(|l| Excess {
            line: *l,
            excess: l.accounted - l.permitted,
            ratio: (l.permitted != 0.0).then(|| l.accounted / l.permitted),
        })
        .collect();
    out.sort_by(|a, b| {
        (a.line.uscc, a.line.pollutant, a.line.year).cmp(&(
            b.line.uscc,
            b.line.pollutant,
            b.line.year,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn r(code: u32) -> RegionCode {
        RegionCode::from_u32(code).expect("region")
    }

    const COD: PollutantId = PollutantId(1);
    const NOX: PollutantId = PollutantId(2);

    fn total(region: u32, pollutant: PollutantId, year: u16, tonnes: f64) -> Total {
        Total {
            region: r(region),
            pollutant,
            year,
            tonnes,
        }
    }

    #[test]
    fn containment_follows_the_digits() {
        assert!(contains(r(150000), r(152502)));
        assert!(contains(r(152500), r(152502)));
        assert!(!contains(r(152500), r(150802)));
        assert!(contains(r(152502), r(152502)));
        assert!(!contains(r(130000), r(150000)));
    }

    #[test]
    fn the_ledger_rolls_county_totals_up_to_each_cap() {
        let totals = [
            total(152502, COD, 2022, 40.0),
            total(150802, COD, 2022, 35.0),
            total(130109, COD, 2022, 99.0),
            total(152502, NOX, 2022, 7.0),
            total(152502, COD, 2023, 1000.0),
        ];
        let caps = [
            Cap {
                region: r(150000),
                pollutant: COD,
                year: 2022,
                tonnes: 100.0,
            },
            Cap {
                region: r(152500),
                pollutant: COD,
                year: 2022,
                tonnes: 32.0,
            },
            Cap {
                region: r(370000),
                pollutant: COD,
                year: 2022,
                tonnes: 10.0,
            },
        ];
        let lines = ledger(&caps, &totals);
        assert_eq!(lines.len(), 3);
        // Sorted by year, region, pollutant: 150000, 152500, 370000.
        assert_eq!(lines[0].region, r(150000));
        assert_relative_eq!(lines[0].total.expect("total"), 75.0);
        assert_relative_eq!(lines[0].utilization.expect("u"), 0.75);
        assert_relative_eq!(lines[0].headroom, 25.0);
        assert!(!lines[0].exceeded);
        assert_eq!(lines[1].region, r(152500));
        assert_relative_eq!(lines[1].utilization.expect("u"), 1.25);
        assert_relative_eq!(lines[1].headroom, -8.0);
        assert!(lines[1].exceeded);
        assert_eq!(lines[2].total, None);
        assert_relative_eq!(lines[2].utilization.expect("u"), 0.0);
        assert_relative_eq!(lines[2].headroom, 10.0);
    }

    #[test]
    fn progress_compares_the_reduction_with_the_target() {
        let totals = [
            total(152502, COD, 2020, 200.0),
            total(150802, COD, 2020, 50.0),
            total(152502, COD, 2023, 220.0),
            total(152502, NOX, 2023, 5.0),
            total(152502, COD, 2025, 150.0),
            total(150802, COD, 2025, 80.0),
            total(152502, COD, 2019, 1.0),
        ];
        let targets = [
            Target {
                pollutant: COD,
                reduction: 0.08,
            },
            Target {
                pollutant: NOX,
                reduction: 0.10,
            },
        ];
        let lines = progress(&[r(150000)], &totals, &targets, 2020);
        assert_eq!(lines.len(), 3);
        // COD 2023: base 250, current 220: (250 − 220) / 250 = 0.12 ≥ 0.08.
        assert_eq!((lines[0].pollutant, lines[0].year), (COD, 2023));
        assert_relative_eq!(lines[0].reduction.expect("r"), 0.12);
        assert_relative_eq!(lines[0].allowed.expect("a"), 230.0);
        assert_eq!(lines[0].met, Some(true));
        // COD 2025: current 230: (250 − 230) / 250 = 0.08, exactly the target.
        assert_relative_eq!(lines[1].reduction.expect("r"), 0.08);
        assert_eq!(lines[1].met, Some(true));
        // NOx 2023 without a 2020 total: no verdict.
        assert_eq!((lines[2].pollutant, lines[2].base), (NOX, None));
        assert_eq!(lines[2].met, None);
        let missed = progress(
            &[r(152500)],
            &totals,
            &[Target {
                pollutant: COD,
                reduction: 0.08,
            }],
            2020,
        );
        // 152500: base 200, 2023 220 → −0.1; 2025 150 → 0.25.
        assert_relative_eq!(missed[0].reduction.expect("r"), -0.1);
        assert_eq!(missed[0].met, Some(false));
        assert_relative_eq!(missed[1].reduction.expect("r"), 0.25);
    }

    #[test]
    fn only_enterprises_above_the_permitted_quantity_are_listed_in_order() {
        let a = Uscc::parse("91152502MA2BPPBJ0K").expect("uscc");
        let b = Uscc::parse("91130109MAK4GR6066").expect("uscc");
        let line = |uscc: &Uscc, year, accounted, permitted| Permitted {
            uscc: *uscc,
            pollutant: COD,
            year,
            accounted,
            permitted,
        };
        let out = above_permitted(&[
            line(&a, 2023, 30.0, 20.0),
            line(&a, 2022, 10.0, 20.0),
            line(&b, 2022, 21.0, 20.0),
            line(&a, 2022, 20.0, 20.0),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].line.uscc, b);
        assert_relative_eq!(out[0].excess, 1.0);
        assert_relative_eq!(out[0].ratio.expect("ratio"), 1.05);
        assert_eq!(out[1].line.uscc, a);
        assert_relative_eq!(out[1].ratio.expect("ratio"), 1.5);
    }
}
