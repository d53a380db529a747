//! The bad-input corpus (issue #7): files people really upload — other
//! encodings and delimiters, broken CSV, a workbook, formulas, look-alike
//! addresses — each validated by the real binary and held to the outcome
//! `fixtures/bad/expected.toml` gives it. Cases too big to commit are
//! generated here: a bad byte deep in a file, 100 MB lines (which must be
//! refused at the record cap with the memory of the process bounded), and a
//! file imported twice.
//!
//! What the corpus does not check: messages (the unit tests of
//! roster-validate do), and PostgreSQL (reading a file does not touch it).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use expect_test::expect;
use serde::Deserialize;

use crate::util::{Output, Roster, fixture, json, path};

/// `fixtures/bad/expected.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    /// What the file is; for the reader of a failure.
    about: String,
    rows: u64,
    valid_rows: u64,
    errors: Vec<ExpectedError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    row: Option<u64>,
    column: Option<String>,
    code: String,
}

/// The most memory `roster validate` may take on a 100 MB line: its record
/// cap is 64 KiB, so anything near the size of the line means it is kept.
const MAX_PEAK_KIB: u64 = 200 * 1024;

/// A line of 100 MB.
const HUGE: usize = 100 * 1024 * 1024;

const HEADER: &str = "Display Name (Mandatory),Email Address (Mandatory)\n";

