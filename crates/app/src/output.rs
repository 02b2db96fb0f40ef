//! Rendering an accounting report: a table for people, CSV and JSON for machines. Every number
//! goes through [`accounting::render::quantity`].

use accounting::codes::{IndustryCode, RegionCode};
use accounting::pollutant::PollutantId;
use accounting::render::{Precision, quantity, quantity_into};
use serde::Serialize;

use crate::account::{AccountReport, RowNote, TotalLine};

/// Output formats of totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for a terminal.
    Table,
    /// CSV with English headers, exact numbers.
    Csv,
    /// JSON with the whole report.
    Json,
}

impl Format {
    /// `table`, `csv` or `json`.
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "table" => Some(Format::Table),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Decimals shown in the people's table.
const TABLE_DECIMALS: u8 = 4;

/// Reasons listed in the text summary; JSON lists up to [`crate::account::NOTE_CAP`] rows.
const SUMMARY_GROUPS: usize = 20;

/// Renders the totals (and, for the table and JSON, the provenance and summary).
pub fn render(report: &AccountReport, format: Format) -> String {
    match format {
        Format::Table => render_table(report),
        Format::Csv => render_csv(report),
        Format::Json => render_json(report),
    }
}

fn provenance_line(report: &AccountReport) -> String {
    let set = &report.set;
    format!(
        "coefficient set `{}` edition {}{} · sha256 {} · {} rows{}",
        set.id,
        set.edition,
        set.effective_from
            .map(|d| format!(" (effective {d})"))
            .unwrap_or_default(),
        set.content_hash,
        set.rows,
        if set.synthetic { " · SYNTHETIC" } else { "" }
    )
}

fn grouping_line(report: &AccountReport) -> String {
    format!(
        "totals by year, {} region, {}; missing operation rate k: {}",
        report.grouping.region,
        match report.grouping.industry {
            None => "all industries".to_string(),
            Some(level) => format!("{level} industry"),
        },
        match report.policy.missing_operation_rate {
            accounting::engine::OperationRatePolicy::Nominal => "nominal (k = 1)",
            accounting::engine::OperationRatePolicy::Strict => "strict (k = 0)",
        }
    )
}

/// The summary lines that say how many rows the totals cover and what was left out.
pub fn render_summary(report: &AccountReport) -> String {
    let s = &report.summary;
    let mut out = format!(
        "{} of {} activity rows accounted; {} excluded (closed enterprises); {} unaccounted (no coefficient)\n",
        s.rows_accounted, s.rows_read, s.rows_excluded, s.rows_unaccounted
    );
    let mut flags = Vec::new();
    if s.direct_fallbacks > 0 {
        flags.push(format!(
            "{} results fell back to `直排` (no declared treatment matched)",
            s.direct_fallbacks
        ));
    }
    if s.operation_rates_assumed > 0 {
        flags.push(format!(
            "{} results assumed the operation rate k by policy",
            s.operation_rates_assumed
        ));
    }
    if s.operation_rates_unused > 0 {
        flags.push(format!(
            "{} results ignored a given k (emission-coefficient rows)",
            s.operation_rates_unused
        ));
    }
    if !flags.is_empty() {
        out.push_str(&format!("flagged: {}\n", flags.join("; ")));
    }
    for (title, groups, total) in [
        ("excluded", &report.excluded_groups, s.rows_excluded),
        (
            "unaccounted",
            &report.unaccounted_groups,
            s.rows_unaccounted,
        ),
    ] {
        let mut shown = 0;
        for group in groups.iter().take(SUMMARY_GROUPS) {
            shown += group.rows;
            let rows: Vec<String> = group.first_rows.iter().map(u64::to_string).collect();
            let more = if group.rows > group.first_rows.len() as u64 {
                ", …"
            } else {
                ""
            };
            out.push_str(&format!(
                "{title}: {} {} (row{} {}{more}): {}\n",
                group.rows,
                if group.rows == 1 { "row" } else { "rows" },
                if rows.len() == 1 { "" } else { "s" },
                rows.join(", "),
                group.message
            ));
            if let Some(hint) = &group.hint {
                out.push_str(&format!("  hint: {hint}\n"));
            }
        }
        if total > shown {
            out.push_str(&format!(
                "{title}: {} more rows for other reasons (all of them: --format json)\n",
                total - shown
            ));
        }
    }
    if let Some(path) = &report.results_path {
        out.push_str(&format!("per-row results written to {}\n", path.display()));
    }
    out
}

fn render_table(report: &AccountReport) -> String {
    let mut out = String::new();
    out.push_str(&provenance_line(report));
    out.push('\n');
    out.push_str(&grouping_line(report));
    out.push_str("\n\n");
    let with_industry = report.grouping.industry.is_some();
    let mut header = vec!["year", "region", "name"];
    if with_industry {
        header.extend(["industry", "industry name"]);
    }
    header.extend(["pollutant", "unit", "generated", "emitted", "rows"]);
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for t in &report.totals {
        let mut row = vec![
            t.year.to_string(),
            t.region
                .map(|r| r.to_string())
                .unwrap_or_else(|| "000000".to_string()),
            t.region_name.to_string(),
        ];
        if with_industry {
            row.push(
                t.industry
                    .as_ref()
                    .map(|i| i.to_string())
                    .unwrap_or_default(),
            );
            row.push(t.industry_name.to_string());
        }
        row.extend([
            t.pollutant_name.to_string(),
            t.unit.to_string(),
            quantity(t.generated, Precision::Decimals(TABLE_DECIMALS)),
            quantity(t.emitted, Precision::Decimals(TABLE_DECIMALS)),
            t.rows.to_string(),
        ]);
        rows.push(row);
    }
    let columns = rows[0].len();
    let numeric_from = columns - 3;
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| display_width(&r[c])).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - display_width(cell);
            if c >= numeric_from {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            if c + 1 < columns {
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if report.totals.is_empty() {
        out.push_str("(no totals: no row was accounted)\n");
    }
    out.push('\n');
    out.push_str(&render_summary(report));
    out
}

/// Terminal width of a string: East Asian wide characters take two columns.
pub(crate) fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            let u = c as u32;
            let wide = (0x1100..=0x115F).contains(&u)
                || (0x2E80..=0xA4CF).contains(&u)
                || (0xAC00..=0xD7A3).contains(&u)
                || (0xF900..=0xFAFF).contains(&u)
                || (0xFE30..=0xFE4F).contains(&u)
                || (0xFF00..=0xFF60).contains(&u)
                || (0xFFE0..=0xFFE6).contains(&u)
                || (0x20000..=0x3FFFD).contains(&u);
            if wide { 2 } else { 1 }
        })
        .sum()
}

