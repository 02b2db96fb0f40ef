//! The statistician's report: an accounting (or a stored run) summed by region, by industry and by
//! pollutant, the year-over-year change, written as an Excel workbook with a provenance sheet, and
//! SVG charts (regional bars, year-over-year lines) drawn as plain text.
//!
//! Headers are in Chinese and name their unit (`二氧化硫排放量（吨）`); a column holding several
//! pollutants says that its unit is the row's `计量单位`. Numbers go through
//! [`accounting::render::quantity`]; the output is deterministic.

use std::collections::BTreeMap;

use accounting::codes::{IndustryCode, IndustryLevel, RegionCode, RegionLevel};
use accounting::pollutant::PollutantId;
use accounting::render::{Precision, quantity};
use accounting::totals::CompensatedSum;
use ingest::reference::Reference;

use crate::AppError;
use crate::account::AccountReport;
use crate::sheet::Sheet;

/// One total of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Year.
    pub year: u16,
    /// Region (`None` = national).
    pub region: Option<RegionCode>,
    /// Its name, `全国` for national.
    pub region_name: String,
    /// Industry (`None` = all).
    pub industry: Option<IndustryCode>,
    /// Its name, `全部行业` for all.
    pub industry_name: String,
    /// Pollutant.
    pub pollutant: PollutantId,
    /// Pollutant code, e.g. `SO2`.
    pub pollutant_code: String,
    /// Pollutant name, e.g. `二氧化硫`.
    pub pollutant_name: String,
    /// Report unit, e.g. `吨`.
    pub unit: String,
    /// Generated.
    pub generated: f64,
    /// Emitted.
    pub emitted: f64,
}

/// The totals of the report at three groupings, with their provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsReport {
    /// Region level of [`StatisticsReport::by_region`].
    pub region_level: RegionLevel,
    /// Industry level of [`StatisticsReport::by_industry`] (`None` = all industries together).
    pub industry_level: Option<IndustryLevel>,
    /// Per year, region (at the level) and pollutant, all industries.
    pub by_region: Vec<Line>,
    /// Per year, industry (at the level) and pollutant, national.
    pub by_industry: Vec<Line>,
    /// Per year and pollutant, national.
    pub national: Vec<Line>,
    /// Key–value lines for the provenance sheet.
    pub provenance: Vec<(String, String)>,
}

type YoyKey = (Option<RegionCode>, PollutantId);
type YoyPair<'a> = (Option<&'a Line>, Option<&'a Line>);
type Key = (u16, Option<RegionCode>, Option<IndustryCode>, PollutantId);

#[derive(Default)]
struct Cell {
    generated: CompensatedSum,
    emitted: CompensatedSum,
    first: Option<Line>,
}

/// Sums lines under a coarser key (compensated, in key order).
fn regroup(lines: &[Line], key: impl Fn(&Line) -> Key, relabel: impl Fn(&mut Line)) -> Vec<Line> {
    let mut cells: BTreeMap<Key, Cell> = BTreeMap::new();
    for line in lines {
        let cell = cells.entry(key(line)).or_default();
        cell.generated.add(line.generated);
        cell.emitted.add(line.emitted);
        cell.first.get_or_insert_with(|| line.clone());
    }
    cells
        .into_iter()
        .filter_map(|((_, region, industry, _), cell)| {
            let mut line = cell.first?;
            line.region = region;
            line.industry = industry;
            line.generated = cell.generated.value();
            line.emitted = cell.emitted.value();
            relabel(&mut line);
            Some(line)
        })
        .collect()
}

fn national(line: &mut Line) {
    if line.region.is_none() {
        line.region_name = "全国".to_string();
    }
}

fn all_industries(line: &mut Line) {
    if line.industry.is_none() {
        line.industry_name = "全部行业".to_string();
    }
}

