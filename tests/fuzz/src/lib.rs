//! What the fuzz targets share: the bundled reference lists, the sample registry and coefficient
//! set (loaded once per process), and [`read_format`], which hands one input to the reader of one
//! of ingest's formats, whatever its container (CSV, Excel, JSON: told by the file name).
//!
//! A target only asks that nothing panics, hangs or allocates without bound: every reader must
//! answer bytes with a value or located issues. Issues are rendered, so their `Display` runs too.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use accounting::activity::Registry;
use accounting::coefficient::{CoefficientSet, SetMeta};
use ingest::reference::{Reference, ReferenceSources};
use ingest::table::{EncodingChoice, ReadOptions};
use ingest::tax::{EquivalentTable, Particulates};
use ingest::{Issues, Source};

/// The repository root (this crate is `tests/fuzz`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bundled reference lists, as npsc embeds them.
pub fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| app::reference::bundled().expect("bundled reference lists"))
}

/// The synthetic sample's registry.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let path = root().join("datasets/sample-synthetic/registry.csv");
        ingest::registry::read_registry(Source::Path(&path), reference(), &ReadOptions::default())
            .expect("sample registry")
    })
}

/// The bundled coefficient set `npsc1-excerpt`.
pub fn coefficients() -> &'static CoefficientSet {
    static SET: OnceLock<CoefficientSet> = OnceLock::new();
    SET.get_or_init(|| {
        let path = root().join("coefficients/npsc1-excerpt");
        ingest::coefficients::load_set(&path, reference(), &ReadOptions::default())
            .expect("npsc1-excerpt")
    })
}

/// The law's equivalent table shipped in `datasets/reference/`.
pub fn equivalents() -> &'static EquivalentTable {
    static TABLE: OnceLock<EquivalentTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let path = root().join("datasets/reference/pollution_equivalents.csv");
        ingest::tax::read_equivalents(Source::Path(&path), &ReadOptions::default())
            .expect("equivalents")
    })
}

/// The head of a bundled reference list (for the cases that replace one of the four).
fn bundled(path: &str) -> &'static [u8] {
    static FILES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    let files = FILES.get_or_init(|| {
        [
            "datasets/reference/regions_gbt2260.csv",
            "datasets/reference/industries_gbt4754_2017.csv",
            "datasets/reference/pollutants.csv",
            "datasets/reference/pollution_equivalents.csv",
        ]
        .iter()
        .map(|p| {
            // The first 80 lines only: a consistent head (codes in order, parents first), so
            // that the three lists a case keeps cost little to read again on every input.
            let text = std::fs::read_to_string(root().join(p)).expect(p);
            let head: String = text.split_inclusive('\n').take(80).collect();
            (p.to_string(), head.into_bytes())
        })
        .collect()
    });
    &files.iter().find(|(p, _)| p == path).expect(path).1
}

/// How many formats [`read_format`] knows.
pub const FORMATS: u8 = 24;

/// Read options chosen by a byte: the encoding (auto, UTF-8, GB18030), a small issue cap now and
/// then, and a sheet name now and then.
pub fn options(byte: u8) -> ReadOptions {
    ReadOptions {
        encoding: match byte % 3 {
            0 => EncodingChoice::Auto,
            1 => EncodingChoice::Utf8,
            _ => EncodingChoice::Gb18030,
        },
        sheet: (byte & 0x40 != 0).then(|| "Sheet1".to_string()),
        issue_cap: if byte & 0x80 != 0 { 3 } else { 0 },
    }
}

/// Renders issues (their `Display` must not panic either) and checks the cap holds.
fn consume(issues: &Issues, options: &ReadOptions) {
    let cap = if options.issue_cap == 0 {
        1000
    } else {
        options.issue_cap
    };
    assert!(
        issues.len() <= cap + 1,
        "{} issues over a cap of {cap}",
        issues.len()
    );
    for issue in issues.iter() {
        std::hint::black_box(issue.to_string());
    }
}

fn outcome<T>(result: Result<T, Issues>, options: &ReadOptions) {
    if let Err(issues) = result {
        consume(&issues, options);
    }
}