const TOTALS_HEADER: [&str; 17] = [
    "year",
    "region_level",
    "region_code",
    "region_name",
    "industry_level",
    "industry_code",
    "industry_name",
    "pollutant_code",
    "pollutant",
    "unit",
    "generated",
    "emitted",
    "rows",
    "flagged_rows",
    "set_id",
    "edition",
    "content_hash",
];

fn render_csv(report: &AccountReport) -> String {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_csv(report, &mut bytes);
    String::from_utf8(bytes).unwrap_or_default()
}

/// Writes the totals as CSV (what [`render`] gives for [`Format::Csv`]) to `out`, line by line,
/// without holding the whole text: a county × industry × pollutant grouping of national data has
/// millions of lines.
pub fn write_csv(report: &AccountReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use ingest::spreadsheet::field;
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(1 << 18, out);
    // Each line is assembled from pieces made once, each exactly as the one CSV writer writes it
    // inside a record (`ingest::spreadsheet::field`): the fixed columns, and the code and name
    // of each region, industry and pollutant, which millions of lines repeat.
    let header: Vec<String> = TOTALS_HEADER.iter().map(|h| field(h)).collect();
    writeln!(out, "{}", header.join(","))?;
    let region_level = field(&report.grouping.region.to_string());
    let industry_level = field(
        &report
            .grouping
            .industry
            .map(|l| l.to_string())
            .unwrap_or_else(|| "all".to_string()),
    );
    let tail = format!(
        ",{},{},{}\n",
        field(&report.set.id),
        field(&report.set.edition.to_string()),
        field(&report.set.content_hash.to_string())
    );
    let mut regions: accounting::FastMap<Option<RegionCode>, String> = Default::default();
    let mut industries: accounting::FastMap<Option<IndustryCode>, String> = Default::default();
    let mut pollutants: accounting::FastMap<PollutantId, String> = Default::default();
    let mut line = String::with_capacity(512);
    for t in &report.totals {
        line.clear();
        let region = regions.entry(t.region).or_insert_with(|| {
            let code = t.region.map(|c| c.to_string()).unwrap_or_default();
            format!("{},{}", field(&code), field(&t.region_name))
        });
        let industry = industries.entry(t.industry.clone()).or_insert_with(|| {
            let code = t
                .industry
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default();
            format!("{},{}", field(&code), field(&t.industry_name))
        });
        let pollutant = pollutants.entry(t.pollutant).or_insert_with(|| {
            format!(
                "{},{},{}",
                field(&t.pollutant_code),
                field(&t.pollutant_name),
                field(&t.unit)
            )
        });
        // Writing into a String cannot fail.
        let _ = write!(
            line,
            "{},{region_level},{region},{industry_level},{industry},{pollutant},",
            t.year
        );
        for (i, value) in [t.generated, t.emitted].into_iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            if value.is_finite() && value >= 0.0 {
                quantity_into(&mut line, value, Precision::Exact);
            } else {
                // Never produced by the engine; made safe like any other cell if it were.
                line.push_str(&field(&quantity(value, Precision::Exact)));
            }
        }
        let _ = write!(line, ",{},{}", t.rows, t.flagged_rows);
        line.push_str(&tail);
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    coefficient_set: JsonSet<'a>,
    grouping: JsonGrouping,
    missing_operation_rate: &'static str,
    summary: JsonSummary,
    totals: Vec<JsonTotal<'a>>,
    excluded: Vec<JsonNote<'a>>,
    unaccounted: Vec<JsonNote<'a>>,
    excluded_groups: Vec<JsonGroup<'a>>,
    unaccounted_groups: Vec<JsonGroup<'a>>,
}

