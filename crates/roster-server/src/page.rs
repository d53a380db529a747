//! The admin web page: signing in and out with a token, the page itself
//! (rendered here, from `assets/page.html`), its script and style, and the
//! CSV template. The page drives the API with its session cookie.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use roster_store::{Account, Import};
use serde::Deserialize;

use roster_text::{fill, html_escape};

use crate::auth::{self, session_token};
use crate::{ApiError, AppState, token};

const PAGE: &str = include_str!("../assets/page.html");
const SIGN_IN: &str = include_str!("../assets/sign-in.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

/// Imports listed on the page.
const RECENT: u32 = 20;

#[derive(Debug, Deserialize)]
pub(crate) struct SignIn {
    token: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignOut {
    csrf: String,
}

/// The page, or the sign-in form when the browser is not signed in.
pub(crate) async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = session_token(&headers) else {
        return Ok(sign_in_page(StatusCode::OK, None));
    };
    let Some(account) = auth::account(&state, &token).await? else {
        return Ok(sign_in_page(
            StatusCode::OK,
            Some("Your session ended: sign in again."),
        ));
    };
    let imports = state.store.account_imports(&account, RECENT).await?;
    Ok(Html(page(&account, &token::csrf(&token), &imports)).into_response())
}

/// Signs the browser in with an API token.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Form(form): Form<SignIn>,
) -> Result<Response, ApiError> {
    let token = form.token.trim();
    if auth::account(&state, token).await?.is_none() {
        return Ok(sign_in_page(
            StatusCode::UNAUTHORIZED,
            Some("That token opens no account. Check it, or make a new one."),
        ));
    }
    Ok(with_cookie(
        Redirect::to("/"),
        &auth::session_cookie(token, state.secure_cookies),
    ))
}

/// Signs the browser out.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignOut>,
) -> Response {
    let signed_in = session_token(&headers);
    let valid = signed_in.is_some_and(|t| token::same(&form.csrf, &token::csrf(&t)));
    if !valid {
        return ApiError::Forbidden("sign out from the page").into_response();
    }
    with_cookie(
        Redirect::to("/"),
        &auth::ended_session_cookie(state.secure_cookies),
    )
}

pub(crate) async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub(crate) async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// The CSV template to fill in.
pub(crate) async fn template() -> Response {
    let mut response = roster_template::TEMPLATE_FILE.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"users.csv\""),
    );
    response
}

fn page(account: &Account, csrf: &str, imports: &[Import]) -> String {
    let rows: String = imports.iter().map(import_row).collect();
    let rows = if rows.is_empty() {
        "<tr><td colspan=\"8\">No imports yet.</td></tr>".to_string()
    } else {
        rows
    };
    // Values are escaped where they are made: the rows are HTML already.
    fill(
        PAGE,
        &[
            ("account", &html_escape(&account.name)),
            ("slug", &html_escape(account.slug.as_str())),
            ("csrf", csrf),
            ("imports", &rows),
            (
                "active",
                imports
                    .iter()
                    .find(|i| i.state.is_active() || undoing(i))
                    .map_or("", |i| i.id.as_str()),
            ),
        ],
        str::to_string,
    )
}

/// Whether the import's undo is queued or running: it holds the account.
fn undoing(import: &Import) -> bool {
    import.undo.as_ref().is_some_and(|u| u.state.is_active())
}

fn import_row(import: &Import) -> String {
    let mut state = import.state.as_str().replace('_', " ");
    if let Some(undo) = &import.undo {
        state.push_str(&format!(", undo {}", undo.state.as_str().replace('_', " ")));
    }
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td><button type=\"button\" data-import=\"{}\">Open<span class=\"visually-hidden\"> {}</span></button></td></tr>\n",
        html_escape(&import.file_name),
        state,
        import.total,
        import.created,
        import.failed,
        import.not_processed,
        html_escape(&import.created_at),
        import.id,
        html_escape(&import.file_name),
    )
}

fn sign_in_page(status: StatusCode, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    (
        status,
        Html(fill(SIGN_IN, &[("error", &error)], str::to_string)),
    )
        .into_response()
}

fn with_cookie(response: impl IntoResponse, cookie: &str) -> Response {
    let mut response = response.into_response();
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
