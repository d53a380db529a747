//! `Caller`: the account a request acts for, proven by an API token.
//!
//! Scripts send `Authorization: Bearer TOKEN`. The web page signs in with a
//! token once and keeps it in a session cookie (HttpOnly, SameSite=Strict);
//! a request that changes something with that cookie must also carry the
//! session's CSRF token (header `X-CSRF-Token`), which the page holds and
//! another site cannot read. Every handler scopes what it reads and writes
//! to the caller's account.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use roster_store::Account;

use crate::{ApiError, AppState, token};

/// The cookie that holds a signed-in page's token.
pub(crate) const SESSION_COOKIE: &str = "roster_session";
/// The header that carries a session's CSRF token.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Who is calling.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) account: Account,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let Some(token) = bearer {
            let account = account(state, token).await?.ok_or(ApiError::Unauthorized)?;
            return Ok(Caller { account });
        }
        let Some(token) = session_token(&parts.headers) else {
            return Err(ApiError::Unauthorized);
        };
        let account = account(state, &token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !token::same(sent, &token::csrf(&token)) {
                return Err(ApiError::Forbidden(
                    "a signed-in page must send its CSRF token (X-CSRF-Token)",
                ));
            }
        }
        Ok(Caller { account })
    }
}

/// The account `token` opens, if any.
pub(crate) async fn account(state: &AppState, token: &str) -> Result<Option<Account>, ApiError> {
    if !token::well_formed(token) {
        return Ok(None);
    }
    Ok(state.store.token_account(&token::hash(token)).await?)
}

/// The token in the request's session cookie.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The `Set-Cookie` value that signs the page in with `token`; `secure`
/// when the page is served over HTTPS (the browser then never sends it in
/// clear).
pub(crate) fn session_cookie(token: &str, secure: bool) -> String {
    cookie(token, "Max-Age=43200", secure)
}

/// The `Set-Cookie` value that signs the page out.
pub(crate) fn ended_session_cookie(secure: bool) -> String {
    cookie("", "Max-Age=0", secure)
}

fn cookie(value: &str, age: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; {age}{secure}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn cookies_are_http_only_strict_and_secure_when_asked() {
        assert_eq!(
            super::session_cookie("rst_x", false),
            "roster_session=rst_x; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"
        );
        assert_eq!(
            super::ended_session_cookie(true),
            "roster_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
        );
    }
}
