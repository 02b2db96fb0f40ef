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

#[derive(Debug, Clone, Copy)]
struct Cell {
    pollutant: PollutantId,
    generated: CompensatedSum,
    emitted: CompensatedSum,
    rows: u64,
    flagged_rows: u64,
}

impl Cell {
    fn new(pollutant: PollutantId) -> Cell {
        Cell {
            pollutant,
            generated: CompensatedSum::default(),
            emitted: CompensatedSum::default(),
            rows: 0,
            flagged_rows: 0,
        }
    }

    fn add(&mut self, emission: &Emission) {
        self.generated.add(emission.generated);
        self.emitted.add(emission.emitted);
        self.rows += 1;
        if emission.flags != Flags::empty() {
            self.flagged_rows += 1;
        }
    }

    fn merge(&mut self, other: &Cell) {
        self.generated.merge(other.generated);
        self.emitted.merge(other.emitted);
        self.rows += other.rows;
        self.flagged_rows += other.flagged_rows;
    }
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

/// Year, region at the grouping level and industry (as an index into `Totals::industries`).
type GroupKey = (u16, Option<RegionCode>, u32);

/// The aggregator. Feed it results with [`Totals::add`] or a row's results at once with
/// [`Totals::add_row`]; combine partial aggregators with [`Totals::merge`].
///
/// The sums are kept per group (year × region × industry), each group holding the cells of its
/// pollutants side by side: the results of one activity row share their group, so a row costs
/// one look-up of its group (none when it has the group of the row before, as the rows of one
/// enterprise usually do) and touches one small block of memory, instead of one look-up in a
/// table of millions of cells per result.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    industries: Vec<Option<IndustryCode>>,
    industry_ids: crate::FastMap<Option<IndustryCode>, u32>,
    groups: crate::FastMap<GroupKey, u32>,
    /// Per group (in order of first appearance): its key and its cells, by first appearance.
    keys: Vec<GroupKey>,
    cells: Vec<Vec<Cell>>,
    cell_count: usize,
    /// The group of the last row added, with the industry it was asked for.
    last: Option<(u16, Option<RegionCode>, Option<IndustryCode>, u32)>,
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
        self.add_row(year, region, industry, std::slice::from_ref(emission));
    }

    /// Adds all results of one activity row of `year`, already mapped to the grouping's region
    /// and industry. The same as adding them one by one with [`Totals::add`].
    pub fn add_row(
        &mut self,
        year: u16,
        region: Option<RegionCode>,
        industry: Option<&IndustryCode>,
        emissions: &[Emission],
    ) {
        if emissions.is_empty() {
            return;
        }
        let group = match &self.last {
            Some((y, r, i, group)) if *y == year && *r == region && i.as_ref() == industry => {
                *group as usize
            }
            _ => {
                let industry_id = self.industry_id(industry);
                let group = self.group((year, region, industry_id));
                self.last = Some((year, region, industry.cloned(), group as u32));
                group
            }
        };
        let cells = &mut self.cells[group];
        for emission in emissions {
            match cells.iter_mut().find(|c| c.pollutant == emission.pollutant) {
                Some(cell) => cell.add(emission),
                None => {
                    // Exactly as many as needed: a group's pollutants rarely grow after its
                    // first row, and millions of groups would otherwise carry spare room.
                    cells.reserve_exact(1);
                    let mut cell = Cell::new(emission.pollutant);
                    cell.add(emission);
                    cells.push(cell);
                    self.cell_count += 1;
                }
            }
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

    /// The index of a group, made when new.
    fn group(&mut self, key: GroupKey) -> usize {
        let next = self.keys.len();
        let index = *self
            .groups
            .entry(key)
            .or_insert_with(|| u32::try_from(next).expect("fewer than 2^32 groups of totals"))
            as usize;
        if index == next {
            self.keys.push(key);
            self.cells.push(Vec::new());
        }
        index
    }

    /// Adds another aggregator's totals into this one.
    pub fn merge(&mut self, other: Totals) {
        // Each cell is merged once, so the order of the cells does not change any sum; the
        // other aggregator's groups are consumed as they go instead of being copied first.
        let Totals {
            industries,
            keys,
            cells,
            ..
        } = other;
        for ((year, region, industry), theirs) in keys.into_iter().zip(cells) {
            let id = self.industry_id(industries[industry as usize].as_ref());
            let group = self.group((year, region, id));
            let mine = &mut self.cells[group];
            if mine.is_empty() {
                self.cell_count += theirs.len();
                *mine = theirs;
                continue;
            }
            for cell in &theirs {
                match mine.iter_mut().find(|c| c.pollutant == cell.pollutant) {
                    Some(found) => found.merge(cell),
                    None => {
                        mine.push(*cell);
                        self.cell_count += 1;
                    }
                }
            }
        }
        self.last = None;
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cell_count
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.cell_count == 0
    }

    /// The totals, sorted by year, region, industry and pollutant.
    pub fn rows(&self) -> Vec<TotalRow> {
        let mut out = Vec::with_capacity(self.cell_count);
        for group in self.sorted_groups() {
            let (year, region, industry) = self.keys[group];
            let mut cells: Vec<&Cell> = self.cells[group].iter().collect();
            cells.sort_by_key(|c| c.pollutant);
            out.extend(cells.into_iter().map(|cell| TotalRow {
                year,
                region,
                industry: self.industries[industry as usize].clone(),
                pollutant: cell.pollutant,
                generated: cell.generated.value(),
                emitted: cell.emitted.value(),
                rows: cell.rows,
                flagged_rows: cell.flagged_rows,
            }));
        }
        out
    }

    /// The totals, sorted as by [`Totals::rows`], consumed group by group: each group's memory is
    /// freed as its rows are made, so that the sums and all their rows need not be held at once.
    pub fn into_rows(mut self) -> impl Iterator<Item = TotalRow> {
        let order = self.sorted_groups();
        let industries = std::mem::take(&mut self.industries);
        let keys = std::mem::take(&mut self.keys);
        let mut cells = std::mem::take(&mut self.cells);
        drop(self);
        order.into_iter().flat_map(move |group| {
            let (year, region, industry) = keys[group];
            let industry = industries[industry as usize].clone();
            let mut mine = std::mem::take(&mut cells[group]);
            mine.sort_by_key(|c| c.pollutant);
            mine.into_iter().map(move |cell| TotalRow {
                year,
                region,
                industry: industry.clone(),
                pollutant: cell.pollutant,
                generated: cell.generated.value(),
                emitted: cell.emitted.value(),
                rows: cell.rows,
                flagged_rows: cell.flagged_rows,
            })
        })
    }

    /// Group indices in the order of year, region and industry.
    fn sorted_groups(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_unstable_by(|&a, &b| {
            let (ya, ra, ia) = self.keys[a];
            let (yb, rb, ib) = self.keys[b];
            (ya, ra, &self.industries[ia as usize]).cmp(&(yb, rb, &self.industries[ib as usize]))
        });
        order
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

    fn emission(pollutant: u16, generated: f64, emitted: f64, flagged: bool) -> Emission {
        Emission {
            pollutant: PollutantId(pollutant),
            coefficient_row: 0,
            generated,
            emitted,
            operation_rate: None,
            flags: if flagged {
                Flags::DIRECT_FALLBACK
            } else {
                Flags::empty()
            },
        }
    }

    fn region(code: &str) -> Option<RegionCode> {
        Some(RegionCode::parse(code).expect("a region code"))
    }

    fn industry(code: &str) -> IndustryCode {
        IndustryCode::parse(code).expect("an industry code")
    }

    #[test]
    fn rows_of_groups_and_pollutants_come_sorted_with_their_sums_and_counts() {
        let (c17, c25) = (industry("17"), industry("25"));
        let mut totals = Totals::new();
        // Added out of order, with a group that comes back after another one.
        totals.add_row(
            2023,
            region("130102"),
            Some(&c25),
            &[emission(3, 10.0, 4.0, false), emission(1, 2.0, 2.0, true)],
        );
        totals.add_row(
            2023,
            region("110101"),
            Some(&c17),
            &[emission(1, 1.5, 0.5, false)],
        );
        totals.add_row(
            2023,
            region("130102"),
            Some(&c25),
            &[emission(1, 3.0, 1.0, false), emission(2, 7.0, 7.0, true)],
        );
        totals.add(
            2022,
            region("130102"),
            None,
            &emission(1, 0.25, 0.25, false),
        );
        assert_eq!(totals.len(), 5);
        let rows = totals.rows();
        type Line = (u16, String, Option<String>, u16, f64, f64, u64, u64);
        let summary: Vec<Line> = rows
            .iter()
            .map(|r| {
                (
                    r.year,
                    r.region.map(|c| c.to_string()).unwrap_or_default(),
                    r.industry.as_ref().map(ToString::to_string),
                    r.pollutant.0,
                    r.generated,
                    r.emitted,
                    r.rows,
                    r.flagged_rows,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (2022, "130102".into(), None, 1, 0.25, 0.25, 1, 0),
                (2023, "110101".into(), Some("17".into()), 1, 1.5, 0.5, 1, 0),
                (2023, "130102".into(), Some("25".into()), 1, 5.0, 3.0, 2, 1),
                (2023, "130102".into(), Some("25".into()), 2, 7.0, 7.0, 1, 1),
                (2023, "130102".into(), Some("25".into()), 3, 10.0, 4.0, 1, 0),
            ]
        );
        assert_eq!(totals.clone().into_rows().collect::<Vec<_>>(), rows);
    }

    #[test]
    fn merged_parts_give_what_one_aggregator_gives() {
        let codes = [industry("17"), industry("25"), industry("44")];
        let regions = ["110101", "130102", "440305"];
        let mut whole = Totals::new();
        let mut parts = [Totals::new(), Totals::new(), Totals::new()];
        for i in 0..300_u16 {
            let year = 2022 + i % 2;
            let region = region(regions[usize::from(i % 3)]);
            let industry = &codes[usize::from(i / 3 % 3)];
            let results = [
                emission(i % 5, f64::from(i) * 0.1, f64::from(i) * 0.05, i % 7 == 0),
                emission(7, 1.0 / f64::from(i + 1), 0.0, false),
            ];
            whole.add_row(year, region, Some(industry), &results);
            // The parts see the rows one result at a time and in another order of industries.
            let part = &mut parts[usize::from(i / 100)];
            for result in &results {
                part.add(year, region, Some(industry), result);
            }
        }
        let [mut first, second, third] = parts;
        first.merge(second);
        first.merge(third);
        assert_eq!(first.len(), whole.len());
        let (a, b) = (first.rows(), whole.rows());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (x.year, x.region, &x.industry, x.pollutant),
                (y.year, y.region, &y.industry, y.pollutant)
            );
            assert_eq!((x.rows, x.flagged_rows), (y.rows, y.flagged_rows));
            approx::assert_relative_eq!(x.generated, y.generated, max_relative = 1e-15);
            approx::assert_relative_eq!(x.emitted, y.emitted, max_relative = 1e-15);
        }
    }
}
