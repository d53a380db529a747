//! `roster imports`: an account's imports, newest first, as a table or as
//! a list of the status objects `roster status --format json` prints.
//!
//! It lists what the store holds and nothing else: no import is read in
//! full, so a long history lists as fast as a short one.

use roster_server::contract::StatusJson;
use roster_store::{AccountSlug, Import, Store};

use crate::Outcome;
use crate::args::Format;

pub(crate) async fn run(
    db: &str,
    account: &str,
    format: Format,
    limit: u32,
) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let account = store
        .existing_account(&AccountSlug::parse(account)?)
        .await?;
    let imports = store.account_imports(&account, limit).await?;
    store.close().await;
    match format {
        Format::Json => {
            let json: Vec<StatusJson<'_>> = imports.iter().map(StatusJson::new).collect();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Text if imports.is_empty() => {
            println!("account {} has no imports yet", account.slug.as_str())
        }
        Format::Text => print!("{}", table(&imports)),
    }
    Ok(Outcome::Done)
}

/// One line per import under a header, in aligned columns: counts to the
/// right, the file's name last, where its length pushes nothing aside.
fn table(imports: &[Import]) -> String {
    const HEADER: [&str; 8] = [
        "id",
        "state",
        "created_at",
        "total",
        "created",
        "failed",
        "not_processed",
        "file",
    ];
    /// Columns up to here are left-aligned, the counts after them right-aligned.
    const LEFT: usize = 3;
    let rows: Vec<[String; 8]> = imports
        .iter()
        .map(|i| {
            [
                i.id.to_string(),
                i.state.to_string(),
                i.created_at.clone(),
                i.total.to_string(),
                i.created.to_string(),
                i.failed.to_string(),
                i.not_processed.to_string(),
                one_line(&i.file_name),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADER.map(str::to_string);
    for row in std::iter::once(&header).chain(&rows) {
        let (last, cells) = row.split_last().expect("a row has columns");
        for (column, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if column < LEFT {
                out.push_str(&format!("{cell:<width$}  "));
            } else {
                out.push_str(&format!("{cell:>width$}  "));
            }
        }
        out.push_str(last);
        out.push('\n');
    }
    out
}

/// A file name as uploaded, on one line: control characters escaped.
fn one_line(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
