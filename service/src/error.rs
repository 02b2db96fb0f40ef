//! The one error shape of the API: `{ "code": "...", "message": "...", "details": [ located
//! issues ] }`, with the status derived from the application error's kind and code. Internal
//! errors get a generic message; their chain goes to the log only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
    details: Vec<Detail>,
}

/// One located issue of an input.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Detail {
    code: String,
    file: String,
    sheet: Option<String>,
    row: Option<u64>,
    column: Option<String>,
    value: Option<String>,
    message: String,
    hint: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    details: &'a [Detail],
}

/// The error body, as documented in the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorBody {
    /// A stable code: `bad-request`, `bad-argument`, `bad-input`, `unauthorized`, `forbidden`,
    /// `not-found`, `conflict`, `too-large`, `internal`.
    code: String,
    /// What went wrong, for a person.
    message: String,
    /// Every located issue of an uploaded input.
    details: Vec<Detail>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    /// 401: no token where one is needed, or a malformed, unknown or revoked token.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: a token whose role is not enough.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }
}

impl From<app::AppError> for ApiError {
    fn from(e: app::AppError) -> ApiError {
        use app::AppError as E;
        match e {
            E::Input {
                summary, issues, ..
            } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "bad-input".to_string(),
                message: summary,
                details: issues
                    .into_iter()
                    .map(|i| Detail {
                        code: i.code.to_string(),
                        file: i.location.file,
                        sheet: i.location.sheet,
                        row: i.location.row,
                        column: i.location.column,
                        value: i.value,
                        message: i.message,
                        hint: i.hint,
                    })
                    .collect(),
            },
            E::Store { message, code } => {
                let status = match code {
                    "not-found" => StatusCode::NOT_FOUND,
                    "conflict" => StatusCode::CONFLICT,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, code, message)
            }
            E::Argument { message, hint } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad-argument",
                match hint {
                    Some(hint) => format!("{message} (hint: {hint})"),
                    None => message,
                },
            ),
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the service log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            code: &self.code,
            message: &self.message,
            details: &self.details,
        };
        (self.status, Json(body)).into_response()
    }
}