impl StatisticsReport {
    /// From totals at (region level × industry level): the three groupings are summed from them.
    pub fn from_lines(
        lines: Vec<Line>,
        region_level: RegionLevel,
        industry_level: Option<IndustryLevel>,
        provenance: Vec<(String, String)>,
    ) -> StatisticsReport {
        let by_region = regroup(
            &lines,
            |l| (l.year, l.region, None, l.pollutant),
            |l| {
                all_industries(l);
                national(l);
            },
        );
        let by_industry = regroup(
            &lines,
            |l| (l.year, None, l.industry.clone(), l.pollutant),
            |l| {
                national(l);
                all_industries(l);
            },
        );
        let totals = regroup(
            &lines,
            |l| (l.year, None, None, l.pollutant),
            |l| {
                national(l);
                all_industries(l);
            },
        );
        StatisticsReport {
            region_level,
            industry_level,
            by_region,
            by_industry,
            national: totals,
            provenance,
        }
    }

    /// From an accounting whose grouping is (region level × industry level).
    pub fn from_account(report: &AccountReport, provenance: Vec<(String, String)>) -> Self {
        let lines = report
            .totals
            .iter()
            .map(|t| Line {
                year: t.year,
                region: t.region,
                region_name: t.region_name.to_string(),
                industry: t.industry.clone(),
                industry_name: t.industry_name.to_string(),
                pollutant: t.pollutant,
                pollutant_code: t.pollutant_code.to_string(),
                pollutant_name: t.pollutant_name.to_string(),
                unit: t.unit.to_string(),
                generated: t.generated,
                emitted: t.emitted,
            })
            .collect();
        let mut all = vec![
            (
                "coefficient_set".to_string(),
                format!("{} (edition {})", report.set.id, report.set.edition),
            ),
            ("set_title".to_string(), report.set.title.clone()),
            (
                "content_hash".to_string(),
                report.set.content_hash.to_string(),
            ),
            (
                "synthetic".to_string(),
                if report.set.synthetic { "yes" } else { "no" }.to_string(),
            ),
        ];
        all.extend(provenance);
        Self::from_lines(lines, report.grouping.region, report.grouping.industry, all)
    }

    /// From stored run `id` (its totals, or its per-row results when the levels are finer).
    pub async fn from_run(
        store: &crate::editions::Store,
        reference: &Reference,
        id: i64,
        region_level: RegionLevel,
        industry_level: Option<IndustryLevel>,
        provenance: Vec<(String, String)>,
    ) -> Result<Self, AppError> {
        let stats = crate::runs::statistics(
            store,
            reference,
            &crate::runs::StatisticsQuery {
                run: Some(id),
                year: None,
                pollutant: None,
                region_level: Some(region_level),
                industry_level: Some(industry_level),
            },
        )
        .await?;
        let mut lines = Vec::with_capacity(stats.lines.len());
        for l in stats.lines {
            let pollutant = reference
                .pollutants
                .lookup(&l.pollutant_code)
                .ok_or_else(|| {
                    AppError::Internal(format!("unknown pollutant `{}`", l.pollutant_code))
                })?;
            lines.push(Line {
                year: l.year,
                region: l.region,
                region_name: l.region_name,
                industry: l.industry,
                industry_name: l.industry_name,
                pollutant,
                pollutant_code: l.pollutant_code,
                pollutant_name: l.pollutant_name,
                unit: l.unit,
                generated: l.generated,
                emitted: l.emitted,
            });
        }
        let run = &stats.run;
        let mut all = vec![
            ("run".to_string(), run.id.to_string()),
            (
                "coefficient_set".to_string(),
                match run.run.edition {
                    Some(e) => format!("{} (edition {e})", run.run.set_id),
                    None => run.run.set_id.clone(),
                },
            ),
            ("selector".to_string(), run.run.selector.clone()),
            ("content_hash".to_string(), run.run.content_hash.clone()),
            ("registry".to_string(), run.run.registry_path.clone()),
            ("registry_sha256".to_string(), run.run.registry_hash.clone()),
            ("activity".to_string(), run.run.activity_path.clone()),
            ("activity_sha256".to_string(), run.run.activity_hash.clone()),
            ("run_options".to_string(), run.run.options.clone()),
            ("run_finished_at".to_string(), run.finished_at.clone()),
            (
                "aggregated_from".to_string(),
                stats.source.as_str().to_string(),
            ),
        ];
        all.extend(provenance);
        Ok(Self::from_lines(lines, region_level, industry_level, all))
    }

