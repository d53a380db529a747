//! Reverting a batch of an import's rows inside one transaction: what an
//! undo does.
//!
//! A row is reverted only while its user is still as the import left them
//! (its result's after-image): a user changed since, or deleted, is left
//! alone and the outcome says what changed. A user the import created is
//! deleted, its extensions freed and its numbers parked again, its password
//! message cancelled if it is still queued. A user it updated gets the
//! before-image back: fields, extensions and numbers — unless what they had
//! is someone else's now. What the batch's users give up is released
//! before anything is taken back, so rows that swapped keys in the import
//! swap them back when they are reverted together (the linked rows).

use std::collections::{HashMap, HashSet};

use roster_template::Column;
use roster_validate::{E164, Extension, UserState, changes};

use crate::apply::{gone, held};
use crate::bulk::{Bulk, NewUndo, UndoRow, UserUpdate, UsersBy};
use crate::convert::to_db;
use crate::db::{Tx, query};
use crate::error::Context;
use crate::import::state::ResultStatus;
use crate::plan::user_states;
use crate::{Error, ImportKey};

/// The user changed, or was deleted, since the import.
pub const CHANGED_SINCE_IMPORT: &str = "changed_since_import";
/// What the user had before the import is someone else's now.
pub const TAKEN_SINCE_IMPORT: &str = "taken_since_import";
/// The import kept no image of the row's user (it ran before imports kept
/// them).
pub const NOT_RECORDED: &str = "not_recorded";

/// What a batch of an undo needs to know.
pub(crate) struct Cx<'a> {
    pub(crate) import: ImportKey,
    pub(crate) account: i64,
    /// The account's locations by key.
    pub(crate) locations: &'a HashMap<String, i64>,
}

/// A row the import created or updated a user with.
pub(crate) struct Candidate {
    row: i64,
    /// The import created the user (else it updated them).
    created: bool,
    user: Option<i64>,
    /// The user as the import found them: an update's.
    before: Option<UserState>,
    /// The user as the import left them.
    after: Option<UserState>,
    delivery: Delivery,
}

/// Where a created user's password message is.
enum Delivery {
    None,
    /// Waiting; `in_flight` when its attempt has begun (its password
    /// kept, the message maybe on its way).
    Queued {
        in_flight: bool,
    },
    Sent {
        at: Option<String>,
    },
}

impl TryFrom<UndoRow> for Candidate {
    type Error = Error;

    fn try_from(c: UndoRow) -> Result<Candidate, Error> {
        let (row, status, user, email, before, after, state, attempts, next, settled_at) = c;
        let image = |bytes: Option<Vec<u8>>| match (bytes, user) {
            (Some(bytes), Some(id)) => {
                UserState::from_image(&bytes, id, email.as_deref().unwrap_or(""))
                    .map(Some)
                    .ok_or(Error::Corrupt("a row result's user image"))
            }
            _ => Ok(None),
        };
        let delivery = match state.as_deref() {
            Some("queued") => Delivery::Queued {
                in_flight: attempts.unwrap_or(0) >= next.unwrap_or(1),
            },
            Some("sent") => Delivery::Sent { at: settled_at },
            _ => Delivery::None,
        };
        Ok(Candidate {
            row,
            created: status == ResultStatus::Created.as_str(),
            user,
            before: if status == ResultStatus::Updated.as_str() {
                image(before)?
            } else {
                None
            },
            after: image(after)?,
            delivery,
        })
    }
}

/// A row to revert: its user as they are (and as the import left them),
/// and what they go back to — nothing for a user the import created.
struct Revert {
    row: i64,
    now: UserState,
    to: Option<UserState>,
    delivery: Delivery,
}

/// What a batch reverted.
pub(crate) struct Reverted {
    pub(crate) undone: u64,
    pub(crate) not_undone: u64,
}

