//! IT Glue import and auto-mapping end to end: the service's code against the IT Glue simulator
//! over loopback, with a real SQLite store in a temporary directory.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use mspbridge_connectors::itglue::{ItGlueBase, ItGlueClient, ItGlueSettings};
use mspbridge_core::config::{parse_str, Config};
use mspbridge_core::events::{ITGLUE_CLIENT_AUTOMAP_FAILED, ITGLUE_SYSTEM_AUTOMAP_FAILED};
use mspbridge_server::itglue::{
    automap_instance, import_instance, instance, learn_systems_from_alert, run_due_automaps,
    ImportRequest, NoProgress, OrganizationFilter,
};
use mspbridge_simulators::itglue::{spawn, ItGlueSimConfig, ItGlueSimulator};
use mspbridge_store::inventory::{Mapping, MappingKind, MappingSubject, NewSystem, SystemOrigin};
use mspbridge_store::{open_store, EventFilter, Store};
use tempfile::TempDir;

const KEY: &str = "ITG.test-key";

async fn simulator() -> ItGlueSimulator {
    spawn(ItGlueSimConfig::demo(KEY), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start the IT Glue simulator")
}

async fn store() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("itglue.db").display());
    (open_store(&url).await.expect("open the store"), dir)
}

fn config(base_url: &str) -> Config {
    let text = format!(
        r#"
[[clients]]
name = "Acme"
email = "it@acme.example"

[[clients]]
name = "Globex"
email = "security@GLOBEX.example"

[[clients]]
name = "Initech"
email = "it@initech.example"

[[clients]]
name = "Umbrella"
email = "soc@umbrella.example"

[[clients]]
name = "Nomail"

[[itglue]]
name = "main"
url = "{base_url}"
api_key = "{KEY}"
clients = ["Acme", "Globex", "Initech", "Umbrella", "Nomail"]
automap_interval = "6h"
"#
    );
    parse_str(&text, "test.toml").expect("a valid configuration")
}

fn client_with_page_size(base_url: &str, page_size: u32) -> ItGlueClient {
    let mut settings = ItGlueSettings::new(ItGlueBase::Url(base_url.parse().unwrap()), KEY);
    settings.page_size = page_size;
    ItGlueClient::new(settings).expect("a client")
}

fn system(client: &str, name: &str, macs: &[&str]) -> NewSystem {
    NewSystem {
        client: client.into(),
        name: name.into(),
        macs: macs.iter().map(|m| m.to_string()).collect(),
        sensor: Some("agent".into()),
        origin: SystemOrigin::Cli,
    }
}

fn mapped(mappings: &[Mapping], subject: &MappingSubject) -> Option<(i64, MappingKind)> {
    mappings
        .iter()
        .find(|m| &m.subject == subject)
        .map(|m| (m.target_id, m.kind))
}

fn client_subject(client: &str) -> MappingSubject {
    MappingSubject::Client {
        client: client.into(),
    }
}

fn system_subject(client: &str, system: &str) -> MappingSubject {
    MappingSubject::System {
        client: client.into(),
        system: system.into(),
    }
}

#[tokio::test]
async fn import_pages_through_every_collection_with_small_pages() {
    let sim = simulator().await;
    let (store, _dir) = store().await;
    let client = client_with_page_size(sim.base_url(), 2);
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    let summary = import_instance(
        store.as_ref(),
        &client,
        "main",
        &ImportRequest::default(),
        &NoProgress,
        now,
    )
    .await
    .expect("import the demo account");
    let state = sim.state();
    let important = state
        .contacts()
        .iter()
        .filter(|c| c.important == Some(true))
        .count();
    assert_eq!(summary.organizations, state.organizations().len());
    assert_eq!(summary.contacts, important);
    assert_eq!(summary.configurations, state.configurations().len());

    let requests = state.requests();
    let pages = |path: &str| requests.iter().filter(|r| r.path == path).count();
    let expected_pages = |count: usize| count.div_ceil(2);
    assert_eq!(
        pages("/organizations"),
        expected_pages(state.organizations().len())
    );
    assert_eq!(pages("/contacts"), expected_pages(important));
    assert_eq!(
        pages("/configurations"),
        expected_pages(state.configurations().len())
    );
    assert!(requests.iter().all(|r| r.status == 200));

    let directory = store.itglue_directory("main").await.unwrap();
    let dc01 = directory
        .configurations
        .iter()
        .find(|c| c.id == 100)
        .expect("ACME-DC01 imported");
    assert_eq!(
        dc01.macs.len(),
        2,
        "the interface MACs are imported: {:?}",
        dc01.macs
    );
    assert!(directory.contacts.iter().all(|c| c.important == Some(true)));
}

