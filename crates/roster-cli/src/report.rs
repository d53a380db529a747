//! A validation report as a person reads it: a table grouped by row. (Its
//! JSON shape is `roster_server::contract::ReportJson`.)

use std::fmt::Write;

use roster_validate::Report;

/// The report as text: a summary line, then the errors of the file and of
/// each row under a heading, in aligned columns.
pub(crate) fn text(file: &str, report: &Report) -> String {
    let mut out = String::new();
    let errors = report.file_errors.len() + report.row_errors.len();
    if report.is_valid() {
        let _ = writeln!(out, "{file}: {} rows, all valid", report.rows);
        return out;
    }
    let _ = writeln!(
        out,
        "{file}: {} rows, {} valid, {errors} {}\n",
        report.rows,
        report.valid_rows,
        if errors == 1 { "error" } else { "errors" }
    );
    const WHOLE_ROW: &str = "(whole row)";
    let column_width = report
        .row_errors
        .iter()
        .map(|e| e.column.map_or(WHOLE_ROW.len(), |c| c.header().len()))
        .max()
        .unwrap_or(0);
    let code_width = report
        .file_errors
        .iter()
        .map(|e| e.code.as_str().len())
        .chain(report.row_errors.iter().map(|e| e.code.as_str().len()))
        .max()
        .unwrap_or(0);

    if !report.file_errors.is_empty() {
        let _ = writeln!(out, "file");
        for e in &report.file_errors {
            let _ = writeln!(out, "  {:code_width$}  {}", e.code.as_str(), e.message);
        }
    }
    let mut last_row = None;
    for e in &report.row_errors {
        if last_row != Some(e.row) {
            let _ = writeln!(out, "row {}", e.row);
            last_row = Some(e.row);
        }
        let column = e.column.map_or(WHOLE_ROW, |c| c.header());
        let _ = writeln!(
            out,
            "  {column:column_width$}  {:code_width$}  {}",
            e.code.as_str(),
            e.message
        );
    }
    let _ = writeln!(
        out,
        "\nNothing was written. Fix the rows above and validate the file again."
    );
    out
}
