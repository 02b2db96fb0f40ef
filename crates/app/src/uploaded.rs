//! The environmental protection tax and total-load control for callers that hold bytes instead
//! of paths (the HTTP service), and the tax of a stored reconciliation's numbers of record.
//!
//! The uploads are written for the duration of the call to a private temporary folder (created
//! with owner-only permissions, removed whatever the outcome, as [`crate::upload`] does) and read
//! by the very use cases of the command line ([`crate::tax::declare_file`],
//! [`crate::quota::quota_run`]), so that nothing is computed a second way. Locations in issues
//! name the uploads' labels (the client's file name, reduced to its last component), never the
//! temporary paths; the provenance names them `upload:<label>` with their SHA-256.
//!
//! A stored reconciliation keeps its views as rendered cells: a number of record is stored with
//! its enterprise total and the outlets it rests on (`DA001=reported:automatic_monitoring`), not
//! with each outlet's share. [`tax_of_reconciliation`] therefore taxes a number of record that
//! rests on one outlet (or on the enterprise as a whole) exactly as `npsc tax --reports` does, and
//! one that rests on several outlets as one outlet named by their ids joined with `+`
//! (`DA001+DA002`): the top-N choice and the rounding then apply to their sum. The provenance says
//! so and lists them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use accounting::codes::Uscc;
use accounting::permit::{Basis, Record, RecordPart, RecordRule};
use accounting::reconcile::Method;
use ingest::reference::Reference;
use ingest::table::ReadOptions;
use ingest::{Issue, Issues, Location};

use crate::AppError;
use crate::editions::Store;
use crate::quota::{QuotaInputs, QuotaReport};
use crate::reconcile::ReconciliationInfo;
use crate::runs::{RunInfo, UPLOAD_PREFIX};
use crate::tax::{Declaration, Hashed, TaxSettings, TaxTables};
use crate::upload::{Upload, safe_label, sha256};

/// A tax declaration with its provenance lines.
#[derive(Debug, Clone)]
pub struct TaxOutcome {
    /// The declaration.
    pub declaration: Declaration,
    /// Key–value lines (tables and their SHA-256, inputs, rounding, item counts, allocation).
    pub provenance: Vec<(String, String)>,
}

/// The declaration of uploaded monitored monthly emissions (`uscc, outlet_id, pollutant, month,
/// kg`, optionally `concentration, standard, exceeded`), the enterprises' counties taken from the
/// uploaded registry: `npsc tax --emissions`. Bad input is an [`AppError::Input`] listing every
/// located issue of the file it is in.
pub fn tax_upload(
    registry: Upload<'_>,
    emissions: Upload<'_>,
    reference: &Reference,
    tables: &TaxTables,
    settings: TaxSettings,
) -> Result<TaxOutcome, AppError> {
    let staged = Staging::new(&[
        ("registry", registry, "registry.csv"),
        ("emissions", emissions, "monitored_emissions.csv"),
    ])?;
    let (declaration, _) = crate::tax::declare_file(
        staged.path(1),
        staged.path(0),
        reference,
        tables,
        settings,
        &ReadOptions::default(),
    )
    .map_err(|e| staged.relabel(e))?;
    let emissions_input = Hashed {
        name: format!("{UPLOAD_PREFIX}{}", staged.label(1)),
        sha256: sha256(emissions.bytes),
    };
    let registry_name = format!("{UPLOAD_PREFIX}{}", staged.label(0));
    let mut provenance = crate::tax::provenance(
        &declaration,
        tables,
        &emissions_input,
        Path::new(&registry_name),
        crate::tax::MONTHLY,
    );
    insert_after(
        &mut provenance,
        "registry",
        ("registry_sha256".to_string(), sha256(registry.bytes)),
    );
    Ok(TaxOutcome {
        declaration,
        provenance,
    })
}

/// Inserts `line` after the line keyed `key` (at the end when there is none).
fn insert_after(lines: &mut Vec<(String, String)>, key: &str, line: (String, String)) {
    let at = lines
        .iter()
        .position(|(k, _)| k == key)
        .map_or(lines.len(), |i| i + 1);
    lines.insert(at, line);
}

