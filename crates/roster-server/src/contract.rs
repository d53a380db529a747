//! The outside contract's JSON shapes (`docs/api.md`): a validation report,
//! an import's status, a row result. One struct per shape, filled by hand
//! from roster's types, so that renaming a field inside roster never
//! changes what scripts read. The command line prints the same shapes.

use roster_jobs::ResultLine;
use roster_store::Import;
use roster_validate::{PlannedRow, Report, RowError};
use serde::Serialize;
use utoipa::ToSchema;

/// A validation report: the file's errors and its rows' errors, counted by
/// code and column.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportJson {
    /// Data rows read.
    pub rows: u64,
    /// Data rows without an error.
    pub valid_rows: u64,
    /// File-level errors first, then row errors in file order: every one
    /// from the command line; from the API the first 100 (`errors_total`
    /// says how many there are, `report` where all of them are).
    pub errors: Vec<ReportErrorJson>,
    /// Every error of the file and of its rows.
    pub errors_total: u64,
    /// The rows' errors by code and column, most first.
    pub error_counts: Vec<ErrorCountJson>,
    /// In upsert and update mode: how many rows without errors do what.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanJson>,
    /// In upsert and update mode: what each row without errors does, in
    /// file order (from the API the first 100; `report` has them all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ActionJson>>,
    /// From the API: where the whole report is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportLinksJson>,
}

/// How many rows of a plan do what.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PlanJson {
    pub create: u64,
    pub update: u64,
    pub unchanged: u64,
}

/// What one row of a plan does.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionJson {
    pub row: u64,
    pub email: String,
    /// `create`, `update` or `unchanged`.
    pub action: &'static str,
    /// What an update changes, in column order; empty otherwise.
    pub changes: Vec<ChangeJson>,
}

/// One field an update changes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeJson {
    /// The column as the template spells it.
    pub column: &'static str,
    /// As it is; empty for none.
    pub from: String,
    /// As it will be; empty for none.
    pub to: String,
}

impl ActionJson {
    pub fn new(planned: &PlannedRow) -> ActionJson {
        ActionJson {
            row: planned.row,
            email: planned.email.clone(),
            action: planned.action.as_str(),
            changes: planned
                .changes
                .iter()
                .map(|c| ChangeJson {
                    column: c.column.header(),
                    from: c.from.clone(),
                    to: c.to.clone(),
                })
                .collect(),
        }
    }
}

/// Where a refused upload's whole report is, kept for a day.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportLinksJson {
    pub id: String,
    /// Every error, in this report's shape.
    pub json: String,
    /// The errors a page at a time (`?after=ROW&limit=N&code=CODE`).
    pub errors: String,
    /// In upsert and update mode: the plan's rows a page at a time
    /// (`?after=ROW&limit=N&action=ACTION`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<String>,
    /// The file's rows with an `Errors` column: fix them and upload the
    /// file again. Absent when the file itself was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv: Option<String>,
}

/// One error of a validation report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportErrorJson {
    /// The line of the file where the record starts (the header is line 1);
    /// null for a file-level error found before any line.
    pub row: Option<u64>,
    /// The column as the template spells it; null for a file-level or
    /// whole-row error.
    pub column: Option<&'static str>,
    /// A stable code, e.g. `invalid_email`.
    pub code: &'static str,
    pub message: String,
}

/// How many row errors a report has of one code in one column.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorCountJson {
    pub code: String,
    /// The column as the template spells it; null for whole-row errors.
    pub column: Option<String>,
    pub count: u64,
}

/// How many errors of a report the API answers with; the rest are a link
/// away.
pub const FIRST_ERRORS: usize = 100;

impl ReportJson {
    /// The report with `errors`, the first of its rows' errors (or all).
    pub fn new(report: &Report, errors: impl IntoIterator<Item = RowError>) -> ReportJson {
        let file = report.file_errors.iter().map(|e| ReportErrorJson {
            row: e.line,
            column: None,
            code: e.code.as_str(),
            message: e.message.clone(),
        });
        let rows = errors.into_iter().map(|e| row_error_json(&e));
        ReportJson {
            rows: report.rows,
            valid_rows: report.valid_rows,
            errors: file.chain(rows).collect(),
            errors_total: report.file_errors.len() as u64 + report.counts.total(),
            error_counts: error_counts(report),
            plan: report.plan.map(|p| PlanJson {
                create: p.create,
                update: p.update,
                unchanged: p.unchanged,
            }),
            actions: None,
            report: None,
        }
    }

