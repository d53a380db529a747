//! API tokens as stored: the hash of a token and the account it opens.
//!
//! The store never sees a token itself: whoever makes one (roster-server)
//! hashes it and keeps only the hash here.

use crate::db::query;
use crate::error::Context;
use crate::{Account, AccountSlug, Error, Store, time};

impl Store {
    /// Keeps `hash` as a token of the account.
    pub async fn add_token(&self, account: &Account, hash: &str) -> Result<(), Error> {
        const SQL: &str =
            "INSERT INTO api_tokens (account_id, token_hash, created_at) VALUES ($1, $2, $3)";
        query(SQL)
            .bind(account.id.get())
            .bind(hash)
            .bind(time::now())
            .execute(&self.db)
            .await
            .map(|_| ())
            .context("storing an API token")
    }

    /// The account whose token hashes to `hash`, if any.
    pub async fn token_account(&self, hash: &str) -> Result<Option<Account>, Error> {
        const SQL: &str = "SELECT a.slug FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
            WHERE t.token_hash = $1";
        let slug: Option<(String,)> = query(SQL)
            .bind(hash)
            .fetch_optional(&self.db)
            .await
            .context("looking up an API token")?;
        match slug {
            Some((slug,)) => {
                let slug =
                    AccountSlug::parse(&slug).map_err(|_| Error::Corrupt("an account slug"))?;
                self.account(&slug).await
            }
            None => Ok(None),
        }
    }
}