/// The uploaded files of a total-load check of a stored run.
#[derive(Debug, Clone, Copy)]
pub struct QuotaUploads<'a> {
    /// The caps: 行政区划代码, 污染物, 年份, 总量控制指标(吨).
    pub caps: Upload<'a>,
    /// Reduction targets (污染物, 减排目标(%)); the 14th five-year plan's when `None`.
    pub targets: Option<Upload<'a>>,
    /// The registry and the permit execution reports with permitted quantities, for the
    /// enterprises above them.
    pub permits: Option<(Upload<'a>, Upload<'a>)>,
    /// The base year of the targets.
    pub base_year: u16,
}

/// A total-load check of a stored run, with its provenance lines.
#[derive(Debug, Clone)]
pub struct QuotaOutcome {
    /// The run whose totals were checked.
    pub run: RunInfo,
    /// Ledger, progress and enterprises above their permitted quantity.
    pub report: QuotaReport,
    /// Key–value lines, as `npsc quota --run N` writes them (uploads as `upload:<label>`).
    pub provenance: Vec<(String, String)>,
}

/// The totals of stored run `run` against uploaded caps: `npsc quota --run N`. Bad input is an
/// [`AppError::Input`] listing every located issue of the file it is in.
pub async fn quota_upload(
    store: &Store,
    run: i64,
    uploads: QuotaUploads<'_>,
    reference: &Reference,
) -> Result<QuotaOutcome, AppError> {
    let mut files = vec![("caps", uploads.caps, "caps.csv")];
    files.extend(uploads.targets.map(|t| ("targets", t, "targets.csv")));
    if let Some((registry, reports)) = uploads.permits {
        files.push(("registry", registry, "registry.csv"));
        files.push(("reports", reports, "permit_reports.csv"));
    }
    let staged = Staging::new(&files)?;
    let inputs = QuotaInputs {
        registry: staged
            .find("registry")
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        activity: PathBuf::new(),
        caps: staged.path(0).to_path_buf(),
        targets: staged.find("targets").map(Path::to_path_buf),
        reports: staged.find("reports").map(Path::to_path_buf),
        base_year: uploads.base_year,
        read: ReadOptions::default(),
    };
    let outcome = crate::quota::quota_run(store, run, &inputs, reference).await;
    let (info, report) = outcome.map_err(|e| staged.relabel(e))?;
    let uploaded = |role: &str| {
        files
            .iter()
            .zip(&staged.files)
            .find(|((r, ..), _)| *r == role)
            .map(|((_, upload, _), (_, _, label))| {
                (
                    role.to_string(),
                    format!("{UPLOAD_PREFIX}{label} (sha256 {})", sha256(upload.bytes)),
                )
            })
    };
    let mut provenance = vec![
        (
            "coefficients".to_string(),
            format!("run {run}: {}", info.run.selector),
        ),
        ("content_hash".to_string(), report.content_hash.clone()),
        (
            "activity".to_string(),
            format!(
                "run {run}: {} (sha256 {})",
                info.run.activity_path, info.run.activity_hash
            ),
        ),
    ];
    provenance.extend(uploaded("registry"));
    provenance.extend(uploaded("caps"));
    provenance.push(
        uploaded("targets")
            .unwrap_or_else(|| ("targets".to_string(), report.targets_source.clone())),
    );
    provenance.extend(uploaded("reports"));
    provenance.push(("base_year".to_string(), uploads.base_year.to_string()));
    provenance.push(("summary".to_string(), report.summary()));
    provenance.push(("npsc".to_string(), env!("CARGO_PKG_VERSION").to_string()));
    Ok(QuotaOutcome {
        run: info,
        report,
        provenance,
    })
}

