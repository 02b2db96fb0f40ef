//! What the tax, total-load and report endpoints share: the answer's format (JSON, CSV of one
//! view, or an Excel workbook), views as JSON, provenance lines, and their small errors. The
//! cells are the ones `app` rendered: this module only chooses and wraps them.

use app::sheet::Sheet;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::upload;
use crate::ApiError;

/// The content type of an Excel workbook.
pub(super) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// How an answer made of views is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// The chosen views as JSON (every view by default).
    Json,
    /// One view as CSV.
    Csv,
    /// Every view and the provenance as an Excel workbook.
    Xlsx,
}

/// `?format=json|csv|xlsx`; without it, `Accept` decides (a spreadsheet type gives the workbook,
/// `text/csv` CSV), JSON otherwise. Another `format` is a 400 quoting at most 40 characters.
pub(super) fn output(format: Option<&str>, headers: &HeaderMap) -> Result<Output, ApiError> {
    match format {
        Some("json") => Ok(Output::Json),
        Some("csv") => Ok(Output::Csv),
        Some("xlsx") => Ok(Output::Xlsx),
        Some(other) => Err(ApiError::bad_request(format!(
            "format: `{}` is not `json`, `csv` or `xlsx`",
            other.chars().take(40).collect::<String>()
        ))),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|a| a.to_str().ok())
                .unwrap_or("");
            Ok(if accept.contains("spreadsheetml") {
                Output::Xlsx
            } else if accept.contains("text/csv") {
                Output::Csv
            } else {
                Output::Json
            })
        }
    }
}

/// The views an answer keeps: `view` names one of `names` (the views in the order `app` makes
/// them; `all` or nothing keeps every one). CSV holds one view; a workbook holds every one, so
/// `view` is then ignored. Checked before any upload is read.
pub(super) fn chosen(
    view: Option<&str>,
    names: &[&str],
    output: Output,
) -> Result<Option<usize>, ApiError> {
    let index = match view {
        None | Some("all") => None,
        Some(name) => Some(names.iter().position(|n| *n == name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "view: `{}` is not one of `all`, `{}`",
                name.chars().take(40).collect::<String>(),
                names.join("`, `")
            ))
        })?),
    };
    if output == Output::Csv && index.is_none() {
        return Err(ApiError::bad_request(format!(
            "CSV holds one view: add `view={}`, or ask for `format=xlsx`",
            names.join("|")
        )));
    }
    Ok(index)
}

/// Keeps the chosen view, or every one.
pub(super) fn keep(mut sheets: Vec<Sheet>, index: Option<usize>) -> Vec<Sheet> {
    match index {
        Some(i) if i < sheets.len() => vec![sheets.swap_remove(i)],
        Some(_) => Vec::new(),
        None => sheets,
    }
}

/// A workbook as a download named `file_name`.
pub(super) fn xlsx_response(bytes: Vec<u8>, file_name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, XLSX.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// One view: its rows as objects, column → cell, exactly as `app` rendered them (numbers as exact
/// decimal strings, money with two decimals).
#[derive(Serialize, ToSchema)]
pub(super) struct ViewDto {
    /// A stable name, e.g. `declaration`.
    name: String,
    /// A title for people.
    title: String,
    /// The column names, in order.
    columns: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

impl From<Sheet> for ViewDto {
    fn from(sheet: Sheet) -> ViewDto {
        let rows = sheet
            .rows
            .into_iter()
            .map(|row| {
                sheet
                    .header
                    .iter()
                    .cloned()
                    .zip(row.into_iter().map(serde_json::Value::String))
                    .collect()
            })
            .collect();
        ViewDto {
            name: sheet.name,
            title: sheet.title,
            columns: sheet.header,
            rows,
        }
    }
}

/// Views as JSON.
pub(super) fn view_dtos(sheets: Vec<Sheet>) -> Vec<ViewDto> {
    sheets.into_iter().map(ViewDto::from).collect()
}

/// One provenance line, in the order of the workbook's provenance sheet.
#[derive(Serialize, ToSchema)]
pub(super) struct ProvenanceLine {
    key: String,
    value: String,
}

/// Provenance lines as JSON.
pub(super) fn provenance(lines: &[(String, String)]) -> Vec<ProvenanceLine> {
    lines
        .iter()
        .map(|(key, value)| ProvenanceLine {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

/// A path segment that does not parse: 400.
pub(super) fn bad_path(rejection: PathRejection) -> ApiError {
    ApiError::bad_request(format!("bad path parameter: {}", rejection.body_text()))
}

/// An upload as `app` takes it.
pub(super) fn as_upload(part: &upload::Part) -> app::upload::Upload<'_> {
    app::upload::Upload {
        label: &part.file_name,
        bytes: &part.bytes,
    }
}

/// The part named `field`, when it was sent.
pub(super) fn take_optional(parts: &mut Vec<upload::Part>, field: &str) -> Option<upload::Part> {
    let i = parts.iter().position(|p| p.field == field)?;
    Some(parts.remove(i))
}

/// Work that is all computation (reading uploads, the tax engine, writing a workbook), off the
/// request threads.
pub(super) async fn blocking<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> Result<T, app::AppError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::from(app::AppError::Internal(format!("{what} failed: {e}"))))?
        .map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_views_are_chosen_or_refused() {
        let none = HeaderMap::new();
        let mut excel = HeaderMap::new();
        excel.insert(header::ACCEPT, XLSX.parse().expect("header"));
        let mut csv = HeaderMap::new();
        csv.insert(header::ACCEPT, "text/csv".parse().expect("header"));
        assert_eq!(output(None, &none).ok(), Some(Output::Json));
        assert_eq!(output(None, &excel).ok(), Some(Output::Xlsx));
        assert_eq!(output(None, &csv).ok(), Some(Output::Csv));
        assert_eq!(output(Some("json"), &excel).ok(), Some(Output::Json));
        assert!(output(Some("pdf"), &none).is_err());
        let names = ["declaration", "totals"];
        assert_eq!(
            chosen(Some("totals"), &names, Output::Csv).ok(),
            Some(Some(1))
        );
        assert_eq!(chosen(None, &names, Output::Json).ok(), Some(None));
        assert!(chosen(None, &names, Output::Csv).is_err());
        assert!(chosen(Some("all"), &names, Output::Csv).is_err());
        assert!(chosen(Some("lines"), &names, Output::Json).is_err());
        let sheets = vec![Sheet::new("a", "A", &["x"]), Sheet::new("b", "B", &["x"])];
        assert_eq!(keep(sheets.clone(), Some(1))[0].name, "b");
        assert_eq!(keep(sheets, None).len(), 2);
    }
}
