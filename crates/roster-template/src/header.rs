//! `Headers`: how the header line of an uploaded file maps onto the template.
//!
//! Matching is exact but forgiving about case and surrounding spaces, as the
//! template promises. It never guesses: a header that is not a template
//! header is a problem, even when it looks close; the closest column is
//! offered only as a suggestion in the message.

use crate::{Column, ERRORS_HEADER};

/// The header line of a file, matched against the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    positions: [Option<usize>; Column::ALL.len()],
    errors_position: Option<usize>,
    width: usize,
    problems: Vec<HeaderProblem>,
}

/// What is wrong with a header line. Each becomes one file-level error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// A mandatory column is absent.
    Missing(Column),
    /// A header that is not in the template; `position` is 0-based.
    Unknown {
        position: usize,
        found: String,
        suggestion: Option<Column>,
    },
    /// A column named twice; `position` is the 0-based place of the repeat.
    Duplicate {
        position: usize,
        column: Column,
        first: usize,
    },
}

impl Headers {
    /// Matches the cells of a header line. Empty cells at its end are not
    /// columns: a spreadsheet writes them for a column that once held
    /// something (`Email Address (Mandatory),,`). Rows may have cells under
    /// them as long as those are empty too.
    pub fn match_line(cells: &[&str]) -> Headers {
        let width = cells
            .iter()
            .rposition(|cell| !cell.trim().is_empty())
            .map_or(0, |last| last + 1);
        let cells = &cells[..width];
        let mut positions = [None; Column::ALL.len()];
        let mut errors_position = None;
        let mut problems = Vec::new();
        for (position, cell) in cells.iter().enumerate() {
            if let Some(column) = Column::from_header(cell) {
                match positions[column.index()] {
                    Some(first) => problems.push(HeaderProblem::Duplicate {
                        position,
                        column,
                        first,
                    }),
                    None => positions[column.index()] = Some(position),
                }
            } else if cell.trim().eq_ignore_ascii_case(ERRORS_HEADER) && errors_position.is_none() {
                errors_position = Some(position);
            } else {
                problems.push(HeaderProblem::Unknown {
                    position,
                    found: cell.trim().to_string(),
                    suggestion: suggest(cell),
                });
            }
        }
        for column in Column::ALL {
            if column.is_mandatory() && positions[column.index()].is_none() {
                problems.push(HeaderProblem::Missing(column));
            }
        }
        Headers {
            positions,
            errors_position,
            width,
            problems,
        }
    }

    /// Where `column` is in the file, if it is there.
    pub fn index_of(&self, column: Column) -> Option<usize> {
        self.positions[column.index()]
    }

    /// Where the `Errors` column of a failed-rows file is, if it is there.
    pub fn errors_index(&self) -> Option<usize> {
        self.errors_position
    }

    /// How many cells the header line has, empty ones at its end left out;
    /// every record must have as many, and any more must be empty.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Everything wrong with the header line; empty when the file can be read.
    pub fn problems(&self) -> &[HeaderProblem] {
        &self.problems
    }
}

/// The one column whose header, stripped of case, punctuation and the
/// `(Optional)`/`(Mandatory)` suffix, contains what the admin wrote or is
/// contained in it. Two candidates or none give no suggestion: a wrong hint
/// is worse than none.
fn suggest(found: &str) -> Option<Column> {
    let found = simplify(found);
    if found.len() < 4 {
        return None;
    }
    let mut candidates = Column::ALL.into_iter().filter(|c| {
        let header = simplify(c.header());
        header.contains(&found) || found.contains(&header)
    });
    let first = candidates.next()?;
    match candidates.next() {
        Some(_) => None,
        None => Some(first),
    }
}

fn simplify(header: &str) -> String {
    let lower: String = header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    lower
        .trim_end_matches("mandatory")
        .trim_end_matches("optional")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_case_insensitively_with_spaces_trimmed() {
        let headers =
            Headers::match_line(&["  EMAIL ADDRESS (MANDATORY) ", "display name (mandatory)"]);
        assert_eq!(headers.problems(), &[]);
        assert_eq!(headers.index_of(Column::Email), Some(0));
        assert_eq!(headers.index_of(Column::DisplayName), Some(1));
        assert_eq!(headers.index_of(Column::Role), None);
    }

    #[test]
    fn missing_unknown_and_duplicate_headers_are_problems() {
        let headers = Headers::match_line(&[
            "Display Name (Mandatory)",
            "Email",
            "Display Name (Mandatory)",
        ]);
        assert_eq!(
            headers.problems(),
            &[
                HeaderProblem::Unknown {
                    position: 1,
                    found: "Email".to_string(),
                    suggestion: Some(Column::Email)
                },
                HeaderProblem::Duplicate {
                    position: 2,
                    column: Column::DisplayName,
                    first: 0
                },
                HeaderProblem::Missing(Column::Email),
            ]
        );
    }

    #[test]
    fn empty_cells_at_the_end_are_not_columns() {
        let headers = Headers::match_line(&[
            "Display Name (Mandatory)",
            "Email Address (Mandatory)",
            "",
            " ",
        ]);
        assert_eq!(headers.problems(), &[]);
        assert_eq!(headers.width(), 2);
        // Between two headers, an empty cell is still a column without a name.
        let headers =
            Headers::match_line(&["Display Name (Mandatory)", "", "Email Address (Mandatory)"]);
        assert_eq!(
            headers.problems(),
            &[HeaderProblem::Unknown {
                position: 1,
                found: String::new(),
                suggestion: None
            }]
        );
        assert_eq!(headers.width(), 3);
    }

    #[test]
    fn errors_column_of_a_failed_rows_file_is_accepted() {
        let headers = Headers::match_line(&[
            "Display Name (Mandatory)",
            "Email Address (Mandatory)",
            "errors",
        ]);
        assert_eq!(headers.problems(), &[]);
        assert_eq!(headers.errors_index(), Some(2));
    }

    #[test]
    fn ambiguous_header_gets_no_suggestion() {
        assert_eq!(suggest("Phone Number"), None);
        assert_eq!(suggest("Extension"), Some(Column::Extension));
        assert_eq!(suggest("id"), None);
    }
}
