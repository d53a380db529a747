//! A validation report as a person reads it: a summary, the errors counted
//! by code, then a table grouped by row, written one error at a time. (Its
//! JSON shape is `roster_server::contract::ReportJson`.)

use std::io::{self, Write};

use roster_validate::{Action, PlannedRow, Report, RowError};

/// Writes the report as text: a summary line; when rows have errors, how
/// many of each code; then the errors of the file and of each row under a
/// heading, in aligned columns. `errors` are the rows' errors in file order.
/// In upsert and update mode, for a file without errors, the plan: its
/// counts, then (given `planned`) every row that creates or changes a
/// user, with each change.
pub(crate) fn write_text(
    out: &mut dyn Write,
    file: &str,
    report: &Report,
    errors: impl Iterator<Item = io::Result<RowError>>,
    planned: Option<impl Iterator<Item = io::Result<PlannedRow>>>,
) -> io::Result<()> {
    let total = report.file_errors.len() as u64 + report.counts.total();
    if report.is_valid() {
        writeln!(out, "{file}: {} rows, all valid", report.rows)?;
        return write_plan(out, report, planned);
    }
    writeln!(
        out,
        "{file}: {} rows, {} valid, {total} {}\n",
        report.rows,
        report.valid_rows,
        if total == 1 { "error" } else { "errors" }
    )?;
    const WHOLE_ROW: &str = "(whole row)";
    // The widths come from the counts: every code and column there is.
    let column_width = report
        .counts
        .iter()
        .map(|(_, column, _)| column.map_or(WHOLE_ROW.len(), |c| c.header().len()))
        .max()
        .unwrap_or(0);
    let code_width = report
        .file_errors
        .iter()
        .map(|e| e.code.as_str().len())
        .chain(report.counts.iter().map(|(code, _, _)| code.as_str().len()))
        .max()
        .unwrap_or(0);

    let by_code = report.counts.by_code();
    if !by_code.is_empty() {
        let mut by_code: Vec<_> = by_code.into_iter().collect();
        by_code.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        let count_width = by_code.first().map_or(1, |(_, n)| n.to_string().len());
        writeln!(out, "errors by code")?;
        for (code, n) in by_code {
            writeln!(out, "  {:code_width$}  {n:>count_width$}", code.as_str())?;
        }
        writeln!(out)?;
    }
    if !report.file_errors.is_empty() {
        writeln!(out, "file")?;
        for e in &report.file_errors {
            writeln!(out, "  {:code_width$}  {}", e.code.as_str(), e.message)?;
        }
    }
    let mut last_row = None;
    for e in errors {
        let e = e?;
        if last_row != Some(e.row) {
            writeln!(out, "row {}", e.row)?;
            last_row = Some(e.row);
        }
        let column = e.column.map_or(WHOLE_ROW, |c| c.header());
        writeln!(
            out,
            "  {column:column_width$}  {:code_width$}  {}",
            e.code.as_str(),
            e.message
        )?;
    }
    writeln!(
        out,
        "\nNothing was written. Fix the rows above and validate the file again."
    )
}

/// The plan of a valid file: how many rows do what, then each row that
/// creates a user or changes one, with its changes.
fn write_plan(
    out: &mut dyn Write,
    report: &Report,
    planned: Option<impl Iterator<Item = io::Result<PlannedRow>>>,
) -> io::Result<()> {
    let Some(plan) = report.plan else {
        return Ok(());
    };
    writeln!(
        out,
        "plan: {} to create, {} to update, {} unchanged",
        plan.create, plan.update, plan.unchanged
    )?;
    let Some(planned) = planned else {
        return Ok(());
    };
    writeln!(out)?;
    let mut listed = false;
    for row in planned {
        let row = row?;
        listed |= row.action != Action::Unchanged;
        match row.action {
            Action::Unchanged => continue,
            Action::Create => writeln!(out, "row {}  {}  create", row.row, row.email)?,
            Action::Update => {
                writeln!(out, "row {}  {}  update", row.row, row.email)?;
                for c in &row.changes {
                    writeln!(out, "  {}: '{}' -> '{}'", c.column.header(), c.from, c.to)?;
                }
            }
        }
    }
    if listed {
        writeln!(out)?;
    }
    writeln!(
        out,
        "Nothing was written. `roster import` with the same --mode applies this plan."
    )
}
