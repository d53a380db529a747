//! One test per rule: a minimal file in, the exact report out.

use std::collections::{HashMap, HashSet};

use expect_test::{Expect, expect};

use crate::{
    E164, Extension, ExtensionPolicy, MemoryDirectory, NumberState, Options, location_key, validate,
};

const HEADER: &str = "Display Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional),Additional Phone Numbers (Optional),Extension (Optional),Voice Location (Optional),Role (Optional)\n";

fn number(s: &str) -> E164 {
    E164::parse(s).expect("test numbers are valid")
}

/// An account with one user, parked and assigned numbers, a taken extension
/// and a second location.
fn directory() -> MemoryDirectory {
    let mut locations = MemoryDirectory::default().locations;
    locations.insert(location_key("Boston Office"));
    MemoryDirectory {
        emails: HashSet::from(["existing@acme.example".to_string()]),
        numbers: HashMap::from([
            (number("16175550100"), NumberState::Parked),
            (number("16175550101"), NumberState::Parked),
            (number("16175550102"), NumberState::Parked),
            (number("18005550100"), NumberState::Parked),
            (number("16175550150"), NumberState::Assigned),
        ]),
        extensions: HashSet::from([
            Extension::parse("7001", ExtensionPolicy::DEFAULT).expect("valid")
        ]),
        locations,
        users: Vec::new(),
    }
}

fn check(input: &str, expect: Expect) {
    check_with(input.as_bytes(), &Options::default(), expect);
}

fn check_with(input: &[u8], options: &Options, expect: Expect) {
    let report = validate(
        Box::new(std::io::Cursor::new(input.to_vec())),
        &mut directory(),
        options,
    );
    let mut out = String::new();
    match report {
        Ok(report) => {
            out.push_str(&format!(
                "rows {} valid {}\n",
                report.rows, report.valid_rows
            ));
            for e in &report.file_errors {
                let line = e.line.map_or("-".to_string(), |l| l.to_string());
                out.push_str(&format!("file line {line} {}: {}\n", e.code, e.message));
            }
            for e in &report.row_errors {
                let column = e.column.map_or("-", |c| c.header());
                out.push_str(&format!("{} [{column}] {}: {}\n", e.row, e.code, e.message));
            }
        }
        Err(e) => out.push_str(&format!("error {e}")),
    }
    expect.assert_eq(&out);
}

