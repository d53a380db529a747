//! The import routes of the API: upload a file, list and read imports,
//! their results and failed rows, stop one. Every route acts for the
//! caller's account only: another account's import does not exist here
//! (404), whatever its id.

use std::ops::ControlFlow;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_csv::csv_line;
use roster_jobs::{
    DEFAULT_CHUNK_ROWS, ResultFilter, RowStatus, Submission, Submitted, for_each_result_where,
    queue, results_page, submit, write_failed_rows,
};
use roster_store::{Import, ImportId, PasswordDelivery, StopOutcome};
use roster_validate::{Code, Mode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::contract::{
    RESULTS_CSV_HEADER, ReportJson, ResultJson, StatusJson, SummaryJson, result_csv,
};
use crate::error::ErrorJson;
use crate::query::{self, Query};
use crate::reports::report_links;
use crate::stream::{csv_response, json_response, streamed};
use crate::upload::{Upload, receive};
use crate::{ApiError, AppState};

/// The chunk sizes a client may ask for: a chunk is worth a job of its
/// own (a thousand rows take a few tenths of a second), and none holds a
/// worker for long.
const CHUNK_ROWS: std::ops::RangeInclusive<u64> = 1_000..=1_000_000;

/// An import's options, in the query string or as form fields.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportOptions {
    /// Voice services: `true` (default) or `false` (the phone, extension
    /// and location columns are ignored).
    #[param(schema_with = voice_schema)]
    voice: Option<String>,
    /// Temporary passwords: `users` (default), `none`, or `to:ADDRESS`.
    #[param(pattern = "^(users|none|to:[^@]+@[^@]+)$")]
    passwords: Option<String>,
    /// Data rows per chunk, for workers to share (default 100000).
    #[param(value_type = Option<u64>, minimum = 1000, maximum = 1000000)]
    chunk_rows: Option<String>,
    /// What rows do to users whose email they name: `create` (default),
    /// `upsert` or `update`.
    #[param(schema_with = mode_schema)]
    mode: Option<String>,
    /// `true`: validate and make the plan only, and keep the report (its
    /// `report.id` is the plan to apply); nothing is written.
    #[param(schema_with = voice_schema)]
    dry_run: Option<String>,
    /// Apply this plan: the id of a dry run's report. No file is sent: the
    /// file the plan was made of is imported as the plan says, in its mode
    /// and with its voice setting.
    plan: Option<String>,
}

/// What `voice` takes.
const VOICE_ON: [&str; 4] = ["true", "on", "1", "yes"];
const VOICE_OFF: [&str; 4] = ["false", "off", "0", "no"];

fn voice_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(VOICE_ON.into_iter().chain(VOICE_OFF)))
        .build()
}

fn mode_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Mode::ALL.map(Mode::as_str)))
        .build()
}

/// How many imports a list gives.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListOptions {
    /// At most this many, newest first (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The most imports a list gives.
const MAX_LIST: u32 = 500;

/// Which results, from where, and how many.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ResultsQuery {
    /// Rows after this line of the file: the `row` of the last result of
    /// the page before. Absent: from the first row.
    #[param(minimum = 0)]
    after: Option<u64>,
    /// At most this many results; the response's `Link` header (`rel="next"`)
    /// gives the next page when there may be more. Absent: every result,
    /// streamed.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Only rows of this status.
    status: Option<StatusFilter>,
    /// Only failed rows with an error of this code.
    #[param(schema_with = row_code_schema)]
    code: Option<String>,
}

/// A row status to filter by.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StatusFilter {
    Created,
    Updated,
    Unchanged,
    Failed,
    NotProcessed,
}

impl From<StatusFilter> for RowStatus {
    fn from(status: StatusFilter) -> RowStatus {
        match status {
            StatusFilter::Created => RowStatus::Created,
            StatusFilter::Updated => RowStatus::Updated,
            StatusFilter::Unchanged => RowStatus::Unchanged,
            StatusFilter::Failed => RowStatus::Failed,
            StatusFilter::NotProcessed => RowStatus::NotProcessed,
        }
    }
}