#[derive(Serialize)]
struct JsonGroup<'a> {
    code: &'a str,
    message: &'a str,
    hint: Option<&'a str>,
    rows: u64,
    first_rows: &'a [u64],
}

fn json_group(g: &crate::account::NoteGroup) -> JsonGroup<'_> {
    JsonGroup {
        code: g.code,
        message: &g.message,
        hint: g.hint.as_deref(),
        rows: g.rows,
        first_rows: &g.first_rows,
    }
}

#[derive(Serialize)]
struct JsonSet<'a> {
    id: &'a str,
    edition: u32,
    title: &'a str,
    content_hash: String,
    effective_from: Option<String>,
    synthetic: bool,
    rows: usize,
}

#[derive(Serialize)]
struct JsonGrouping {
    region_level: String,
    industry_level: String,
}

#[derive(Serialize)]
struct JsonSummary {
    rows_read: u64,
    rows_accounted: u64,
    rows_excluded: u64,
    rows_unaccounted: u64,
    results: u64,
    direct_fallbacks: u64,
    operation_rates_assumed: u64,
    operation_rates_unused: u64,
}

/// Numbers in JSON are strings rendered by [`quantity`], so that they read back bit-exactly
/// and render identically everywhere.
#[derive(Serialize)]
struct JsonTotal<'a> {
    year: u16,
    region_code: Option<String>,
    region_name: &'a str,
    industry_code: Option<String>,
    industry_name: &'a str,
    pollutant_code: &'a str,
    pollutant: &'a str,
    unit: &'a str,
    generated: String,
    emitted: String,
    rows: u64,
    flagged_rows: u64,
}

