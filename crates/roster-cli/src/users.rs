//! `roster users`: an account's users with their extensions and numbers.

use std::io::Write;

use roster_store::{AccountSlug, Store, User};
use serde::Serialize;

use crate::Outcome;
use crate::args::TableFormat;
use roster_csv::csv_line;

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
            out.write_all(
                csv_line([
                    "display_name",
                    "email",
                    "role",
                    "location",
                    "extensions",
                    "numbers",
                ])
                .as_bytes(),
            )?;
            for u in &users {
                let extensions = u.extensions.join(";");
                let numbers = u.numbers.join(";");
                let cells = [
                    u.display_name.as_str(),
                    &u.email,
                    &u.role,
                    &u.location,
                    &extensions,
                    &numbers,
                ];
                out.write_all(csv_line(cells).as_bytes())?;
            }
        }
    }
    Ok(Outcome::Done)
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