#[test]
fn clean_file_is_valid() {
    check(
        &format!(
            "{HEADER}Jane Doe,jane@acme.example,+1 (617) 555-0100,1-617-555-0101;1.617.555.0102,7002,boston office,Supervisor\nJohn Roe,john@acme.example,,,,,\n"
        ),
        expect![[r#"
            rows 2 valid 2
        "#]],
    );
}

#[test]
fn display_name_and_email_are_required() {
    check(
        &format!("{HEADER} ,  ,,,,,user\n"),
        expect![[r#"
        rows 1 valid 0
        2 [Display Name (Mandatory)] required: is empty; every user needs a display name, like Jane Doe
        2 [Email Address (Mandatory)] required: is empty; every user needs a unique email address to sign in with
    "#]],
    );
}

#[test]
fn long_text_is_too_long() {
    let name = "x".repeat(257);
    check(
        &format!(
            "Display Name (Mandatory),Email Address (Mandatory),First Name (Optional)\n{name},a@acme.example,{}\n",
            "é".repeat(65)
        ),
        expect![[r#"
            rows 1 valid 0
            2 [Display Name (Mandatory)] too_long: is 257 characters long; at most 256 are allowed
            2 [First Name (Optional)] too_long: is 65 characters long; at most 64 are allowed
        "#]],
    );
}

#[test]
fn ragged_row_is_one_whole_row_error() {
    check(
        &format!(
            "{HEADER}Jane Doe,jane@acme.example\nJo,jo@acme.example,,,,,,,extra\nAl,al@acme.example,,,,,,,,\n"
        ),
        expect![[r#"
        rows 3 valid 1
        2 [-] ragged_row: has 2 cells but the header has 7; check for a missing or extra cell (a cell with a comma in it must be in double quotes)
        3 [-] ragged_row: has 9 cells but the header has 7; check for a missing or extra cell or delimiter (a cell with a comma in it must be in double quotes)
    "#]],
    );
}

#[test]
fn invalid_email_says_why() {
    check(
        &format!("{HEADER}Jane,jane.acme.example,,,,,\n"),
        expect![[r#"
        rows 1 valid 0
        2 [Email Address (Mandatory)] invalid_email: 'jane.acme.example' has no '@'; write the full address, like jane.doe@example.com
    "#]],
    );
}

#[test]
fn duplicate_email_is_reported_on_second_row_naming_the_first() {
    check(
        &format!("{HEADER}A,a@acme.example,,,,,\nB,b@acme.example,,,,,\nA2,A@Acme.Example,,,,,\n"),
        expect![[r#"
        rows 3 valid 2
        4 [Email Address (Mandatory)] duplicate_email: A@Acme.Example is already used on row 2; each user needs a different address (addresses differing only in capitals are the same)
    "#]],
    );
}

#[test]
fn email_of_an_existing_user_is_taken() {
    check(
        &format!("{HEADER}E,Existing@acme.example,,,,,\n"),
        expect![[r#"
            rows 1 valid 0
            2 [Email Address (Mandatory)] email_taken: existing@acme.example already belongs to a user of this account; remove the row, or use another address
        "#]],
    );
}

#[test]
fn invalid_phone_shows_the_fixed_form() {
    check(
        &format!("{HEADER}A,a@acme.example,(617) 555-0100,,,,\nB,b@acme.example,1.61755E+10,,,,\n"),
        expect![[r#"
        rows 2 valid 0
        2 [Primary Phone Number (Optional)] invalid_phone: '(617) 555-0100' has 10 digits; add the country code 1 in front: +16175550100
        3 [Primary Phone Number (Optional)] invalid_phone: '1.61755E+10' the spreadsheet turned this number into scientific notation and lost digits; format the column as Text, type the number again (e.g. +1 415 555 0100) and save
    "#]],
    );
}

#[test]
fn toll_free_cannot_be_primary_but_can_be_additional() {
    check(
        &format!(
            "{HEADER}A,a@acme.example,1 888 555 0100,,,,\nB,b@acme.example,16175550100,18005550100,,,\n"
        ),
        expect![[r#"
        rows 2 valid 1
        2 [Primary Phone Number (Optional)] toll_free_primary: +18885550100 is a toll-free number, which cannot be a user's primary number; put it under Additional Phone Numbers and give a local number here
        2 [Primary Phone Number (Optional)] number_not_parked: +18885550100 is not parked on this account; park the number on the account first, or leave the cell empty
    "#]],
    );
}

#[test]
fn numbers_must_be_parked_and_unassigned() {
    check(
        &format!("{HEADER}A,a@acme.example,16175550199,,,,\nB,b@acme.example,16175550150,,,,\n"),
        expect![[r#"
        rows 2 valid 0
        2 [Primary Phone Number (Optional)] number_not_parked: +16175550199 is not parked on this account; park the number on the account first, or leave the cell empty
        3 [Primary Phone Number (Optional)] number_assigned: +16175550150 is already assigned to another user; use a number that is parked on the account
    "#]],
    );
}

#[test]
fn duplicate_number_is_reported_within_a_row_and_across_rows() {
    check(
        &format!(
            "{HEADER}A,a@acme.example,16175550100,16175550100;16175550101,,,\nB,b@acme.example,16175550101,,,,\n"
        ),
        expect![[r#"
        rows 2 valid 0
        2 [Additional Phone Numbers (Optional)] duplicate_number: +16175550100 is listed twice for this user; list each number once
        3 [Primary Phone Number (Optional)] duplicate_number: +16175550101 is already used on row 2; a number belongs to one user only
    "#]],
    );
}

#[test]
fn additional_numbers_need_a_primary() {
    check(
        &format!("{HEADER}A,a@acme.example,,16175550101,,,\n"),
        expect![[r#"
        rows 1 valid 0
        2 [Additional Phone Numbers (Optional)] additional_without_primary: lists numbers but the row has no Primary Phone Number; move one of them to the primary column
    "#]],
    );
}

#[test]
fn extensions_are_checked_against_policy_account_and_file() {
    check(
        &format!(
            "{HEADER}A,a@acme.example,,,70a1,,\nB,b@acme.example,,,7001,,\nC,c@acme.example,,,7002,,\nD,d@acme.example,,,7002,,\n"
        ),
        expect![[r#"
        rows 4 valid 1
        2 [Extension (Optional)] invalid_extension: '70a1' must be digits only, like 7001; leave the cell empty to have one assigned
        3 [Extension (Optional)] extension_taken: 7001 is already used by another user of this account; pick a free extension or leave the cell empty to have one assigned
        5 [Extension (Optional)] duplicate_extension: 7002 is already used on row 4; give each user a different extension or leave the cell empty to have one assigned
    "#]],
    );
}

#[test]
fn unknown_location_and_invalid_role() {
    check(
        &format!("{HEADER}A,a@acme.example,,,,Paris,admin\n"),
        expect![[r#"
        rows 1 valid 0
        2 [Voice Location (Optional)] unknown_location: 'Paris' is not a location of this account; create the location first, or leave the cell empty for Main Company Address
        2 [Role (Optional)] invalid_role: 'admin' is not a role; use one of: user, pbx_admin, supervisor, agent, receptionist
    "#]],
    );
}

#[test]
fn voice_columns_are_ignored_without_voice_services() {
    let options = Options {
        voice: false,
        ..Options::default()
    };
    check_with(
        format!("{HEADER}A,a@acme.example,garbage,more,x,Paris,\n").as_bytes(),
        &options,
        expect![[r#"
        rows 1 valid 1
    "#]],
    );
}

#[test]
fn header_problems_are_file_errors() {
    check(
        "Display Name,Email Address (Mandatory),Email Address (Mandatory),Errors\n",
        expect![[r#"
        rows 0 valid 0
        file line 1 unknown_column: column 1 has 'Display Name', which is not a template column; did you mean 'Display Name (Mandatory)'?
        file line 1 duplicate_column: column 3 repeats 'Email Address (Mandatory)', already column 2; keep one of them
        file line 1 missing_column: the header has no 'Display Name (Mandatory)' column; it is mandatory (download the template for the exact headers)
    "#]],
    );
}

/// A spreadsheet writes empty header cells for columns that once held
/// something; cells under them must stay empty.
#[test]
fn empty_header_cells_at_the_end_are_ignored() {
    check(
        "Display Name (Mandatory),Email Address (Mandatory),,\nA,a@acme.example,,\nB,b@acme.example\nC,c@acme.example,,oops\n",
        expect![[r#"
        rows 3 valid 2
        4 [-] ragged_row: has 4 cells but the header has 2; check for a missing or extra cell or delimiter (a cell with a comma in it must be in double quotes)
    "#]],
    );
}

#[test]
fn failed_rows_file_is_accepted_with_its_errors_column() {
    check(
        "Display Name (Mandatory),Email Address (Mandatory),Errors\nA,a@acme.example,\"invalid_email: ...\"\n",
        expect![[r#"
        rows 1 valid 1
    "#]],
    );
}

#[test]
fn semicolon_and_tab_files_from_european_excel() {
    check(
        "Display Name (Mandatory);Email Address (Mandatory)\r\nA;a@acme.example\r\n",
        expect![[r#"
        rows 1 valid 1
    "#]],
    );
    check(
        "sep=\t\nDisplay Name (Mandatory)\tEmail Address (Mandatory)\nA\ta@acme.example\n",
        expect![[r#"
        rows 1 valid 1
    "#]],
    );
}

#[test]
fn empty_files_and_headers_without_rows() {
    check(
        "",
        expect![[r#"
        rows 0 valid 0
        file line - empty_file: the file is empty
    "#]],
    );
    check(
        "Display Name (Mandatory),Email Address (Mandatory)\n\n,\n",
        expect![[r#"
        rows 0 valid 0
        file line - empty_file: the file has a header but no rows; add one row per user below the header
    "#]],
    );
}

#[test]
fn encodings_utf8_bom_and_utf16_are_read_and_others_refused() {
    let text = "Display Name (Mandatory),Email Address (Mandatory)\nRené,rene@acme.example\n";
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    check_with(
        &bom,
        &Options::default(),
        expect![[r#"
        rows 1 valid 1
    "#]],
    );
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    check_with(
        &utf16,
        &Options::default(),
        expect![[r#"
        rows 1 valid 1
    "#]],
    );
    let latin1 = b"Display Name (Mandatory),Email Address (Mandatory)\nRen\xe9,rene@acme.example\n";
    check_with(
        latin1,
        &Options::default(),
        expect![[r#"
        rows 0 valid 0
        file line 2 encoding: line 2, column 'Display Name (Mandatory)': byte 0xE9 is not UTF-8; the file was saved in another encoding (Windows-1252 or ANSI, say): save it again as 'CSV UTF-8 (Comma delimited)'
    "#]],
    );
}

#[test]
fn workbooks_are_not_csv() {
    check_with(
        b"PK\x03\x04\x14\x00\x06\x00",
        &Options::default(),
        expect![[r#"
        rows 0 valid 0
        file line - not_csv: the file is an Excel workbook (.xlsx) or another ZIP archive; roster reads CSV files only: open it in your spreadsheet and save it with File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'
    "#]],
    );
}

#[test]
fn limits_refuse_large_files_and_too_many_rows() {
    let file =
        format!("{HEADER}A,a@acme.example,,,,,\nB,b@acme.example,,,,,\nC,c@acme.example,,,,,\n");
    let mut options = Options::default();
    options.limits.max_rows = 2;
    check_with(
        file.as_bytes(),
        &options,
        expect![[r#"
        rows 2 valid 0
        file line 4 too_many_rows: the file has more than 2 rows; split it into files of at most 2 rows and import them one after another
    "#]],
    );
    let mut options = Options::default();
    options.limits.max_bytes = 100;
    check_with(
        file.as_bytes(),
        &options,
        expect![[r#"
        rows 0 valid 0
        file line - file_too_large: the file is larger than 100 bytes; split it into smaller files and import them one after another
    "#]],
    );
}

#[test]
fn unclosed_quote_is_malformed() {
    check(
        &format!("{HEADER}A,a@acme.example,,,,,\n\"B,b@acme.example,,,,,\n"),
        expect![[r#"
        rows 1 valid 0
        file line 3 malformed_csv: the double quote that opens a cell on line 3 is never closed; close it, or double it ("") if it is part of the text
    "#]],
    );
}

#[test]
fn errors_of_every_row_come_in_file_order_across_batches() {
    let mut file = HEADER.to_string();
    for i in 0..10_000 {
        let email = if i % 3000 == 0 {
            "bad".to_string()
        } else {
            format!("u{i}@acme.example")
        };
        file.push_str(&format!("U{i},{email},,,,,\n"));
    }
    check(
        &file,
        expect![[r#"
        rows 10000 valid 9996
        2 [Email Address (Mandatory)] invalid_email: 'bad' has no '@'; write the full address, like jane.doe@example.com
        3002 [Email Address (Mandatory)] invalid_email: 'bad' has no '@'; write the full address, like jane.doe@example.com
        6002 [Email Address (Mandatory)] invalid_email: 'bad' has no '@'; write the full address, like jane.doe@example.com
        9002 [Email Address (Mandatory)] invalid_email: 'bad' has no '@'; write the full address, like jane.doe@example.com
    "#]],
    );
}