/// The most results a page gives.
const MAX_PAGE: u32 = 1000;

/// Codes a row's result can have: the row codes.
pub(crate) fn row_codes() -> impl Iterator<Item = &'static str> {
    Code::ALL
        .into_iter()
        .filter(|c| !c.is_file_level())
        .map(Code::as_str)
}

/// The schema of a `code` parameter: one of the row codes.
pub(crate) fn row_code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(row_codes()))
        .build()
}

impl ResultsQuery {
    /// The filter asked for; a limit out of range, an unknown code, or a
    /// code with a status other than `failed` is refused.
    fn filter(&self) -> Result<ResultFilter<'_>, ApiError> {
        if let Some(limit) = self.limit {
            query::limit(limit, MAX_PAGE)?;
        }
        let status = self.status.map(RowStatus::from);
        match (&self.code, status) {
            (Some(code), None | Some(RowStatus::Failed)) => {
                Ok(ResultFilter::Code(query::row_code(code)?))
            }
            (Some(_), Some(_)) => Err(invalid_option(
                "code picks failed rows: send it without status, or with status=failed".to_string(),
            )),
            (None, Some(status)) => Ok(ResultFilter::Status(status)),
            (None, None) => Ok(ResultFilter::All),
        }
    }

    /// The query of the page after the one ending at `row`.
    fn next(&self, row: u64, limit: u32) -> String {
        let mut query = format!("after={row}&limit={limit}");
        if let Some(status) = self.status {
            query.push_str(&format!("&status={}", RowStatus::from(status).as_str()));
        }
        if let Some(code) = &self.code {
            query.push_str(&format!("&code={code}"));
        }
        query
    }
}

/// What stopping did, and the import after it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StopJson<'a> {
    /// `stopped` (it was queued), `stopping` (it stops after the batch in
    /// progress) or `already_finished` (nothing changed).
    outcome: &'static str,
    import: StatusJson<'a>,
}

/// The form of an upload (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the form; the fields are read from the stream.
pub(crate) struct ImportForm {
    /// The CSV file.
    #[schema(format = Binary, content_media_type = "text/csv")]
    file: String,
    /// `true` or `false`.
    voice: Option<String>,
    /// `users`, `none` or `to:ADDRESS`.
    passwords: Option<String>,
    /// Data rows per chunk: 1000 to 1000000.
    chunk_rows: Option<String>,
    /// `create`, `upsert` or `update`.
    mode: Option<String>,
    /// `true`: the plan only.
    dry_run: Option<String>,
}