/// The tax of stored reconciliation `id`: its numbers of record under the tax rule (of `year`,
/// or every year), allocated to months in equal twelfths ([`crate::tax::TWELFTHS`]) and taxed with
/// the enterprises' counties from the stored registry. A number of record resting on several
/// outlets is taxed as one outlet `A+B` (see the module documentation). An enterprise missing
/// from the stored registry, or a county without a rate, is an [`AppError::Input`] located in
/// the reconciliation's records view.
pub async fn tax_of_reconciliation(
    store: &Store,
    id: i64,
    year: Option<u16>,
    reference: &Reference,
    tables: &TaxTables,
    settings: TaxSettings,
) -> Result<(ReconciliationInfo, TaxOutcome), AppError> {
    let (info, sheet) = crate::reconcile::view(store, id, "records").await?;
    let registry = crate::registry::registry(store).await?;
    let stored = stored_tax_records(id, &sheet, reference)?;
    let records: Vec<Record> = stored.iter().map(|s| s.record.clone()).collect();
    let mut allocated =
        crate::tax::from_records(&records, year, reference, tables, settings.particulates)?;
    // Each allocated month is located at its enterprise's first records row of the year.
    let mut first_rows: BTreeMap<(Uscc, u16), u64> = BTreeMap::new();
    for s in &stored {
        first_rows
            .entry((s.record.uscc, s.record.year))
            .or_insert(s.row);
    }
    for row in &mut allocated.rows {
        row.row = first_rows
            .get(&(row.uscc, row.month.0))
            .copied()
            .unwrap_or(0);
    }
    let label = format!("reconciliation {id}, records");
    let what = format!("the numbers of record of reconciliation {id}");
    // One issue per enterprise missing from the stored registry, at its first row (the engine
    // would name it once per month and item).
    let mut issues = Issues::new();
    let mut missing = BTreeSet::new();
    for s in &stored {
        let uscc = s.record.uscc;
        if year.is_none_or(|y| y == s.record.year)
            && registry.find(&uscc).is_none()
            && missing.insert(uscc)
        {
            issues.push(
                Issue::error(
                    Location {
                        file: label.clone(),
                        sheet: None,
                        row: Some(s.row),
                        column: Some("uscc".to_string()),
                    },
                    "unknown-enterprise",
                    "not in the stored registry: the registry gives the county whose rate applies",
                )
                .with_value(uscc.to_string())
                .with_hint(
                    "import the registry first (`npsc registry import`, or POST /api/v1/registry)",
                ),
            );
        }
    }
    if issues.has_errors() {
        return Err(AppError::input(&what, issues));
    }
    let declaration =
        crate::tax::compute_monitored(&allocated.rows, &label, &registry, tables, settings)
            .map_err(|e| match e {
                AppError::Input {
                    issues, omitted, ..
                } => {
                    let errors = issues.len();
                    AppError::Input {
                        summary: format!(
                            "{what} {} {errors} error{}",
                            if errors == 1 { "has" } else { "have" },
                            if errors == 1 { "" } else { "s" }
                        ),
                        issues,
                        omitted,
                    }
                }
                other => other,
            })?;
    let r = &info.reconciliation;
    let mut allocation = crate::tax::TWELFTHS.to_string();
    allocation.push_str(&format!(
        "; reconciliation {id}: coefficients {} (sha256 {})",
        match r.edition {
            Some(e) => format!("{}@{e}", r.set_id),
            None => r
                .coefficients_path
                .clone()
                .unwrap_or_else(|| r.set_id.clone()),
        },
        r.content_hash
    ));
    let merged: Vec<String> = stored
        .iter()
        .filter(|s| s.merged && year.is_none_or(|y| y == s.record.year))
        .map(|s| {
            let outlet = s.record.parts[0].outlet_id.clone().unwrap_or_default();
            format!("{} {} {outlet}", s.record.year, s.record.uscc)
        })
        .collect();
    if !merged.is_empty() {
        allocation.push_str(&format!(
            "; several outlets taxed as one (the stored reconciliation keeps only their sum): {}",
            merged.join(", ")
        ));
    }
    if !allocated.skipped.is_empty() {
        allocation.push_str(&format!("; not taxed: {}", allocated.skipped.join("; ")));
    }
    let input = Hashed {
        name: format!(
            "reconciliation {id}: numbers of record (tax rule) of {}",
            r.reports_path
        ),
        sha256: r.reports_hash.clone(),
    };
    let mut provenance = crate::tax::provenance(
        &declaration,
        tables,
        &input,
        Path::new("the stored registry"),
        &allocation,
    );
    provenance.insert(0, ("reconciliation".to_string(), id.to_string()));
    insert_after(
        &mut provenance,
        "reconciliation",
        ("content_hash".to_string(), r.content_hash.clone()),
    );
    if let Some(year) = year {
        insert_after(
            &mut provenance,
            "content_hash",
            ("year".to_string(), year.to_string()),
        );
    }
    Ok((
        info,
        TaxOutcome {
            declaration,
            provenance,
        },
    ))
}

