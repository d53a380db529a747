//! `StoreDirectory`: the account's directory as the validator reads it,
//! answered from the database a batch of keys at a time.
//!
//! Each batch costs four queries whatever its size (see [`crate::bulk`]),
//! and each returns only what is wrong, so for a good file the answers are
//! empty.

use std::collections::{HashMap, HashSet};

use roster_validate::{Directory, DirectoryError, E164, Extension, Facts, Holder, Keys};

use crate::bulk::{Answers, Bulk, UsersBy};
use crate::db::Db;
use crate::error::Context;
use crate::plan::{any_length, user_states};
use crate::{Account, AccountId, Error, Store};

/// The validator's view of one account in the store.
///
/// The validator is synchronous; this adapter blocks on the async store
/// through `runtime`, so it must be used from a blocking thread
/// (`tokio::task::spawn_blocking`), never from async code.
pub struct StoreDirectory {
    store: Store,
    account: AccountId,
    runtime: tokio::runtime::Handle,
}

impl StoreDirectory {
    pub fn new(store: Store, account: &Account, runtime: tokio::runtime::Handle) -> StoreDirectory {
        StoreDirectory {
            store,
            account: account.id,
            runtime,
        }
    }
}

impl Directory for StoreDirectory {
    fn look_up(&mut self, keys: &Keys<'_>) -> Result<Facts, DirectoryError> {
        let facts = self
            .runtime
            .block_on(self.store.look_up(self.account, keys))?;
        Ok(facts)
    }
}

impl Store {
    /// What is wrong with `keys` in the account.
    pub async fn look_up(&self, account: AccountId, keys: &Keys<'_>) -> Result<Facts, Error> {
        let numbers: Vec<i64> = keys.numbers.iter().map(|n| n.digits() as i64).collect();
        let extensions: Vec<String> = keys.extensions.iter().map(Extension::to_string).collect();
        let id = account.get();
        if keys.plan {
            return self.plan_look_up(id, keys, &numbers, &extensions).await;
        }
        let answers = match &self.db {
            Db::Sqlite(_) => {
                look_up_on(
                    &self.db,
                    id,
                    &keys.emails,
                    &numbers,
                    &extensions,
                    &keys.locations,
                )
                .await?
            }
            Db::Postgres(_) => {
                // The lists are asked about at once, each on a connection of
                // its own: the server probes them on as many cores while
                // the validator reads the next batch.
                let no_text: &[&str] = &[];
                let (emails, numbers, rest) = tokio::try_join!(
                    look_up_on(&self.db, id, &keys.emails, &[], &[], no_text),
                    look_up_on(&self.db, id, no_text, &numbers, &[], no_text),
                    look_up_on(&self.db, id, no_text, &[], &extensions, &keys.locations),
                )?;
                Answers {
                    taken_emails: emails.taken_emails,
                    bad_numbers: numbers.bad_numbers,
                    taken_extensions: rest.taken_extensions,
                    unknown_locations: rest.unknown_locations,
                }
            }
        };
        Ok(answers.into_facts())
    }

