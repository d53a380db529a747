//! `Query`: a request's query string read into its typed parameters, and a
//! parameter that does not read (a word where a number goes, a value not
//! in its list) refused as `invalid_option` in the API's error JSON.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The query's parameters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Query<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Query<T>, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(query)) => Ok(Query(query)),
            Err(rejection) => Err(ApiError::BadRequest {
                code: "invalid_option",
                message: rejection.body_text(),
            }),
        }
    }
}

/// A `limit` from 1 to `max`, or `invalid_option`.
pub(crate) fn limit(limit: u32, max: u32) -> Result<u32, ApiError> {
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(crate::imports::invalid_option(format!(
            "limit {limit}: use a whole number from 1 to {max}"
        )))
    }
}

/// A `code` that is a row code, or `invalid_option`.
pub(crate) fn row_code(code: &str) -> Result<&str, ApiError> {
    if crate::imports::row_codes().any(|c| c == code) {
        Ok(code)
    } else {
        Err(crate::imports::invalid_option(format!(
            "code '{code}': use a row code, e.g. email_taken"
        )))
    }
}

/// Says where the next page is: `Link: <URL>; rel="next"`.
pub(crate) fn link_next(response: &mut Response, url: &str) {
    if let Ok(value) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
        response.headers_mut().insert(header::LINK, value);
    }
}
