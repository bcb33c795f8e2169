//! The sample API's in-memory, thread-safe account table: a `BTreeMap` keyed
//! by id behind a std `Mutex`, holding the lock only for the lookup or write
//! itself so no request ever waits on another's I/O.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::account::{Account, AccountFields, AccountPatch};
use super::error::ApiError;
use super::input::not_found;

/// Why a write to the store was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("account {0} not found")]
    NotFound(u64),
    #[error("email already taken")]
    DuplicateEmail,
    #[error("manager_id {0} does not refer to an existing account")]
    UnknownManager(u64),
    #[error("manager_id cannot refer to the account itself")]
    SelfManager,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => not_found(id),
            StoreError::DuplicateEmail => ApiError::Duplicate,
            StoreError::UnknownManager(_) | StoreError::SelfManager => {
                ApiError::Invalid(e.to_string())
            }
        }
    }
}

/// One page of a list and the number of matches over all pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) accounts: Vec<Account>,
    pub(crate) total: usize,
}

#[derive(Debug)]
struct Table {
    accounts: BTreeMap<u64, Account>,
    next_id: u64,
    /// Whether a second account may have an email already taken: an API without a
    /// uniqueness check, against which a client's "no duplicate" can be proven.
    duplicates: bool,
}

impl Default for Table {
    fn default() -> Self {
        Self {
            accounts: BTreeMap::new(),
            next_id: 1,
            duplicates: false,
        }
    }
}

impl Table {
    /// Checks the rules that depend on other accounts: unique email, existing manager.
    fn check(&self, id: u64, fields: &AccountFields) -> Result<(), StoreError> {
        let email = fields.email.to_lowercase();
        if !self.duplicates
            && self
                .accounts
                .values()
                .any(|a| a.id != id && a.fields.email.to_lowercase() == email)
        {
            return Err(StoreError::DuplicateEmail);
        }
        match fields.manager_id {
            Some(manager) if manager == id => Err(StoreError::SelfManager),
            Some(manager) if !self.accounts.contains_key(&manager) => {
                Err(StoreError::UnknownManager(manager))
            }
            _ => Ok(()),
        }
    }
}

/// The account table.
#[derive(Debug, Default)]
pub(crate) struct Store {
    table: Mutex<Table>,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave a half-written account
        // (every write is one insert), so a poisoned table is still sound.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets accounts share an email from now on (or not).
    pub(crate) fn accept_duplicates(&self, accept: bool) {
        self.lock().duplicates = accept;
    }

    /// Adds an account under the next id.
    pub(crate) fn create(&self, fields: AccountFields) -> Result<Account, StoreError> {
        let now = now_rfc3339();
        let mut table = self.lock();
        let id = table.next_id;
        table.check(id, &fields)?;
        let account = Account {
            id,
            fields,
            created_at: now.clone(),
            updated_at: now,
        };
        table.next_id += 1;
        table.accounts.insert(id, account.clone());
        Ok(account)
    }

    /// The account with this id, if any.
    pub(crate) fn get(&self, id: u64) -> Option<Account> {
        self.lock().accounts.get(&id).cloned()
    }

    /// Replaces every writable field of an account.
    pub(crate) fn replace(&self, id: u64, fields: AccountFields) -> Result<Account, StoreError> {
        self.update(id, |current| *current = fields)
    }

    /// Changes only the fields the patch names.
    pub(crate) fn patch(&self, id: u64, patch: AccountPatch) -> Result<Account, StoreError> {
        self.update(id, |current| patch.apply(current))
    }

    fn update(
        &self,
        id: u64,
        change: impl FnOnce(&mut AccountFields),
    ) -> Result<Account, StoreError> {
        let now = now_rfc3339();
        let mut table = self.lock();
        let mut account = table
            .accounts
            .get(&id)
            .cloned()
            .ok_or(StoreError::NotFound(id))?;
        change(&mut account.fields);
        table.check(id, &account.fields)?;
        account.updated_at = now;
        table.accounts.insert(id, account.clone());
        Ok(account)
    }

    /// Removes an account; accounts it managed lose their `manager_id`.
    pub(crate) fn delete(&self, id: u64) -> Result<(), StoreError> {
        let now = now_rfc3339();
        let mut table = self.lock();
        table.accounts.remove(&id).ok_or(StoreError::NotFound(id))?;
        for account in table.accounts.values_mut() {
            if account.fields.manager_id == Some(id) {
                account.fields.manager_id = None;
                account.updated_at.clone_from(&now);
            }
        }
        Ok(())
    }

    /// One 1-based page of the accounts (optionally only those with this
    /// email, compared case-insensitively), ordered by id.
    pub(crate) fn list(&self, email: Option<&str>, page: usize, per_page: usize) -> Page {
        let email = email.map(str::to_lowercase);
        let skip = page.saturating_sub(1).saturating_mul(per_page);
        let table = self.lock();
        let mut total = 0;
        let mut accounts = Vec::new();
        for account in table.accounts.values() {
            if email
                .as_ref()
                .is_some_and(|e| account.fields.email.to_lowercase() != *e)
            {
                continue;
            }
            if total >= skip && accounts.len() < per_page {
                accounts.push(account.clone());
            }
            total += 1;
        }
        Page { accounts, total }
    }

    /// Every account, ordered by id.
    pub(crate) fn all(&self) -> Vec<Account> {
        self.lock().accounts.values().cloned().collect()
    }
}

/// The current time as RFC 3339 in UTC, to the millisecond.
fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_millisecond(now.millisecond()).unwrap_or(now);
    now.format(&Rfc3339).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot format the current time");
        String::from("1970-01-01T00:00:00Z")
    })
}
