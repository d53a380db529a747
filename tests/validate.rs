//! `roster validate`: reports, exit codes, file checks and flags.

use expect_test::{expect, expect_file};

use crate::util::{Roster, fixture, path};

#[tokio::test]
async fn every_error_code_is_reported_on_both_databases() {
    for roster in Roster::both("every_error_code").await {
        roster.load_demo();
        let file = fixture("every-error.csv");
        let json = roster.run(&[
            "validate",
            "--account",
            "demo",
            path(&file),
            "--format",
            "json",
        ]);
        assert_eq!(json.code, 1, "{}: {}", roster.db.kind, json.stderr);
        expect_file!["snapshots/every-error.json"].assert_eq(&json.stdout);

        let text = roster.run(&["validate", "--account", "demo", path(&file)]);
        assert_eq!(text.code, 1, "{}", roster.db.kind);
        expect_file!["snapshots/every-error.txt"]
            .assert_eq(&text.stdout.replace(path(&file), "every-error.csv"));
        roster.db.remove().await;
    }
}

#[test]
fn every_row_code_appears_in_the_every_error_fixture() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let out = roster.run(&[
        "validate",
        "--account",
        "demo",
        path(&fixture("every-error.csv")),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    let codes: std::collections::BTreeSet<&str> = report["errors"]
        .as_array()
        .expect("errors is an array")
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect();
    // Update mode's codes are another mode's (tests/update.rs), and
    // changed_since_plan is found only when a plan runs.
    let other_mode = [
        roster_validate::Code::UnknownUser,
        roster_validate::Code::ChangedSincePlan,
    ];
    let row_codes: std::collections::BTreeSet<&str> = roster_validate::Code::ALL
        .iter()
        .filter(|c| !c.is_file_level() && !other_mode.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert_eq!(codes, row_codes);
}

#[test]
fn valid_file_exits_zero() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let out = roster.run(&[
        "validate",
        "--account",
        "demo",
        path(&fixture("valid-users.csv")),
    ]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert!(
        out.stdout.ends_with(": 8 rows, all valid\n"),
        "{}",
        out.stdout
    );
    let json = roster.run(&[
        "validate",
        "--account",
        "demo",
        path(&fixture("valid-users.csv")),
        "--format",
        "json",
    ]);
    expect![[r#"
        {
          "rows": 8,
          "valid_rows": 8,
          "errors": [],
          "errors_total": 0,
          "error_counts": []
        }
    "#]]
    .assert_eq(&json.stdout);
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let csv = std::fs::read(fixture("valid-users.csv")).expect("fixture");
    let out = roster.run_with_stdin(&["validate", "--account", "demo", "-"], Some(&csv));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "-: 8 rows, all valid\n")
    );
}

#[test]
fn no_voice_ignores_phone_extension_and_location() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let file = roster.file(
        "voice.csv",
        b"Display Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional),Extension (Optional),Voice Location (Optional)\n\
          A,a@demo.example,not a number,x,Nowhere\n",
    );
    let with_voice = roster.run(&[
        "validate",
        "--account",
        "demo",
        path(&file),
        "--format",
        "json",
    ]);
    assert_eq!(with_voice.code, 1);
    let without = roster.run(&["validate", "--account", "demo", path(&file), "--no-voice"]);
    assert_eq!(
        (
            without.code,
            without.stdout.ends_with("1 rows, all valid\n")
        ),
        (0, true),
        "{without:?}"
    );
}

#[test]
fn file_level_errors_exit_one_with_the_code() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let header = "Display Name (Mandatory),Email Address (Mandatory)\n";
    let cases: [(&str, Vec<u8>, &[&str]); 6] = [
        (
            "workbook.xlsx",
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00rest of a workbook".to_vec(),
            &[],
        ),
        ("empty.csv", Vec::new(), &[]),
        (
            "latin1.csv",
            [header.as_bytes(), b"Ren\xe9,r@demo.example\n"].concat(),
            &[],
        ),
        (
            "rows.csv",
            format!("{header}A,a@demo.example\nB,b@demo.example\nC,c@demo.example\n").into_bytes(),
            &["--max-rows", "2"],
        ),
        (
            "big.csv",
            format!("{header}A,a@demo.example\nB,b@demo.example\n").into_bytes(),
            &["--max-bytes", "60"],
        ),
        (
            "headers.csv",
            b"Name,Email Address (Mandatory)\nA,a@demo.example\n".to_vec(),
            &[],
        ),
    ];
    let mut seen = String::new();
    for (name, bytes, flags) in cases {
        let file = roster.file(name, &bytes);
        let mut args = vec![
            "validate",
            "--account",
            "demo",
            path(&file),
            "--format",
            "json",
        ];
        args.extend_from_slice(flags);
        let out = roster.run(&args);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
        let codes: Vec<&str> = report["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["code"].as_str())
            .collect();
        seen.push_str(&format!("{name}: exit {} {codes:?}\n", out.code));
    }
    expect![[r#"
        workbook.xlsx: exit 1 ["not_csv"]
        empty.csv: exit 1 ["empty_file"]
        latin1.csv: exit 1 ["encoding"]
        rows.csv: exit 1 ["too_many_rows"]
        big.csv: exit 1 ["file_too_large"]
        headers.csv: exit 1 ["unknown_column", "missing_column"]
    "#]]
    .assert_eq(&seen);
}

#[test]
fn usage_and_system_errors_exit_two() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let missing_account = roster.run(&[
        "validate",
        "--account",
        "nobody",
        path(&fixture("valid-users.csv")),
    ]);
    assert_eq!(
        (missing_account.code, missing_account.stderr.as_str()),
        (
            2,
            "error: no account 'nobody'; load it first with `roster account load FILE.toml`\n"
        )
    );
    let missing_file = roster.run(&["validate", "--account", "demo", "no-such.csv"]);
    assert_eq!(missing_file.code, 2);
    assert!(
        missing_file
            .stderr
            .starts_with("error: opening no-such.csv: "),
        "{}",
        missing_file.stderr
    );
    let bad_flag = roster.run(&["validate", "--account", "demo", "--format", "xml", "x.csv"]);
    assert_eq!(bad_flag.code, 2);
}