/// Uploads a file: validates every row and, if all pass, queues the import.
/// With `dry_run`, validates and plans only; with `plan`, queues the import
/// of a dry run's file exactly as its plan says.
#[utoipa::path(
    post,
    path = "/api/imports",
    tag = "imports",
    params(ImportOptions),
    request_body(content(
        (ImportForm = "multipart/form-data"),
        (String = "text/csv"),
    )),
    responses(
        (status = 202, description = "Every row is valid; the import is queued",
            body = StatusJson, headers(("Location" = String, description = "The import's URL"))),
        (status = 200, description = "A dry run: every row is valid; the report holds the plan, kept a day", body = ReportJson),
        (status = 422, description = "The file has errors; nothing was written", body = ReportJson),
        (status = 400, description = "An unusable option or form", body = ErrorJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 409, description = "The account already has an import queued or running, or the plan to apply has errors", body = ErrorJson),
        (status = 404, description = "No such plan for this account (kept a day)", body = ErrorJson),
        (status = 413, description = "The file is over the size limit", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn create_import(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ImportOptions>,
    request: Request,
) -> Result<Response, ApiError> {
    // Options in the query are checked, and an account with an import
    // active is answered, before a byte of the upload is read.
    let ImportOptions {
        voice,
        passwords,
        chunk_rows,
        mode,
        dry_run,
        plan,
    } = query;
    let asked = Chosen::read(
        voice.as_deref(),
        passwords.as_deref(),
        chunk_rows.as_deref(),
        mode.as_deref(),
        dry_run.as_deref(),
    )?;
    if !asked.dry_run {
        state
            .store
            .check_no_active_import(caller.account.id)
            .await?;
    }
    if let Some(plan) = plan {
        return apply_plan(&state, &caller, &plan, asked).await;
    }
    let upload: Upload = receive(request, &state, state.limits.max_bytes).await?;
    // A form field says what the query does not.
    let field =
        |name: &str, from_query: Option<String>| upload.fields.get(name).cloned().or(from_query);
    let (voice, passwords, chunk_rows, mode, dry_run) = (
        field("voice", voice),
        field("passwords", passwords),
        field("chunk_rows", chunk_rows),
        field("mode", mode),
        field("dry_run", dry_run),
    );
    let chosen = Chosen::read(
        voice.as_deref(),
        passwords.as_deref(),
        chunk_rows.as_deref(),
        mode.as_deref(),
        dry_run.as_deref(),
    )?;
    let submission = Submission {
        account: &caller.account,
        path: &upload.path,
        file_name: upload.name.clone(),
        voice: chosen.voice,
        passwords: chosen.passwords,
        limits: state.limits,
        chunk_rows: chosen.chunk_rows,
        mode: chosen.mode,
    };
    if chosen.dry_run {
        let input = std::fs::File::open(&upload.path).map_err(ApiError::internal)?;
        let checked = roster_jobs::check(
            &state.store,
            &caller.account,
            Box::new(input),
            chosen.voice,
            state.limits,
            chosen.mode,
        )
        .await?;
        let status = if checked.report.is_valid() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let Upload { path, name, .. } = upload;
        let kept = state.reports.keep(caller.account.id, checked, path, name)?;
        return Ok((status, Json(report_body(kept).await?)).into_response());
    }
    match submit(&state.store, submission).await? {
        Submitted::Invalid(checked) => {
            let Upload { path, name, .. } = upload;
            let kept = state.reports.keep(caller.account.id, checked, path, name)?;
            let body = report_body(kept).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
        }
        Submitted::Queued { import, .. } => Ok(queued(&import)),
    }
}

/// A kept report as an upload is answered: its first errors and actions,
/// and where all of it is.
async fn report_body(kept: crate::reports::KeptReport) -> Result<ReportJson, ApiError> {
    tokio::task::spawn_blocking(move || -> Result<ReportJson, ApiError> {
        let first = kept.first_errors()?;
        let actions = kept.first_actions()?;
        Ok(ReportJson::new(&kept.report, first)
            .planned(actions)
            .linked(report_links(&kept)))
    })
    .await
    .map_err(ApiError::internal)?
}

/// The answer to an upload whose import is queued.
fn queued(import: &roster_store::Import) -> Response {
    let location = format!("/api/imports/{}", import.id);
    let mut response = (StatusCode::ACCEPTED, Json(StatusJson::new(import))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Queues the import of a dry run's file, exactly as its plan says: the
/// file is not validated again, so that what changed since the plan fails
/// its rows (`changed_since_plan`) rather than changing the plan.
async fn apply_plan(
    state: &AppState,
    caller: &Caller,
    id: &str,
    asked: Chosen,
) -> Result<Response, ApiError> {
    let kept = state.reports.get(caller.account.id, id)?;
    if !kept.report.is_valid() {
        return Err(ApiError::BadRequest {
            code: "plan_has_errors",
            message: format!(
                "the plan {id} has errors: fix the file and make a new plan (dry_run=true)"
            ),
        });
    }
    let submission = Submission {
        account: &caller.account,
        path: &kept.file,
        file_name: kept.name.clone(),
        voice: kept.options.voice,
        passwords: asked.passwords,
        limits: state.limits,
        chunk_rows: asked.chunk_rows,
        mode: kept.options.mode,
    };
    let rows = kept.plan.rows().map_err(ApiError::internal)?;
    let (_, import) = queue(
        &state.store,
        &submission,
        (*kept.report).clone(),
        Some(rows),
    )
    .await?;
    Ok(queued(&import))
}

/// The account's imports, newest first.
#[utoipa::path(
    get,
    path = "/api/imports",
    tag = "imports",
    params(ListOptions),
    responses(
        (status = 200, description = "The imports", body = [StatusJson]),
        (status = 400, description = "A limit out of range", body = ErrorJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn list_imports(
    State(state): State<AppState>,
    caller: Caller,
    Query(options): Query<ListOptions>,
) -> Result<Response, ApiError> {
    let limit = query::limit(options.limit.unwrap_or(50), MAX_LIST)?;
    let imports = state.store.account_imports(&caller.account, limit).await?;
    let body: Vec<StatusJson<'_>> = imports.iter().map(StatusJson::new).collect();
    Ok(Json(body).into_response())
}

/// An import's state and counts.
#[utoipa::path(
    get,
    path = "/api/imports/{id}",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The import", body = StatusJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn get_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    Ok(Json(StatusJson::new(&import)).into_response())
}

/// Results in file order, a page at a time (`limit`, then `after` the last
/// row of the page before) or all of them streamed; every row, or the rows
/// of one status or one error code. JSON, or CSV when the request accepts
/// `text/csv`.
#[utoipa::path(
    get,
    path = "/api/imports/{id}/results",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id"), ResultsQuery),
    responses(
        (status = 200, description = "The results: JSON, or CSV when `Accept: text/csv`",
            content(([ResultJson] = "application/json"), (String = "text/csv")),
            headers(("Link" = String, description = "With `limit`, when the page is full: \
                `<URL>; rel=\"next\"`, the next page"))),
        (status = 400, description = "A parameter out of range or not in its list", body = ErrorJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn results(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ResultsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    query.filter()?;
    let import = owned_import(&state, &caller, &id).await?;
    let Some(limit) = query.limit else {
        return Ok(results_as(state, import, query, csv));
    };
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let after = query.after.unwrap_or(0);
    let id = import.id.clone();
    let (page, query) = tokio::task::spawn_blocking(move || {
        let filter = query.filter()?;
        let page = results_page(&store, &import, runtime, after, limit as usize, filter)?;
        Ok::<_, ApiError>((page, query))
    })
    .await
    .map_err(ApiError::internal)??;
    // A full page may have more after it.
    let next = page
        .last()
        .filter(|_| page.len() == limit as usize)
        .map(|last| format!("/api/imports/{id}/results?{}", query.next(last.row, limit)));
    let mut response = if csv {
        let mut body = csv_line(RESULTS_CSV_HEADER);
        for line in &page {
            body.push_str(&result_csv(line));
        }
        csv_response(body.into(), None)
    } else {
        let json: Vec<ResultJson<'_>> = page.iter().map(ResultJson::new).collect();
        Json(json).into_response()
    };
    if let Some(next) = next {
        query::link_next(&mut response, &next);
    }
    Ok(response)
}

/// Every result as JSON, streamed: the download.
#[utoipa::path(
    get,
    path = "/api/imports/{id}/results.json",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The results", body = [ResultJson]),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn results_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    Ok(results_as(state, import, ResultsQuery::default(), false))
}

/// Every result as CSV, streamed: the download.
#[utoipa::path(
    get,
    path = "/api/imports/{id}/results.csv",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The results", body = String, content_type = "text/csv"),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn results_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    Ok(results_as(state, import, ResultsQuery::default(), true))
}

/// An import's rows counted by status, and its failed rows' errors by code
/// and column: what a page of results is out of.
#[utoipa::path(
    get,
    path = "/api/imports/{id}/summary",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The counts", body = SummaryJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    let counts = state.store.failure_counts(import.key).await?;
    Ok(Json(SummaryJson::new(&import, counts)).into_response())
}

/// The original header and cells of every row not created, plus `Errors`:
/// the file to fix and upload again.
#[utoipa::path(
    get,
    path = "/api/imports/{id}/failed-rows.csv",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The failed rows", body = String, content_type = "text/csv"),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn failed_rows(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        failed_rows_file_name(&import)
    );
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let body = streamed(move |out| write_failed_rows(&store, &import, runtime, out).map(|_| ()));
    Ok(csv_response(body, Some(disposition)))
}

/// Asks the import to stop: a queued one stops at once, a running one
/// after the batch in progress. Rows already created stay.
#[utoipa::path(
    post,
    path = "/api/imports/{id}/stop",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "What stopping did", body = StopJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 403, description = "A signed-in page without its CSRF token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn stop_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    let outcome = match state.store.stop(&import.id).await? {
        StopOutcome::Stopped => "stopped",
        StopOutcome::Stopping => "stopping",
        StopOutcome::AlreadyFinished(_) => "already_finished",
        StopOutcome::UndoStopped => "undo_stopped",
        StopOutcome::UndoStopping => "undo_stopping",
    };
    let now = state.store.existing_import(&import.id).await?;
    Ok(Json(StopJson {
        outcome,
        import: StatusJson::new(&now),
    })
    .into_response())
}

