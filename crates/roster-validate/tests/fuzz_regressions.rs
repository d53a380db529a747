//! Inputs from the fuzz targets in `fuzz/`, kept so that `cargo test` holds
//! the validator and the row reader to the fuzzers' promises without a
//! nightly toolchain. The promises are `fuzz/src/invariants.rs`, included
//! here by path so the two cannot drift apart.
//!
//! A finding goes here minimised, as a byte string, in a test named after
//! the promise it broke; see the README's Fuzzing section. The fuzzers' own
//! corpus is not kept: it changes with every run and says nothing to a
//! reader.

#[path = "../../../fuzz/src/invariants.rs"]
mod invariants;

use expect_test::{Expect, expect};
use invariants::{
    extension_policy, parsers_checked, resume_checked, small_options, validate_checked,
};
use roster_validate::{E164, Email, Extension, Options, Report, Role};

/// Runs `bytes` as the `validate` and `resume` targets do — with the default
/// options and with the small caps its first bytes choose — and shows each
/// report, or the promise that broke.
fn check(bytes: &[u8], expect: Expect) {
    let mut actual = String::new();
    for (name, options) in [
        ("default", Options::default()),
        ("caps", small_options(bytes)),
    ] {
        let outcome = validate_checked(bytes, &options)
            .and_then(|report| resume_checked(bytes, &options).map(|()| report));
        let shown = match outcome {
            Ok(report) => summary(&report),
            Err(broken) => format!("BROKEN {broken}"),
        };
        actual.push_str(&format!("{name}: {shown}\n"));
    }
    expect.assert_eq(&actual);
}

/// Runs cells as the `parsers` target does, under the policy the first two
/// bytes of its input would choose, and shows what each parser made of them.
fn check_cells(policy: [u8; 2], cells: &[&str], expect: Expect) {
    let policy = extension_policy(policy[0], policy[1]);
    let actual: Vec<String> = cells
        .iter()
        .map(|cell| match parsers_checked(cell, policy) {
            Ok(()) => {
                let shown = |parsed: Option<String>| parsed.unwrap_or_else(|| "-".to_string());
                format!(
                    "{cell:?}: email {}, phone {}, extension {}, role {}",
                    shown(Email::parse(cell).ok().map(|e| e.key())),
                    shown(E164::parse(cell).ok().map(|n| n.to_string())),
                    shown(Extension::parse(cell, policy).ok().map(|x| x.to_string())),
                    shown(Role::parse(cell).map(|r| r.to_string())),
                )
            }
            Err(broken) => format!("{cell:?}: BROKEN {broken}"),
        })
        .collect();
    expect.assert_eq(&actual.join("\n"));
}

#[test]
fn the_first_bytes_choose_the_caps() {
    let options = small_options(b"\x10\x03\x20\x01\x04\xff");
    expect!["Options { voice: false, limits: Limits { max_bytes: 64, max_rows: 3, max_record_bytes: 32 }, extensions: ExtensionPolicy { min_digits: 5, max_digits: 7 }, mode: Create, default_role: User }"]
    .assert_eq(&format!("{options:?}"));
}

