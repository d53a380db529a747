//! `Reports`: the reports of refused uploads, kept by this server for a
//! day so that a 422's links lead to all of it: every error as JSON, a
//! page of errors at a time, and the file's rows with their errors, to fix
//! and upload again. Nothing of a report is in memory but its counts: the
//! errors and the file stay in their temporary files, and go with the
//! report.
//!
//! An account keeps its last [`PER_ACCOUNT`] reports; a report is another
//! account's or gone: not found.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use roster_jobs::{Checked, SharedErrors, SharedPlan, write_refused_rows};
use roster_store::AccountId;
use roster_validate::{Action, Options, PlannedRow, Report, RowError};
use serde::Deserialize;
use tempfile::TempPath;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::contract::{
    ActionJson, FIRST_ERRORS, ReportErrorJson, ReportJson, ReportLinksJson, row_error_json,
    write_report_json,
};
use crate::error::ErrorJson;
use crate::imports::{row_code_schema, safe_stem};
use crate::query::{self, Query};
use crate::stream::{csv_response, json_response, streamed};
use crate::{ApiError, AppState};

/// Reports an account keeps, newest first.
pub(crate) const PER_ACCOUNT: usize = 5;
/// How long a report is kept.
const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// The reports this server keeps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reports(Arc<Mutex<VecDeque<KeptReport>>>);

/// A refused upload's report (or a dry run's), its errors, its plan and
/// its file.
#[derive(Clone)]
pub(crate) struct KeptReport {
    pub(crate) id: String,
    account: AccountId,
    kept_at: Instant,
    pub(crate) report: Arc<Report>,
    pub(crate) errors: SharedErrors,
    /// In upsert and update mode: every row's plan.
    pub(crate) plan: SharedPlan,
    pub(crate) file: Arc<TempPath>,
    pub(crate) options: Options,
    /// The uploaded file's name, as shown.
    pub(crate) name: String,
}

impl std::fmt::Debug for KeptReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptReport").field("id", &self.id).finish()
    }
}

impl Reports {
    /// Keeps a refused upload's report; its id. The account's oldest report
    /// beyond [`PER_ACCOUNT`], and any older than a day, go.
    pub(crate) fn keep(
        &self,
        account: AccountId,
        checked: Checked,
        file: TempPath,
        name: String,
    ) -> Result<KeptReport, ApiError> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| {
            ApiError::internal(std::io::Error::other(format!(
                "the system's random source: {e}"
            )))
        })?;
        let kept = KeptReport {
            id: crate::token::hex(&id),
            account,
            kept_at: Instant::now(),
            report: Arc::new(checked.report),
            errors: checked.errors.finish().map_err(ApiError::internal)?,
            plan: checked.plan.finish().map_err(ApiError::internal)?,
            file: Arc::new(file),
            options: checked.options,
            name,
        };
        let mut reports = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        reports.retain(|r| r.kept_at.elapsed() < KEPT_FOR);
        reports.push_front(kept.clone());
        let mut seen = 0;
        reports.retain(|r| {
            if r.account != account {
                return true;
            }
            seen += 1;
            seen <= PER_ACCOUNT
        });
        Ok(kept)
    }

    /// The account's report with this id.
    pub(crate) fn get(&self, account: AccountId, id: &str) -> Result<KeptReport, ApiError> {
        let reports = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        reports
            .iter()
            .find(|r| r.account == account && r.id == id && r.kept_at.elapsed() < KEPT_FOR)
            .cloned()
            .ok_or(ApiError::NoReport)
    }
}

impl KeptReport {
    /// The report's first errors: as many as a 422 answers with. Blocks
    /// on the file of errors.
    pub(crate) fn first_errors(&self) -> Result<Vec<RowError>, ApiError> {
        self.errors
            .errors_after(0)
            .map_err(ApiError::internal)?
            .take(FIRST_ERRORS)
            .collect::<Result<_, _>>()
            .map_err(ApiError::internal)
    }
}

