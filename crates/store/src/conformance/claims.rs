//! Claims of queued alerts and incident keys: what lets several processes share one queue.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::{at, new_alert};
use crate::model::*;
use crate::port::Store;

const LEASE: Duration = Duration::from_secs(60);

async fn queue(store: &Arc<dyn Store>, n: usize) -> Vec<AlertId> {
    let alerts = (0..n)
        .map(|i| new_alert("storm", &format!("claim-{i}"), 10))
        .collect();
    store
        .accept_alerts_batch(alerts)
        .await
        .unwrap()
        .into_iter()
        .map(|outcome| match outcome {
            AcceptOutcome::Accepted(id) => id,
            other => panic!("a new alert must be accepted, got {other:?}"),
        })
        .collect()
}

fn alert_ids(alerts: &[Alert]) -> Vec<AlertId> {
    alerts.iter().map(|alert| alert.id).collect()
}

/// A page of queued alerts is claimed by one owner at a time: another owner gets the next alerts,
/// the holder renews its own, an expired, given-back or finished claim frees the alert.
pub async fn alert_pages_are_claimed_apart(store: Arc<dyn Store>) {
    let ids = queue(&store, 10).await;
    let now = at(100);
    let first = store
        .claim_alert_page("a", Partition::WHOLE, None, now, LEASE, 4)
        .await
        .unwrap();
    assert_eq!(
        alert_ids(&first),
        ids[..4],
        "the oldest queued alerts first"
    );
    assert!(first.iter().all(|alert| alert.state == AlertState::Queued));
    let second = store
        .claim_alert_page("b", Partition::WHOLE, None, now, LEASE, 100)
        .await
        .unwrap();
    assert_eq!(
        alert_ids(&second),
        ids[4..],
        "another owner never gets alerts a live claim holds"
    );
    let again = store
        .claim_alert_page("a", Partition::WHOLE, None, now, LEASE, 100)
        .await
        .unwrap();
    assert_eq!(
        alert_ids(&again),
        ids[..4],
        "an owner renews its own claims"
    );
    let after = store
        .claim_alert_page("a", Partition::WHOLE, Some(ids[1]), now, LEASE, 100)
        .await
        .unwrap();
    assert_eq!(alert_ids(&after), ids[2..4], "only ids above the cursor");
    assert!(store
        .claim_alert_page("c", Partition::WHOLE, None, now, LEASE, 100)
        .await
        .unwrap()
        .is_empty());

    // Given back: free at once for another owner; other owners' claims are kept.
    store
        .release_claims("a", &[ids[0], ids[5]], &[])
        .await
        .unwrap();
    let released = store
        .claim_alert_page("c", Partition::WHOLE, None, now, LEASE, 100)
        .await
        .unwrap();
    assert_eq!(
        alert_ids(&released),
        vec![ids[0]],
        "only the holder gives a claim back"
    );

    // Leaving the queue ends the claim: queued again later, the alert is free.
    store
        .set_alert_state(ids[1], AlertState::Enriching)
        .await
        .unwrap();
    store
        .set_alert_state(ids[1], AlertState::Queued)
        .await
        .unwrap();
    store
        .set_alert_state(ids[2], AlertState::Processed)
        .await
        .unwrap();
    let requeued = store
        .claim_alert_page("c", Partition::WHOLE, None, now, LEASE, 100)
        .await
        .unwrap();
    assert_eq!(
        alert_ids(&requeued),
        vec![ids[0], ids[1]],
        "an alert queued again is claimable; a processed one never"
    );

    // Expired: the alerts of a holder that went silent are taken over.
    let later = now + chrono::Duration::seconds(61);
    let taken = store
        .claim_alert_page("d", Partition::WHOLE, None, later, LEASE, 100)
        .await
        .unwrap();
    let expected: Vec<AlertId> = ids.iter().copied().filter(|id| *id != ids[2]).collect();
    assert_eq!(alert_ids(&taken), expected, "expired claims are taken over");

    // A gone worker's claims end at once.
    let owners = store.lease_owners().await.unwrap();
    assert!(owners.contains(&"d".to_string()), "{owners:?}");
    assert!(store.expire_leases("d", later).await.unwrap() >= 8);
    let resumed = store
        .claim_alert_page("e", Partition::WHOLE, None, later, LEASE, 100)
        .await
        .unwrap();
    assert_eq!(alert_ids(&resumed), expected);
}

