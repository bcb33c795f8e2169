//! One suite for both shared paces, PostgreSQL (a fresh schema per test) and Redis (at
//! 127.0.0.1:6379 or `PACE_TEST_REDIS_URL`, keys unique per test, expiring on their own):
//! turns spaced by the period after a burst, pauses, and slots that expire when their holder
//! stops renewing them.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::store::PostgresStore;
use crate::store::tests::Scratch;

/// The pace a test runs on, and a key prefix no other test uses.
struct Backend {
    pace: Arc<dyn PaceStore>,
    scratch: Scratch,
    prefix: String,
}

impl Backend {
    async fn postgres() -> Self {
        let (scratch, url) = Scratch::schema().await;
        drop(PostgresStore::open(&url).await.unwrap());
        let pace = Arc::new(PostgresPace::connect_lazy(&url).unwrap());
        Self {
            pace,
            scratch,
            prefix: String::new(),
        }
    }

    async fn redis() -> Self {
        let url = std::env::var("PACE_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
        Self {
            pace: Arc::new(RedisPace::connect_lazy(&url).unwrap()),
            scratch: Scratch::Nothing,
            prefix: format!("test-{}-", uuid::Uuid::new_v4().simple()),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// Runs each test of the suite against both paces.
macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Backend::postgres().await).await;
            })*
        }
        mod redis {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Backend::redis().await).await;
            })*
        }
    };
}

suite!(
    turns_come_a_period_apart_after_the_burst_and_a_late_one_is_refused,
    a_pause_holds_every_later_turn_back_and_a_shorter_one_does_not_cut_it,
    a_slot_whose_holder_stopped_renewing_is_taken_over,
    slots_are_counted_per_pace_and_two_holders_never_share_one,
);

fn granted(r: Reservation) -> Duration {
    match r {
        Reservation::Granted(wait) => wait,
        other => panic!("expected a turn, got {other:?}"),
    }
}

async fn turns_come_a_period_apart_after_the_burst_and_a_late_one_is_refused(backend: Backend) {
    let (pace, t, u) = (&backend.pace, backend.key("t"), backend.key("u"));
    let cadence = Cadence {
        period: Duration::from_secs(10),
        burst: 2,
    };
    let within = Duration::from_secs(15);
    assert_eq!(
        granted(pace.reserve(&t, cadence, within).await.unwrap()),
        Duration::ZERO
    );
    assert_eq!(
        granted(pace.reserve(&t, cadence, within).await.unwrap()),
        Duration::ZERO
    );
    let third = granted(pace.reserve(&t, cadence, within).await.unwrap());
    assert!(
        third > Duration::from_secs(9) && third <= Duration::from_secs(10),
        "{third:?}"
    );
    match pace.reserve(&t, cadence, within).await.unwrap() {
        Reservation::Refused(wait) => assert!(wait > Duration::from_secs(19), "{wait:?}"),
        other => panic!("a turn 20 s away was given within 15 s: {other:?}"),
    }
    // Another pace is not held back by this one.
    assert_eq!(
        granted(pace.reserve(&u, cadence, within).await.unwrap()),
        Duration::ZERO
    );
    backend.scratch.clean().await;
}

async fn a_pause_holds_every_later_turn_back_and_a_shorter_one_does_not_cut_it(backend: Backend) {
    let (pace, t) = (&backend.pace, backend.key("t"));
    let cadence = Cadence {
        period: Duration::from_millis(1),
        burst: 5,
    };
    pace.pause(&t, Duration::from_secs(60)).await.unwrap();
    pace.pause(&t, Duration::from_secs(1)).await.unwrap();
    match pace
        .reserve(&t, cadence, Duration::from_secs(5))
        .await
        .unwrap()
    {
        Reservation::Refused(wait) => assert!(wait > Duration::from_secs(50), "{wait:?}"),
        other => panic!("a turn during the pause: {other:?}"),
    }
    let after = granted(
        pace.reserve(&t, cadence, Duration::from_secs(90))
            .await
            .unwrap(),
    );
    assert!(after > Duration::from_secs(50), "{after:?}");
    backend.scratch.clean().await;
}

async fn a_slot_whose_holder_stopped_renewing_is_taken_over(backend: Backend) {
    let (pace, t) = (&backend.pace, backend.key("t"));
    let lease = Duration::from_millis(300);
    assert_eq!(pace.take_slot(&t, 1, "dead", lease).await.unwrap(), Some(0));
    assert_eq!(pace.take_slot(&t, 1, "next", lease).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(pace.take_slot(&t, 1, "next", lease).await.unwrap(), Some(0));
    assert!(
        !pace.renew_slot(&t, 0, "dead", lease).await.unwrap(),
        "the dead holder lost it"
    );
    // Giving back a lost slot frees nothing; the holder's own release does.
    pace.release_slot(&t, 0, "dead").await.unwrap();
    assert_eq!(pace.take_slot(&t, 1, "third", lease).await.unwrap(), None);
    assert!(pace.renew_slot(&t, 0, "next", lease).await.unwrap());
    pace.release_slot(&t, 0, "next").await.unwrap();
    assert_eq!(
        pace.take_slot(&t, 1, "third", lease).await.unwrap(),
        Some(0)
    );
    backend.scratch.clean().await;
}

async fn slots_are_counted_per_pace_and_two_holders_never_share_one(backend: Backend) {
    let (pace, t, u) = (&backend.pace, backend.key("t"), backend.key("u"));
    let lease = Duration::from_secs(30);
    let mut takers = tokio::task::JoinSet::new();
    for n in 0..12 {
        let (pace, t) = (pace.clone(), t.clone());
        takers.spawn(async move {
            pace.take_slot(&t, 3, &format!("h{n}"), lease)
                .await
                .unwrap()
        });
    }
    let mut taken: Vec<u32> = takers.join_all().await.into_iter().flatten().collect();
    taken.sort_unstable();
    assert_eq!(taken, vec![0, 1, 2], "three slots, each to one holder");
    assert_eq!(
        pace.take_slot(&u, 3, "other", lease).await.unwrap(),
        Some(0)
    );
    backend.scratch.clean().await;
}
