//! Cells a spreadsheet would run as formulas are neutralised in every CSV
//! roster writes (the failed-rows file, the results, the users), and come
//! back as they were when the failed-rows file is imported again.

use crate::util::{Roster, json};

/// What a spreadsheet runs as a formula when it begins a cell.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Users whose cells would run as formulas; the emails are valid addresses.
const USERS: &str = "Display Name (Mandatory),Email Address (Mandatory),Job Title (Optional),Department (Optional)\n\
\"=HYPERLINK(\"\"http://evil.example\"\",\"\"open\"\")\",=sum@demo.example,+cmd,-2+3\n\
@SUM(A1),+plus@demo.example,=1+1,@dept\n\
-minus,-minus@demo.example,Engineer,Sales\n";

/// The cells of a CSV that roster wrote, after checking none would run.
fn cells(what: &str, csv: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes());
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("{what} is not CSV: {e}"))
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect();
    for cell in records.iter().flatten() {
        assert!(
            !cell.starts_with(FORMULA_STARTS),
            "{what} has a cell a spreadsheet would run: {cell:?}\n{csv}"
        );
    }
    records
}

#[test]
fn every_csv_roster_writes_neutralises_formulas_and_reads_them_back() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let file = roster.file("formulas.csv", USERS.as_bytes());
    let file = file.to_str().expect("a UTF-8 path");

    // Queued and stopped before it ran: every row comes back as failed.
    let id = roster.detach(&["--account", "demo", "--passwords", "none", file]);
    assert_eq!(roster.run(&["stop", &id]).code, 0);
    let failed = roster.run(&["failed-rows", &id]);
    assert_eq!(failed.code, 0, "{failed:?}");
    let rows = cells("the failed-rows file", &failed.stdout);
    assert_eq!(rows.len(), 4, "the header and three rows");
    assert_eq!(
        rows[1][..4],
        [
            "'=HYPERLINK(\"http://evil.example\",\"open\")",
            "'=sum@demo.example",
            "'+cmd",
            "'-2+3"
        ],
        "shown as text"
    );

    // The failed-rows file imports again as it is, with the cells as typed.
    let again = roster.file("failed.csv", failed.stdout.as_bytes());
    let imported = roster.run(&[
        "import",
        "--account",
        "demo",
        "--passwords",
        "none",
        "--format",
        "json",
        again.to_str().expect("a UTF-8 path"),
    ]);
    assert_eq!(imported.code, 0, "{imported:?}");
    let id = json(&imported)["id"].as_str().expect("an id").to_string();
    let users = json(&roster.run(&["users", "--account", "demo", "--format", "json"]));
    let names: Vec<&str> = users
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["display_name"].as_str())
        .collect();
    for name in [
        "=HYPERLINK(\"http://evil.example\",\"open\")",
        "@SUM(A1)",
        "-minus",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }

    let results = roster.run(&["results", &id, "--format", "csv"]);
    assert_eq!(results.code, 0, "{results:?}");
    let results = cells("the results", &results.stdout);
    let emails: Vec<&str> = results
        .iter()
        .flat_map(|r| r.iter().map(String::as_str))
        .collect();
    for email in [
        "'=sum@demo.example",
        "'+plus@demo.example",
        "'-minus@demo.example",
    ] {
        assert!(emails.contains(&email), "{email} in {results:?}");
    }

    let listed = roster.run(&["users", "--account", "demo", "--format", "csv"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    let listed = cells("the users", &listed.stdout);
    assert!(
        listed
            .iter()
            .any(|r| r[0] == "'=HYPERLINK(\"http://evil.example\",\"open\")"),
        "{listed:?}"
    );
}