/// Reads `source` as format `format` (modulo [`FORMATS`]) with `options`.
pub fn read_format(format: u8, source: Source<'_>, options: &ReadOptions) {
    use ingest::schemas;
    let reference = reference();
    match format % FORMATS {
        0 => outcome(
            ingest::registry::read_registry(source, reference, options),
            options,
        ),
        1 => read_activity(source, options),
        2 => match ingest::permit::read_permit_reports_with_warnings(source, reference, options) {
            Ok((_, warnings)) => consume(&warnings, options),
            Err(issues) => consume(&issues, options),
        },
        3 => {
            let tables = [(source, "coefficients.csv".to_string())];
            match ingest::coefficients::build(meta(), &tables, reference, options) {
                // A set that builds must also export (the canonical form it is stored in).
                Ok(set) => {
                    std::hint::black_box(app::editions::export_csv(&set, reference));
                }
                Err(issues) => consume(&issues, options),
            }
        }
        4 => outcome(ingest::keyunits::read_key_units(source, options), options),
        5 => outcome(
            ingest::quota::read_caps(source, reference, options),
            options,
        ),
        6 => outcome(
            ingest::quota::read_targets(source, reference, options),
            options,
        ),
        7 => match ingest::sources::read_source_coefficients(source, reference, options) {
            Ok(located) => outcome(
                ingest::sources::build_source_coefficients(&located, reference),
                options,
            ),
            Err(issues) => consume(&issues, options),
        },
        8 => outcome(
            ingest::sources::read_area_activity(
                source,
                accounting::sources::AreaKind::Domestic,
                reference,
                options,
            ),
            options,
        ),
        9 => outcome(
            ingest::sources::read_area_activity(
                source,
                accounting::sources::AreaKind::Livestock,
                reference,
                options,
            ),
            options,
        ),
        10 => outcome(
            ingest::sources::read_plants(source, reference, options),
            options,
        ),
        11 => outcome(
            ingest::sources::read_mobile(source, reference, options),
            options,
        ),
        12 => outcome(ingest::tax::read_equivalents(source, options), options),
        13 => outcome(
            ingest::tax::read_rates(source, equivalents(), options),
            options,
        ),
        14 => outcome(ingest::tax::read_item_counts(source, options), options),
        15 => outcome(
            ingest::tax::read_emissions(
                source,
                reference,
                equivalents(),
                Particulates::Soot,
                options,
            ),
            options,
        ),
        16 => {
            let mut issues = Issues::with_cap(options.issue_cap);
            std::hint::black_box(ingest::coefficients::read_key_migrations(
                source,
                options,
                &mut issues,
            ));
            consume(&issues, options);
        }
        17 => outcome(
            ingest::canonical::canonical_csv(source, &schemas::TAX_RATES, options),
            options,
        ),
        18 => outcome(
            ingest::canonical::canonical_csv(source, &schemas::REGISTRY, options),
            options,
        ),
        19 => outcome(
            ingest::canonical::canonical_csv(source, &schemas::PERMIT_REPORTS, options),
            options,
        ),
        // The reference lists: one of the four replaced by the input.
        n => {
            let name = |p| Source::Bytes {
                name: p,
                bytes: bundled(p),
            };
            let mut sources = ReferenceSources {
                regions: name("datasets/reference/regions_gbt2260.csv"),
                industries: name("datasets/reference/industries_gbt4754_2017.csv"),
                pollutants: name("datasets/reference/pollutants.csv"),
                equivalents: name("datasets/reference/pollution_equivalents.csv"),
            };
            match n {
                20 => sources.regions = source,
                21 => sources.industries = source,
                22 => sources.pollutants = source,
                _ => sources.equivalents = source,
            }
            // `load` takes no read options: its issues have the default cap.
            outcome(ingest::reference::load(sources), &ReadOptions::default());
        }
    }
}

fn meta() -> SetMeta {
    SetMeta {
        id: "fuzz".to_string(),
        edition: 1,
        title: "fuzz".to_string(),
        effective_from: None,
        provenance: String::new(),
        synthetic: true,
        key_migrations: Vec::new(),
    }
}