    /// Years present, ascending.
    pub fn years(&self) -> Vec<u16> {
        let mut years: Vec<u16> = self.national.iter().map(|l| l.year).collect();
        years.dedup();
        years
    }

    /// The year the year-over-year sheet and the bars show: `year` when given (it must be
    /// present), else the latest.
    pub fn current_year(&self, year: Option<u16>) -> Result<u16, AppError> {
        let years = self.years();
        match year {
            Some(y) if years.contains(&y) => Ok(y),
            Some(y) => Err(AppError::Argument {
                message: format!("the data hold no year {y}"),
                hint: Some(format!("years present: {}", join_years(&years))),
            }),
            None => years.last().copied().ok_or_else(|| AppError::Argument {
                message: "the accounting produced no totals".to_string(),
                hint: Some("check that the activity rows match the coefficient set".to_string()),
            }),
        }
    }

    /// The sheets 按地区, 按行业, 按污染物 and 同比 (`year` against the year before).
    pub fn sheets(&self, year: u16) -> Vec<Sheet> {
        vec![
            self.wide_sheet(
                "按地区",
                "按地区 By region",
                "地区",
                &self.by_region,
                |l| {
                    (
                        l.region.map(|r| r.to_string()).unwrap_or_default(),
                        l.region_name.clone(),
                    )
                },
            ),
            self.wide_sheet(
                "按行业",
                "按行业 By industry",
                "行业",
                &self.by_industry,
                |l| {
                    (
                        l.industry
                            .as_ref()
                            .map(|i| i.to_string())
                            .unwrap_or_default(),
                        l.industry_name.clone(),
                    )
                },
            ),
            self.pollutant_sheet(),
            self.yoy_sheet(year),
        ]
    }

    /// Pollutants present, in catalog order, with name and unit.
    fn pollutants(lines: &[Line]) -> Vec<(PollutantId, String, String, String)> {
        let mut map: BTreeMap<PollutantId, (String, String, String)> = BTreeMap::new();
        for l in lines {
            map.entry(l.pollutant).or_insert_with(|| {
                (
                    l.pollutant_code.clone(),
                    l.pollutant_name.clone(),
                    l.unit.clone(),
                )
            });
        }
        map.into_iter()
            .map(|(id, (c, n, u))| (id, c, n, u))
            .collect()
    }

    /// One row per year and region (or industry), two columns per pollutant with its unit.
    fn wide_sheet(
        &self,
        name: &str,
        title: &str,
        what: &str,
        lines: &[Line],
        label: impl Fn(&Line) -> (String, String),
    ) -> Sheet {
        let pollutants = Self::pollutants(lines);
        let mut header = vec![
            "年份".to_string(),
            format!("{what}代码"),
            format!("{what}名称"),
        ];
        for (_, _, n, u) in &pollutants {
            header.push(format!("{n}产生量（{u}）"));
            header.push(format!("{n}排放量（{u}）"));
        }
        let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut sheet = Sheet::new(name, title, &header_refs);
        // Rows in (year, label) order of first appearance, which follows the key order.
        let mut rows: Vec<((u16, String, String), Vec<String>)> = Vec::new();
        for l in lines {
            let (code, label_name) = label(l);
            let key = (l.year, code.clone(), label_name.clone());
            if rows.last().map(|(k, _)| k != &key).unwrap_or(true) {
                let mut row = vec![l.year.to_string(), code, label_name];
                row.resize(header.len(), String::new());
                rows.push((key, row));
            }
            let Some(p) = pollutants.iter().position(|(id, ..)| *id == l.pollutant) else {
                continue;
            };
            if let Some((_, row)) = rows.last_mut() {
                row[3 + 2 * p] = quantity(l.generated, Precision::Exact);
                row[4 + 2 * p] = quantity(l.emitted, Precision::Exact);
            }
        }
        for (_, row) in rows {
            sheet.push(row);
        }
        sheet
    }

