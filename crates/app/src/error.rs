//! The application's error type: what failed, whose fault it is, and a stable code.

use std::path::PathBuf;

use ingest::Issue;

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input or a bad request: fix the input (exit status 1, HTTP 4xx).
    User,
    /// A bug or an environment failure (exit status 2, HTTP 5xx).
    Internal,
}

/// An error of a use case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input files have problems; all of them are listed.
    #[error("{summary}")]
    Input {
        /// One line, e.g. "activity data has 3 errors".
        summary: String,
        /// The located problems, sorted by location.
        issues: Vec<Issue>,
        /// Problems beyond the cap that were counted but not kept.
        omitted: u64,
    },
    /// A path given by the user cannot be used.
    #[error("cannot {action} `{path}`: {source}")]
    Path {
        /// What was attempted, e.g. "write".
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A bad argument (e.g. an unknown level name).
    #[error("{message}")]
    Argument {
        /// What is wrong.
        message: String,
        /// A suggestion.
        hint: Option<String>,
    },
    /// The database refused a request (not found, conflict, invalid).
    #[error("{message}")]
    Store {
        /// What happened.
        message: String,
        /// Stable code: `not-found`, `conflict` or `invalid`.
        code: &'static str,
    },
    /// Something that should not happen, or the environment failed (database unreachable).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<store::StoreError> for AppError {
    fn from(e: store::StoreError) -> AppError {
        use store::StoreError as S;
        let code = match &e {
            S::NotFound(_) => "not-found",
            S::Conflict(_) => "conflict",
            S::Invalid(_) | S::BadUrl(_) => "invalid",
            _ => return AppError::Internal(e.to_string()),
        };
        AppError::Store {
            message: e.to_string(),
            code,
        }
    }
}

impl AppError {
    /// Whose fault it is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::Input { .. }
            | AppError::Path { .. }
            | AppError::Argument { .. }
            | AppError::Store { .. } => ErrorKind::User,
            AppError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Input { .. } => "bad-input",
            AppError::Path { .. } => "bad-path",
            AppError::Argument { .. } => "bad-argument",
            AppError::Store { code, .. } => code,
            AppError::Internal(_) => "internal",
        }
    }

    /// Builds an input error from collected issues.
    pub fn input(what: &str, issues: ingest::Issues) -> AppError {
        let errors = issues.error_count();
        let omitted = issues.omitted();
        let mut list = issues.into_vec();
        list.sort();
        // The subject is `what`: "the rate table has 4 errors", "the permit reports have 1".
        let plural = what.ends_with('s') || what.ends_with("data");
        AppError::Input {
            summary: format!(
                "{what} {} {errors} error{}",
                if plural { "have" } else { "has" },
                if errors == 1 { "" } else { "s" }
            ),
            issues: list,
            omitted,
        }
    }
}