/// Asks for the import to be undone: the users it created deleted (their
/// extensions freed, numbers parked again, queued password messages
/// cancelled), the users it updated given back what they had; a user
/// changed since is left alone. A worker runs it; the import's status
/// shows how far it is (`undo`), its results each row's outcome.
#[utoipa::path(
    post,
    path = "/api/imports/{id}/undo",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 202, description = "The undo is queued", body = StatusJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 403, description = "A signed-in page without its CSRF token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
        (status = 409, description = "The import is still queued or running, was undone already \
            (`cannot_undo`), or another import of the account is active (`import_active`)",
            body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn undo_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    let asked = roster_jobs::queue_undo(&state.store, &import.id).await?;
    Ok((StatusCode::ACCEPTED, Json(StatusJson::new(&asked))).into_response())
}

/// The import with this id, if it is the caller's; any other import, or
/// an id that is not one, is not found.
async fn owned_import(state: &AppState, caller: &Caller, id: &str) -> Result<Import, ApiError> {
    let id = ImportId::parse(id).ok_or(ApiError::NotFound)?;
    match state.store.import(&id).await? {
        Some(import) if import.account == caller.account.id => Ok(import),
        _ => Err(ApiError::NotFound),
    }
}

/// The results `query` picks, all of them, streamed as CSV or JSON.
fn results_as(state: AppState, import: Import, query: ResultsQuery, csv: bool) -> Response {
    let store = state.store;
    let runtime = tokio::runtime::Handle::current();
    if csv {
        let body = streamed(move |out| {
            out.write_all(csv_line(RESULTS_CSV_HEADER).as_bytes())
                .map_err(roster_jobs::Error::Output)?;
            each_line(&store, &import, runtime, &query, |line, _| {
                out.write_all(result_csv(line).as_bytes())
                    .map_err(roster_jobs::Error::Output)
            })
        });
        return csv_response(body, None);
    }
    json_response(streamed(move |out| {
        out.write_all(b"[").map_err(roster_jobs::Error::Output)?;
        each_line(&store, &import, runtime, &query, |line, first| {
            if !first {
                out.write_all(b",").map_err(roster_jobs::Error::Output)?;
            }
            serde_json::to_writer(&mut *out, &ResultJson::new(line))
                .map_err(|e| roster_jobs::Error::Output(std::io::Error::other(e)))
        })?;
        out.write_all(b"]").map_err(roster_jobs::Error::Output)
    }))
}