impl KeptReport {
    /// The plan's first rows: as many as an upload is answered with.
    pub(crate) fn first_actions(&self) -> Result<Vec<PlannedRow>, ApiError> {
        self.plan
            .rows()
            .map_err(ApiError::internal)?
            .take(FIRST_ERRORS)
            .collect::<Result<_, _>>()
            .map_err(ApiError::internal)
    }
}

/// Where the report's parts are.
pub(crate) fn report_links(kept: &KeptReport) -> ReportLinksJson {
    let base = format!("/api/reports/{}", kept.id);
    ReportLinksJson {
        id: kept.id.clone(),
        json: base.clone(),
        errors: format!("{base}/errors"),
        actions: kept.report.plan.map(|_| format!("{base}/actions")),
        csv: kept
            .report
            .file_errors
            .is_empty()
            .then(|| format!("{base}/rows.csv")),
    }
}

/// Which errors of a report, from where, and how many.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ErrorsQuery {
    /// Errors of rows after this line of the file: the `row` of the last
    /// error of the page before. Absent: from the first row.
    #[param(minimum = 0)]
    after: Option<u64>,
    /// The errors of at most this many rows (default 100): a row's errors
    /// are never split between pages. The response's `Link` header
    /// (`rel="next"`) gives the next page when there is more.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Only errors of this code.
    #[param(schema_with = row_code_schema)]
    code: Option<String>,
}

/// The most errors a page gives.
const MAX_PAGE: u32 = 1000;

/// A refused upload's whole report: every error, streamed.
#[utoipa::path(
    get,
    path = "/api/reports/{id}",
    tag = "reports",
    params(("id" = String, Path, description = "The report's id, from the 422 answer")),
    responses(
        (status = 200, description = "The report, every error in it", body = ReportJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such report for this account (kept a day)", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let kept = state.reports.get(caller.account.id, &id)?;
    Ok(json_response(streamed(move |out| {
        let errors = kept
            .errors
            .errors_after(0)
            .map_err(roster_jobs::Error::Scratch)?;
        let planned = kept.plan.rows().map_err(roster_jobs::Error::Scratch)?;
        write_report_json(out, &kept.report, errors, planned).map_err(roster_jobs::Error::Output)
    })))
}

/// A refused upload's row errors in file order, a page of rows at a time,
/// all of them or those of one code.
#[utoipa::path(
    get,
    path = "/api/reports/{id}/errors",
    tag = "reports",
    params(("id" = String, Path, description = "The report's id, from the 422 answer"), ErrorsQuery),
    responses(
        (status = 200, description = "A page of errors", body = [ReportErrorJson],
            headers(("Link" = String, description = "When the page is full: `<URL>; rel=\"next\"`, the next page"))),
        (status = 400, description = "A parameter out of range or not in its list", body = ErrorJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such report for this account (kept a day)", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn report_errors(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ErrorsQuery>,
) -> Result<Response, ApiError> {
    let limit = query::limit(query.limit.unwrap_or(100), MAX_PAGE)?;
    if let Some(code) = &query.code {
        query::row_code(code)?;
    }
    let kept = state.reports.get(caller.account.id, &id)?;
    let after = query.after.unwrap_or(0);
    let code = query.code.clone();
    let report_id = kept.id.clone();
    let (page, more) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let errors = kept
            .errors
            .errors_after(after)
            .map_err(ApiError::internal)?;
        let mut page: Vec<RowError> = Vec::new();
        let mut rows = 0;
        for e in errors {
            let e = e.map_err(ApiError::internal)?;
            if code.as_deref().is_some_and(|c| c != e.code.as_str()) {
                continue;
            }
            if page.last().is_none_or(|last| last.row != e.row) {
                if rows == limit {
                    return Ok((page, true));
                }
                rows += 1;
            }
            page.push(e);
        }
        Ok((page, false))
    })
    .await
    .map_err(ApiError::internal)??;
    let json: Vec<ReportErrorJson> = page.iter().map(row_error_json).collect();
    let mut response = Json(json).into_response();
    if more && let Some(last) = page.last() {
        let mut next = format!(
            "/api/reports/{report_id}/errors?after={}&limit={limit}",
            last.row
        );
        if let Some(code) = &query.code {
            next.push_str(&format!("&code={code}"));
        }
        query::link_next(&mut response, &next);
    }
    Ok(response)
}

