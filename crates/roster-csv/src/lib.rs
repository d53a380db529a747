//! How roster writes CSV it will read back: quoting, and formula
//! neutralisation.
//!
//! A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return
//! is run as a formula by spreadsheets (CSV injection). Every CSV roster
//! writes puts an apostrophe before such a cell, so the spreadsheet shows
//! text; and roster strips that apostrophe when it reads a cell, so a
//! failed-rows file imports again as it is.

/// What a spreadsheet would run as a formula if it began a cell.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell as roster writes it.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// One CSV record as roster writes it: every cell neutralised, quoted where
/// CSV needs it, comma-separated, CRLF-terminated.
pub fn csv_line<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let cell = neutralise(cell);
        if cell.contains([',', '"', '\n', '\r']) || cell.starts_with(' ') || cell.ends_with(' ') {
            line.push('"');
            line.push_str(&cell.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&cell);
        }
    }
    line.push_str("\r\n");
    line
}

/// The cell as roster reads it: [`neutralise`] undone.
pub fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::{csv_line, neutralise, unneutralise};

    #[test]
    fn cells_are_quoted_and_neutralised() {
        let cells = [
            "Doe, Jane",
            "say \"hi\"",
            "=1+1",
            "+1 617 555 0100",
            "plain",
            "multi\nline",
            " padded",
        ];
        assert_eq!(
            csv_line(cells),
            "\"Doe, Jane\",\"say \"\"hi\"\"\",'=1+1,'+1 617 555 0100,plain,\"multi\nline\",\" padded\"\r\n"
        );
    }

    #[test]
    fn formula_cells_are_neutralised_and_read_back() {
        for cell in [
            "=HYPERLINK(\"x\")",
            "+1 617 555 0100",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            let written = neutralise(cell);
            assert_eq!(written, format!("'{cell}"));
            assert_eq!(unneutralise(&written), cell);
        }
        for cell in ["Jane Doe", "'quoted", "1 617 555 0100", ""] {
            assert_eq!(neutralise(cell), cell);
            assert_eq!(unneutralise(cell), cell);
        }
    }
}
