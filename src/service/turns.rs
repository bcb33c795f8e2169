//! One write at a time per resource in this instance. Entra and Okta send no If-Match, and
//! RFC 7644 §3.14 gives 412 only to a failed If-Match: two PATCHes of one user arriving
//! together must both succeed, the later applied on top of the earlier. Writers of one
//! resource therefore take turns (a keyed async lock); writes to other resources never wait
//! for each other. An entry lives only while someone holds or waits for it.
//!
//! A writer waits at most until the request's downstream budget ends (see
//! [`budget`](crate::downstream::budget)); then the client is told to retry (503 with
//! Retry-After), and nothing was done. Lock order: a group's turn may be held while taking its
//! members' turns, never the other way round.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

use super::ServiceError;
use crate::downstream::budget;

type Lock = Arc<tokio::sync::Mutex<()>>;

/// The turns of one resource type of one tenant, by SCIM id.
#[derive(Default)]
pub struct Turns {
    held: Mutex<HashMap<String, Lock>>,
}

/// The right to write one resource; the next writer's turn comes when it is dropped.
pub struct Turn<'a> {
    turns: &'a Turns,
    key: String,
    lock: Option<Lock>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Turns {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lock>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the turn to write `id`, within the request's budget.
    pub async fn take(&self, id: &str) -> Result<Turn<'_>, ServiceError> {
        let lock = self.held().entry(id.to_owned()).or_default().clone();
        let mut turn = Turn {
            turns: self,
            key: id.to_owned(),
            lock: Some(lock.clone()),
            guard: None,
        };
        let guard = match budget::spend_until() {
            Some(until) => tokio::time::timeout_at(until, lock.lock_owned())
                .await
                .map_err(|_| {
                    ServiceError::Busy(
                        "another write to this resource is still under way; retry later".into(),
                    )
                })?,
            None => lock.lock_owned().await,
        };
        turn.guard = Some(guard);
        Ok(turn)
    }

    /// How many resources have a writer or a waiting writer.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.held().len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut held = self.turns.held();
        self.guard.take();
        self.lock.take();
        // Only the map still has it: nobody holds or waits for this resource.
        if held
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            held.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn writers_of_one_resource_take_turns_and_others_do_not_wait() {
        let turns = Arc::new(Turns::default());
        let first = turns.take("a").await.unwrap();
        let other = turns.take("b").await.unwrap();
        let waiting = {
            let turns = turns.clone();
            tokio::spawn(async move {
                let _second = turns.take("a").await.unwrap();
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the second writer waits");
        drop(first);
        waiting.await.unwrap();
        drop(other);
        assert_eq!(turns.len(), 0, "no entry outlives its writers");
    }

    #[tokio::test]
    async fn a_writer_gives_up_when_its_budget_ends() {
        let turns = Turns::default();
        let held = turns.take("a").await.unwrap();
        let waited = budget::scope(Duration::from_millis(50), turns.take("a")).await;
        assert!(matches!(waited, Err(ServiceError::Busy(_))));
        drop(held);
        assert_eq!(turns.len(), 0);
    }
}
