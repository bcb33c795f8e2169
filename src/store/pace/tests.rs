//! The shared pace's rows on PostgreSQL (a fresh schema per test): turns spaced by the period
//! after a burst, pauses, and slots that expire when their holder stops renewing them.

use std::time::Duration;

use super::*;
use crate::store::PostgresStore;
use crate::store::tests::Scratch;

/// A migrated schema and its pace.
async fn pace() -> (Scratch, PostgresPace) {
    let (scratch, url) = Scratch::schema().await;
    let store = PostgresStore::open(&url).await.unwrap();
    drop(store);
    (scratch, PostgresPace::connect_lazy(&url).unwrap())
}

fn granted(r: Reservation) -> Duration {
    match r {
        Reservation::Granted(wait) => wait,
        other => panic!("expected a turn, got {other:?}"),
    }
}

#[tokio::test]
async fn turns_come_a_period_apart_after_the_burst_and_a_late_one_is_refused() {
    let (scratch, pace) = pace().await;
    let cadence = Cadence {
        period: Duration::from_secs(10),
        burst: 2,
    };
    let within = Duration::from_secs(15);
    assert_eq!(
        granted(pace.reserve("t", cadence, within).await.unwrap()),
        Duration::ZERO
    );
    assert_eq!(
        granted(pace.reserve("t", cadence, within).await.unwrap()),
        Duration::ZERO
    );
    let third = granted(pace.reserve("t", cadence, within).await.unwrap());
    assert!(
        third > Duration::from_secs(9) && third <= Duration::from_secs(10),
        "{third:?}"
    );
    match pace.reserve("t", cadence, within).await.unwrap() {
        Reservation::Refused(wait) => assert!(wait > Duration::from_secs(19), "{wait:?}"),
        other => panic!("a turn 20 s away was given within 15 s: {other:?}"),
    }
    // Another pace is not held back by this one.
    assert_eq!(
        granted(pace.reserve("u", cadence, within).await.unwrap()),
        Duration::ZERO
    );
    scratch.clean().await;
}

#[tokio::test]
async fn a_pause_holds_every_later_turn_back_and_a_shorter_one_does_not_cut_it() {
    let (scratch, pace) = pace().await;
    let cadence = Cadence {
        period: Duration::from_millis(1),
        burst: 5,
    };
    pace.pause("t", Duration::from_secs(60)).await.unwrap();
    pace.pause("t", Duration::from_secs(1)).await.unwrap();
    match pace
        .reserve("t", cadence, Duration::from_secs(5))
        .await
        .unwrap()
    {
        Reservation::Refused(wait) => assert!(wait > Duration::from_secs(50), "{wait:?}"),
        other => panic!("a turn during the pause: {other:?}"),
    }
    let after = granted(
        pace.reserve("t", cadence, Duration::from_secs(90))
            .await
            .unwrap(),
    );
    assert!(after > Duration::from_secs(50), "{after:?}");
    scratch.clean().await;
}

#[tokio::test]
async fn a_slot_whose_holder_stopped_renewing_is_taken_over() {
    let (scratch, pace) = pace().await;
    let lease = Duration::from_millis(300);
    assert_eq!(
        pace.take_slot("t", 1, "dead", lease).await.unwrap(),
        Some(0)
    );
    assert_eq!(pace.take_slot("t", 1, "next", lease).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        pace.take_slot("t", 1, "next", lease).await.unwrap(),
        Some(0)
    );
    assert!(
        !pace.renew_slot("t", 0, "dead", lease).await.unwrap(),
        "the dead holder lost it"
    );
    // Giving back a lost slot frees nothing; the holder's own release does.
    pace.release_slot("t", 0, "dead").await.unwrap();
    assert_eq!(pace.take_slot("t", 1, "third", lease).await.unwrap(), None);
    assert!(pace.renew_slot("t", 0, "next", lease).await.unwrap());
    pace.release_slot("t", 0, "next").await.unwrap();
    assert_eq!(
        pace.take_slot("t", 1, "third", lease).await.unwrap(),
        Some(0)
    );
    scratch.clean().await;
}

#[tokio::test]
async fn slots_are_counted_per_pace_and_two_holders_never_share_one() {
    let (scratch, pace) = pace().await;
    let lease = Duration::from_secs(30);
    let pace = std::sync::Arc::new(pace);
    let mut takers = tokio::task::JoinSet::new();
    for n in 0..12 {
        let pace = pace.clone();
        takers.spawn(async move {
            pace.take_slot("t", 3, &format!("h{n}"), lease)
                .await
                .unwrap()
        });
    }
    let mut taken: Vec<u32> = takers.join_all().await.into_iter().flatten().collect();
    taken.sort_unstable();
    assert_eq!(taken, vec![0, 1, 2], "three slots, each to one holder");
    assert_eq!(
        pace.take_slot("u", 3, "other", lease).await.unwrap(),
        Some(0)
    );
    scratch.clean().await;
}
