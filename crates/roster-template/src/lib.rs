//! The CSV column set roster accepts, defined once.
//!
//! Everything that names a column — the template file an administrator
//! downloads, header matching when a file comes back, the column of an error
//! in a report, the failed-rows file — takes the name from [`Column`]. This
//! crate knows nothing of rows, rules or storage: it only says which columns
//! exist, how their headers are spelled and how a header line maps onto them.
//!
//! ```
//! use roster_template::{Column, Headers};
//!
//! let headers = Headers::match_line(&["email address (mandatory)", " Display Name (Mandatory) "]);
//! assert!(headers.problems().is_empty());
//! assert_eq!(headers.index_of(Column::Email), Some(0));
//! ```

mod column;
mod header;

pub use column::Column;
pub use header::{HeaderProblem, Headers};

/// The header of the extra column a failed-rows file carries. roster writes it
/// and accepts it back on re-import, ignoring its cells.
pub const ERRORS_HEADER: &str = "Errors";

/// The template file an administrator fills in: `templates/users.csv`, which a
/// test keeps equal to [`template_csv`].
pub const TEMPLATE_FILE: &str = include_str!("../../../templates/users.csv");

/// The template as the column set defines it: one header line, every column in
/// order, CRLF-terminated as spreadsheets write it.
pub fn template_csv() -> String {
    let headers: Vec<&str> = Column::ALL.iter().map(|c| c.header()).collect();
    format!("{}\r\n", headers.join(","))
}

#[cfg(test)]
mod tests {
    #[test]
    fn template_file_matches_the_column_set() {
        assert_eq!(super::TEMPLATE_FILE, super::template_csv());
    }
}