/// Calls `write` with every result `query` picks, and whether it is the
/// first.
fn each_line(
    store: &roster_store::Store,
    import: &Import,
    runtime: tokio::runtime::Handle,
    query: &ResultsQuery,
    mut write: impl FnMut(&roster_jobs::ResultLine, bool) -> Result<(), roster_jobs::Error>,
) -> Result<(), roster_jobs::Error> {
    // Checked before the response began: it reads.
    let filter = query
        .filter()
        .map_err(|e| roster_jobs::Error::Output(std::io::Error::other(e.to_string())))?;
    let mut first = true;
    let after = query.after.unwrap_or(0);
    for_each_result_where(store, import, runtime, after, filter, &mut |line| {
        write(line, first)?;
        first = false;
        Ok(ControlFlow::Continue(()))
    })
}

/// The failed-rows file's name: the uploaded name's stem in safe letters,
/// then `-failed-rows.csv`.
fn failed_rows_file_name(import: &Import) -> String {
    match safe_stem(&import.file_name) {
        Some(stem) => format!("{stem}-failed-rows.csv"),
        None => format!("import-{}-failed-rows.csv", &import.id.as_str()[..8]),
    }
}

/// An uploaded file's name without its extension, in safe letters
/// (`A-Z a-z 0-9 . _ -`, nothing a browser or a shell reads specially), to
/// name a download after; `None` when nothing is left.
pub(crate) fn safe_stem(name: &str) -> Option<String> {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let safe = safe.trim_matches(|c| c == '.' || c == '_');
    (!safe.is_empty()).then(|| safe.to_string())
}

