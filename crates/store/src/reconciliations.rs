//! Stored reconciliations of permit-reported emissions: the provenance (edition and how it was
//! resolved, the three inputs' hashes, the options, the summary and its counts) and every view
//! (comparison, numbers of record, reconciliation) as the rendered cells it was shown with.
//!
//! The views are stored as rendered text, one generic table of rows (view name, row number, a
//! JSON array of cells) plus one row per view with its title and header: the cells are the
//! product (numbers already rendered exactly, flags and provenance as text), their columns belong
//! to the rendering in `app` and differ per view, and a stored reconciliation must read back
//! exactly as it was produced even after the rendering gains a column. Nothing queries inside a
//! row, so per-view tables with typed columns would only duplicate the rendering's schema.
//!
//! A reconciliation is written in one transaction with its audit entry: all or nothing.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::{self, Record};
use crate::{Store, StoreError};

/// What a stored reconciliation records about how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReconciliation {
    /// UTC start time.
    pub started_at: String,
    /// Wall time, in milliseconds.
    pub elapsed_ms: u64,
    /// Who ran it.
    pub actor: String,
    /// Coefficient set id.
    pub set_id: String,
    /// Edition number when the set came from the database.
    pub edition: Option<u32>,
    /// Content hash of the coefficients used.
    pub content_hash: String,
    /// How the coefficients were named (`set@N`, `set@latest`, `set` + date, or a path).
    pub selector: String,
    /// `effective` or `next-month` when resolved by date.
    pub rule: Option<String>,
    /// The accounting date, when resolved by date.
    pub accounting_date: Option<String>,
    /// The coefficient folder or table, when read from files.
    pub coefficients_path: Option<String>,
    /// Registry file (absolute path, or `upload:<file name>`).
    pub registry_path: String,
    /// SHA-256 of the registry file.
    pub registry_hash: String,
    /// Activity file.
    pub activity_path: String,
    /// SHA-256 of the activity file.
    pub activity_hash: String,
    /// Permit execution reports file.
    pub reports_path: String,
    /// SHA-256 of the reports file.
    pub reports_hash: String,
    /// Thresholds, standard deviations, significance and policy, as text.
    pub options: String,
    /// The summary line.
    pub summary: String,
}

/// The counts of a reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReconciliationCounts {
    /// Activity rows accounted for the estimates.
    pub rows_accounted: u64,
    /// Report lines read.
    pub report_lines: u64,
    /// Enterprise-pollutant-years compared.
    pub comparisons: u64,
    /// Comparisons with an error flag.
    pub with_errors: u64,
    /// Comparisons with warnings only.
    pub with_warnings: u64,
    /// Blocks reconciled.
    pub reconciled: u64,
    /// Reconciled blocks with a gross error.
    pub gross_errors: u64,
    /// Blocks that could not be reconciled (rank deficient, invalid input, not converged).
    pub not_reconcilable: u64,
}

/// A stored reconciliation's provenance and counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconciliationInfo {
    /// Reconciliation id.
    pub id: i64,
    /// How it was made.
    pub reconciliation: NewReconciliation,
    /// Its counts.
    pub counts: ReconciliationCounts,
}

/// One view with its rendered rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredView {
    /// Stable name, e.g. `comparison`.
    pub name: String,
    /// Title for people.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of rendered cells, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

/// A view of a stored reconciliation, without its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewInfo {
    /// Stable name.
    pub name: String,
    /// Title for people.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// How many rows it holds.
    pub rows: u64,
}

/// Rows per multi-row INSERT (4 parameters each).
const ROW_BATCH: usize = 250;

