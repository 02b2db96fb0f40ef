//! Uploaded files: a raw body (CSV, Excel or JSON by `Content-Type`) or a `multipart/form-data`
//! form with one part per file. A file name sent by the client is only a label for messages
//! and the format: it is reduced to its last component and never touches the file system.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};

use super::{body_error, too_large};
use crate::{ApiError, AppState};

/// One uploaded file.
#[derive(Debug)]
pub(crate) struct Part {
    /// The form field's name (`file` for a raw body).
    pub(crate) field: String,
    /// A safe file name whose extension tells the format, e.g. `activity.csv`.
    pub(crate) file_name: String,
    /// The bytes.
    pub(crate) bytes: Bytes,
}

/// The extension a content type stands for.
fn extension_for(content_type: &str) -> Option<&'static str> {
    let content_type = content_type.to_ascii_lowercase();
    if content_type.contains("spreadsheetml") {
        Some("xlsx")
    } else if content_type.contains("ms-excel") {
        Some("xls")
    } else if content_type.contains("opendocument") {
        Some("ods")
    } else if content_type.contains("json") {
        Some("json")
    } else if content_type.contains("csv") || content_type.starts_with("text/") {
        Some("csv")
    } else {
        None
    }
}

const KNOWN_EXTENSIONS: [&str; 7] = ["csv", "txt", "xlsx", "xlsm", "xls", "ods", "json"];

/// A file name that is safe to show and to take a format from: the last path component of what
/// the client sent, without control characters, at most 100 characters; `stem.ext` when there is
/// nothing usable or its extension is not one npsc reads.
pub(crate) fn safe_file_name(sent: Option<&str>, stem: &str, content_type: Option<&str>) -> String {
    let fallback_ext = content_type.and_then(extension_for).unwrap_or("csv");
    let name: String = sent
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let name = name.trim().trim_start_matches('.').to_string();
    let known = name.rsplit_once('.').is_some_and(|(base, ext)| {
        !base.is_empty() && KNOWN_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
    });
    if known {
        name
    } else {
        format!("{stem}.{fallback_ext}")
    }
}

fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Reads the uploaded files of a request. A raw body is one part named `file` (its name made
/// from `stem` and the content type); a multipart form gives every part that carries data.
pub(crate) async fn read(
    state: &AppState,
    request: Request,
    stem: &str,
) -> Result<Vec<Part>, ApiError> {
    if !is_multipart(&request) {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_error)?;
        return Ok(vec![Part {
            field: "file".to_string(),
            file_name: safe_file_name(None, stem, content_type.as_deref()),
            bytes,
        }]);
    }
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the multipart form: {e}")))?;
    let mut parts = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "cannot read the multipart form: {e}"
                )));
            }
        };
        let name = field.name().unwrap_or("file").to_string();
        let file_name = safe_file_name(field.file_name(), &name, field.content_type());
        let bytes = match field.bytes().await {
            Ok(bytes) => bytes,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "cannot read the form field `{name}`: {e}"
                )));
            }
        };
        parts.push(Part {
            field: name,
            file_name,
            bytes,
        });
    }
    Ok(parts)
}

/// Most bytes of an unread body read (and dropped) before a refusal is sent.
const DRAIN_LIMIT: usize = 1 << 20;

/// Refuses a request before its upload was read: reads and drops up to 1 MiB of the body first,
/// so that a client still sending a small upload gets the answer (401, 403, 400) instead of a
/// connection closed under it. A larger body is cut off as before.
pub(crate) async fn refuse(request: Request, error: ApiError) -> ApiError {
    let _ = axum::body::to_bytes(request.into_body(), DRAIN_LIMIT).await;
    error
}

/// The checks of a handler that takes an upload, before it reads the body: the token (at least
/// `role`), then the query string. A refusal reads and drops up to 1 MiB of the body first
/// ([`refuse`]). Returns the token's name, the query and the request.
pub(crate) async fn admit<Q>(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    role: app::tokens::Role,
    query: Result<axum::extract::Query<Q>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Result<(String, Q, Request), ApiError> {
    let checked = match super::caller(state, headers).await {
        Ok(caller) => super::require(&caller, role).and_then(|actor| {
            query
                .map(|axum::extract::Query(query)| (actor, query))
                .map_err(super::bad_query)
        }),
        Err(e) => Err(e),
    };
    match checked {
        Ok((actor, query)) => Ok((actor, query, request)),
        Err(e) => Err(refuse(request, e).await),
    }
}

/// The one part named `field` (or the only part when there is one): 400 when missing.
pub(crate) fn take(parts: &mut Vec<Part>, field: &str) -> Result<Part, ApiError> {
    if let Some(i) = parts.iter().position(|p| p.field == field) {
        return Ok(parts.remove(i));
    }
    Err(ApiError::bad_request(format!(
        "the upload has no part named `{field}` (parts sent: {})",
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts
                .iter()
                .map(|p| format!("`{}`", p.field))
                .collect::<Vec<_>>()
                .join(", ")
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn client_file_names_never_become_paths() {
        let cases = [
            (Some("../../etc/passwd"), None, "file.csv"),
            (Some("..\\..\\windows\\win.ini"), None, "file.csv"),
            (Some("/tmp/x/活动数据.xlsx"), None, "活动数据.xlsx"),
            (Some("a.CSV"), None, "a.CSV"),
            (Some(".."), Some("application/json"), "file.json"),
            (Some(".hidden.csv"), None, "hidden.csv"),
            (Some("evil\u{0}.csv"), None, "evil.csv"),
            (Some("run.sh"), Some("text/csv"), "file.csv"),
            (
                None,
                Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                "file.xlsx",
            ),
        ];
        for (sent, content_type, expected) in cases {
            assert_eq!(
                safe_file_name(sent, "file", content_type),
                expected,
                "{sent:?}"
            );
        }
    }
}
