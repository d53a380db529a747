//! `ApiError`: why a request failed, as the status and the JSON body
//! (`{"code", "message"}`) a client gets. A server-side failure (5xx) is
//! logged with its causes and answered with a generic message: nothing
//! from inside roster reaches the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("sign in with an API token: `Authorization: Bearer TOKEN`")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no such import for this account")]
    NotFound,
    #[error(
        "no such report for this account: a refused upload's report is kept for a day, the last 5 of an account"
    )]
    NoReport,
    #[error("the file was refused as a whole: it has no rows to fix; the report says why")]
    NoRows,
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("the file is larger than the limit of {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("the account already has an import {state}: {id}; wait for it to finish or stop it")]
    ImportActive { id: String, state: String },
    #[error("{0}")]
    CannotUndo(String),
    #[error("something went wrong on the server")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorJson {
    /// A stable code: `unauthorized`, `forbidden`, `not_found`,
    /// `bad_upload`, `invalid_option`, `file_too_large`, `import_active`,
    /// `cannot_undo`, `internal`.
    pub code: &'static str,
    pub message: String,
    /// With `import_active`: the import that is active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<String>,
}

impl ApiError {
    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
        ApiError::Internal(Box::new(e))
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::NoReport | ApiError::NoRows => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ImportActive { .. } | ApiError::CannotUndo(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound | ApiError::NoReport | ApiError::NoRows => "not_found",
            ApiError::BadRequest { code, .. } => code,
            ApiError::TooLarge { .. } => "file_too_large",
            ApiError::ImportActive { .. } => "import_active",
            ApiError::CannotUndo(_) => "cannot_undo",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = %Chain(e.as_ref()), "request failed");
        }
        let body = ErrorJson {
            code: self.code(),
            message: self.to_string(),
            import: match &self {
                ApiError::ImportActive { id, .. } => Some(id.clone()),
                _ => None,
            },
        };
        (self.status(), Json(body)).into_response()
    }
}

impl From<roster_store::Error> for ApiError {
    fn from(e: roster_store::Error) -> ApiError {
        match e {
            roster_store::Error::NoImport(_) => ApiError::NotFound,
            roster_store::Error::ImportActive { id, state } => ApiError::ImportActive { id, state },
            e @ roster_store::Error::CannotUndo { .. } => ApiError::CannotUndo(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<roster_jobs::Error> for ApiError {
    fn from(e: roster_jobs::Error) -> ApiError {
        match e {
            roster_jobs::Error::Store(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

/// An error with its causes, `a: b: c`, for the log.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}