impl Store {
    /// Stores a reconciliation with its views and the audit entry naming the actor, in one
    /// transaction: a failure anywhere leaves nothing behind. Returns the new id.
    pub async fn store_reconciliation(
        &self,
        new: &NewReconciliation,
        counts: ReconciliationCounts,
        views: &[StoredView],
    ) -> Result<i64, StoreError> {
        for view in views {
            if let Some((i, row)) = view
                .rows
                .iter()
                .enumerate()
                .find(|(_, r)| r.len() != view.header.len())
            {
                return Err(StoreError::Invalid(format!(
                    "view `{}` row {}: {} cells for {} columns",
                    view.name,
                    i + 1,
                    row.len(),
                    view.header.len()
                )));
            }
        }
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO reconciliation (started_at, elapsed_ms, actor, set_id, edition, \
             content_hash, selector, rule, accounting_date, coefficients_path, registry_path, \
             registry_hash, activity_path, activity_hash, reports_path, reports_hash, options, \
             summary, rows_accounted, report_lines, comparisons, with_errors, with_warnings, \
             reconciled, gross_errors, not_reconcilable) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, \
             $25, $26) RETURNING id",
        )
        .bind(&new.started_at)
        .bind(count(new.elapsed_ms))
        .bind(&new.actor)
        .bind(&new.set_id)
        .bind(new.edition.map(i64::from))
        .bind(&new.content_hash)
        .bind(&new.selector)
        .bind(&new.rule)
        .bind(&new.accounting_date)
        .bind(&new.coefficients_path)
        .bind(&new.registry_path)
        .bind(&new.registry_hash)
        .bind(&new.activity_path)
        .bind(&new.activity_hash)
        .bind(&new.reports_path)
        .bind(&new.reports_hash)
        .bind(&new.options)
        .bind(&new.summary)
        .bind(count(counts.rows_accounted))
        .bind(count(counts.report_lines))
        .bind(count(counts.comparisons))
        .bind(count(counts.with_errors))
        .bind(count(counts.with_warnings))
        .bind(count(counts.reconciled))
        .bind(count(counts.gross_errors))
        .bind(count(counts.not_reconcilable))
        .fetch_one(&mut *tx)
        .await?;
        for (position, view) in views.iter().enumerate() {
            sqlx::query(
                "INSERT INTO reconciliation_view (reconciliation_id, name, position, title, \
                 header, rows) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(&view.name)
            .bind(count(position as u64))
            .bind(&view.title)
            .bind(encode_cells(&view.header))
            .bind(count(view.rows.len() as u64))
            .execute(&mut *tx)
            .await?;
            for (b, batch) in view.rows.chunks(ROW_BATCH).enumerate() {
                const COLUMNS: usize = 4;
                let mut sql = String::from(
                    "INSERT INTO reconciliation_row (reconciliation_id, view_name, row_number, \
                     cells) VALUES ",
                );
                for i in 0..batch.len() {
                    sql.push_str(if i == 0 { "(" } else { ", (" });
                    for c in 0..COLUMNS {
                        if c > 0 {
                            sql.push_str(", ");
                        }
                        sql.push_str(&format!("${}", i * COLUMNS + c + 1));
                    }
                    sql.push(')');
                }
                // Only placeholders are generated; every value is bound.
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for (i, row) in batch.iter().enumerate() {
                    query = query
                        .bind(id)
                        .bind(view.name.clone())
                        .bind(count((b * ROW_BATCH + i + 1) as u64))
                        .bind(encode_cells(row));
                }
                query.execute(&mut *tx).await?;
            }
        }
        let object = format!("reconciliation {id}");
        let detail = format!(
            "{} against {} with {} ({} compared, {} with errors, {} with warnings only)",
            new.reports_path,
            new.activity_path,
            new.selector,
            counts.comparisons,
            counts.with_errors,
            counts.with_warnings
        );
        audit::record(
            &mut tx,
            Record {
                actor: &new.actor,
                action: "reconcile",
                object: &object,
                before_hash: None,
                after_hash: Some(&new.content_hash),
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// All stored reconciliations, newest first.
    pub async fn reconciliations(&self) -> Result<Vec<ReconciliationInfo>, StoreError> {
        let rows = sqlx::query("SELECT * FROM reconciliation ORDER BY id DESC")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(reconciliation_info).collect()
    }

    /// One stored reconciliation.
    pub async fn reconciliation(&self, id: i64) -> Result<ReconciliationInfo, StoreError> {
        let row = sqlx::query("SELECT * FROM reconciliation WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(row) => reconciliation_info(&row),
            None => Err(StoreError::NotFound(format!(
                "there is no reconciliation {id}"
            ))),
        }
    }

    /// The views of a stored reconciliation, in the order they were stored.
    pub async fn reconciliation_views(&self, id: i64) -> Result<Vec<ViewInfo>, StoreError> {
        self.reconciliation(id).await?;
        let rows = sqlx::query(
            "SELECT name, title, header, rows FROM reconciliation_view \
             WHERE reconciliation_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                Ok(ViewInfo {
                    header: decode_stored(&r.try_get::<String, _>("header")?, id, &name, 0)?,
                    title: r.try_get("title")?,
                    rows: u64::try_from(r.try_get::<i64, _>("rows")?).unwrap_or(0),
                    name,
                })
            })
            .collect()
    }

    /// One view of a stored reconciliation with its rows, in their stored order.
    pub async fn reconciliation_view(&self, id: i64, name: &str) -> Result<StoredView, StoreError> {
        let views = self.reconciliation_views(id).await?;
        let Some(info) = views.into_iter().find(|v| v.name == name) else {
            return Err(StoreError::NotFound(format!(
                "reconciliation {id} has no view `{name}`"
            )));
        };
        let rows = sqlx::query(
            "SELECT row_number, cells FROM reconciliation_row \
             WHERE reconciliation_id = $1 AND view_name = $2 ORDER BY row_number",
        )
        .bind(id)
        .bind(name)
        .fetch_all(self.pool())
        .await?;
        let rows = rows
            .iter()
            .map(|r| {
                let number = u64::try_from(r.try_get::<i64, _>("row_number")?).unwrap_or(0);
                decode_stored(&r.try_get::<String, _>("cells")?, id, name, number)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if rows.len() as u64 != info.rows {
            return Err(StoreError::Integrity(format!(
                "reconciliation {id} view `{name}` holds {} rows, {} recorded",
                rows.len(),
                info.rows
            )));
        }
        Ok(StoredView {
            name: info.name,
            title: info.title,
            header: info.header,
            rows,
        })
    }
}

fn decode_stored(text: &str, id: i64, view: &str, row: u64) -> Result<Vec<String>, StoreError> {
    decode_cells(text).map_err(|e| {
        StoreError::Integrity(format!(
            "reconciliation {id} view `{view}` row {row} is not a JSON array of strings: {e}"
        ))
    })
}

fn reconciliation_info(r: &AnyRow) -> Result<ReconciliationInfo, StoreError> {
    let count = |name: &str| -> Result<u64, StoreError> {
        Ok(u64::try_from(r.try_get::<i64, _>(name)?).unwrap_or(0))
    };
    Ok(ReconciliationInfo {
        id: r.try_get("id")?,
        reconciliation: NewReconciliation {
            started_at: r.try_get("started_at")?,
            elapsed_ms: count("elapsed_ms")?,
            actor: r.try_get("actor")?,
            set_id: r.try_get("set_id")?,
            edition: r
                .try_get::<Option<i64>, _>("edition")?
                .and_then(|e| u32::try_from(e).ok()),
            content_hash: r.try_get("content_hash")?,
            selector: r.try_get("selector")?,
            rule: r.try_get("rule")?,
            accounting_date: r.try_get("accounting_date")?,
            coefficients_path: r.try_get("coefficients_path")?,
            registry_path: r.try_get("registry_path")?,
            registry_hash: r.try_get("registry_hash")?,
            activity_path: r.try_get("activity_path")?,
            activity_hash: r.try_get("activity_hash")?,
            reports_path: r.try_get("reports_path")?,
            reports_hash: r.try_get("reports_hash")?,
            options: r.try_get("options")?,
            summary: r.try_get("summary")?,
        },
        counts: ReconciliationCounts {
            rows_accounted: count("rows_accounted")?,
            report_lines: count("report_lines")?,
            comparisons: count("comparisons")?,
            with_errors: count("with_errors")?,
            with_warnings: count("with_warnings")?,
            reconciled: count("reconciled")?,
            gross_errors: count("gross_errors")?,
            not_reconcilable: count("not_reconcilable")?,
        },
    })
}

/// Cells as a JSON array of strings (RFC 8259; control characters escaped, everything else
/// written as is, so the text stays readable UTF-8).
fn encode_cells(cells: &[String]) -> String {
    let mut out = String::with_capacity(cells.iter().map(|c| c.len() + 3).sum::<usize>() + 2);
    out.push('[');
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in cell.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

type Cursor<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

/// The four hex digits of a `\u` escape.
fn hex4(chars: &mut Cursor<'_>, at: usize) -> Result<u32, String> {
    let mut value = 0;
    for _ in 0..4 {
        let (_, h) = chars.next().ok_or("unexpected end in \\u")?;
        value = value * 16
            + h.to_digit(16)
                .ok_or(format!("`{h}` is not a hex digit (byte {at})"))?;
    }
    Ok(value)
}

/// Reads a JSON array of strings (any valid JSON spelling of one: whitespace, every escape,
/// surrogate pairs).
fn decode_cells(text: &str) -> Result<Vec<String>, String> {
    let mut chars = text.char_indices().peekable();
    let skip_space = |chars: &mut Cursor<'_>| {
        while chars
            .next_if(|(_, c)| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .is_some()
        {}
    };
    let mut cells = Vec::new();
    skip_space(&mut chars);
    if chars.next().map(|(_, c)| c) != Some('[') {
        return Err("expected `[`".to_string());
    }
    skip_space(&mut chars);
    if chars.next_if(|(_, c)| *c == ']').is_none() {
        loop {
            skip_space(&mut chars);
            match chars.next() {
                Some((_, '"')) => {}
                Some((at, c)) => {
                    return Err(format!("expected a string at byte {at}, found `{c}`"));
                }
                None => return Err("unexpected end".to_string()),
            }
            let mut cell = String::new();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => {
                        let (at, escape) = chars.next().ok_or("unexpected end in an escape")?;
                        match escape {
                            '"' => cell.push('"'),
                            '\\' => cell.push('\\'),
                            '/' => cell.push('/'),
                            'b' => cell.push('\u{8}'),
                            'f' => cell.push('\u{c}'),
                            'n' => cell.push('\n'),
                            'r' => cell.push('\r'),
                            't' => cell.push('\t'),
                            'u' => {
                                let first = hex4(&mut chars, at)?;
                                let code = if (0xD800..0xDC00).contains(&first) {
                                    let pair = (chars.next().map(|(_, c)| c), chars.next());
                                    if pair.0 != Some('\\') || pair.1.map(|(_, c)| c) != Some('u') {
                                        return Err(format!("lone surrogate at byte {at}"));
                                    }
                                    let second = hex4(&mut chars, at)?;
                                    if !(0xDC00..0xE000).contains(&second) {
                                        return Err(format!("bad surrogate pair at byte {at}"));
                                    }
                                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                                } else {
                                    first
                                };
                                cell.push(
                                    char::from_u32(code)
                                        .ok_or(format!("bad code point at byte {at}"))?,
                                );
                            }
                            other => return Err(format!("bad escape `\\{other}` at byte {at}")),
                        }
                    }
                    Some((at, c)) if u32::from(c) < 0x20 => {
                        return Err(format!("unescaped control character at byte {at}"));
                    }
                    Some((_, c)) => cell.push(c),
                    None => return Err("unterminated string".to_string()),
                }
            }
            cells.push(cell);
            skip_space(&mut chars);
            match chars.next() {
                Some((_, ',')) => continue,
                Some((_, ']')) => break,
                Some((at, c)) => {
                    return Err(format!("expected `,` or `]` at byte {at}, found `{c}`"));
                }
                None => return Err("unexpected end".to_string()),
            }
        }
    }
    skip_space(&mut chars);
    match chars.next() {
        None => Ok(cells),
        Some((at, _)) => Err(format!("trailing text at byte {at}")),
    }
}