    fn pollutant_sheet(&self) -> Sheet {
        let mut sheet = Sheet::new(
            "按污染物",
            "按污染物 By pollutant (national)",
            &[
                "年份",
                "污染物代码",
                "污染物名称",
                "计量单位",
                "产生量（计量单位）",
                "排放量（计量单位）",
                "削减量（计量单位）",
                "去除率（%）",
            ],
        );
        for l in &self.national {
            sheet.push(vec![
                l.year.to_string(),
                l.pollutant_code.clone(),
                l.pollutant_name.clone(),
                l.unit.clone(),
                quantity(l.generated, Precision::Exact),
                quantity(l.emitted, Precision::Exact),
                quantity(l.generated - l.emitted, Precision::Exact),
                percent(l.generated - l.emitted, l.generated),
            ]);
        }
        sheet
    }

    /// Emitted in `year` against `year - 1`, national first, then each region, per pollutant.
    fn yoy_sheet(&self, year: u16) -> Sheet {
        let previous = year.saturating_sub(1);
        let header = [
            "地区代码".to_string(),
            "地区名称".to_string(),
            "污染物代码".to_string(),
            "污染物名称".to_string(),
            "计量单位".to_string(),
            format!("{previous}年排放量（计量单位）"),
            format!("{year}年排放量（计量单位）"),
            "变化量（计量单位）".to_string(),
            "变化率（%）".to_string(),
        ];
        let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut sheet = Sheet::new(
            "同比",
            &format!("同比 Year over year ({year} against {previous})"),
            &header_refs,
        );
        for (region, lines) in [(true, &self.national), (false, &self.by_region)] {
            let mut pairs: BTreeMap<YoyKey, YoyPair> = BTreeMap::new();
            for l in lines.iter() {
                if l.year == previous {
                    pairs.entry((l.region, l.pollutant)).or_default().0 = Some(l);
                } else if l.year == year {
                    pairs.entry((l.region, l.pollutant)).or_default().1 = Some(l);
                }
            }
            if !region && self.region_level == RegionLevel::National {
                continue;
            }
            for (before, now) in pairs.values() {
                let Some(any) = now.or(*before) else { continue };
                let b = before.map(|l| l.emitted);
                let n = now.map(|l| l.emitted);
                sheet.push(vec![
                    any.region.map(|r| r.to_string()).unwrap_or_default(),
                    any.region_name.clone(),
                    any.pollutant_code.clone(),
                    any.pollutant_name.clone(),
                    any.unit.clone(),
                    b.map(|x| quantity(x, Precision::Exact)).unwrap_or_default(),
                    n.map(|x| quantity(x, Precision::Exact)).unwrap_or_default(),
                    match (b, n) {
                        (Some(b), Some(n)) => quantity(n - b, Precision::Exact),
                        _ => String::new(),
                    },
                    match (b, n) {
                        (Some(b), Some(n)) => percent(n - b, b),
                        _ => String::new(),
                    },
                ]);
            }
        }
        sheet
    }