/// Reverts `candidates` in `tx`: each row reverted or left with why, its
/// outcome kept, the undo's counts added.
pub(crate) async fn revert(
    tx: &mut Tx<'_>,
    cx: &Cx<'_>,
    candidates: Vec<Candidate>,
) -> Result<Reverted, Error> {
    let ids: Vec<i64> = candidates.iter().filter_map(|c| c.user).collect();
    let mut now: HashMap<i64, UserState> = user_states(tx, UsersBy::Ids(&ids))
        .await
        .context("reading the users to undo")?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut outcomes: Vec<NewUndo> = Vec::with_capacity(candidates.len());
    let mut reverts = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        match decide(candidate, &mut now, cx) {
            Ok(revert) => reverts.push(revert),
            Err(left) => outcomes.push(left),
        }
    }
    refuse_taken(tx, cx, &mut reverts, &mut outcomes).await?;
    write(tx, cx, &reverts).await?;
    let cancelled = reverts
        .iter()
        .filter(|r| matches!(r.delivery, Delivery::Queued { .. }))
        .count() as u64;
    let counts = Reverted {
        undone: reverts.len() as u64,
        not_undone: outcomes.len() as u64,
    };
    outcomes.extend(reverts.into_iter().map(undone));
    outcomes.sort_by_key(|o| o.0);
    tx.insert_undos(cx.import.0, &outcomes)
        .await
        .context("keeping the undo's outcomes")?;
    const COUNTS: &str = "UPDATE imports SET undone = undone + $2, not_undone = not_undone + $3, \
        undo_cancelled = undo_cancelled + $4, deliveries_queued = deliveries_queued - $4 \
        WHERE id = $1";
    query(COUNTS)
        .bind(cx.import.0)
        .bind(to_db(counts.undone))
        .bind(to_db(counts.not_undone))
        .bind(to_db(cancelled))
        .execute(tx)
        .await
        .context("counting the undo's rows")?;
    Ok(counts)
}

/// The row reverted, or left as it is with why.
fn decide(
    candidate: Candidate,
    now: &mut HashMap<i64, UserState>,
    cx: &Cx<'_>,
) -> Result<Revert, NewUndo> {
    let row = candidate.row;
    let recorded = candidate.created || candidate.before.is_some();
    let (Some(user), Some(after), true) = (candidate.user, candidate.after, recorded) else {
        return Err(left(
            row,
            NOT_RECORDED,
            "the import kept no record of this row's user (it ran before roster kept them \
             for undo); it is left as it is"
                .to_string(),
        ));
    };
    let Some(current) = now.remove(&user) else {
        return Err(left(
            row,
            CHANGED_SINCE_IMPORT,
            "the user was deleted since the import".to_string(),
        ));
    };
    let since = changes(&after, &current);
    if !since.is_empty() {
        let what: Vec<String> = since
            .iter()
            .map(|c| {
                format!(
                    "{} was '{}' after the import, is '{}' now",
                    c.column.header(),
                    c.from,
                    c.to
                )
            })
            .collect();
        return Err(left(
            row,
            CHANGED_SINCE_IMPORT,
            format!(
                "the user changed since the import ({}); it is left as it is",
                what.join("; ")
            ),
        ));
    }
    if let Some(before) = &candidate.before
        && !cx.locations.contains_key(&before.location.key)
    {
        return Err(left(
            row,
            CHANGED_SINCE_IMPORT,
            format!(
                "{} '{}', the user's before the import, is no longer a location of the \
                 account; it is left as it is",
                Column::VoiceLocation.header(),
                before.location.name
            ),
        ));
    }
    Ok(Revert {
        row,
        now: current,
        to: candidate.before,
        delivery: candidate.delivery,
    })
}

/// A number or an extension of the account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Number(i64),
    Extension(String),
}

/// Who has a key a reverted user is to get back: a user, or nobody
/// because the account no longer has the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    User(i64),
    NotTheAccounts,
}