#[derive(Serialize)]
struct JsonNote<'a> {
    row: u64,
    year: u16,
    uscc: &'a str,
    code: &'a str,
    message: &'a str,
    hint: Option<&'a str>,
}

fn json_total(t: &TotalLine) -> JsonTotal<'_> {
    JsonTotal {
        year: t.year,
        region_code: t.region.map(|r| r.to_string()),
        region_name: &t.region_name,
        industry_code: t.industry.as_ref().map(|i| i.to_string()),
        industry_name: &t.industry_name,
        pollutant_code: &t.pollutant_code,
        pollutant: &t.pollutant_name,
        unit: &t.unit,
        generated: quantity(t.generated, Precision::Exact),
        emitted: quantity(t.emitted, Precision::Exact),
        rows: t.rows,
        flagged_rows: t.flagged_rows,
    }
}

fn json_note(n: &RowNote) -> JsonNote<'_> {
    JsonNote {
        row: n.row,
        year: n.year,
        uscc: &n.uscc,
        code: n.code,
        message: &n.message,
        hint: n.hint.as_deref(),
    }
}

fn render_json(report: &AccountReport) -> String {
    let s = report.summary;
    let json = JsonReport {
        coefficient_set: JsonSet {
            id: &report.set.id,
            edition: report.set.edition,
            title: &report.set.title,
            content_hash: report.set.content_hash.to_string(),
            effective_from: report.set.effective_from.map(|d| d.to_string()),
            synthetic: report.set.synthetic,
            rows: report.set.rows,
        },
        grouping: JsonGrouping {
            region_level: report.grouping.region.to_string(),
            industry_level: report
                .grouping
                .industry
                .map(|l| l.to_string())
                .unwrap_or_else(|| "all".to_string()),
        },
        missing_operation_rate: match report.policy.missing_operation_rate {
            accounting::engine::OperationRatePolicy::Nominal => "nominal",
            accounting::engine::OperationRatePolicy::Strict => "strict",
        },
        summary: JsonSummary {
            rows_read: s.rows_read,
            rows_accounted: s.rows_accounted,
            rows_excluded: s.rows_excluded,
            rows_unaccounted: s.rows_unaccounted,
            results: s.results,
            direct_fallbacks: s.direct_fallbacks,
            operation_rates_assumed: s.operation_rates_assumed,
            operation_rates_unused: s.operation_rates_unused,
        },
        totals: report.totals.iter().map(json_total).collect(),
        excluded: report.excluded.iter().map(json_note).collect(),
        unaccounted: report.unaccounted.iter().map(json_note).collect(),
        excluded_groups: report.excluded_groups.iter().map(json_group).collect(),
        unaccounted_groups: report.unaccounted_groups.iter().map(json_group).collect(),
    };
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes a whole output file all-or-nothing: into a temporary file in the same folder, then
/// renamed over the target, so that a failure never leaves a truncated file.
pub fn write_file(path: &std::path::Path, contents: &[u8]) -> Result<(), crate::AppError> {
    write_file_with(path, |w| w.write_all(contents))
}

/// Like [`write_file`], for content written piece by piece by `fill`: to a temporary file next
/// to `path`, renamed into place only when `fill` succeeded.
pub fn write_file_with(
    path: &std::path::Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), crate::AppError> {
    let fail = |source: std::io::Error| crate::AppError::Path {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".npsc-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    fill(&mut temp).map_err(fail)?;
    make_readable(temp.as_file()).map_err(fail)?;
    temp.as_file().sync_all().map_err(fail)?;
    temp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Temporary files are created readable by their owner only; an output file gets the usual
/// `rw-r--r--` instead.
pub(crate) fn make_readable(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}