    /// The workbook: the four sheets and the provenance.
    pub fn xlsx(&self, year: u16) -> Result<Vec<u8>, AppError> {
        let mut provenance = self.provenance.clone();
        provenance.push((
            "region_level".to_string(),
            self.region_level.as_str().to_string(),
        ));
        provenance.push((
            "industry_level".to_string(),
            self.industry_level
                .map(|l| l.as_str())
                .unwrap_or("all")
                .to_string(),
        ));
        provenance.push((
            "year_over_year".to_string(),
            format!("{year} against {}", year - 1),
        ));
        provenance.push((
            "npsc_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ));
        crate::sheet::render_xlsx(&self.sheets(year), &provenance)
    }

    /// Bars of emitted `pollutant` (a code) in `year`, one per region at the report's level.
    pub fn regional_bars_svg(&self, pollutant: PollutantId, year: u16) -> Result<String, AppError> {
        let lines: Vec<&Line> = self
            .by_region
            .iter()
            .filter(|l| l.year == year && l.pollutant == pollutant)
            .collect();
        let Some(first) = lines.first() else {
            return Err(AppError::Argument {
                message: format!("no emitted totals of the pollutant in {year}"),
                hint: Some("choose another --pollutant or --year".to_string()),
            });
        };
        let bars: Vec<(String, f64)> = lines
            .iter()
            .map(|l| (short_name(&l.region_name), l.emitted))
            .collect();
        Ok(bar_chart(
            &format!(
                "{year}年各地区{}排放量（{}）",
                first.pollutant_name, first.unit
            ),
            &first.unit,
            &bars,
        ))
    }

    /// Lines of emitted quantities across years, one per pollutant, as an index (first year =
    /// 100) so that pollutants of any size share the axis; points are labelled with the values.
    /// National, or the region with this code at the report's level.
    pub fn yoy_lines_svg(&self, region: Option<RegionCode>) -> Result<String, AppError> {
        let lines: Vec<&Line> = match region {
            None => self.national.iter().collect(),
            Some(code) => self
                .by_region
                .iter()
                .filter(|l| l.region == Some(code))
                .collect(),
        };
        let Some(first) = lines.first() else {
            return Err(AppError::Argument {
                message: format!(
                    "no totals for region {}",
                    region.map(|r| r.to_string()).unwrap_or_default()
                ),
                hint: Some("give a region code at the report's --region-level".to_string()),
            });
        };
        let years = self.years();
        let mut series: BTreeMap<PollutantId, (String, String, Vec<Option<f64>>)> = BTreeMap::new();
        for l in &lines {
            let entry = series.entry(l.pollutant).or_insert_with(|| {
                (
                    l.pollutant_name.clone(),
                    l.unit.clone(),
                    vec![None; years.len()],
                )
            });
            if let Some(i) = years.iter().position(|y| *y == l.year) {
                entry.2[i] = Some(l.emitted);
            }
        }
        let series: Vec<Series> = series
            .into_values()
            .map(|(name, unit, values)| Series { name, unit, values })
            .collect();
        Ok(line_chart(
            &format!("{}历年排放量（指数，首年=100）", first.region_name),
            &years,
            &series,
        ))
    }
}

/// The last part of a region's name path (`内蒙古自治区/…` → the last segment).
fn short_name(path: &str) -> String {
    path.rsplit(['/', '>', ' '])
        .find(|s| !s.is_empty())
        .unwrap_or(path)
        .to_string()
}

fn join_years(years: &[u16]) -> String {
    years
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `part / whole` in percent with two decimals; empty when `whole` is zero.
fn percent(part: f64, whole: f64) -> String {
    if whole == 0.0 {
        String::new()
    } else {
        quantity(part / whole * 100.0, Precision::Decimals(2))
    }
}

/// Text for SVG: `<`, `>`, `&`, `"` and `'` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with two decimals.
fn px(x: f64) -> String {
    format!("{x:.2}")
}

const FONT: &str = "font-family=\"sans-serif\"";
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f",
];

/// Plot area of the bar chart: top, bottom (the zero line), left.
pub const BAR_TOP: f64 = 60.0;
/// The zero line of the bar chart.
pub const BAR_BASE: f64 = 360.0;
const BAR_LEFT: f64 = 60.0;
const BAR_SLOT: f64 = 70.0;

/// A bar chart: one bar per `(label, value)`, the tallest reaching [`BAR_TOP`], heights
/// proportional to the values, each bar labelled with its value and its name.
pub fn bar_chart(title: &str, unit: &str, bars: &[(String, f64)]) -> String {
    let width = BAR_LEFT * 2.0 + BAR_SLOT * bars.len().max(1) as f64;
    let height = BAR_BASE + 60.0;
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max);
    let scale = if max > 0.0 {
        (BAR_BASE - BAR_TOP) / max
    } else {
        0.0
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n",
        w = px(width),
        h = px(height)
    );
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"28\" {FONT} font-size=\"16\" text-anchor=\"middle\">{}</text>\n",
        px(width / 2.0),
        escape(title)
    ));
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"11\">{}</text>\n",
        px(8.0),
        px(BAR_TOP - 10.0),
        escape(&format!("单位：{unit}"))
    ));
    svg.push_str(&format!(
        "<line x1=\"{}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\" stroke=\"#333\"/>\n",
        px(BAR_LEFT - 10.0),
        px(width - BAR_LEFT + 10.0),
        b = px(BAR_BASE)
    ));
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = value.max(0.0) * scale;
        let x = BAR_LEFT + BAR_SLOT * i as f64 + 10.0;
        let w = BAR_SLOT - 20.0;
        svg.push_str(&format!(
            "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n",
            px(x),
            px(BAR_BASE - h),
            px(w),
            px(h),
            PALETTE[0]
        ));
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"10\" text-anchor=\"middle\">{}</text>\n",
            px(x + w / 2.0),
            px(BAR_BASE - h - 4.0),
            escape(&quantity(*value, Precision::Decimals(3)))
        ));
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
            px(x + w / 2.0),
            px(BAR_BASE + 16.0),
            escape(label)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// One line of the line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Pollutant name.
    pub name: String,
    /// Its unit (for the point labels).
    pub unit: String,
    /// One value per year (`None` = no total that year).
    pub values: Vec<Option<f64>>,
}