#[test]
fn a_multiline_cell_after_a_bom_and_crlf_resumes_at_every_row() {
    check(
        b"\xEF\xBB\xBFDisplay Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional),Extension (Optional),Voice Location (Optional),Role (Optional)\r\n\
Ada,ada@demo.example,+1 617 555 0100,7101,Boston Office,user\r\n\
\r\n\
\"Bob\r\nJr\",bob@demo.example,,,,\r\n\
Cy,CY@demo.example,16175550101,0701,,agent\r\n",
        expect![[r#"
            default: rows 3, valid 3, file errors [], row errors []
            caps: rows 3, valid 3, file errors [], row errors []
        "#]],
    );
}

#[test]
fn a_sep_line_and_cr_line_ends_resume_with_their_delimiter() {
    check(
        b"sep=;\nDisplay Name (Mandatory);Email Address (Mandatory);Extension (Optional)\r\
Ada;ada@demo.example;7001\r\"x\"\"y\";existing@demo.example;\r",
        expect![[r#"
            default: rows 2, valid 0, file errors [], row errors [3:Some(Extension):extension_taken 4:Some(Email):email_taken]
            caps: rows 2, valid 1, file errors [], row errors [4:Some(Email):email_taken]
        "#]],
    );
}

#[test]
fn utf16_has_no_places_to_resume_from() {
    check(
        b"\xFF\xFED\0i\0s\0p\0l\0a\0y\0 \0N\0a\0m\0e\0 \0(\0M\0a\0n\0d\0a\0t\0o\0r\0y\0)\0\t\0\
E\0m\0a\0i\0l\0 \0A\0d\0d\0r\0e\0s\0s\0 \0(\0M\0a\0n\0d\0a\0t\0o\0r\0y\0)\0\n\0\
A\0d\0a\0\t\0a\0d\0a\0@\0d\0e\0m\0o\0.\0e\0x\0a\0m\0p\0l\0e\0\n\0",
        expect![[r#"
            default: rows 1, valid 1, file errors [], row errors []
            caps: rows 1, valid 1, file errors [], row errors []
        "#]],
    );
}

#[test]
fn an_unclosed_quote_ends_reading_the_same_way_when_resumed() {
    check(
        b"Display Name (Mandatory),Email Address (Mandatory),Errors\n\
=Ada,ada@demo.example,\"had, an error\"\n\
\"unclosed,x@y.example\n",
        expect![[r#"
            default: rows 1, valid 0, file errors [malformed_csv@Some(3)], row errors []
            caps: rows 1, valid 0, file errors [malformed_csv@Some(3)], row errors []
        "#]],
    );
}

#[test]
fn parsed_values_read_back_as_themselves() {
    check_cells(
        [3, 0],
        &[
            " Jane.Doe@Acme.Example ",
            "a@b@c.com",
            "+1 (415) 555-0100",
            "(415) 555-0100",
            "1 415 555 010",
            "1.61755E+10",
            "0701",
            "\u{a0}7001\u{a0}",
            "PBX_Admin ",
            "",
        ],
        expect![[r#"
            " Jane.Doe@Acme.Example ": email jane.doe@acme.example, phone -, extension -, role -
            "a@b@c.com": email -, phone -, extension -, role -
            "+1 (415) 555-0100": email -, phone +14155550100, extension -, role -
            "(415) 555-0100": email -, phone -, extension -, role -
            "1 415 555 010": email -, phone -, extension -, role -
            "1.61755E+10": email -, phone -, extension -, role -
            "0701": email -, phone -, extension 0701, role -
            "\u{a0}7001\u{a0}": email -, phone -, extension 7001, role -
            "PBX_Admin ": email -, phone -, extension -, role pbx_admin
            "": email -, phone -, extension -, role -"#]],
    );
}

// Found by the `validate` target: UTF-8 was checked on a record's cells
// joined together, so a character's bytes cut by a delimiter (`\xC3` + `,`
// + `\xA9` is `é` once the comma is gone) passed, and both cells read as
// "": the job title and department were lost without a word.
#[test]
fn latin1_bytes_split_by_a_delimiter_are_an_encoding_error() {
    check(
        b"Display Name (Mandatory),Email Address (Mandatory),Job Title (Optional),Department (Optional)\n\
Ada,ada@demo.example,Eng\xC3,\xA9R&D\n",
        expect![[r#"
            default: rows 0, valid 0, file errors [encoding@Some(2)], row errors []
            caps: rows 0, valid 0, file errors [encoding@Some(2)], row errors []
        "#]],
    );
}

// The same split, minimised by `cargo fuzz tmin`: a byte-order mark cut by
// a comma, in the header and in a row. The header was read as two columns
// and the row called ragged; the file is refused for its encoding instead.
#[test]
fn a_byte_order_mark_split_by_a_delimiter_is_an_encoding_error() {
    check(
        b"Display Name (Mandatory),Email Address (Mandatory),Fiakent(Manda\xef\xbb,\xbf0e\r\
\xef\xbb,\xbf,ame#itr07,,,,\r\n",
        expect![[r#"
            default: rows 0, valid 0, file errors [encoding@Some(1)], row errors []
            caps: rows 0, valid 0, file errors [encoding@Some(1)], row errors []
        "#]],
    );
}

/// Counts and codes only: the wording has its own tests beside the code.
fn summary(report: &Report) -> String {
    let file: Vec<String> = report
        .file_errors
        .iter()
        .map(|e| format!("{}@{:?}", e.code.as_str(), e.line))
        .collect();
    let rows: Vec<String> = report
        .row_errors
        .iter()
        .map(|e| format!("{}:{:?}:{}", e.row, e.column, e.code.as_str()))
        .collect();
    format!(
        "rows {}, valid {}, file errors [{}], row errors [{}]",
        report.rows,
        report.valid_rows,
        file.join(" "),
        rows.join(" ")
    )
}