/// Many owners claiming pages at the same moment: every queued alert is handed to exactly one.
pub async fn concurrent_alert_claims_never_overlap(store: Arc<dyn Store>) {
    const ALERTS: usize = 300;
    const WORKERS: usize = 6;
    let ids = queue(&store, ALERTS).await;
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("worker-{worker}");
            let mut cursor = None;
            let mut mine = Vec::new();
            loop {
                let page = store
                    .claim_alert_page(&owner, Partition::WHOLE, cursor, at(100), LEASE, 7)
                    .await
                    .unwrap();
                let Some(last) = page.last() else {
                    return mine;
                };
                cursor = Some(last.id);
                mine.extend(alert_ids(&page));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut owner_of: BTreeMap<AlertId, usize> = BTreeMap::new();
    for (worker, handle) in workers.into_iter().enumerate() {
        for id in handle.await.unwrap() {
            if let Some(other) = owner_of.insert(id, worker) {
                panic!("alert {id} was claimed by worker {other} and worker {worker}");
            }
        }
    }
    let claimed: Vec<AlertId> = owner_of.into_keys().collect();
    assert_eq!(claimed, ids, "every queued alert was claimed");
}

/// An incident key is held by one owner at a time, until it expires or is given back; of owners
/// racing for the same keys, exactly one gets each.
pub async fn incident_keys_are_held_by_one_owner(store: Arc<dyn Store>) {
    let keys = |names: &[&str]| names.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    let now = at(100);
    let a = store
        .claim_incident_keys("a", &keys(&["k2", "k1", "k1"]), now, LEASE)
        .await
        .unwrap();
    assert_eq!(a, keys(&["k1", "k2"]));
    let b = store
        .claim_incident_keys("b", &keys(&["k2", "k3"]), now, LEASE)
        .await
        .unwrap();
    assert_eq!(b, keys(&["k3"]), "a key another owner holds is refused");
    let renewed = store
        .claim_incident_keys("a", &keys(&["k1"]), now, LEASE)
        .await
        .unwrap();
    assert_eq!(renewed, keys(&["k1"]), "an owner renews its own key");
    assert!(store
        .claim_incident_keys("b", &[], now, LEASE)
        .await
        .unwrap()
        .is_empty());

    store
        .release_claims("a", &[], &keys(&["k2", "k3"]))
        .await
        .unwrap();
    let b = store
        .claim_incident_keys("b", &keys(&["k2", "k3"]), now, LEASE)
        .await
        .unwrap();
    assert_eq!(
        b,
        keys(&["k2", "k3"]),
        "a key given back is free; another owner's key is kept"
    );

    let later = now + chrono::Duration::seconds(61);
    let c = store
        .claim_incident_keys("c", &keys(&["k1", "k2"]), later, LEASE)
        .await
        .unwrap();
    assert_eq!(c, keys(&["k1", "k2"]), "expired keys are taken over");
    assert!(store
        .lease_owners()
        .await
        .unwrap()
        .contains(&"c".to_string()));
    assert_eq!(store.expire_leases("c", later).await.unwrap(), 2);
    let d = store
        .claim_incident_keys("d", &keys(&["k1"]), later, LEASE)
        .await
        .unwrap();
    assert_eq!(d, keys(&["k1"]), "a gone worker's keys are free at once");

    // Racing owners: each key goes to exactly one of them.
    let racing: Vec<String> = (0..20).map(|i| format!("race-{i}")).collect();
    let mut handles = Vec::new();
    for owner in 0..8 {
        let (store, racing) = (store.clone(), racing.clone());
        handles.push(tokio::spawn(async move {
            let mut keys = racing;
            if owner % 2 == 1 {
                keys.reverse();
            }
            store
                .claim_incident_keys(&format!("racer-{owner}"), &keys, at(100), LEASE)
                .await
                .unwrap()
        }));
    }
    let mut granted = BTreeSet::new();
    for handle in handles {
        for key in handle.await.unwrap() {
            assert!(granted.insert(key.clone()), "{key} was granted twice");
        }
    }
    assert_eq!(granted.len(), racing.len(), "every free key was granted");
}

/// Engines sharing the queue split it: each takes its own part, the parts cover every queued
/// alert once, and the alerts of one client and name stay in one part. An engine that leaves,
/// or whose membership runs out, gives its part back.
pub async fn queue_is_split_among_live_engines(store: Arc<dyn Store>) {
    const TTL: Duration = Duration::from_secs(10);
    let mut alerts = Vec::new();
    for (i, client) in [Some("acme"), Some("globex"), None].into_iter().enumerate() {
        for name in 0..8 {
            for copy in 0..2 {
                let mut alert = new_alert("storm", &format!("part-{i}-{name}-{copy}"), 10);
                alert.client = client.map(str::to_string);
                alert.alert_name = format!("Alert type {name}");
                alerts.push(alert);
            }
        }
    }
    store.accept_alerts_batch(alerts).await.unwrap();
    let now = at(100);
    assert_eq!(
        store.join_engines("b", now, TTL).await.unwrap(),
        Partition::WHOLE,
        "the only engine takes the whole queue"
    );
    assert_eq!(
        store.join_engines("a", now, TTL).await.unwrap(),
        Partition { index: 0, count: 2 },
        "engines are counted in the order of their names"
    );
    assert_eq!(
        store.join_engines("b", now, TTL).await.unwrap(),
        Partition { index: 1, count: 2 },
        "a renewal sees the engine that joined"
    );
    let mut part_of: BTreeMap<AlertId, u32> = BTreeMap::new();
    for index in 0..2 {
        let partition = Partition { index, count: 2 };
        let page = store
            .claim_alert_page(&format!("engine-{index}"), partition, None, now, LEASE, 100)
            .await
            .unwrap();
        assert!(
            !page.is_empty(),
            "part {index} of 2 holds some of 24 client-and-name pairs"
        );
        for alert in page {
            if let Some(other) = part_of.insert(alert.id, index) {
                panic!("alert {} is in part {other} and part {index}", alert.id);
            }
        }
    }
    assert_eq!(part_of.len(), 48, "the parts cover every queued alert");
    let claimed = store
        .get_alerts(&part_of.keys().copied().collect::<Vec<_>>())
        .await
        .unwrap();
    let mut pair_part: BTreeMap<(Option<String>, String), u32> = BTreeMap::new();
    for alert in claimed {
        let part = part_of[&alert.id];
        let known = pair_part.insert((alert.client.clone(), alert.alert_name.clone()), part);
        assert!(
            known.is_none_or(|known| known == part),
            "the alerts of {:?} / {} are in one part",
            alert.client,
            alert.alert_name
        );
    }

    store.leave_engines("b").await.unwrap();
    assert_eq!(
        store.join_engines("a", now, TTL).await.unwrap(),
        Partition::WHOLE,
        "an engine that left gives its part back"
    );
    store.join_engines("c", now, TTL).await.unwrap();
    assert_eq!(
        store.join_engines("a", at(105), TTL).await.unwrap(),
        Partition { index: 0, count: 2 }
    );
    assert_eq!(
        store.join_engines("a", at(111), TTL).await.unwrap(),
        Partition::WHOLE,
        "an engine that stopped renewing drops out when its membership runs out"
    );
    store.join_engines("d", at(111), TTL).await.unwrap();
    store.expire_leases("d", at(111)).await.unwrap();
    assert_eq!(
        store.join_engines("a", at(111), TTL).await.unwrap(),
        Partition::WHOLE,
        "the leases of a gone process end its membership too"
    );
}