/// A line chart of indices (each series' first value = 100), points labelled with the values.
/// A series whose first value is zero or missing is listed in the legend as not indexable.
pub fn line_chart(title: &str, years: &[u16], series: &[Series]) -> String {
    let (left, right, top, base) = (70.0, 180.0, 50.0, 330.0);
    let width = left + right + 120.0 * years.len().max(2) as f64;
    let height = base + 50.0;
    let indices: Vec<Option<Vec<Option<f64>>>> = series
        .iter()
        .map(|s| match s.values.first().copied().flatten() {
            Some(first) if first > 0.0 => Some(
                s.values
                    .iter()
                    .map(|v| v.map(|v| v / first * 100.0))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    let max = indices
        .iter()
        .flatten()
        .flatten()
        .flatten()
        .fold(100.0_f64, |a, b| a.max(*b));
    let y_of = |index: f64| base - index.max(0.0) / max * (base - top);
    let plot_width = width - left - right;
    let x_of = |i: usize| {
        if years.len() <= 1 {
            left + plot_width / 2.0
        } else {
            left + plot_width * i as f64 / (years.len() - 1) as f64
        }
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n",
        w = px(width),
        h = px(height)
    );
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"26\" {FONT} font-size=\"16\" text-anchor=\"middle\">{}</text>\n",
        px(width / 2.0),
        escape(title)
    ));
    svg.push_str(&format!(
        "<line x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#333\"/>\n<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\" stroke=\"#333\"/>\n",
        l = px(left - 10.0),
        r = px(width - right + 10.0),
        b = px(base),
        t = px(top)
    ));
    for (label, index) in [("0", 0.0), ("100", 100.0)] {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"10\" text-anchor=\"end\">{label}</text>\n",
            px(left - 14.0),
            px(y_of(index) + 3.0)
        ));
    }
    for (i, year) in years.iter().enumerate() {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"11\" text-anchor=\"middle\">{year}年</text>\n",
            px(x_of(i)),
            px(base + 18.0)
        ));
    }
    for (k, (s, index)) in series.iter().zip(&indices).enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let legend_y = top + 16.0 * k as f64;
        let legend = match index {
            Some(_) => format!("{}（{}）", s.name, s.unit),
            None => format!("{}（{}，首年为零，无指数）", s.name, s.unit),
        };
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"11\" fill=\"{colour}\">{}</text>\n",
            px(width - right + 20.0),
            px(legend_y),
            escape(&legend)
        ));
        let Some(index) = index else { continue };
        let points: Vec<String> = index
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{},{}", px(x_of(i)), px(y_of(v)))))
            .collect();
        svg.push_str(&format!(
            "<polyline class=\"series\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n",
            points.join(" ")
        ));
        for (i, (v, value)) in index.iter().zip(&s.values).enumerate() {
            let (Some(v), Some(value)) = (v, value) else {
                continue;
            };
            svg.push_str(&format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{colour}\"/>\n<text x=\"{}\" y=\"{}\" {FONT} font-size=\"9\" text-anchor=\"middle\" fill=\"{colour}\">{}</text>\n",
                px(x_of(i)),
                px(y_of(*v)),
                px(x_of(i)),
                px(y_of(*v) - 6.0),
                escape(&quantity(*value, Precision::Decimals(3)))
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// A small well-formedness check of generated SVG: tags balance, attribute values are quoted,
/// and text holds no bare `<`, `>` or unescaped `&`.
pub fn check_svg(svg: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open])?;
        let after = &rest[open + 1..];
        let close = after.find('>').ok_or("a tag is not closed")?;
        let tag = &after[..close];
        if tag.contains('<') {
            return Err(format!("`<` inside tag `{tag}`"));
        }
        if !tag.matches('"').count().is_multiple_of(2) {
            return Err(format!("unbalanced quotes in `{tag}`"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name.trim() => {}
                other => return Err(format!("`</{name}>` closes {other:?}")),
            }
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or_default();
            stack.push(name.to_string());
        }
        rest = &after[close + 1..];
    }
    check_text(rest)?;
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed tags: {stack:?}"))
    }
}