/// Leaves the reverts whose user is to get back an extension or number
/// someone else holds now — unless that someone gives it up in this very
/// batch — with why, until none is left.
async fn refuse_taken(
    tx: &mut Tx<'_>,
    cx: &Cx<'_>,
    reverts: &mut Vec<Revert>,
    outcomes: &mut Vec<NewUndo>,
) -> Result<(), Error> {
    let (mut numbers, mut extensions) = (Vec::new(), Vec::new());
    for key in reverts.iter().flat_map(wanted) {
        match key {
            Key::Number(n) => numbers.push(n),
            Key::Extension(e) => extensions.push(e),
        }
    }
    if numbers.is_empty() && extensions.is_empty() {
        return Ok(());
    }
    let found = tx
        .key_users(cx.account, &numbers, &extensions)
        .await
        .context("asking who has what the users had")?;
    let mut holders: HashMap<Key, Holder> = HashMap::new();
    for (n, user) in found.numbers {
        holders.insert(
            Key::Number(n),
            user.map_or(Holder::NotTheAccounts, Holder::User),
        );
    }
    for (e, user) in found.extensions {
        holders.insert(Key::Extension(e), Holder::User(user));
    }
    let mut refused: Vec<(i64, Key, Holder)> = Vec::new();
    loop {
        let giving: HashSet<(Key, i64)> = reverts
            .iter()
            .flat_map(|r| given_up(r).into_iter().map(move |k| (k, r.now.id)))
            .collect();
        let blocked = reverts.iter().enumerate().find_map(|(i, r)| {
            wanted(r)
                .into_iter()
                .find_map(|key| match holders.get(&key) {
                    None => None,
                    Some(Holder::User(u)) if giving.contains(&(key.clone(), *u)) => None,
                    Some(holder) => Some((i, key, *holder)),
                })
        });
        let Some((i, key, holder)) = blocked else {
            break;
        };
        refused.push((reverts.remove(i).row, key, holder));
    }
    if refused.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = refused
        .iter()
        .filter_map(|(_, _, h)| match h {
            Holder::User(u) => Some(*u),
            Holder::NotTheAccounts => None,
        })
        .collect();
    let emails: HashMap<i64, String> = user_states(tx, UsersBy::Ids(&ids))
        .await
        .context("reading who has what the users had")?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    for (row, key, holder) in refused {
        let what = match &key {
            Key::Extension(e) => format!("extension {e}"),
            Key::Number(n) => format!("number +{n}"),
        };
        let whose = match holder {
            Holder::User(u) => match emails.get(&u) {
                Some(email) => format!("is {email}'s now"),
                None => "is another user's now".to_string(),
            },
            Holder::NotTheAccounts => "is no longer the account's".to_string(),
        };
        outcomes.push(left(
            row,
            TAKEN_SINCE_IMPORT,
            format!(
                "{what}, the user's before the import, {whose}; the user is left as the import \
                 made them"
            ),
        ));
    }
    Ok(())
}

/// The keys a revert's user is to get back that they do not have now.
fn wanted(revert: &Revert) -> Vec<Key> {
    let Some(to) = &revert.to else {
        return Vec::new();
    };
    let numbers = |u: &UserState| u.numbers().collect::<Vec<E164>>();
    let mut keys: Vec<Key> = gone(&to.extensions, &revert.now.extensions)
        .into_iter()
        .map(|e| Key::Extension(e.to_string()))
        .collect();
    keys.extend(
        gone(&numbers(to), &numbers(&revert.now))
            .into_iter()
            .map(|n| Key::Number(n.digits() as i64)),
    );
    keys
}

/// The keys a revert's user gives up.
fn given_up(revert: &Revert) -> Vec<Key> {
    let (extensions, numbers): (Vec<Extension>, Vec<E164>) = match &revert.to {
        None => (
            revert.now.extensions.clone(),
            revert.now.numbers().collect(),
        ),
        Some(to) => (
            gone(&revert.now.extensions, &to.extensions),
            gone(
                &revert.now.numbers().collect::<Vec<_>>(),
                &to.numbers().collect::<Vec<_>>(),
            ),
        ),
    };
    extensions
        .into_iter()
        .map(|e| Key::Extension(e.to_string()))
        .chain(numbers.into_iter().map(|n| Key::Number(n.digits() as i64)))
        .collect()
}

