//! One write at a time per resource in this instance. Entra and Okta send no If-Match, and
//! RFC 7644 §3.14 gives 412 only to a failed If-Match: two PATCHes of one user arriving
//! together must both succeed, the later applied on top of the earlier. Writers of one
//! resource therefore take turns (a keyed async lock); writes to other resources never wait
//! for each other. An entry lives only while someone holds or waits for it.
//!
//! Instances sharing a PostgreSQL store take turns across processes as well: after its local
//! turn a writer takes a lease row in the store (`LeaseStore::take_lease`), polling while another
//! instance holds it, and gives it back when done. A lease ends a second after the holder's
//! request must have answered, so an instance that dies mid-write holds nobody up for long.
//! Leases compare wall clocks: instances sharing a store need synchronised clocks (NTP).
//!
//! A writer waits at most until the request's downstream budget ends (see
//! [`budget`](crate::downstream::budget)); then the client is told to retry (503 with
//! Retry-After), and nothing was done. Lock order: a group's turn may be held while taking its
//! members' turns, never the other way round.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::ServiceError;
use crate::downstream::budget;
use crate::store::{LeaseStore, Store};

type Lock = Arc<tokio::sync::Mutex<()>>;

/// How long a lease lasts outside a request (a CLI command's write).
const LEASE_OUTSIDE_REQUEST: Duration = Duration::from_secs(60);

/// The pause between two tries for a lease another instance holds, at first and at most.
const LEASE_POLL: (Duration, Duration) = (Duration::from_millis(2), Duration::from_millis(50));

/// The turns of one resource type of one tenant, by SCIM id.
#[derive(Default)]
pub struct Turns {
    held: Mutex<HashMap<String, Lock>>,
    /// Where the leases of a shared store are taken, and the prefix of their keys.
    leases: Option<(Arc<dyn LeaseStore>, String)>,
}

/// The right to write one resource; the next writer's turn comes when it is dropped.
pub struct Turn<'a> {
    turns: &'a Turns,
    key: String,
    lock: Option<Lock>,
    guard: Option<OwnedMutexGuard<()>>,
    /// The lease's key and this writer's name in it, while held.
    lease: Option<(String, String)>,
}

impl Turns {
    /// The turns of the resources named by `scope` (tenant and type) in `store`: local ones,
    /// plus leases in the store when other instances share it.
    pub fn new(store: &Store, scope: String) -> Self {
        Self {
            held: Mutex::default(),
            leases: store.shared().then(|| (store.leases.clone(), scope)),
        }
    }

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
            lease: None,
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
        if let Some((store, scope)) = &self.leases {
            let key = format!("{scope}/{id}");
            let holder = uuid::Uuid::new_v4().to_string();
            take_lease(store.as_ref(), &key, &holder).await?;
            turn.lease = Some((key, holder));
        }
        Ok(turn)
    }

    /// How many resources have a writer or a waiting writer.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.held().len()
    }
}

/// Unix milliseconds of `at` (an instant of this process) on the wall clock.
fn wall_ms(at: Instant) -> i64 {
    let now = Instant::now();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let wall = if at >= now {
        wall + (at - now)
    } else {
        wall.saturating_sub(now - at)
    };
    i64::try_from(wall.as_millis()).unwrap_or(i64::MAX)
}

/// Takes the lease `key` for `holder`, polling while another instance holds it, until the
/// request's budget ends (then 503). The lease lasts until the request must have answered (the
/// holder is done by then, or cut off), plus a second for clocks that differ a little.
async fn take_lease(store: &dyn LeaseStore, key: &str, holder: &str) -> Result<(), ServiceError> {
    let now = Instant::now();
    let give_up = budget::spend_until().unwrap_or(now + LEASE_OUTSIDE_REQUEST);
    let expires =
        budget::request_ends().unwrap_or(now + LEASE_OUTSIDE_REQUEST) + Duration::from_secs(1);
    let mut pause = LEASE_POLL.0;
    loop {
        let now = Instant::now();
        if store
            .take_lease(key, holder, wall_ms(now), wall_ms(expires))
            .await?
        {
            return Ok(());
        }
        if now + pause >= give_up {
            return Err(ServiceError::Busy(
                "another gateway instance is still writing this resource; retry later".into(),
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LEASE_POLL.1);
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let (Some((key, holder)), Some((store, _))) = (self.lease.take(), &self.turns.leases) {
            // Given back in the background; were that to fail, the lease ends on its own.
            let store = store.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = store.release_lease(&key, &holder).await {
                        tracing::warn!(error = %e, "a write lease was not given back; it expires on its own");
                    }
                });
            }
        }
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