/// Streams an activity file against the sample registry, every row's items resolved by the
/// engine of the bundled set, as `npsc account` does.
fn read_activity(source: Source<'_>, options: &ReadOptions) {
    use ingest::activity::{ActivityReader, Next};
    let reference = reference();
    let registry = registry();
    let mut reader = match ActivityReader::open(source, options) {
        Ok(reader) => reader,
        Err(issues) => return consume(&issues, options),
    };
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut rows = 0u64;
    loop {
        match reader.next(reference, registry, &mut issues, |item| {
            std::hint::black_box(format!("{item:?}"));
        }) {
            Ok(Next::Row(())) | Ok(Next::Bad) => rows += 1,
            Ok(Next::End) => break,
            Err(issue) => {
                issues.push(issue);
                break;
            }
        }
        assert!(rows < 10_000_000, "an activity reader that never ends");
    }
    consume(&issues, options);
}

/// Makes a panic inside a third-party crate (calamine, zip, quick-xml: code that ingest runs
/// under `catch_unwind` because it is fed untrusted workbooks) unwind as it does in npsc, instead
/// of aborting as libFuzzer's hook makes every panic do; the panic is still printed, once per
/// place, as an upstream finding. A panic anywhere else still aborts: that is a crash of npsc. An
/// upstream panic that nothing catches still aborts too (libfuzzer-sys aborts on any panic that
/// reaches the target).
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let aborting = std::panic::take_hook();
        let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
        std::panic::set_hook(Box::new(move |info| {
            let place = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let upstream = ["/calamine-", "/zip-", "/quick-xml-"]
                .iter()
                .any(|c| place.contains(c));
            if upstream {
                if seen.lock().unwrap().insert(place.clone()) {
                    eprintln!("npsc-fuzz: upstream panic (guarded by ingest) at {place}: {info}");
                }
            } else {
                aborting(info);
            }
        }));
    });
}

/// Opens `bytes` with calamine as `name`'s extension says (or by content) and reads every
/// sheet's cells, formulas, merged areas and defined names. A calamine panic is caught and
/// printed by [`init`]'s hook (ingest guards calamine the same way).
pub fn calamine_all(name: &str, bytes: &[u8]) {
    use calamine::{Reader, Sheets, open_workbook_auto_from_rs};
    use std::io::Cursor;
    init();
    let extension = name.rsplit('.').next().unwrap_or("");
    // calamine reads every sheet of an .xls when it opens it, with no limit: ingest checks
    // first what that takes (`sheet-too-large`, `bad-workbook`); do the same here so that the
    // fuzzer goes on (an upstream limit, not an npsc bug).
    if !matches!(extension, "xlsx" | "xlsb" | "ods") && !ingest::table::xls_within_limits(bytes) {
        return;
    }
    let run = || {
        let cursor = Cursor::new(bytes);
        let opened = match extension {
            "xlsx" => calamine::Xlsx::new(cursor)
                .map(Sheets::Xlsx)
                .map_err(calamine::Error::Xlsx),
            "xls" => calamine::Xls::new(cursor)
                .map(Sheets::Xls)
                .map_err(calamine::Error::Xls),
            "xlsb" => calamine::Xlsb::new(cursor)
                .map(Sheets::Xlsb)
                .map_err(calamine::Error::Xlsb),
            "ods" => calamine::Ods::new(cursor)
                .map(Sheets::Ods)
                .map_err(calamine::Error::Ods),
            _ => open_workbook_auto_from_rs(cursor),
        };
        let Ok(mut workbook) = opened else { return };
        std::hint::black_box(workbook.defined_names().len());
        for sheet in workbook.sheet_names() {
            // calamine makes a sheet's used area dense (32 bytes a cell) and copies a shared
            // string into every cell: two cells far apart ask for 512 GiB. ingest reads .xlsx
            // and .xlsb sheets cell by cell and refuses such sheets first (`sheet-too-large`);
            // do the same here.
            let fits = match &mut workbook {
                Sheets::Xlsx(xlsx) => xlsx_sheet_fits(xlsx, &sheet),
                Sheets::Xlsb(xlsb) => xlsb_sheet_fits(xlsb, &sheet),
                Sheets::Xls(_) | Sheets::Ods(_) => true,
            };
            if !fits {
                continue;
            }
            if let Ok(range) = workbook.worksheet_range(&sheet) {
                std::hint::black_box(range.used_cells().count());
            }
            if let Ok(range) = workbook.worksheet_formula(&sheet) {
                std::hint::black_box(range.used_cells().count());
            }
            match &mut workbook {
                Sheets::Xlsx(xlsx) => {
                    std::hint::black_box(xlsx.merge_cells_by_sheet_name(&sheet).ok());
                }
                Sheets::Xls(xls) => {
                    std::hint::black_box(xls.merge_cells_by_sheet_name(&sheet).ok());
                }
                Sheets::Xlsb(_) | Sheets::Ods(_) => {}
            }
        }
    };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
}

