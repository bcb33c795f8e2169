//! The cap on calls in flight: a semaphore in this process and, when other instances share
//! the store, one of the store's slots as well, leased with an expiry that is renewed while
//! the call runs. An instance that dies stops renewing: its slots are free again within
//! [`SLOT_LEASE`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::{SharedPace, busy, unavailable};
use crate::downstream::error::DownstreamError;

/// How long a slot stays taken without renewal: what an instance that dies holds up.
const SLOT_LEASE: Duration = Duration::from_secs(3);

/// How often a held slot's lease is renewed (well within [`SLOT_LEASE`]).
const RENEW_EVERY: Duration = Duration::from_secs(1);

/// The pause between two tries for a slot other instances hold, at first and at most.
const SLOT_POLL: (Duration, Duration) = (Duration::from_millis(2), Duration::from_millis(50));

/// The calls in flight at once: `count` in this instance, and as many across instances when
/// shared.
#[derive(Debug)]
pub(super) struct SlotGate {
    count: u32,
    local: Arc<Semaphore>,
    shared: Option<SharedPace>,
}

/// A slot held for one call; given back when dropped.
#[derive(Debug)]
pub(super) struct Slot {
    _permit: OwnedSemaphorePermit,
    _lease: Option<SlotLease>,
}

/// A slot of the store held by this instance, renewed in the background until dropped.
#[derive(Debug)]
struct SlotLease {
    pace: SharedPace,
    slot: u32,
    holder: String,
    renewal: JoinHandle<()>,
}

impl SlotGate {
    pub(super) fn new(count: u32, shared: Option<SharedPace>) -> Self {
        Self {
            count,
            local: Arc::new(Semaphore::new(count as usize)),
            shared,
        }
    }

    /// Waits for a free slot; [`DownstreamError::Busy`] when none frees up before `deadline`
    /// (`window` from the call's arrival). Local waiters queue in arrival order, so only
    /// `count` of them at a time poll the store.
    pub(super) async fn take(
        &self,
        deadline: Instant,
        window: Duration,
    ) -> Result<Slot, DownstreamError> {
        let permit = match timeout_at(deadline, self.local.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            // The semaphore is never closed; a timeout is the only way here.
            Ok(Err(_)) | Err(_) => return Err(busy(window, window)),
        };
        let lease = match &self.shared {
            None => None,
            Some(pace) => Some(self.lease(pace, deadline, window).await?),
        };
        Ok(Slot {
            _permit: permit,
            _lease: lease,
        })
    }

    /// Takes a slot of the store, polling while other instances hold them all.
    async fn lease(
        &self,
        pace: &SharedPace,
        deadline: Instant,
        window: Duration,
    ) -> Result<SlotLease, DownstreamError> {
        let holder = uuid::Uuid::new_v4().to_string();
        let mut pause = SLOT_POLL.0;
        loop {
            let taken = pace
                .store
                .take_slot(&pace.key, self.count, &holder, SLOT_LEASE)
                .await
                .map_err(unavailable)?;
            if let Some(slot) = taken {
                return Ok(SlotLease::renewed(pace.clone(), slot, holder));
            }
            if Instant::now() + pause >= deadline {
                return Err(busy(window, window));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(SLOT_POLL.1);
        }
    }
}

impl SlotLease {
    /// The lease of `slot`, renewed every [`RENEW_EVERY`] while it lives.
    fn renewed(pace: SharedPace, slot: u32, holder: String) -> Self {
        let renewal = tokio::spawn({
            let (pace, holder) = (pace.clone(), holder.clone());
            async move {
                loop {
                    tokio::time::sleep(RENEW_EVERY).await;
                    match pace
                        .store
                        .renew_slot(&pace.key, slot, &holder, SLOT_LEASE)
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(
                                slot,
                                "a downstream slot lease expired before the call ended"
                            );
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, slot, "a downstream slot lease was not renewed");
                        }
                    }
                }
            }
        });
        Self {
            pace,
            slot,
            holder,
            renewal,
        }
    }
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        self.renewal.abort();
        // Given back in the background; were that to fail, the lease ends on its own.
        let (pace, slot, holder) = (
            self.pace.clone(),
            self.slot,
            std::mem::take(&mut self.holder),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = pace.store.release_slot(&pace.key, slot, &holder).await {
                    tracing::warn!(error = %e, slot, "a downstream slot was not given back; it expires on its own");
                }
            });
        }
    }
}