#[cfg(test)]
mod tests {
    use crate::store_tests::each_backend;

    use super::*;

    #[test]
    fn cells_survive_the_json_round_trip() {
        let cells: Vec<String> = [
            "",
            "2022",
            "二氧化硫",
            "under_reported:error exceeds_permit:reported",
            "quote \" and backslash \\ and slash /",
            "line\nbreak\ttab\r\u{1}\u{1f}",
            "emoji 🏭 and \u{2028}",
            "-117.49500000000001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let text = encode_cells(&cells);
        assert_eq!(decode_cells(&text).unwrap(), cells);
        assert_eq!(encode_cells(&[]), "[]");
        assert_eq!(decode_cells(" [ ] ").unwrap(), Vec::<String>::new());
        // Any JSON spelling reads: escapes, surrogate pairs, whitespace.
        assert_eq!(
            decode_cells(r#"[ "a\u00e9\ud83c\udfed" , "\/\b\f" ]"#).unwrap(),
            ["aé🏭", "/\u{8}\u{c}"]
        );
        for bad in [
            "",
            "[",
            "[\"a\"",
            "[\"a\",]",
            "[1]",
            "[\"a\"] x",
            "[\"\\ud83c\"]",
            "[\"\\x\"]",
            "[\"a\u{1}\"]",
            "{\"a\": 1}",
        ] {
            assert!(decode_cells(bad).is_err(), "{bad:?} is refused");
        }
    }

    fn new(actor: &str) -> NewReconciliation {
        NewReconciliation {
            started_at: "2024-03-20T08:00:00Z".into(),
            elapsed_ms: 42,
            actor: actor.into(),
            set_id: "npsc1-excerpt".into(),
            edition: Some(1),
            content_hash: "h".into(),
            selector: "npsc1-excerpt@1".into(),
            rule: Some("next-month".into()),
            accounting_date: Some("2024-03-20".into()),
            coefficients_path: None,
            registry_path: "upload:registry.csv".into(),
            registry_hash: "rh".into(),
            activity_path: "upload:activity.csv".into(),
            activity_hash: "ah".into(),
            reports_path: "upload:permit_reports.csv".into(),
            reports_hash: "ph".into(),
            options: "warning=0.2; error=0.5".into(),
            summary: "3 enterprise-pollutant-years compared".into(),
        }
    }

    fn counts() -> ReconciliationCounts {
        ReconciliationCounts {
            rows_accounted: 65,
            report_lines: 140,
            comparisons: 601,
            with_errors: 5,
            with_warnings: 15,
            reconciled: 153,
            gross_errors: 1,
            not_reconcilable: 3,
        }
    }

    /// A comparison of `n` rows (more than one INSERT batch), a records view with awkward cells
    /// and an empty reconciliation view.
    fn views(n: usize) -> Vec<StoredView> {
        vec![
            StoredView {
                name: "comparison".into(),
                title: "对比 Reported vs estimated".into(),
                header: vec!["year".into(), "uscc".into(), "estimate".into()],
                rows: (0..n)
                    .map(|i| {
                        vec![
                            "2022".into(),
                            format!("9113068{i:04}XTBUW4C"),
                            format!("{}.1", 199 + i),
                        ]
                    })
                    .collect(),
            },
            StoredView {
                name: "records".into(),
                title: "核定值 Numbers of record".into(),
                header: vec!["rule".into(), "source".into()],
                rows: vec![
                    vec!["tax".into(), "a.csv, rows 3, 4 | \"x\"\n".into()],
                    vec!["permit".into(), String::new()],
                ],
            },
            StoredView {
                name: "reconciliation".into(),
                title: "数据校核".into(),
                header: vec!["year".into()],
                rows: Vec::new(),
            },
        ]
    }

    #[tokio::test]
    async fn reconciliations_are_stored_listed_and_read_back_cell_for_cell() {
        each_backend(|store| async move {
            assert!(store.reconciliations().await.unwrap().is_empty());
            let stored = views(601);
            let first = store
                .store_reconciliation(&new("permit office"), counts(), &stored)
                .await
                .unwrap();
            let second = store
                .store_reconciliation(&new("tax office"), ReconciliationCounts::default(), &[])
                .await
                .unwrap();
            assert!(second > first);

            let list = store.reconciliations().await.unwrap();
            assert_eq!(
                list.iter()
                    .map(|r| (r.id, r.reconciliation.actor.as_str()))
                    .collect::<Vec<_>>(),
                [(second, "tax office"), (first, "permit office")]
            );
            let info = store.reconciliation(first).await.unwrap();
            assert_eq!(info.reconciliation, new("permit office"));
            assert_eq!(info.counts, counts());

            let infos = store.reconciliation_views(first).await.unwrap();
            assert_eq!(
                infos
                    .iter()
                    .map(|v| (v.name.as_str(), v.rows, v.header.len()))
                    .collect::<Vec<_>>(),
                [
                    ("comparison", 601, 3),
                    ("records", 2, 2),
                    ("reconciliation", 0, 1)
                ]
            );
            for view in &stored {
                assert_eq!(
                    &store.reconciliation_view(first, &view.name).await.unwrap(),
                    view
                );
            }
            assert!(store.reconciliation_views(second).await.unwrap().is_empty());

            // Unknown ids and views are the caller's error.
            for missing in [
                store.reconciliation(999).await.map(|_| ()),
                store.reconciliation_views(999).await.map(|_| ()),
                store.reconciliation_view(first, "totals").await.map(|_| ()),
                store
                    .reconciliation_view(999, "comparison")
                    .await
                    .map(|_| ()),
            ] {
                assert!(
                    matches!(missing, Err(StoreError::NotFound(_))),
                    "{missing:?}"
                );
            }

            // The audit log names the actor, the object and the edition's hash.
            let audit = store.audit(10).await.unwrap();
            assert_eq!(
                (
                    audit[1].action.as_str(),
                    audit[1].actor.as_str(),
                    audit[1].object.clone(),
                    audit[1].after_hash.as_deref()
                ),
                (
                    "reconcile",
                    "permit office",
                    format!("reconciliation {first}"),
                    Some("h")
                )
            );
            assert!(
                audit[1].detail.contains("601 compared, 5 with errors"),
                "{}",
                audit[1].detail
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_reconciliation_that_fails_midway_leaves_nothing_behind() {
        each_backend(|store| async move {
            // The second `comparison` view breaks the primary key after the reconciliation row
            // and 601 rows were written: the database refuses it inside the transaction.
            let mut stored = views(601);
            stored.push(stored[0].clone());
            let failed = store
                .store_reconciliation(&new("permit office"), counts(), &stored)
                .await;
            assert!(matches!(failed, Err(StoreError::Database(_))), "{failed:?}");
            // A row whose cells do not match the header is refused before anything is written.
            let mut ragged = views(3);
            ragged[1].rows[1].push("extra".into());
            let refused = store
                .store_reconciliation(&new("permit office"), counts(), &ragged)
                .await;
            assert!(
                matches!(refused, Err(StoreError::Invalid(_))),
                "{refused:?}"
            );

            assert!(store.reconciliations().await.unwrap().is_empty());
            assert!(store.audit(10).await.unwrap().is_empty());
            for table in [
                "reconciliation",
                "reconciliation_view",
                "reconciliation_row",
            ] {
                let rows: i64 =
                    sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                        .fetch_one(store.pool())
                        .await
                        .unwrap();
                assert_eq!(rows, 0, "{table} is empty");
            }
            // The store stays usable.
            let id = store
                .store_reconciliation(&new("permit office"), counts(), &views(2))
                .await
                .unwrap();
            assert_eq!(store.reconciliation_views(id).await.unwrap().len(), 3);
        })
        .await;
    }
}