    /// [`Store::look_up`] for rows that may update users: the users with
    /// the emails (with what they have), and who has each number and
    /// extension that is not free, in as many statements as the plain
    /// lookup.
    async fn plan_look_up(
        &self,
        account: i64,
        keys: &Keys<'_>,
        numbers: &[i64],
        extensions: &[String],
    ) -> Result<Facts, Error> {
        let no_text: &[&str] = &[];
        let (users, locations) = tokio::try_join!(
            async {
                let mut tx = self.db.begin().await.context("connecting")?;
                tx.prepare().await.context("reading the users to update")?;
                let users = user_states(&mut tx, UsersBy::Emails(account, &keys.emails))
                    .await
                    .context("reading the users to update")?;
                tx.commit().await.context("reading the users to update")?;
                Ok::<_, Error>(users)
            },
            look_up_on(&self.db, account, no_text, &[], &[], &keys.locations),
        )?;
        // What the batch's own users have is theirs: only the other keys
        // are asked about (for an export edited, none).
        let own_numbers: HashSet<i64> = users
            .iter()
            .flat_map(|u| u.numbers())
            .map(|n| n.digits() as i64)
            .collect();
        let own_extensions: HashSet<String> = users
            .iter()
            .flat_map(|u| &u.extensions)
            .map(Extension::to_string)
            .collect();
        let numbers: Vec<i64> = numbers
            .iter()
            .filter(|n| !own_numbers.contains(n))
            .copied()
            .collect();
        let extensions: Vec<String> = extensions
            .iter()
            .filter(|e| !own_extensions.contains(*e))
            .cloned()
            .collect();
        let held = if numbers.is_empty() && extensions.is_empty() {
            crate::bulk::KeyUsers::default()
        } else {
            let mut tx = self.db.begin().await.context("connecting")?;
            tx.prepare().await.context("reading who has the numbers")?;
            let held = tx
                .key_users(account, &numbers, &extensions)
                .await
                .context("reading who has the numbers and extensions")?;
            tx.commit().await.context("reading who has the numbers")?;
            held
        };
        let mut facts = Facts {
            unknown_locations: locations.unknown_locations.into_iter().collect(),
            ..Facts::default()
        };
        let mut emails: HashMap<i64, String> =
            users.iter().map(|u| (u.id, u.email.clone())).collect();
        // Users the batch does not name have its keys: their addresses,
        // for the messages (rarely any).
        let others: Vec<i64> = held
            .numbers
            .iter()
            .filter_map(|(_, user)| *user)
            .chain(held.extensions.iter().map(|(_, user)| *user))
            .filter(|user| !emails.contains_key(user))
            .collect::<HashSet<i64>>()
            .into_iter()
            .collect();
        if !others.is_empty() {
            let mut tx = self.db.begin().await.context("connecting")?;
            for user in user_states(&mut tx, UsersBy::Ids(&others))
                .await
                .context("reading who has the numbers")?
            {
                emails.insert(user.id, user.email);
            }
            tx.commit().await.context("reading who has the numbers")?;
        }
        let holder = |id: i64| Holder {
            id,
            email: emails.get(&id).cloned().unwrap_or_default(),
        };
        for (digits, user) in held.numbers {
            let Some(n) = u64::try_from(digits)
                .ok()
                .and_then(|d| E164::from_digits(d).ok())
            else {
                continue;
            };
            match user {
                Some(user) => {
                    facts.assigned_numbers.insert(n);
                    facts.number_holders.insert(n, holder(user));
                }
                None => {
                    facts.unowned_numbers.insert(n);
                }
            }
        }
        for (extension, user) in held.extensions {
            if let Ok(e) = Extension::parse(&extension, any_length()) {
                facts.taken_extensions.insert(e);
                facts.extension_holders.insert(e, holder(user));
            }
        }
        // The keys the batch's own users have: held by them.
        let asked_numbers: HashSet<E164> = keys.numbers.iter().copied().collect();
        let asked_extensions: HashSet<Extension> = keys.extensions.iter().copied().collect();
        for user in &users {
            for n in user.numbers().filter(|n| asked_numbers.contains(n)) {
                facts.assigned_numbers.insert(n);
                facts.number_holders.insert(n, holder(user.id));
            }
            for e in user
                .extensions
                .iter()
                .filter(|e| asked_extensions.contains(e))
            {
                facts.taken_extensions.insert(*e);
                facts.extension_holders.insert(*e, holder(user.id));
            }
        }
        for user in users {
            let key = user.email.to_ascii_lowercase();
            facts.taken_emails.insert(key.clone());
            facts.users.insert(key, user);
        }
        Ok(facts)
    }
}

/// One lookup, in a transaction of its own (on PostgreSQL it scopes the
/// planner settings).
async fn look_up_on(
    db: &Db,
    account: i64,
    emails: &[&str],
    numbers: &[i64],
    extensions: &[String],
    locations: &[&str],
) -> Result<Answers, Error> {
    let mut tx = db.begin().await.context("connecting")?;
    tx.prepare()
        .await
        .context("looking up the account's directory")?;
    let answers = tx
        .look_up(account, emails, numbers, extensions, locations)
        .await
        .context("looking up the account's directory")?;
    tx.commit()
        .await
        .context("looking up the account's directory")?;
    Ok(answers)
}