/// Writes the reverts: what their users give up released first, then the
/// users the import created deleted, then the others' fields and keys
/// given back.
async fn write(tx: &mut Tx<'_>, cx: &Cx<'_>, reverts: &[Revert]) -> Result<(), Error> {
    let mut extensions = Vec::new();
    let mut numbers = Vec::new();
    for r in reverts {
        let id = r.now.id;
        let (to_extensions, to_numbers) = match &r.to {
            Some(to) => (to.extensions.clone(), held(to)),
            None => (Vec::new(), Vec::new()),
        };
        for e in gone(&r.now.extensions, &to_extensions) {
            extensions.push((e.to_string(), id));
        }
        for (n, _) in gone(&held(&r.now), &to_numbers) {
            numbers.push((n.digits() as i64, id));
        }
    }
    let released_extensions = tx
        .release_extensions(cx.account, &extensions)
        .await
        .context("freeing extensions")?;
    let released_numbers = tx
        .release_numbers(cx.account, &numbers)
        .await
        .context("parking numbers")?;
    if released_extensions != extensions.len() as u64 || released_numbers != numbers.len() as u64 {
        return Err(Error::UndoRaced("a key of a user being reverted"));
    }
    let deleted: Vec<i64> = reverts
        .iter()
        .filter(|r| r.to.is_none())
        .map(|r| r.now.id)
        .collect();
    tx.delete_users(&deleted)
        .await
        .context("deleting the users the import created")?;
    let restored: Vec<(&UserState, &UserState)> = reverts
        .iter()
        .filter_map(|r| r.to.as_ref().map(|to| (&r.now, to)))
        .collect();
    if restored.is_empty() {
        return Ok(());
    }
    let main = cx
        .locations
        .get(&roster_validate::location_key(
            roster_validate::MAIN_LOCATION,
        ))
        .copied()
        .unwrap_or(0);
    let fields: Vec<UserUpdate<'_>> = restored
        .iter()
        .map(|(_, to)| UserUpdate {
            id: to.id,
            display_name: &to.display_name,
            first_name: to.first_name.as_deref(),
            last_name: to.last_name.as_deref(),
            job_title: to.job_title.as_deref(),
            department: to.department.as_deref(),
            organizational_unit: to.organizational_unit.as_deref(),
            role: to.role.as_str(),
            location_id: cx.locations.get(&to.location.key).copied().unwrap_or(main),
        })
        .collect();
    tx.update_users(&fields)
        .await
        .context("restoring the users the import updated")?;
    let mut extensions = Vec::new();
    let mut numbers = Vec::new();
    for (now, to) in &restored {
        for e in gone(&to.extensions, &now.extensions) {
            extensions.push((e.to_string(), to.id));
        }
        for (n, primary) in gone(&held(to), &held(now)) {
            numbers.push((n.digits() as i64, to.id, primary));
        }
    }
    tx.insert_extensions(cx.account, &extensions)
        .await
        .context("giving extensions back")?;
    let claimed = tx
        .claim_numbers(cx.account, &numbers)
        .await
        .context("giving numbers back")?;
    if claimed != numbers.len() as u64 {
        return Err(Error::UndoRaced("a number being given back"));
    }
    Ok(())
}

/// A row left as it is.
fn left(row: i64, code: &'static str, message: String) -> NewUndo {
    (row, "not_undone", Some(code), Some(message))
}

/// A row reverted, with what could not be.
fn undone(revert: Revert) -> NewUndo {
    let note = match revert.delivery {
        Delivery::None => None,
        Delivery::Queued { in_flight: false } => {
            Some("its welcome message had not been sent and was cancelled".to_string())
        }
        Delivery::Queued { in_flight: true } => Some(
            "its welcome message was being sent as the undo ran and may have gone out; \
             the user and its password are gone"
                .to_string(),
        ),
        Delivery::Sent { at } => Some(format!(
            "its welcome message with a temporary password was sent{} and cannot be unsent; \
             the user and its password are gone",
            at.map(|at| format!(" at {at}")).unwrap_or_default()
        )),
    };
    (revert.row, "undone", None, note)
}