    /// The report with `actions`, the first of its plan's rows (or all).
    pub fn planned(self, actions: impl IntoIterator<Item = PlannedRow>) -> ReportJson {
        let actions = self
            .plan
            .map(|_| actions.into_iter().map(|p| ActionJson::new(&p)).collect());
        ReportJson { actions, ..self }
    }

    /// The report with where all of it is.
    pub fn linked(self, links: ReportLinksJson) -> ReportJson {
        ReportJson {
            report: Some(links),
            ..self
        }
    }
}

/// A row error in the report's shape.
pub fn row_error_json(e: &RowError) -> ReportErrorJson {
    ReportErrorJson {
        row: Some(e.row),
        column: e.column.map(|c| c.header()),
        code: e.code.as_str(),
        message: e.message.clone(),
    }
}

/// The report's row errors by code and column, most first.
pub fn error_counts(report: &Report) -> Vec<ErrorCountJson> {
    let mut counts: Vec<ErrorCountJson> = report
        .counts
        .iter()
        .map(|(code, column, count)| ErrorCountJson {
            code: code.as_str().to_string(),
            column: column.map(|c| c.header().to_string()),
            count,
        })
        .collect();
    most_first(&mut counts);
    counts
}

/// Counts in the order a report gives them: most first.
fn most_first(counts: &mut [ErrorCountJson]) {
    counts.sort_by_key(|c| std::cmp::Reverse(c.count));
}

/// An import's rows by status and its failed rows' errors by code: what
/// its pages of results are out of.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryJson<'a> {
    pub id: &'a str,
    /// As in the import's status.
    pub state: &'static str,
    pub total: u64,
    /// Rows by status; `pending`: not processed yet, while the import is
    /// active. They add up to `total`.
    pub statuses: StatusCountsJson,
    /// The failed rows' errors by code and column, most first (a row with
    /// two errors counts under each).
    pub error_counts: Vec<ErrorCountJson>,
}

/// An import's rows by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCountsJson {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub not_processed: u64,
    pub pending: u64,
}

impl<'a> SummaryJson<'a> {
    pub fn new(
        import: &'a Import,
        failures: std::collections::BTreeMap<(String, Option<String>), u64>,
    ) -> SummaryJson<'a> {
        let mut error_counts: Vec<ErrorCountJson> = failures
            .into_iter()
            .map(|((code, column), count)| ErrorCountJson {
                code,
                column,
                count,
            })
            .collect();
        most_first(&mut error_counts);
        SummaryJson {
            id: import.id.as_str(),
            state: import.state.as_str(),
            total: import.total,
            statuses: StatusCountsJson {
                created: import.created,
                updated: import.updated,
                unchanged: import.unchanged,
                failed: import.failed,
                not_processed: import.not_processed,
                pending: import
                    .total
                    .saturating_sub(import.processed + import.not_processed),
            },
            error_counts,
        }
    }
}