/// A number of record read back from a stored records view.
#[derive(Debug, Clone)]
struct StoredRecord {
    record: Record,
    /// The view's row (1-based, the header being row 1, as a CSV export shows it).
    row: u64,
    /// Whether it rests on several outlets, now one part `A+B`.
    merged: bool,
}

/// The tax rule's rows of a stored records view as numbers of record.
fn stored_tax_records(
    id: i64,
    sheet: &crate::sheet::Sheet,
    reference: &Reference,
) -> Result<Vec<StoredRecord>, AppError> {
    let column = |name: &str| {
        sheet.header.iter().position(|h| h == name).ok_or_else(|| {
            AppError::Internal(format!(
                "reconciliation {id}: the stored records view has no column `{name}`"
            ))
        })
    };
    let (rule, year, uscc, pollutant, value, basis) = (
        column("rule")?,
        column("year")?,
        column("uscc")?,
        column("pollutant")?,
        column("value")?,
        column("basis")?,
    );
    let mut out = Vec::new();
    for (i, cells) in sheet.rows.iter().enumerate() {
        if cells[rule] != RecordRule::Tax.as_str() {
            continue;
        }
        let row = i as u64 + 2;
        let bad = |what: &str, cell: &str| {
            AppError::Internal(format!(
                "reconciliation {id}, records row {row}: {what} `{cell}` does not read back"
            ))
        };
        let parsed_uscc = Uscc::parse(&cells[uscc]).map_err(|_| bad("the USCC", &cells[uscc]))?;
        let parsed_year: u16 = cells[year]
            .parse()
            .map_err(|_| bad("the year", &cells[year]))?;
        let parsed_pollutant = reference
            .pollutants
            .lookup(&cells[pollutant])
            .ok_or_else(|| bad("the pollutant", &cells[pollutant]))?;
        let parsed_value: f64 = cells[value]
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| bad("the value", &cells[value]))?;
        // `DA001=reported:automatic_monitoring DA002=…`, or one label for the whole enterprise.
        let mut outlets = Vec::new();
        let mut first_basis = None;
        for token in cells[basis].split_whitespace() {
            let (outlet, label) = match token.rsplit_once('=') {
                Some((outlet, label)) => (Some(outlet.to_string()), label),
                None => (None, token),
            };
            let parsed = parse_basis(label).ok_or_else(|| bad("the basis", &cells[basis]))?;
            first_basis.get_or_insert(parsed);
            outlets.extend(outlet);
        }
        let basis_of = first_basis.ok_or_else(|| bad("the basis", &cells[basis]))?;
        let merged = outlets.len() > 1;
        let outlet_id = (!outlets.is_empty()).then(|| outlets.join("+"));
        out.push(StoredRecord {
            record: Record {
                uscc: parsed_uscc,
                pollutant: parsed_pollutant,
                year: parsed_year,
                rule: RecordRule::Tax,
                value: parsed_value,
                parts: vec![RecordPart {
                    outlet_id,
                    value: parsed_value,
                    basis: basis_of,
                    source: format!("reconciliation {id}, records row {row}"),
                }],
            },
            row,
            merged,
        });
    }
    Ok(out)
}

/// Reads [`Basis::label`] back.
fn parse_basis(label: &str) -> Option<Basis> {
    match label {
        "coefficient_estimate" => Some(Basis::CoefficientEstimate),
        "punitive" => Some(Basis::Punitive),
        other => other
            .strip_prefix("reported:")
            .and_then(Method::parse)
            .map(Basis::Reported),
    }
}

/// Uploads written to a private temporary folder for the duration of a call, one sub-folder
/// per role so that two uploads with the same name never collide.
struct Staging {
    _dir: tempfile::TempDir,
    /// Role, path and label, in the order given.
    files: Vec<(String, PathBuf, String)>,
}

