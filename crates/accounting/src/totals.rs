//! Aggregation of results into totals by year, region level, industry level and pollutant.
//!
//! Sums are compensated (Neumaier), so that totals do not depend noticeably on the order or the
//! partitioning of the rows; the output is sorted, so it never depends on hash order.

use crate::codes::{IndustryCode, IndustryLevel, RegionCode, RegionLevel};
use crate::engine::{Emission, Flags};
use crate::pollutant::PollutantId;

/// How results are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    /// Region level; `National` puts every region together.
    pub region: RegionLevel,
    /// Industry level, or `None` for all industries together.
    pub industry: Option<IndustryLevel>,
}

/// Neumaier's compensated sum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    /// Adds a value.
    pub fn add(&mut self, value: f64) {
        let t = self.sum + value;
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - t) + value;
        } else {
            self.compensation += (value - t) + self.sum;
        }
        self.sum = t;
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: CompensatedSum) {
        self.add(other.sum);
        self.add(other.compensation);
    }

    /// The total.
    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

impl FromIterator<f64> for CompensatedSum {
    fn from_iter<I: IntoIterator<Item = f64>>(values: I) -> CompensatedSum {
        let mut sum = CompensatedSum::default();
        for v in values {
            sum.add(v);
        }
        sum
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    generated: CompensatedSum,
    emitted: CompensatedSum,
    rows: u64,
    flagged_rows: u64,
}

/// One line of totals.
#[derive(Debug, Clone, PartialEq)]
pub struct TotalRow {
    /// Year.
    pub year: u16,
    /// Region at the grouping level; `None` for national.
    pub region: Option<RegionCode>,
    /// Industry at the grouping level; `None` for all industries.
    pub industry: Option<IndustryCode>,
    /// Pollutant.
    pub pollutant: PollutantId,
    /// Generated, in the pollutant's report unit.
    pub generated: f64,
    /// Emitted, in the pollutant's report unit.
    pub emitted: f64,
    /// Activity rows that contributed.
    pub rows: u64,
    /// Of those, rows whose result carries a flag.
    pub flagged_rows: u64,
}

type CellKey = (u16, Option<RegionCode>, u32, PollutantId);

/// The aggregator. Feed it results with [`Totals::add`]; combine partial aggregators with
/// [`Totals::merge`].
#[derive(Debug, Clone, Default)]
pub struct Totals {
    industries: Vec<Option<IndustryCode>>,
    industry_ids: crate::FastMap<Option<IndustryCode>, u32>,
    cells: crate::FastMap<CellKey, Cell>,
}

impl Totals {
    /// An empty aggregator.
    pub fn new() -> Totals {
        Totals::default()
    }

    /// Adds one result of an activity row of `year`, already mapped to the grouping's region and
    /// industry.
    pub fn add(
        &mut self,
        year: u16,
        region: Option<RegionCode>,
        industry: Option<&IndustryCode>,
        emission: &Emission,
    ) {
        let industry_id = self.industry_id(industry);
        let cell = self
            .cells
            .entry((year, region, industry_id, emission.pollutant))
            .or_default();
        cell.generated.add(emission.generated);
        cell.emitted.add(emission.emitted);
        cell.rows += 1;
        if emission.flags != Flags::empty() {
            cell.flagged_rows += 1;
        }
    }

    fn industry_id(&mut self, industry: Option<&IndustryCode>) -> u32 {
        if let Some(id) = self.industry_ids.get(&industry.cloned()) {
            return *id;
        }
        let id = u32::try_from(self.industries.len()).expect("fewer than 2^32 industries");
        self.industries.push(industry.cloned());
        self.industry_ids.insert(industry.cloned(), id);
        id
    }

    /// Adds another aggregator's totals into this one.
    #[expect(
        clippy::iter_over_hash_type,
        reason = "each cell is merged once: the order changes no sum and no output"
    )]
    pub fn merge(&mut self, other: Totals) {
        // Each cell is merged once, so the order of the cells does not change any sum; the
        // other map is consumed as it goes instead of being copied out first.
        for ((year, region, industry, pollutant), cell) in other.cells {
            let code = other.industries[industry as usize].clone();
            let id = self.industry_id(code.as_ref());
            let mine = self.cells.entry((year, region, id, pollutant)).or_default();
            mine.generated.merge(cell.generated);
            mine.emitted.merge(cell.emitted);
            mine.rows += cell.rows;
            mine.flagged_rows += cell.flagged_rows;
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The totals, sorted by year, region, industry and pollutant.
    pub fn rows(&self) -> Vec<TotalRow> {
        let mut out: Vec<TotalRow> = self
            .cells
            .iter()
            .map(|(&(year, region, industry, pollutant), cell)| TotalRow {
                year,
                region,
                industry: self.industries[industry as usize].clone(),
                pollutant,
                generated: cell.generated.value(),
                emitted: cell.emitted.value(),
                rows: cell.rows,
                flagged_rows: cell.flagged_rows,
            })
            .collect();
        out.sort_by(|a, b| {
            (a.year, a.region, &a.industry, a.pollutant).cmp(&(
                b.year,
                b.region,
                &b.industry,
                b.pollutant,
            ))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensated_sum_keeps_small_terms() {
        let mut s = CompensatedSum::default();
        s.add(1e16);
        for _ in 0..10 {
            s.add(1.0);
        }
        s.add(-1e16);
        assert_eq!(s.value(), 10.0);
    }
}