#[test]
fn every_file_of_the_corpus_gets_its_expected_outcome() {
    let dir = fixture("bad");
    let manifest = std::fs::read_to_string(dir.join("expected.toml")).expect("the manifest");
    let manifest: Manifest = toml::from_str(&manifest).expect("the manifest parses");

    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures/bad")
        .map(|entry| entry.expect("a directory entry").file_name())
        .map(|name| name.to_str().expect("UTF-8 file names").to_string())
        .filter(|name| name != "expected.toml")
        .collect();
    files.sort();
    let mut cased: Vec<String> = manifest.case.iter().map(|c| c.file.clone()).collect();
    cased.sort();
    assert_eq!(
        files, cased,
        "every file has one case, and every case a file"
    );

    let roster = Roster::sqlite();
    roster.load_demo();
    // Every case is run, and the failure lists every case that differs.
    let mut wrong = String::new();
    for case in &manifest.case {
        let actual = outcome(&validate(&roster, &dir.join(&case.file)));
        let expected = expectation(case);
        if actual != expected {
            wrong.push_str(&format!(
                "{} ({})\nexpected:\n{expected}actual:\n{actual}\n",
                case.file, case.about
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{wrong}");
}

/// A byte that is not UTF-8 (or a NUL) past the first block is found where
/// it is, after thousands of good rows, and named by its line.
#[test]
fn a_bad_byte_on_line_3000_is_reported_there() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let mut seen = String::new();
    for (name, bad) in [("latin1", &b"Ren\xe9"[..]), ("nul", b"Ren\0")] {
        let mut bytes = HEADER.as_bytes().to_vec();
        for line in 2..3000 {
            bytes.extend_from_slice(format!("User {line},user{line}@demo.example\n").as_bytes());
        }
        bytes.extend_from_slice(bad);
        bytes.extend_from_slice(b" Dupont,rene@demo.example\n");
        let file = roster.file(&format!("{name}.csv"), &bytes);
        seen.push_str(&format!(
            "{name}: {}",
            outcome_with_messages(&validate(&roster, &file))
        ));
    }
    expect![[r#"
        latin1: exit 1, rows 2998, valid 0
          3000 - encoding: line 3000, column 'Display Name (Mandatory)': byte 0xE9 is not UTF-8; the file was saved in another encoding (Windows-1252 or ANSI, say): save it again as 'CSV UTF-8 (Comma delimited)'
        nul: exit 1, rows 2998, valid 0
          3000 - encoding: line 3000 holds a NUL byte; the file is damaged or not plain text
    "#]]
    .assert_eq(&seen);
}

/// A 100 MB line — one cell of it, quoted or not; nothing but delimiters;
/// empty quoted cells; a header without end — is refused at the record cap,
/// and `roster validate` stays far below the size of the line.
#[test]
fn a_100_mb_line_is_refused_at_the_record_cap_in_bounded_memory() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let cases: [(&str, &str, &[u8], &str); 5] = [
        ("quoted", "A,\"", b"x", "\",a@demo.example\n"),
        ("unquoted", "", b"x", ",a@demo.example\n"),
        ("commas", "", b",", "\n"),
        ("empty quoted cells", "", b"\"\",", "\n"),
        ("header without end", "", b"x", ""),
    ];
    let mut seen = String::new();
    for (name, before, repeated, after) in cases {
        let file = roster.dir.path().join("huge.csv");
        let header = if name == "header without end" {
            ""
        } else {
            HEADER
        };
        write_huge(&file, &[header, before].concat(), repeated, after);
        let (out, peak_kib) = validate_measured(&roster, &file);
        std::fs::remove_file(&file).expect("removing the 100 MB file");
        // Shown with --nocapture: the figures for the issue.
        eprintln!("{name}: peak RSS {} KiB", peak_kib);
        assert!(
            peak_kib < MAX_PEAK_KIB,
            "{name}: peak RSS {peak_kib} KiB, more than {MAX_PEAK_KIB} KiB"
        );
        seen.push_str(&format!("{name}: {}", outcome_with_messages(&out)));
    }
    expect![[r#"
        quoted: exit 1, rows 0, valid 0
          2 - malformed_csv: the row starting on line 2 runs past 65536 bytes inside a quoted cell opened on line 2; the closing double quote is probably missing
        unquoted: exit 1, rows 0, valid 0
          2 - malformed_csv: the row starting on line 2 is longer than 65536 bytes; no user row is that long: check the line breaks of the file
        commas: exit 1, rows 0, valid 0
          2 - malformed_csv: the row starting on line 2 is longer than 65536 bytes; no user row is that long: check the line breaks of the file
        empty quoted cells: exit 1, rows 0, valid 0
          2 - malformed_csv: the row starting on line 2 is longer than 65536 bytes; no user row is that long: check the line breaks of the file
        header without end: exit 1, rows 0, valid 0
          1 - malformed_csv: the row starting on line 1 is longer than 65536 bytes; no user row is that long: check the line breaks of the file
    "#]]
    .assert_eq(&seen);
}

/// Importing a file again is refused whole: every row's address is taken
/// now, nothing is queued and nobody is created twice.
#[test]
fn a_file_imported_twice_creates_nothing_the_second_time() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let first = roster.import_valid_users(&["--passwords", "none"]);
    assert_eq!(first.code, 0, "{first:?}");
    let users = || roster.run(&["users", "--account", "demo", "--format", "json"]);
    let before = json(&users());

    let second = roster.import_valid_users(&["--passwords", "none", "--format", "json"]);
    expect![[r#"
        exit 1, rows 8, valid 0
          2 Email Address (Mandatory) email_taken
          2 Primary Phone Number (Optional) number_assigned
          2 Extension (Optional) extension_taken
          3 Email Address (Mandatory) email_taken
          3 Primary Phone Number (Optional) number_assigned
          3 Additional Phone Numbers (Optional) number_assigned
          3 Extension (Optional) extension_taken
          4 Email Address (Mandatory) email_taken
          4 Primary Phone Number (Optional) number_assigned
          5 Email Address (Mandatory) email_taken
          5 Primary Phone Number (Optional) number_assigned
          5 Additional Phone Numbers (Optional) number_assigned
          5 Additional Phone Numbers (Optional) number_assigned
          5 Extension (Optional) extension_taken
          6 Email Address (Mandatory) email_taken
          7 Email Address (Mandatory) email_taken
          7 Extension (Optional) extension_taken
          8 Email Address (Mandatory) email_taken
          9 Email Address (Mandatory) email_taken
          9 Primary Phone Number (Optional) number_assigned
          9 Extension (Optional) extension_taken
    "#]]
    .assert_eq(&outcome(&second));
    let report = json(&second);
    let taken: Vec<u64> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter(|e| e["code"] == "email_taken")
        .filter_map(|e| e["row"].as_u64())
        .collect();
    assert_eq!(taken, (2..=9).collect::<Vec<u64>>(), "every row's address");
    assert_eq!(json(&users()), before);
}

/// `roster validate --account demo --format json FILE`.
fn validate(roster: &Roster, file: &Path) -> Output {
    roster.run(&validate_args(file))
}

/// The arguments of [`validate`].
fn validate_args(file: &Path) -> [&str; 6] {
    [
        "validate",
        "--account",
        "demo",
        "--format",
        "json",
        path(file),
    ]
}

/// The most memory `validate` and `import` may take on 400,000 errors:
/// before errors went to a temporary file, they took 380 MiB a million.
const MAX_REPORT_PEAK_KIB: u64 = 100 * 1024;

/// 200,000 rows, each with two errors: the report is never in memory, in
/// `validate` or in `import`, and its counts and errors are all there.
#[test]
fn a_report_of_400_000_errors_is_written_in_bounded_memory() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let file = roster.dir.path().join("failing.csv");
    let mut out = BufWriter::new(std::fs::File::create(&file).expect("a file"));
    out.write_all(
        b"Display Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional)\n",
    )
    .expect("written");
    for i in 0..200_000 {
        writeln!(out, "Person {i},person{i}.demo.example,not a number {i}").expect("written");
    }
    out.flush().expect("written");
    drop(out);
    for command in ["validate", "import"] {
        let mut args = validate_args(&file).to_vec();
        args[0] = command;
        let (out, peak) = measured(&roster, &args);
        assert_eq!(out.code, 1, "{command}: {}", out.stderr);
        let report = json(&out);
        assert_eq!(report["errors_total"], 400_000, "{command}");
        let errors = report["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 400_000, "{command}");
        assert_eq!(errors[123_457]["row"], 61_730, "{command}");
        assert_eq!(errors[123_457]["code"], "invalid_phone", "{command}");
        let counts: Vec<(String, u64)> = report["error_counts"]
            .as_array()
            .expect("counts")
            .iter()
            .map(|c| {
                (
                    c["code"].as_str().unwrap_or("").to_string(),
                    c["count"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            counts,
            [
                ("invalid_email".to_string(), 200_000),
                ("invalid_phone".to_string(), 200_000)
            ],
            "{command}"
        );
        assert!(
            peak < MAX_REPORT_PEAK_KIB,
            "{command} took {peak} KiB for 400,000 errors"
        );
    }
}

/// [`validate`] under GNU time, with the peak resident memory of `roster`
/// in KiB.
fn validate_measured(roster: &Roster, file: &Path) -> (Output, u64) {
    measured(roster, &validate_args(file))
}

/// `roster ARGS` under GNU time, with the peak resident memory of `roster`
/// in KiB. GNU time, because it waits for this one child: the test
/// process's own children's figure is the largest of every child any test
/// started.
fn measured(roster: &Roster, args: &[&str]) -> (Output, u64) {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "measuring memory needs GNU time at /usr/bin/time (apt-get install time)"
    );
    let peak_file = roster.dir.path().join("peak-kib");
    let out = Command::new(time)
        .args(["-f", "%M", "-o", path(&peak_file)])
        .arg(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .current_dir(roster.dir.path())
        .env("ROSTER_DATABASE_URL", &roster.db.url)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("GNU time runs roster");
    // The figure is the last line, after a note on a non-zero exit.
    let peak = std::fs::read_to_string(&peak_file).expect("GNU time's figure");
    let peak = peak
        .lines()
        .last()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("GNU time wrote {peak:?}: {e}"));
    let out = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (out, peak)
}

/// Writes `start`, then `repeated` over and over to 100 MB, then `end`,
/// without holding 100 MB.
fn write_huge(file: &Path, start: &str, repeated: &[u8], end: &str) {
    let block: Vec<u8> = repeated.iter().copied().cycle().take(1 << 20).collect();
    let mut out = BufWriter::new(std::fs::File::create(file).expect("creating the file"));
    let mut write = |bytes: &[u8]| out.write_all(bytes).expect("writing the file");
    write(start.as_bytes());
    for _ in 0..HUGE / block.len() {
        write(&block);
    }
    write(end.as_bytes());
    out.flush().expect("writing the file");
}

/// The exit code and the report, one error a line: row, column, code.
fn outcome(out: &Output) -> String {
    render(out, false)
}

/// [`outcome`] with each error's message.
fn outcome_with_messages(out: &Output) -> String {
    render(out, true)
}

fn render(out: &Output, messages: bool) -> String {
    let report = json(out);
    let mut text = format!(
        "exit {}, rows {}, valid {}\n",
        out.code, report["rows"], report["valid_rows"]
    );
    for e in report["errors"].as_array().expect("errors is an array") {
        let row = e["row"].as_u64().map_or("-".to_string(), |r| r.to_string());
        let column = e["column"].as_str().unwrap_or("-");
        let code = e["code"].as_str().expect("a code");
        text.push_str(&format!("  {row} {column} {code}"));
        if messages {
            let message = e["message"].as_str().expect("a message");
            text.push_str(&format!(": {message}"));
        }
        text.push('\n');
    }
    text
}

/// What [`outcome`] must give for `case`.
fn expectation(case: &Case) -> String {
    let code = if case.errors.is_empty() { 0 } else { 1 };
    let mut text = format!(
        "exit {code}, rows {}, valid {}\n",
        case.rows, case.valid_rows
    );
    for e in &case.errors {
        let row = e.row.map_or("-".to_string(), |r| r.to_string());
        let column = e.column.as_deref().unwrap_or("-");
        text.push_str(&format!("  {row} {column} {}\n", e.code));
    }
    text
}