#[tokio::test]
async fn import_and_automap_map_clients_and_systems_and_record_failures() {
    let sim = simulator().await;
    let (store, _dir) = store().await;
    let config = config(sim.base_url());
    let main = instance(&config, "main").unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    store
        .upsert_systems(
            vec![
                system("Acme", "ACME-DC01", &["001a2b3c4d5e"]),
                system("Acme", "ACME-LAPTOP03", &["a45e60c1d2e3"]),
                system("Acme", "ACME-NEW", &[]),
                system("Initech", "INITECH-WS02", &["000c29112233"]),
                system("Initech", "INITECH-WS01", &["3c5282aabbdd"]),
                system("Umbrella", "UMB-WS01", &["005056000001"]),
            ],
            now,
        )
        .await
        .unwrap();
    let client = client_with_page_size(sim.base_url(), 1000);
    import_instance(
        store.as_ref(),
        &client,
        "main",
        &ImportRequest::default(),
        &NoProgress,
        now,
    )
    .await
    .unwrap();
    let summary = automap_instance(store.as_ref(), &config, main, now)
        .await
        .expect("auto-map");
    assert_eq!(
        (summary.clients_mapped, summary.clients_failed),
        (3, 2),
        "{summary:?}"
    );

    let mappings = store.list_mappings(Some("main")).await.unwrap();
    let auto = |id| Some((id, MappingKind::Auto));
    assert_eq!(mapped(&mappings, &client_subject("Acme")), auto(10));
    assert_eq!(mapped(&mappings, &client_subject("Globex")), auto(20));
    assert_eq!(mapped(&mappings, &client_subject("Initech")), auto(30));
    assert_eq!(mapped(&mappings, &client_subject("Umbrella")), None);
    assert_eq!(
        mapped(&mappings, &system_subject("Acme", "ACME-DC01")),
        auto(100)
    );
    assert_eq!(
        mapped(&mappings, &system_subject("Acme", "ACME-LAPTOP03")),
        auto(130),
        "an interface-only MAC maps"
    );
    assert_eq!(
        mapped(&mappings, &system_subject("Initech", "INITECH-WS01")),
        auto(160),
        "a Cisco-dotted MAC maps"
    );
    assert_eq!(
        mapped(&mappings, &system_subject("Initech", "INITECH-WS02")),
        None
    );

    let events = store
        .list_events(EventFilter {
            code: Some(ITGLUE_CLIENT_AUTOMAP_FAILED),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let umbrella = events
        .iter()
        .find(|e| e.subject.as_deref() == Some("Umbrella"))
        .expect("4018 for the ambiguous domain");
    assert!(
        umbrella.message.contains("Umbrella Corp (id 40)")
            && umbrella.message.contains("Umbrella Holdings (id 50)"),
        "{}",
        umbrella.message
    );
    assert!(events
        .iter()
        .any(|e| e.subject.as_deref() == Some("Nomail")));

    let events = store
        .list_events(EventFilter {
            code: Some(ITGLUE_SYSTEM_AUTOMAP_FAILED),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let reason = |system: &str| {
        events
            .iter()
            .find(|e| e.subject.as_deref() == Some(system))
            .map(|e| e.message.clone())
            .unwrap_or_else(|| panic!("no 4019 for {system}"))
    };
    assert!(reason("ACME-NEW").contains("no MAC"));
    assert!(reason("INITECH-WS02").contains("MAC on several configurations"));
    assert_eq!(
        events.len(),
        2,
        "UMB-WS01's client is unmapped: no 4019 for it"
    );
}

#[tokio::test]
async fn manual_mappings_survive_automap_and_unmap_removes_them() {
    let sim = simulator().await;
    let (store, _dir) = store().await;
    let config = config(sim.base_url());
    let main = instance(&config, "main").unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    let client = client_with_page_size(sim.base_url(), 1000);
    import_instance(
        store.as_ref(),
        &client,
        "main",
        &ImportRequest::default(),
        &NoProgress,
        now,
    )
    .await
    .unwrap();
    for (subject, target) in [
        (client_subject("Umbrella"), 50),
        (client_subject("Acme"), 20),
    ] {
        store
            .set_mapping(Mapping {
                instance: "main".into(),
                subject,
                target_id: target,
                kind: MappingKind::Manual,
                updated_at: now,
            })
            .await
            .unwrap();
    }
    automap_instance(store.as_ref(), &config, main, now)
        .await
        .unwrap();
    let mappings = store.list_mappings(Some("main")).await.unwrap();
    assert_eq!(
        mapped(&mappings, &client_subject("Umbrella")),
        Some((50, MappingKind::Manual))
    );
    assert_eq!(
        mapped(&mappings, &client_subject("Acme")),
        Some((20, MappingKind::Manual)),
        "auto-mapping would pick 10 but must not overwrite a manual mapping"
    );

    assert!(store
        .remove_mapping("main", &client_subject("Acme"))
        .await
        .unwrap());
    automap_instance(store.as_ref(), &config, main, now)
        .await
        .unwrap();
    let mappings = store.list_mappings(Some("main")).await.unwrap();
    assert_eq!(
        mapped(&mappings, &client_subject("Acme")),
        Some((10, MappingKind::Auto))
    );
}

#[tokio::test]
async fn a_filtered_import_touches_only_the_named_organizations() {
    let sim = simulator().await;
    let (store, _dir) = store().await;
    let client = client_with_page_size(sim.base_url(), 1000);
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    let request = ImportRequest {
        organizations: vec![
            OrganizationFilter::parse("Globex"),
            OrganizationFilter::parse("30"),
        ],
    };
    let summary = import_instance(store.as_ref(), &client, "main", &request, &NoProgress, now)
        .await
        .unwrap();
    assert_eq!(summary.organizations, 2);
    let directory = store.itglue_directory("main").await.unwrap();
    let orgs: Vec<i64> = directory.organizations.iter().map(|o| o.id).collect();
    assert_eq!(orgs, vec![20, 30]);
    assert!(directory
        .configurations
        .iter()
        .all(|c| c.organization_id == 20 || c.organization_id == 30));

    let missing = import_instance(
        store.as_ref(),
        &client,
        "main",
        &ImportRequest {
            organizations: vec![OrganizationFilter::parse("No Such Org")],
        },
        &NoProgress,
        now,
    )
    .await
    .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("no organization named \"No Such Org\""),
        "{missing}"
    );
}

#[tokio::test]
async fn the_schedule_runs_once_per_interval_across_processes() {
    let sim = simulator().await;
    let (store, _dir) = store().await;
    let config = config(sim.base_url());
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    let first = run_due_automaps(&store, &config, now).await;
    assert_eq!(first.len(), 1);
    assert!(first[0].1.is_ok(), "{:?}", first[0].1);
    // A second process looking at the same moment finds the run claimed.
    assert!(run_due_automaps(&store, &config, now).await.is_empty());
    let almost = now + chrono::Duration::hours(6) - chrono::Duration::seconds(1);
    assert!(run_due_automaps(&store, &config, almost).await.is_empty());
    let due = now + chrono::Duration::hours(6);
    assert_eq!(run_due_automaps(&store, &config, due).await.len(), 1);
    let mappings = store.list_mappings(Some("main")).await.unwrap();
    assert_eq!(
        mapped(&mappings, &client_subject("Acme")),
        Some((10, MappingKind::Auto))
    );
}

#[tokio::test]
async fn systems_are_learned_from_alert_fields() {
    let (store, _dir) = store().await;
    let first = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    store
        .upsert_systems(vec![system("Acme", "WS01", &["001a2b3c4d5e"])], first)
        .await
        .unwrap();
    let later = first + chrono::Duration::hours(2);
    let learned = learn_systems_from_alert(
        store.as_ref(),
        "Acme",
        &["ws01", "\\\\FS02", "fs02", " ", "-"],
        later,
    )
    .await
    .unwrap();
    assert_eq!(learned, 2);
    let systems = store.list_systems(Some("Acme")).await.unwrap();
    let names: Vec<&str> = systems.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["FS02", "WS01"]);
    let ws01 = &systems[1];
    assert_eq!(ws01.macs, vec!["001a2b3c4d5e"], "MACs kept");
    assert_eq!(ws01.origin, SystemOrigin::Cli);
    assert_eq!(ws01.last_seen, later);
    assert_eq!(systems[0].origin, SystemOrigin::Alert);

    // A storm of the same sighting writes nothing until last-seen is an hour old.
    let soon = later + chrono::Duration::minutes(10);
    let again = learn_systems_from_alert(store.as_ref(), "Acme", &["WS01", "fs02"], soon)
        .await
        .unwrap();
    assert_eq!(again, 0);
    let much_later = later + chrono::Duration::hours(2);
    let refreshed = learn_systems_from_alert(store.as_ref(), "Acme", &["fs02"], much_later)
        .await
        .unwrap();
    assert_eq!(refreshed, 1);
    let systems = store.list_systems(Some("Acme")).await.unwrap();
    assert_eq!(systems[0].last_seen, much_later);
    assert_eq!(systems[0].name, "FS02", "the stored spelling is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_runs_the_automap_schedule_when_it_starts() {
    use mspbridge_server::service::{Service, ServiceOptions};
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("service.db").display());
    let text = format!(
        "[server]\ndatabase = \"{database}\"\n\n[[clients]]\nname = \"Acme\"\nemail = \"it@acme.example\"\n\n\
         [[itglue]]\nname = \"main\"\nurl = \"{}\"\napi_key = \"{KEY}\"\nclients = [\"Acme\"]\n",
        sim.base_url()
    );
    let config = parse_str(&text, "service.toml").expect("config");
    let mut options = ServiceOptions::new("bench-host");
    options.listen = Some("127.0.0.1:0".parse().unwrap());
    let service = Service::start(config, options).await.expect("start");
    let store = service.store();
    // The first run is due at start; wait for its mapping (the run happens in the background).
    let mut mapped_to = None;
    for _ in 0..1500 {
        let mappings = store.list_mappings(Some("main")).await.unwrap();
        mapped_to = mapped(&mappings, &client_subject("Acme"));
        if mapped_to.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(mapped_to, Some((10, MappingKind::Auto)));
    service.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn switched_on_failure_events_raise_alerts_from_the_schedule() {
    let sim = simulator().await;
    let (store, _dir) = store().await;
    let text = format!(
        "[events]\nraise_alerts = [4018]\n\n[[clients]]\nname = \"Umbrella\"\nemail = \"soc@umbrella.example\"\n\n\
         [[clients]]\nname = \"Acme\"\n\n\
         [[itglue]]\nname = \"main\"\nurl = \"{}\"\napi_key = \"{KEY}\"\nclients = [\"Umbrella\", \"Acme\"]\n",
        sim.base_url()
    );
    let config = parse_str(&text, "raise.toml").expect("config");
    store
        .upsert_systems(vec![system("Umbrella", "UMB-1", &[])], Utc::now())
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    let ran = run_due_automaps(&store, &config, now).await;
    assert!(ran[0].1.is_ok(), "{:?}", ran[0].1);
    let alerts = store
        .list_alerts(mspbridge_store::AlertFilter::default(), 100)
        .await
        .unwrap();
    let names: Vec<(&str, Option<&str>)> = alerts
        .iter()
        .map(|a| (a.alert_name.as_str(), a.client.as_deref()))
        .collect();
    assert_eq!(
        alerts.len(),
        2,
        "one alert per 4018, none for 4019: {names:?}"
    );
    assert!(alerts.iter().all(|a| a.source == "mspbridge"));
    assert!(names.contains(&("IT Glue client auto-map failed", Some("Umbrella"))));
    assert!(names.contains(&("IT Glue client auto-map failed", Some("Acme"))));
}