fn check_text(text: &str) -> Result<(), String> {
    if text.contains('>') {
        return Err(format!("bare `>` in text `{text}`"));
    }
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        let after = &rest[amp + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("bare `&` in `{text}`"))?;
        if !matches!(&after[..end], "lt" | "gt" | "amp" | "quot" | "apos") {
            return Err(format!("unknown entity in `{text}`"));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heights(svg: &str) -> Vec<f64> {
        svg.lines()
            .filter(|l| l.starts_with("<rect class=\"bar\""))
            .map(|l| {
                let h = l.split("height=\"").nth(1).expect("height");
                h[..h.find('"').expect("quote")].parse().expect("number")
            })
            .collect()
    }

    #[test]
    fn bar_heights_are_proportional_and_labels_escaped() {
        let bars = vec![
            ("甲<&>".to_string(), 10.0),
            ("乙".to_string(), 40.0),
            ("丙".to_string(), 20.0),
        ];
        let svg = bar_chart("标题 <a & b>", "吨", &bars);
        check_svg(&svg).expect("well-formed");
        let h = heights(&svg);
        assert_eq!(h.len(), 3);
        assert!((h[1] - (BAR_BASE - BAR_TOP)).abs() < 0.01);
        assert!((h[0] / h[1] - 0.25).abs() < 1e-3);
        assert!((h[2] / h[1] - 0.5).abs() < 1e-3);
        assert!(svg.contains("甲&lt;&amp;&gt;"));
        assert!(svg.contains("标题 &lt;a &amp; b&gt;"));
        assert!(svg.contains("font-family=\"sans-serif\""));
        assert_eq!(svg, bar_chart("标题 <a & b>", "吨", &bars));
    }

    #[test]
    fn line_chart_has_one_line_per_indexable_pollutant() {
        let series = vec![
            Series {
                name: "二氧化硫".into(),
                unit: "吨".into(),
                values: vec![Some(100.0), Some(150.0)],
            },
            Series {
                name: "氮氧化物".into(),
                unit: "吨".into(),
                values: vec![Some(0.0), Some(3.0)],
            },
        ];
        let svg = line_chart("全国", &[2022, 2023], &series);
        check_svg(&svg).expect("well-formed");
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("首年为零"));
        assert!(svg.contains(">150.000<"));
    }

    #[test]
    fn the_check_catches_bad_svg() {
        assert!(check_svg("<svg><text>a < b</text></svg>").is_err());
        assert!(check_svg("<svg><text>a & b</text></svg>").is_err());
        assert!(check_svg("<svg><text>a</svg>").is_err());
        assert!(check_svg("<svg><text>a &amp; b</text></svg>").is_ok());
    }
}