impl Staging {
    /// Writes `(role, upload, fallback label)` files.
    fn new(uploads: &[(&str, Upload<'_>, &str)]) -> Result<Staging, AppError> {
        let dir = tempfile::Builder::new()
            .prefix("npsc-upload-")
            .tempdir()
            .map_err(|e| AppError::Internal(format!("cannot stage the upload: {e}")))?;
        let mut files = Vec::new();
        for (role, upload, fallback) in uploads {
            let label = safe_label(upload.label, fallback);
            let folder = dir.path().join(role);
            let path = folder.join(&label);
            std::fs::create_dir(&folder)
                .and_then(|()| std::fs::write(&path, upload.bytes))
                .map_err(|e| AppError::Internal(format!("cannot stage the upload: {e}")))?;
            files.push((role.to_string(), path, label));
        }
        Ok(Staging { _dir: dir, files })
    }

    fn path(&self, i: usize) -> &Path {
        &self.files[i].1
    }

    fn label(&self, i: usize) -> &str {
        &self.files[i].2
    }

    fn find(&self, role: &str) -> Option<&Path> {
        self.files
            .iter()
            .find(|(r, ..)| r == role)
            .map(|(_, path, _)| path.as_path())
    }

    /// Names the uploads by their labels in a text, never by their temporary paths.
    fn relabel_text(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (_, path, label) in &self.files {
            text = text.replace(path.display().to_string().as_str(), label);
        }
        text
    }

    /// Names the uploads by their labels in an error.
    fn relabel(&self, error: AppError) -> AppError {
        match error {
            AppError::Input {
                summary,
                mut issues,
                omitted,
            } => {
                for issue in &mut issues {
                    issue.location.file = self.relabel_text(&issue.location.file);
                    issue.message = self.relabel_text(&issue.message);
                }
                issues.sort();
                AppError::Input {
                    summary: self.relabel_text(&summary),
                    issues,
                    omitted,
                }
            }
            AppError::Path {
                action,
                path,
                source,
            } => AppError::Path {
                action,
                path: PathBuf::from(self.relabel_text(&path.display().to_string())),
                source,
            },
            AppError::Argument { message, hint } => AppError::Argument {
                message: self.relabel_text(&message),
                hint: hint.map(|h| self.relabel_text(&h)),
            },
            AppError::Internal(message) => AppError::Internal(self.relabel_text(&message)),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_labels_read_back() {
        for basis in [
            Basis::CoefficientEstimate,
            Basis::Punitive,
            Basis::Reported(Method::AutomaticMonitoring),
            Basis::Reported(Method::Other),
        ] {
            assert_eq!(parse_basis(&basis.label()), Some(basis));
        }
        assert_eq!(parse_basis("reported:guess"), None);
    }

    #[test]
    fn stored_records_keep_one_outlet_and_join_several() {
        let reference = crate::reference::bundled().expect("reference");
        let mut sheet = crate::sheet::Sheet::new(
            "records",
            "核定值",
            &[
                "rule",
                "year",
                "uscc",
                "pollutant",
                "unit",
                "value",
                "basis",
                "source",
            ],
        );
        let row = |rule: &str, value: &str, basis: &str| {
            [
                rule,
                "2023",
                "91130109MAK4GR6066",
                "二氧化硫",
                "吨",
                value,
                basis,
                "x",
            ]
            .map(str::to_string)
            .to_vec()
        };
        sheet.push(row("statistics", "1", "coefficient_estimate"));
        sheet.push(row("tax", "115.783", "DA001=reported:automatic_monitoring"));
        sheet.push(row(
            "tax",
            "0.1",
            "DA001=reported:automatic_monitoring DA002=coefficient_estimate",
        ));
        sheet.push(row("tax", "2", "coefficient_estimate"));
        let records = stored_tax_records(7, &sheet, &reference).expect("records");
        assert_eq!(records.len(), 3);
        let one = &records[0];
        assert_eq!((one.row, one.merged), (3, false));
        assert_eq!(one.record.value, 115.783);
        assert_eq!(one.record.parts[0].outlet_id.as_deref(), Some("DA001"));
        assert_eq!(
            one.record.parts[0].basis,
            Basis::Reported(Method::AutomaticMonitoring)
        );
        assert_eq!((records[1].row, records[1].merged), (4, true));
        assert_eq!(
            records[1].record.parts[0].outlet_id.as_deref(),
            Some("DA001+DA002")
        );
        assert_eq!(records[2].record.parts[0].outlet_id, None);
        sheet.push(row("tax", "NaN", "coefficient_estimate"));
        let error = stored_tax_records(7, &sheet, &reference).expect_err("NaN");
        assert!(error.to_string().contains("records row 6"), "{error}");
    }
}