/// Writes the report with every one of its rows' `errors`, and in upsert
/// and update mode every row of its plan (`planned`), as pretty JSON, the
/// shape of [`ReportJson`], one at a time: a report of millions of errors
/// or rows is never whole in memory.
pub fn write_report_json(
    out: &mut dyn std::io::Write,
    report: &Report,
    errors: impl Iterator<Item = std::io::Result<RowError>>,
    planned: impl Iterator<Item = std::io::Result<PlannedRow>>,
) -> std::io::Result<()> {
    let indent = |json: String, by: &str| json.replace('\n', &format!("\n{by}"));
    let head = ReportJson::new(report, []);
    write!(
        out,
        "{{\n  \"rows\": {},\n  \"valid_rows\": {},\n  \"errors\": [",
        head.rows, head.valid_rows
    )?;
    let file = head.errors.into_iter().map(Ok);
    let rows = errors.map(|e| e.map(|e| row_error_json(&e)));
    let mut first = true;
    for e in file.chain(rows) {
        let json = serde_json::to_string_pretty(&e?).map_err(std::io::Error::other)?;
        write!(
            out,
            "{}\n    {}",
            if first { "" } else { "," },
            indent(json, "    ")
        )?;
        first = false;
    }
    let counts = serde_json::to_string_pretty(&head.error_counts).map_err(std::io::Error::other)?;
    write!(
        out,
        "{}],\n  \"errors_total\": {},\n  \"error_counts\": {}",
        if first { "" } else { "\n  " },
        head.errors_total,
        indent(counts, "  ")
    )?;
    if let Some(plan) = head.plan {
        let plan = serde_json::to_string_pretty(&plan).map_err(std::io::Error::other)?;
        write!(
            out,
            ",\n  \"plan\": {},\n  \"actions\": [",
            indent(plan, "  ")
        )?;
        let mut first = true;
        for planned in planned {
            let json = serde_json::to_string_pretty(&ActionJson::new(&planned?))
                .map_err(std::io::Error::other)?;
            write!(
                out,
                "{}\n    {}",
                if first { "" } else { "," },
                indent(json, "    ")
            )?;
            first = false;
        }
        write!(out, "{}]", if first { "" } else { "\n  " })?;
    }
    writeln!(out, "\n}}")
}

/// An import's state and counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusJson<'a> {
    pub id: &'a str,
    pub account: &'a str,
    /// `queued`, `running`, `stopping`, `stopped`, `completed`,
    /// `completed_with_errors` or `failed`.
    pub state: &'static str,
    pub total: u64,
    pub processed: u64,
    pub created: u64,
    /// Rows that updated a user (upsert and update mode).
    pub updated: u64,
    /// Rows whose user was already as the row says.
    pub unchanged: u64,
    pub failed: u64,
    pub not_processed: u64,
    /// Extra to the contract: `create`, `upsert` or `update`.
    pub mode: &'static str,
    pub created_at: &'a str,
    pub started_at: Option<&'a str>,
    pub finished_at: Option<&'a str>,
    /// Extra to the contract: why a failed import failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// Extra to the contract: the uploaded file's name, as shown.
    pub file_name: &'a str,
    /// Extra to the contract: how temporary passwords reach the users
    /// (`users`, `none`, `to:ADDRESS`).
    pub passwords: String,
    /// Extra to the contract: where the users' password messages are.
    pub deliveries: DeliveriesJson,
    /// The import's undo, once asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo: Option<UndoJson<'a>>,
}

/// An import's undo: its state and counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct UndoJson<'a> {
    /// `queued`, `running`, `stopping`, `stopped`, `completed`,
    /// `completed_with_errors` (some rows not undone) or `failed`.
    pub state: &'static str,
    /// Rows reverted.
    pub undone: u64,
    /// Rows left as they are (their users changed since the import).
    pub not_undone: u64,
    pub finished_at: Option<&'a str>,
    /// Extra to the contract: the rows to revert, those the import
    /// created or updated.
    pub total: u64,
    /// Extra to the contract: queued password messages cancelled.
    pub passwords_cancelled: u64,
    /// Extra to the contract.
    pub asked_at: &'a str,
    /// Extra to the contract.
    pub started_at: Option<&'a str>,
    /// Extra to the contract: why a failed undo failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

/// An import's password deliveries by state, and how fast they go.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesJson {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
    /// Messages a second over the last few seconds; absent when none went
    /// out lately (nothing is sending) or too few to tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_second: Option<f64>,
    /// Seconds until the queued ones are out at that pace; absent without a
    /// pace or with none queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<u64>,
}

/// What happened to one data row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultJson<'a> {
    pub row: u64,
    /// `created`, `updated`, `unchanged`, `failed` or `not_processed`.
    pub status: &'static str,
    pub email: Option<&'a str>,
    pub extension: Option<&'a str>,
    /// E.164, primary first.
    pub numbers: &'a [String],
    pub errors: Vec<ResultErrorJson<'a>>,
    /// Extra to the contract: the created user's temporary password; null
    /// for a row not created.
    pub delivery: Option<DeliveryJson<'a>>,
    /// Extra to the contract: what the import's undo did with the row,
    /// once it took it up; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo: Option<RowUndoJson<'a>>,
}

