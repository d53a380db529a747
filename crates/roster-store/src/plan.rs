//! The plan of an import that may update users, as the store keeps it:
//! written with the import (`store_plan`), read back a batch of rows at a
//! time as they are applied (`Store::plan_rows`); and the users a plan
//! compares, as the database holds them (`user_states`).

use std::collections::HashMap;
use std::io;

use roster_validate::{
    Action, E164, Extension, ExtensionPolicy, Location, PlannedRow, Role, UserState,
};

use crate::bulk::{Bulk, PlanRow, UsersBy};
use crate::db::{Tx, query};
use crate::error::Context;
use crate::{Error, ImportKey, Store};

/// What the plan says of one data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEntry {
    pub action: Action,
    /// The user as the plan saw them (updates and unchanged rows).
    pub before: Option<UserState>,
    /// Applied with the other linked rows, before the chunks run.
    pub linked: bool,
}

/// The plan of some rows, by line; a row without an entry creates a user.
pub type Plan = HashMap<u64, PlanEntry>;

/// Rows of the plan written per statement batch.
const PLAN_BATCH: usize = 2000;

/// Keeps the plan's rows that update a user, leave one unchanged, or are
/// linked, inside the transaction that queues the import.
pub(crate) async fn store_plan(
    tx: &mut Tx<'_>,
    import: ImportKey,
    rows: &mut (dyn Iterator<Item = io::Result<PlannedRow>> + Send),
) -> Result<(), Error> {
    let mut batch: Vec<PlanRow> = Vec::with_capacity(PLAN_BATCH);
    loop {
        let next = rows.next().transpose().map_err(Error::Upload)?;
        if let Some(planned) = &next
            && (planned.before.is_some() || planned.linked)
        {
            let before = planned.before.as_ref().map(|b| {
                let mut bytes = Vec::new();
                b.write_to(&mut bytes);
                bytes
            });
            batch.push((
                planned.row as i64,
                planned.action.as_str().to_string(),
                planned.before.as_ref().map(|b| b.id),
                before,
                planned.linked,
            ));
        }
        if batch.len() == PLAN_BATCH || next.is_none() && !batch.is_empty() {
            tx.insert_plan_rows(import.0, &batch)
                .await
                .context("storing the import's plan")?;
            batch.clear();
        }
        if next.is_none() {
            return Ok(());
        }
    }
}

impl Store {
    /// The plan of these rows of the import.
    pub async fn plan_rows(&self, import: ImportKey, rows: &[u64]) -> Result<Plan, Error> {
        let lines: Vec<i64> = rows.iter().map(|r| *r as i64).collect();
        let mut tx = self.db.begin().await.context("connecting")?;
        let found = tx
            .plan_rows(import.0, &lines)
            .await
            .context("reading the import's plan")?;
        tx.commit().await.context("reading the import's plan")?;
        found.into_iter().map(entry).collect()
    }

    /// The rows of the import's plan that are applied together, in file
    /// order.
    pub async fn linked_rows(&self, import: ImportKey) -> Result<Vec<u64>, Error> {
        const SQL: &str =
            "SELECT row FROM import_plan_rows WHERE import_id = $1 AND linked = $2 ORDER BY row";
        let rows: Vec<(i64,)> = query(SQL)
            .bind(import.0)
            .bind(true)
            .fetch_all(&self.db)
            .await
            .context("reading the import's linked rows")?;
        Ok(rows.into_iter().map(|(r,)| r as u64).collect())
    }
}

fn entry((row, action, _user, before, linked): PlanRow) -> Result<(u64, PlanEntry), Error> {
    let action = Action::ALL
        .into_iter()
        .find(|a| a.as_str() == action)
        .ok_or(Error::Corrupt("a plan row's action"))?;
    let before = match before {
        Some(bytes) => Some(
            UserState::read_from(&mut bytes.as_slice())
                .ok()
                .flatten()
                .ok_or(Error::Corrupt("a plan row's user"))?,
        ),
        None => None,
    };
    Ok((
        row as u64,
        PlanEntry {
            action,
            before,
            linked,
        },
    ))
}

/// The users with these emails (keys) of the account, or with these ids,
/// as a plan compares them: one statement.
pub(crate) async fn user_states(
    tx: &mut Tx<'_>,
    by: UsersBy<'_>,
) -> Result<Vec<UserState>, sqlx::Error> {
    let rows = tx.user_rows(by).await?;
    Ok(rows.into_iter().map(user_state).collect())
}

fn user_state(row: crate::bulk::UserRow) -> UserState {
    let mut extensions: Vec<Extension> = row
        .extensions
        .as_deref()
        .unwrap_or("")
        .split(';')
        .filter_map(|e| Extension::parse(e, any_length()).ok())
        .collect();
    extensions.sort_unstable();
    let (mut primary, mut additional) = (None, Vec::new());
    for held in row.numbers.as_deref().unwrap_or("").split(';') {
        let (digits, is_primary) = match held.strip_suffix('p') {
            Some(digits) => (digits, true),
            None => (held, false),
        };
        let Some(n) = digits
            .parse::<u64>()
            .ok()
            .and_then(|d| E164::from_digits(d).ok())
        else {
            continue;
        };
        if is_primary {
            primary = Some(n);
        } else {
            additional.push(n);
        }
    }
    additional.sort_unstable();
    UserState {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        first_name: row.first_name,
        last_name: row.last_name,
        job_title: row.job_title,
        department: row.department,
        organizational_unit: row.organizational_unit,
        role: Role::parse(&row.role).unwrap_or(Role::User),
        location: Location::parse(&row.location).unwrap_or(Location {
            name: row.location.clone(),
            key: String::new(),
        }),
        extensions,
        primary,
        additional,
    }
}

/// Extensions in the table were valid under some policy; they are read
/// back under the widest one.
pub(crate) fn any_length() -> ExtensionPolicy {
    ExtensionPolicy {
        min_digits: 1,
        max_digits: ExtensionPolicy::MAX_DIGITS,
    }
}
