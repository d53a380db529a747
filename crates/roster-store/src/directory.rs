//! `StoreDirectory`: the account's directory as the validator reads it,
//! answered from the database a batch of keys at a time.
//!
//! Each batch costs four queries whatever its size (see [`crate::bulk`]),
//! and each returns only what is wrong, so for a good file the answers are
//! empty.

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
        let mut facts = answers.into_facts();
        if keys.plan {
            let (numbers, extensions) = (&numbers, &extensions);
            let (users, holders) = tokio::try_join!(
                async {
                    let mut tx = self.db.begin().await.context("connecting")?;
                    tx.prepare().await.context("reading the users to update")?;
                    let users = user_states(&mut tx, UsersBy::Emails(id, &keys.emails))
                        .await
                        .context("reading the users to update")?;
                    tx.commit().await.context("reading the users to update")?;
                    Ok::<_, Error>(users)
                },
                async {
                    let mut tx = self.db.begin().await.context("connecting")?;
                    tx.prepare().await.context("reading who has the numbers")?;
                    let holders = tx
                        .key_holders(id, numbers, extensions)
                        .await
                        .context("reading who has the numbers and extensions")?;
                    tx.commit().await.context("reading who has the numbers")?;
                    Ok::<_, Error>(holders)
                },
            )?;
            for user in users {
                facts.users.insert(user.email.to_ascii_lowercase(), user);
            }
            for (digits, user, email) in holders.numbers {
                if let Some(n) = u64::try_from(digits)
                    .ok()
                    .and_then(|d| E164::from_digits(d).ok())
                {
                    facts.number_holders.insert(n, Holder { id: user, email });
                }
            }
            for (extension, user, email) in holders.extensions {
                if let Ok(e) = Extension::parse(&extension, any_length()) {
                    facts
                        .extension_holders
                        .insert(e, Holder { id: user, email });
                }
            }
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