/// The used area and text of a sheet read cell by cell, as ingest's limits count them.
#[derive(Default)]
struct Bounds {
    area: Option<(u32, u32, u32, u32)>,
    text: u64,
}

impl Bounds {
    /// Counts a cell; whether the sheet is still within `ingest::table::MAX_SHEET_CELLS` and
    /// `MAX_SHEET_TEXT`.
    fn admit(&mut self, (row, column): (u32, u32), value: &calamine::DataRef<'_>) -> bool {
        use calamine::DataRef;
        let (top, left, bottom, right) = self.area.get_or_insert((row, column, row, column));
        (*top, *left) = ((*top).min(row), (*left).min(column));
        (*bottom, *right) = ((*bottom).max(row), (*right).max(column));
        self.text += match value {
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.len(),
            DataRef::SharedString(s) => s.len(),
            _ => 0,
        } as u64;
        (u64::from(*bottom) - u64::from(*top) + 1) * (u64::from(*right) - u64::from(*left) + 1)
            <= ingest::table::MAX_SHEET_CELLS
            && self.text <= ingest::table::MAX_SHEET_TEXT
    }
}

/// Whether an `.xlsx` sheet is within ingest's limits (formula cells included).
fn xlsx_sheet_fits<RS: std::io::Read + std::io::Seek>(
    xlsx: &mut calamine::Xlsx<RS>,
    sheet: &str,
) -> bool {
    let Ok(mut reader) = xlsx.worksheet_cells_reader(sheet) else {
        return true;
    };
    let mut bounds = Bounds::default();
    while let Ok(Some(cell)) = reader.next_cell_with_formula() {
        if !bounds.admit(cell.pos, &cell.value) {
            return false;
        }
    }
    true
}

/// Whether an `.xlsb` sheet is within ingest's limits.
fn xlsb_sheet_fits<RS: std::io::Read + std::io::Seek>(
    xlsb: &mut calamine::Xlsb<RS>,
    sheet: &str,
) -> bool {
    let Ok(mut reader) = xlsb.worksheet_cells_reader(sheet) else {
        return true;
    };
    let mut bounds = Bounds::default();
    while let Ok(Some(cell)) = reader.next_cell() {
        if !bounds.admit(cell.get_position(), cell.get_value()) {
            return false;
        }
    }
    true
}

/// Separates the members of a workbook in the input of `xlsx_parts`.
pub const PART_SEPARATOR: &[u8] = b"\n<!--npsc-part-->\n";

/// Zips members written as `name\ncontent`, separated by [`PART_SEPARATOR`], without
/// compression. `None` when a name is not UTF-8 or the ZIP writer refuses it.
pub fn zip_parts(input: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut rest = input;
    loop {
        let (part, next) = match find(rest, PART_SEPARATOR) {
            Some(i) => (&rest[..i], Some(&rest[i + PART_SEPARATOR.len()..])),
            None => (rest, None),
        };
        let newline = part.iter().position(|&b| b == b'\n').unwrap_or(part.len());
        let name = std::str::from_utf8(&part[..newline]).ok()?;
        let content = part.get(newline + 1..).unwrap_or(&[]);
        writer.start_file(name, options).ok()?;
        writer.write_all(content).ok()?;
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    Some(writer.finish().ok()?.into_inner())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
