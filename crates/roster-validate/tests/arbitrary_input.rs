//! Whatever the bytes, validation ends in a report: never a panic, never an
//! `Err` (the in-memory directory cannot fail), and a report that refuses
//! the file always says why.

use proptest::prelude::*;
use roster_validate::{MemoryDirectory, Options, Report, validate};

fn check(bytes: Vec<u8>, options: &Options) -> Result<(), TestCaseError> {
    let report: Report = validate(
        Box::new(std::io::Cursor::new(bytes)),
        &mut MemoryDirectory::default(),
        options,
    )
    .map_err(|e| TestCaseError::fail(format!("validate returned Err: {e}")))?;
    prop_assert!(report.valid_rows <= report.rows);
    if !report.file_errors.is_empty() {
        prop_assert_eq!(report.valid_rows, 0);
    }
    let rows_with_errors: std::collections::BTreeSet<u64> =
        report.row_errors.iter().map(|e| e.row).collect();
    prop_assert_eq!(
        report.rows - report.valid_rows >= rows_with_errors.len() as u64,
        true
    );
    if report.file_errors.is_empty() {
        prop_assert_eq!(
            report.valid_rows + rows_with_errors.len() as u64,
            report.rows
        );
    }
    for e in report
        .file_errors
        .iter()
        .map(|e| &e.message)
        .chain(report.row_errors.iter().map(|e| &e.message))
    {
        prop_assert!(!e.is_empty());
    }
    Ok(())
}

/// Text that looks like a user file often enough to reach the row rules.
fn csv_like() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        Just(String::new()),
        "[a-zA-Z .]{1,12}",
        "[a-z]{1,8}@[a-z]{1,8}\\.(com|example)",
        "\\+?1?[ (]?[2-9][0-9]{2}[) .-]?[0-9]{3}[ .-]?[0-9]{4}",
        "[0-9]{1,8}",
        "\"[^\"]{0,10}\"",
        Just("\"".to_string()),
        Just(";".to_string()),
        Just("é\u{0}\u{FEFF}".to_string()),
    ];
    let row = prop::collection::vec(cell, 0..14).prop_map(|cells| cells.join(","));
    let header = prop_oneof![
        Just("Display Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional),Additional Phone Numbers (Optional),Extension (Optional),Voice Location (Optional),Role (Optional)".to_string()),
        Just("Display Name (Mandatory);Email Address (Mandatory)".to_string()),
        "[A-Za-z ,()]{0,40}",
    ];
    (
        header,
        prop::collection::vec(row, 0..30),
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
    )
        .prop_map(|(header, rows, newline)| {
            let mut text = header;
            for row in rows {
                text.push_str(newline);
                text.push_str(&row);
            }
            text.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_give_a_report(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(bytes, &Options::default())?;
    }

    #[test]
    fn csv_like_text_gives_a_consistent_report(bytes in csv_like()) {
        check(bytes, &Options::default())?;
    }

    #[test]
    fn tight_limits_give_a_report(bytes in csv_like(), max_bytes in 0u64..400, max_rows in 0u64..5) {
        let mut options = Options::default();
        options.limits.max_bytes = max_bytes;
        options.limits.max_rows = max_rows;
        options.limits.max_record_bytes = 64;
        check(bytes, &options)?;
    }
}