/// Which rows of a plan, from where, and how many.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ActionsQuery {
    /// Rows after this line of the file: the `row` of the last of the page
    /// before. Absent: from the first row.
    #[param(minimum = 0)]
    after: Option<u64>,
    /// At most this many rows (default 100). The response's `Link` header
    /// (`rel="next"`) gives the next page when there is more.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Only rows that do this.
    #[param(schema_with = action_schema)]
    action: Option<String>,
}

fn action_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Action::ALL.map(Action::as_str)))
        .build()
}

/// A dry run's plan in file order, a page of rows at a time: every row
/// without errors, or those of one action.
#[utoipa::path(
    get,
    path = "/api/reports/{id}/actions",
    tag = "reports",
    params(("id" = String, Path, description = "The report's id, from the dry run's answer"), ActionsQuery),
    responses(
        (status = 200, description = "A page of the plan's rows", body = [ActionJson],
            headers(("Link" = String, description = "When the page is full: `<URL>; rel=\"next\"`, the next page"))),
        (status = 400, description = "A parameter out of range or not in its list", body = ErrorJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such report for this account (kept a day)", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn report_actions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ActionsQuery>,
) -> Result<Response, ApiError> {
    let limit = query::limit(query.limit.unwrap_or(100), MAX_PAGE)?;
    let action = match &query.action {
        None => None,
        Some(text) => Some(
            Action::ALL
                .into_iter()
                .find(|a| a.as_str() == text)
                .ok_or_else(|| {
                    crate::imports::invalid_option(format!(
                        "action '{text}': use create, update or unchanged"
                    ))
                })?,
        ),
    };
    let kept = state.reports.get(caller.account.id, &id)?;
    let after = query.after.unwrap_or(0);
    let report_id = kept.id.clone();
    let (page, more) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let mut page: Vec<ActionJson> = Vec::new();
        for row in kept.plan.rows().map_err(ApiError::internal)? {
            let row = row.map_err(ApiError::internal)?;
            if row.row <= after || action.is_some_and(|a| a != row.action) {
                continue;
            }
            if page.len() == limit as usize {
                return Ok((page, true));
            }
            page.push(ActionJson::new(&row));
        }
        Ok((page, false))
    })
    .await
    .map_err(ApiError::internal)??;
    let last = page.last().map(|a| a.row);
    let mut response = Json(page).into_response();
    if more && let Some(last) = last {
        let mut next = format!("/api/reports/{report_id}/actions?after={last}&limit={limit}");
        if let Some(action) = &query.action {
            next.push_str(&format!("&action={action}"));
        }
        query::link_next(&mut response, &next);
    }
    Ok(response)
}

/// The refused file's rows, each with its errors in a last column
/// `Errors`: fix them and upload the file again (roster ignores that
/// column).
#[utoipa::path(
    get,
    path = "/api/reports/{id}/rows.csv",
    tag = "reports",
    params(("id" = String, Path, description = "The report's id, from the 422 answer")),
    responses(
        (status = 200, description = "The rows", body = String, content_type = "text/csv"),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such report for this account (kept a day), or the file was refused as a whole", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn report_rows(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let kept = state.reports.get(caller.account.id, &id)?;
    if !kept.report.file_errors.is_empty() {
        return Err(ApiError::NoRows);
    }
    let disposition = format!(
        "attachment; filename=\"{}-errors.csv\"",
        safe_stem(&kept.name).unwrap_or_else(|| format!("report-{}", &kept.id[..8]))
    );
    let body = streamed(move |out| {
        let file = std::fs::File::open(&**kept.file).map_err(roster_jobs::Error::Scratch)?;
        let errors = kept
            .errors
            .errors_after(0)
            .map_err(roster_jobs::Error::Scratch)?;
        write_refused_rows(
            Box::new(std::io::BufReader::new(file)),
            &kept.options,
            errors,
            out,
        )
        .map(|_| ())
    });
    Ok(csv_response(body, Some(disposition)))
}
