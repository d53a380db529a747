//! The account file (`roster account load FILE.toml`): its TOML shape, and
//! its translation into an [`AccountSpec`] with every value checked.
//!
//! Beyond the contract's keys (`docs/account-file.md`), the file may give
//! `extension_min_digits`, `extension_max_digits`, `extension_first`,
//! `default_role`, ranges of parked numbers (`[[parked_ranges]]` with `first`
//! and `count`), and a `location` and `role` per user. Unknown keys are
//! refused, so a typo is an error, not a silently ignored setting.

use std::path::Path;

use anyhow::{Context, bail};
use roster_store::{AccountSlug, AccountSpec, Store, UserSpec};
use roster_validate::{E164, Email, Extension, ExtensionPolicy, Role};
use serde::Deserialize;

use crate::Outcome;

/// The most numbers one range may park.
const MAX_RANGE: u64 = 10_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    slug: String,
    name: String,
    #[serde(default)]
    locations: Vec<String>,
    #[serde(default)]
    parked_numbers: Vec<String>,
    #[serde(default)]
    parked_ranges: Vec<RangeFile>,
    #[serde(default)]
    users: Vec<UserFile>,
    extension_min_digits: Option<u8>,
    extension_max_digits: Option<u8>,
    extension_first: Option<u64>,
    default_role: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeFile {
    first: String,
    count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    display_name: String,
    email: String,
    extension: Option<String>,
    #[serde(default)]
    numbers: Vec<String>,
    location: Option<String>,
    role: Option<String>,
}

/// `roster account load FILE`.
pub(crate) async fn load(db: &str, path: &Path) -> anyhow::Result<Outcome> {
    let text = tokio::fs::read_to_string(path)
        .await
        .with_context(|| format!("reading the account file {}", path.display()))?;
    let spec = parse(&text).with_context(|| format!("in the account file {}", path.display()))?;
    let store = Store::open(db).await?;
    let summary = store
        .load_account(&spec)
        .await
        .with_context(|| format!("loading account {}", spec.slug))?;
    store.close().await;
    println!(
        "account {} ({}) loaded: {} locations, {} numbers ({} parked), {} users",
        spec.slug,
        spec.name,
        summary.locations,
        summary.numbers,
        summary.parked_numbers,
        summary.users
    );
    Ok(Outcome::Done)
}

/// Reads and checks an account file.
pub(crate) fn parse(text: &str) -> anyhow::Result<AccountSpec> {
    let file: AccountFile = toml::from_str(text)?;
    let slug = AccountSlug::parse(&file.slug)?;
    let policy = ExtensionPolicy {
        min_digits: file
            .extension_min_digits
            .unwrap_or(ExtensionPolicy::DEFAULT.min_digits),
        max_digits: file
            .extension_max_digits
            .unwrap_or(ExtensionPolicy::DEFAULT.max_digits),
    };
    if policy.min_digits == 0
        || policy.min_digits > policy.max_digits
        || policy.max_digits > ExtensionPolicy::MAX_DIGITS
    {
        bail!(
            "extension_min_digits and extension_max_digits must satisfy 1 <= min <= max <= {}",
            ExtensionPolicy::MAX_DIGITS
        );
    }
    let default_role = match &file.default_role {
        Some(r) => role(r)?,
        None => Role::User,
    };

    let mut parked_numbers = Vec::new();
    for (i, n) in file.parked_numbers.iter().enumerate() {
        parked_numbers.push(number(n).with_context(|| format!("parked_numbers[{i}]"))?);
    }
    for (i, range) in file.parked_ranges.iter().enumerate() {
        let first = number(&range.first).with_context(|| format!("parked_ranges[{i}].first"))?;
        if range.count > MAX_RANGE {
            bail!(
                "parked_ranges[{i}].count is {}; at most {MAX_RANGE} numbers per range",
                range.count
            );
        }
        for k in 0..range.count {
            let n = E164::from_digits(first.digits() + k)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| {
                    format!(
                        "parked_ranges[{i}] runs past the end of area code {}",
                        first.area_code()
                    )
                })?;
            parked_numbers.push(n);
        }
    }

    let mut users = Vec::new();
    for (i, u) in file.users.iter().enumerate() {
        let user = user(u, policy).with_context(|| format!("users[{i}] ({})", u.email))?;
        users.push(user);
    }

    Ok(AccountSpec {
        slug,
        name: file.name,
        locations: file.locations,
        parked_numbers,
        users,
        extensions: policy,
        extension_first: file.extension_first.unwrap_or(7000),
        default_role,
    })
}

fn user(u: &UserFile, policy: ExtensionPolicy) -> anyhow::Result<UserSpec> {
    if u.display_name.trim().is_empty() {
        bail!("display_name is empty");
    }
    let email = Email::parse(&u.email).map_err(|e| anyhow::anyhow!("email '{}' {e}", u.email))?;
    let extension = match &u.extension {
        Some(e) => Some(
            Extension::parse(e, policy).map_err(|err| anyhow::anyhow!("extension '{e}' {err}"))?,
        ),
        None => None,
    };
    let mut numbers = Vec::new();
    for (i, n) in u.numbers.iter().enumerate() {
        numbers.push(number(n).with_context(|| format!("numbers[{i}]"))?);
    }
    Ok(UserSpec {
        display_name: u.display_name.trim().to_string(),
        email,
        extension,
        numbers,
        location: u.location.clone(),
        role: u.role.as_deref().map(role).transpose()?,
    })
}

fn number(text: &str) -> anyhow::Result<E164> {
    E164::parse(text).map_err(|e| anyhow::anyhow!("'{text}' {e}"))
}

fn role(text: &str) -> anyhow::Result<Role> {
    Role::parse(text)
        .ok_or_else(|| anyhow::anyhow!("'{text}' is not a role; use one of: {}", Role::choices()))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn contract_example_parses_with_numbers_in_any_format() {
        let spec = parse(
            r#"
slug = "acme"
name = "Acme Corp"
locations = ["Boston Office"]
parked_numbers = ["+1 (617) 555-0100", "16175550101"]
[[users]]
display_name = "Existing Person"
email = "existing@acme.example"
extension = "7001"
numbers = ["+16175550150"]
"#,
        );
        let spec = match spec {
            Ok(spec) => spec,
            Err(e) => panic!("{e:#}"),
        };
        let parked: Vec<String> = spec.parked_numbers.iter().map(|n| n.to_string()).collect();
        assert_eq!(parked, ["+16175550100", "+16175550101"]);
        assert_eq!(spec.users[0].numbers[0].to_string(), "+16175550150");
    }

    #[test]
    fn bad_values_are_named_with_where_they_are() {
        let err = |text: &str| parse(text).map(|_| ()).map_err(|e| format!("{e:#}"));
        assert_eq!(
            err("slug = \"acme\"\nname = \"A\"\nparked_numbers = [\"617 555 0100\"]"),
            Err("parked_numbers[0]: '617 555 0100' has 10 digits; add the country code 1 in front: +16175550100".to_string())
        );
        assert_eq!(
            err("slug = \"Acme\"\nname = \"A\""),
            Err("'Acme' is not an account slug: use 1 to 63 lower-case letters, digits and hyphens, like acme or acme-east".to_string())
        );
        assert!(
            err("slug = \"acme\"\nname = \"A\"\nparked_number = []")
                .is_err_and(|e| e.contains("unknown field `parked_number`"))
        );
    }
}
