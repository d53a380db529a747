//! `roster users`: an account's users with their extensions and numbers.

use std::io::Write;

use roster_store::{AccountSlug, Store, User};
use serde::Serialize;

use crate::Outcome;
use crate::args::TableFormat;
use roster_csv::csv_line;
use roster_template::Column;

#[derive(Serialize)]
struct UserJson<'a> {
    display_name: &'a str,
    email: &'a str,
    role: &'a str,
    location: &'a str,
    extensions: &'a [String],
    numbers: &'a [String],
}

pub(crate) async fn run(db: &str, account: &str, format: TableFormat) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let account = store
        .existing_account(&AccountSlug::parse(account)?)
        .await?;
    let users = store.users(&account).await?;
    store.close().await;
    let mut out = std::io::stdout().lock();
    match format {
        TableFormat::Json => {
            let json: Vec<UserJson<'_>> = users.iter().map(user_json).collect();
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out)?;
        }
        TableFormat::Csv => {
            // The template's columns: edited and imported with
            // `--mode upsert`, the file is a plan of exactly the edits.
            out.write_all(csv_line(Column::ALL.map(Column::header)).as_bytes())?;
            for u in &users {
                let cells = template_cells(u);
                out.write_all(csv_line(cells.iter().map(String::as_str)).as_bytes())?;
            }
        }
    }
    Ok(Outcome::Done)
}

/// The user's cells under the template's columns, in their order.
fn template_cells(u: &User) -> Vec<String> {
    let (primary, additional) = match u.numbers.split_first() {
        Some((first, rest)) if u.has_primary => (first.clone(), rest.join(";")),
        _ => (String::new(), u.numbers.join(";")),
    };
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    Column::ALL
        .into_iter()
        .map(|column| match column {
            Column::DisplayName => u.display_name.clone(),
            Column::Email => u.email.clone(),
            Column::FirstName => text(&u.first_name),
            Column::LastName => text(&u.last_name),
            Column::JobTitle => text(&u.job_title),
            Column::Department => text(&u.department),
            Column::OrganizationalUnit => text(&u.organizational_unit),
            Column::PrimaryPhone => primary.clone(),
            Column::AdditionalPhones => additional.clone(),
            Column::Extension => u.extensions.join(";"),
            Column::VoiceLocation => u.location.clone(),
            Column::Role => u.role.clone(),
        })
        .collect()
}

fn user_json(u: &User) -> UserJson<'_> {
    UserJson {
        display_name: &u.display_name,
        email: &u.email,
        role: &u.role,
        location: &u.location,
        extensions: &u.extensions,
        numbers: &u.numbers,
    }
}