/// What an undo did with one row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowUndoJson<'a> {
    /// `undone` or `not_undone`.
    pub status: &'static str,
    /// Why a row was not undone: `changed_since_import`,
    /// `taken_since_import` or `not_recorded`.
    pub code: Option<&'a str>,
    /// Why, or for a row undone what could not be (a message sent).
    pub message: Option<&'a str>,
}

/// One reason a row failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultErrorJson<'a> {
    pub code: &'a str,
    pub column: Option<&'a str>,
    pub message: &'a str,
}

/// A created user's password delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryJson<'a> {
    /// `queued`, `sent`, `failed` or `not_sent`.
    pub state: &'static str,
    pub error: Option<&'a str>,
    /// What it means, and what to do, in a sentence.
    pub message: String,
}

impl<'a> StatusJson<'a> {
    pub fn new(import: &'a Import) -> StatusJson<'a> {
        StatusJson {
            id: import.id.as_str(),
            account: import.account_slug.as_str(),
            state: import.state.as_str(),
            total: import.total,
            processed: import.processed,
            created: import.created,
            updated: import.updated,
            unchanged: import.unchanged,
            failed: import.failed,
            not_processed: import.not_processed,
            mode: import.mode.as_str(),
            created_at: &import.created_at,
            started_at: import.started_at.as_deref(),
            finished_at: import.finished_at.as_deref(),
            error: import.error.as_deref(),
            file_name: &import.file_name,
            passwords: import.passwords.to_string(),
            deliveries: DeliveriesJson {
                queued: import.deliveries.queued,
                sent: import.deliveries.sent,
                failed: import.deliveries.failed,
                per_second: import
                    .deliveries_pace
                    .per_second()
                    .map(|r| (r * 10.0).round() / 10.0),
                eta_seconds: eta(import).map(|d| d.as_secs()),
            },
            undo: import.undo.as_ref().map(|u| UndoJson {
                state: u.state.as_str(),
                undone: u.undone,
                not_undone: u.not_undone,
                finished_at: u.finished_at.as_deref(),
                total: u.total,
                passwords_cancelled: u.cancelled,
                asked_at: &u.asked_at,
                started_at: u.started_at.as_deref(),
                error: u.error.as_deref(),
            }),
        }
    }
}

/// When the import's queued messages are out at the pace now.
pub fn eta(import: &Import) -> Option<std::time::Duration> {
    let queued = import.deliveries.queued;
    (queued > 0)
        .then(|| import.deliveries_pace.eta(queued))
        .flatten()
}

impl<'a> ResultJson<'a> {
    pub fn new(line: &'a ResultLine) -> ResultJson<'a> {
        ResultJson {
            row: line.row,
            status: line.status.as_str(),
            email: line.email.as_deref(),
            extension: line.extension.as_deref(),
            numbers: &line.numbers,
            errors: line
                .errors
                .iter()
                .map(|e| ResultErrorJson {
                    code: &e.code,
                    column: e.column.as_deref(),
                    message: &e.message,
                })
                .collect(),
            delivery: line.delivery.as_ref().map(|d| DeliveryJson {
                state: d.state.as_str(),
                error: d.error.as_deref(),
                message: d.describe(),
            }),
            undo: line.undo.as_ref().map(|u| RowUndoJson {
                status: u.status.as_str(),
                code: u.code.as_deref(),
                message: u.message.as_deref(),
            }),
        }
    }
}

/// The header of the results as CSV.
pub const RESULTS_CSV_HEADER: [&str; 8] = [
    "row",
    "status",
    "email",
    "extension",
    "numbers",
    "errors",
    "delivery",
    "delivery_message",
];

/// One row's result as a CSV line (cells neutralised like every CSV roster
/// writes).
pub fn result_csv(line: &ResultLine) -> String {
    let errors: Vec<String> = line
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.code, e.message))
        .collect();
    let (delivery, message) = line
        .delivery
        .as_ref()
        .map(|d| (d.state.as_str(), d.describe()))
        .unwrap_or_default();
    roster_csv::csv_line([
        line.row.to_string().as_str(),
        line.status.as_str(),
        line.email.as_deref().unwrap_or(""),
        line.extension.as_deref().unwrap_or(""),
        &line.numbers.join(";"),
        &errors.join(" | "),
        delivery,
        &message,
    ])
}
