//! The IT Glue half of the demo (DESIGN §8.2): systems registered, the directory imported from the
//! IT Glue simulator, clients and systems auto-mapped by email domain and MAC (one ambiguous domain
//! and one system without a MAC give events 4018 and 4019), then a weekly summary report generated
//! and published as a flexible asset linked to the mapped configurations.

use anyhow::{anyhow, Result};
use mspbridge_core::clock::{Clock, ManualClock};
use mspbridge_core::events;
use mspbridge_core::itglue_map::normalize_mac;
use mspbridge_server::itglue::{self as sync, refresh_and_automap};
use mspbridge_store::inventory::{NewSystem, SystemOrigin};
use mspbridge_store::model::EventFilter;

use super::{Check, DemoWorld};

/// The MSP's machines as its RMM would register them: MACs written every which way.
const SYSTEMS: [(&str, &str, &[&str]); 5] = [
    ("Acme", "ACME-DC01", &["00:1A:2B:3C:4D:5E"]),
    ("Acme", "ACME-WS01", &["001a.2b3c.4d60"]),
    ("Acme", "ACME-WS02", &["00-1a-2b-3c-4d-61"]),
    ("Acme", "ACME-KIOSK", &[]),
    ("Globex", "GLOBEX-SRV01", &["3C52.82AA.BBCC"]),
];

pub async fn play(world: &DemoWorld, clock: &ManualClock) -> Result<Vec<Check>> {
    let store = world.store.as_ref();
    let now = clock.now();
    let systems = SYSTEMS
        .iter()
        .map(|(client, name, macs)| NewSystem {
            client: client.to_string(),
            name: name.to_string(),
            macs: macs.iter().filter_map(|mac| normalize_mac(mac)).collect(),
            sensor: Some("agent".to_string()),
            origin: SystemOrigin::Cli,
        })
        .collect();
    store
        .upsert_systems(systems, now)
        .await
        .map_err(|err| anyhow!("registering the demo systems: {err}"))?;

    let instance = sync::instance(&world.config, "main").map_err(|err| anyhow!("{err}"))?;
    let client = sync::client_for(instance).map_err(|err| anyhow!("{err}"))?;
    let (imported, mapped) = refresh_and_automap(store, &world.config, instance, &client, now)
        .await
        .map_err(|err| anyhow!("IT Glue import and auto-map: {err}"))?;
    let since = now - chrono::Duration::minutes(1);
    let failures = |code| EventFilter {
        code: Some(code),
        client: None,
        since: Some(since),
        limit: None,
    };
    let client_failures = store
        .list_events(failures(events::ITGLUE_CLIENT_AUTOMAP_FAILED))
        .await?;
    let system_failures = store
        .list_events(failures(events::ITGLUE_SYSTEM_AUTOMAP_FAILED))
        .await?;
    println!("\nIT Glue auto-map: {imported:?}");
    for event in client_failures.iter().chain(&system_failures) {
        println!(
            "    event {} {}: {}",
            event.code,
            event.subject.clone().unwrap_or_default(),
            event.message
        );
    }
    let mut checks = vec![Check::new(
        "8.2 auto-map",
        mapped.clients_mapped >= 2
            && mapped.systems_mapped >= 3
            && client_failures.iter().any(|e| e.message.contains("umbrella.example"))
            && system_failures.iter().any(|e| e.subject.as_deref().is_some_and(|s| s.contains("ACME-KIOSK"))),
        format!(
            "{} clients and {} systems mapped; 4018 for the shared umbrella.example domain, 4019 for ACME-KIOSK (no MAC)",
            mapped.clients_mapped, mapped.systems_mapped
        ),
    )];
    checks.extend(super::reports::play(world, clock).await?);
    Ok(checks)
}