/// An import's options, read.
struct Chosen {
    voice: bool,
    passwords: PasswordDelivery,
    chunk_rows: u64,
    mode: Mode,
    dry_run: bool,
}

/// A yes-or-no option; `None` when it is neither.
fn yes_no(text: &str) -> Option<bool> {
    if VOICE_ON.contains(&text) {
        Some(true)
    } else if VOICE_OFF.contains(&text) {
        Some(false)
    } else {
        None
    }
}

impl Chosen {
    /// The options as sent; `None`: the default.
    fn read(
        voice: Option<&str>,
        passwords: Option<&str>,
        chunk_rows: Option<&str>,
        mode: Option<&str>,
        dry_run: Option<&str>,
    ) -> Result<Chosen, ApiError> {
        let voice = match voice {
            None => true,
            Some(v) => yes_no(v)
                .ok_or_else(|| invalid_option(format!("voice '{v}': use true or false")))?,
        };
        let dry_run = match dry_run {
            None => false,
            Some(v) => yes_no(v)
                .ok_or_else(|| invalid_option(format!("dry_run '{v}': use true or false")))?,
        };
        let mode = match mode {
            None => Mode::Create,
            Some(text) => Mode::parse(text.trim()).ok_or_else(|| {
                invalid_option(format!("mode '{text}': use create, upsert or update"))
            })?,
        };
        let passwords = match passwords {
            None => PasswordDelivery::Users,
            Some(text) => PasswordDelivery::parse(text.trim()).ok_or_else(|| {
                invalid_option(format!(
                    "passwords '{text}': use users, none, or to:ADDRESS with a valid email address"
                ))
            })?,
        };
        let chunk_rows = match chunk_rows {
            None => DEFAULT_CHUNK_ROWS,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| CHUNK_ROWS.contains(n))
                .ok_or_else(|| {
                    invalid_option(format!(
                        "chunk_rows '{text}': use a whole number from {} to {}",
                        CHUNK_ROWS.start(),
                        CHUNK_ROWS.end()
                    ))
                })?,
        };
        Ok(Chosen {
            voice,
            passwords,
            chunk_rows,
            mode,
            dry_run,
        })
    }
}

pub(crate) fn invalid_option(message: String) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_option",
        message,
    }
}
