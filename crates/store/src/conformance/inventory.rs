//! Conformance checks of the inventory: systems, the imported IT Glue directory and mappings.
//!
//! These pin what auto-mapping relies on: an alert sighting never erases registered MACs, a
//! scoped import replaces only its organizations, and automatic mappings never overwrite a
//! manual one.

use std::sync::Arc;

use super::at;
use crate::inventory::*;
use crate::port::Store;

fn new_system(client: &str, name: &str, macs: &[&str], origin: SystemOrigin) -> NewSystem {
    NewSystem {
        client: client.to_string(),
        name: name.to_string(),
        macs: macs.iter().map(|m| m.to_string()).collect(),
        sensor: None,
        origin,
    }
}

/// Registering a system again refreshes it without losing what the first registration said.
pub async fn systems_upsert_and_remove(store: Arc<dyn Store>) {
    let stored = store
        .upsert_systems(
            vec![
                NewSystem {
                    sensor: Some("agent".into()),
                    ..new_system("acme", "ws01", &["001a2b3c4d5e"], SystemOrigin::Csv)
                },
                new_system("acme", "dc01", &[], SystemOrigin::Cli),
                new_system("globex", "ws01", &["3c5282aabbcc"], SystemOrigin::Api),
            ],
            at(10),
        )
        .await
        .expect("register systems");
    assert_eq!(stored.len(), 3);
    // An alert sighting: no MACs, no sensor, later.
    let seen = store
        .upsert_systems(
            vec![new_system("acme", "ws01", &[], SystemOrigin::Alert)],
            at(20),
        )
        .await
        .expect("refresh a system from an alert");
    let ws01 = &seen[0];
    assert_eq!(
        ws01.macs,
        vec!["001a2b3c4d5e"],
        "an alert sighting must keep MACs"
    );
    assert_eq!(ws01.sensor.as_deref(), Some("agent"));
    assert_eq!(ws01.origin, SystemOrigin::Csv, "the first origin is kept");
    assert_eq!((ws01.first_seen, ws01.last_seen), (at(10), at(20)));

    let acme = store
        .list_systems(Some("acme"))
        .await
        .expect("list systems");
    let names: Vec<&str> = acme.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["dc01", "ws01"], "systems of one client by name");
    assert_eq!(store.list_systems(None).await.unwrap().len(), 3);

    // A bad system in a batch stores nothing of the batch.
    let refused = store
        .upsert_systems(
            vec![
                new_system("acme", "new", &[], SystemOrigin::Csv),
                new_system("acme", " ", &[], SystemOrigin::Csv),
            ],
            at(30),
        )
        .await;
    assert!(refused.is_err(), "a system without a name must be refused");
    assert_eq!(store.list_systems(Some("acme")).await.unwrap().len(), 2);

    store
        .set_mapping(Mapping {
            instance: "main".into(),
            subject: MappingSubject::System {
                client: "acme".into(),
                system: "ws01".into(),
            },
            target_id: 100,
            kind: MappingKind::Manual,
            updated_at: at(40),
        })
        .await
        .unwrap();
    assert!(store.remove_system("acme", "ws01").await.unwrap());
    assert!(!store.remove_system("acme", "ws01").await.unwrap());
    assert!(
        store.list_mappings(None).await.unwrap().is_empty(),
        "removing a system removes its mappings"
    );
}

fn directory(org_ids: &[i64]) -> ItGlueDirectory {
    ItGlueDirectory {
        organizations: org_ids
            .iter()
            .map(|id| ItGlueOrganizationRecord {
                id: *id,
                name: format!("Org {id}"),
                short_name: None,
            })
            .collect(),
        contacts: org_ids
            .iter()
            .map(|id| ItGlueContactRecord {
                id: id * 10,
                organization_id: *id,
                important: if id % 2 == 0 { Some(true) } else { None },
                emails: vec![format!("a@org{id}.example"), format!("b@org{id}.example")],
            })
            .collect(),
        configurations: org_ids
            .iter()
            .map(|id| ItGlueConfigurationRecord {
                id: id * 100,
                organization_id: *id,
                name: format!("CFG-{id}"),
                hostname: Some(format!("cfg-{id}")),
                macs: vec!["00:1A:2B:3C:4D:5E".into(), "00-1a-2b-3c-4d-5f".into()],
                archived: *id == 3,
            })
            .collect(),
    }
}

/// Pages staged by an import stay invisible until it commits; the commit replaces the directory
/// with everything staged under that import alone (not another import's pages, not a discarded
/// one's), forgets the staged pages, and removes pages an unfinished import left a day earlier.
pub async fn itglue_import_stages_pages(store: Arc<dyn Store>) {
    store
        .replace_itglue_directory("main", directory(&[1]), ImportScope::All, at(0))
        .await
        .expect("a directory to replace");
    // Organizations, contacts and configurations arrive in separate pages, in any order.
    let all = directory(&[2, 3, 4]);
    let pages = [
        ItGlueDirectory {
            organizations: all.organizations[..2].to_vec(),
            ..ItGlueDirectory::default()
        },
        ItGlueDirectory {
            organizations: all.organizations[2..].to_vec(),
            contacts: all.contacts.clone(),
            ..ItGlueDirectory::default()
        },
        ItGlueDirectory {
            configurations: all.configurations.clone(),
            ..ItGlueDirectory::default()
        },
    ];
    for page in pages {
        store
            .stage_itglue_page("main/a", page, at(10))
            .await
            .expect("stage a page");
    }
    // A record staged twice keeps its last version.
    let mut renamed = directory(&[4]);
    renamed.contacts.clear();
    renamed.configurations.clear();
    renamed.organizations[0].name = "Renamed".into();
    store
        .stage_itglue_page("main/a", renamed, at(10))
        .await
        .unwrap();
    // Another import, discarded, and one that never finishes.
    store
        .stage_itglue_page("main/b", directory(&[7]), at(10))
        .await
        .unwrap();
    store.discard_itglue_import("main/b").await.unwrap();
    store
        .stage_itglue_page("main/old", directory(&[8]), at(10))
        .await
        .unwrap();
    assert_eq!(
        store.itglue_directory("main").await.unwrap(),
        directory(&[1]),
        "staged pages are invisible before the commit"
    );

    store
        .commit_itglue_import("main", "main/a", ImportScope::All, at(20))
        .await
        .expect("commit the import");
    let mut expected = directory(&[2, 3, 4]);
    expected.organizations[2].name = "Renamed".into();
    assert_eq!(store.itglue_directory("main").await.unwrap(), expected);

    // What a commit staged is gone: committing the same import again empties the directory.
    store
        .commit_itglue_import("main", "main/a", ImportScope::All, at(21))
        .await
        .unwrap();
    assert_eq!(
        store.itglue_directory("main").await.unwrap(),
        ItGlueDirectory::default()
    );
    // The discarded import left nothing behind.
    store
        .commit_itglue_import("main", "main/b", ImportScope::All, at(22))
        .await
        .unwrap();
    assert_eq!(
        store.itglue_directory("main").await.unwrap(),
        ItGlueDirectory::default()
    );
    // The unfinished import's pages survive commits of the same day, not a commit a day later.
    store
        .commit_itglue_import("eu", "eu/a", ImportScope::All, at(10 + 86_399))
        .await
        .unwrap();
    store
        .commit_itglue_import("main", "main/old", ImportScope::All, at(10 + 86_400))
        .await
        .unwrap();
    assert_eq!(
        store.itglue_directory("main").await.unwrap(),
        directory(&[8]),
        "pages of an import are kept for a day"
    );
    store
        .stage_itglue_page("main/older", directory(&[5]), at(10 + 86_400))
        .await
        .unwrap();
    store
        .commit_itglue_import("eu", "eu/b", ImportScope::All, at(10 + 2 * 86_400 + 1))
        .await
        .unwrap();
    store
        .commit_itglue_import(
            "main",
            "main/older",
            ImportScope::All,
            at(10 + 2 * 86_400 + 2),
        )
        .await
        .unwrap();
    assert_eq!(
        store.itglue_directory("main").await.unwrap(),
        ItGlueDirectory::default(),
        "pages staged more than a day before a commit are removed by it"
    );

    // A scoped commit replaces only its organizations.
    store
        .replace_itglue_directory("main", directory(&[1, 2]), ImportScope::All, at(0))
        .await
        .unwrap();
    let mut two = directory(&[2]);
    two.organizations[0].name = "Two".into();
    two.configurations.clear();
    store
        .stage_itglue_page("main/c", two, at(30))
        .await
        .unwrap();
    store
        .commit_itglue_import(
            "main",
            "main/c",
            ImportScope::Organizations(vec![2]),
            at(30),
        )
        .await
        .unwrap();
    let read = store.itglue_directory("main").await.unwrap();
    assert_eq!(read.organizations[1].name, "Two");
    let configuration_orgs: Vec<i64> = read
        .configurations
        .iter()
        .map(|c| c.organization_id)
        .collect();
    assert_eq!(
        configuration_orgs,
        vec![1],
        "organization 2's configurations were replaced"
    );
}

/// A full import replaces the instance's directory; a scoped one only its organizations; other
/// instances are untouched.
pub async fn itglue_directory_import_scopes(store: Arc<dyn Store>) {
    store
        .replace_itglue_directory("main", directory(&[1, 2, 3]), ImportScope::All, at(0))
        .await
        .expect("import everything");
    store
        .replace_itglue_directory("eu", directory(&[9]), ImportScope::All, at(0))
        .await
        .expect("import another instance");
    let read = store.itglue_directory("main").await.unwrap();
    assert_eq!(
        read,
        directory(&[1, 2, 3]),
        "the directory reads back as stored"
    );

    // Re-import organization 2 only, now without contacts or configurations.
    let mut only_two = directory(&[2]);
    only_two.contacts.clear();
    only_two.configurations.clear();
    only_two.organizations[0].name = "Renamed".into();
    store
        .replace_itglue_directory("main", only_two, ImportScope::Organizations(vec![2]), at(5))
        .await
        .unwrap();
    let read = store.itglue_directory("main").await.unwrap();
    assert_eq!(read.organizations.len(), 3);
    assert_eq!(read.organizations[1].name, "Renamed");
    let contact_orgs: Vec<i64> = read.contacts.iter().map(|c| c.organization_id).collect();
    assert_eq!(
        contact_orgs,
        vec![1, 3],
        "organization 2's contacts were replaced"
    );

    store
        .replace_itglue_directory("main", directory(&[4]), ImportScope::All, at(9))
        .await
        .unwrap();
    assert_eq!(
        store.itglue_directory("main").await.unwrap(),
        directory(&[4])
    );
    assert_eq!(store.itglue_directory("eu").await.unwrap(), directory(&[9]));
}

fn mapping(subject: MappingSubject, target_id: i64, kind: MappingKind) -> Mapping {
    Mapping {
        instance: "main".into(),
        subject,
        target_id,
        kind,
        updated_at: at(1),
    }
}

/// Automatic mappings are replaced as a whole; manual ones survive and win.
pub async fn manual_mappings_survive_auto_replacement(store: Arc<dyn Store>) {
    let acme = MappingSubject::Client {
        client: "acme".into(),
    };
    let globex = MappingSubject::Client {
        client: "globex".into(),
    };
    let ws01 = MappingSubject::System {
        client: "acme".into(),
        system: "ws01".into(),
    };
    store
        .set_mapping(mapping(acme.clone(), 10, MappingKind::Manual))
        .await
        .unwrap();
    store
        .replace_auto_mappings(
            "main",
            &mut [
                mapping(acme.clone(), 99, MappingKind::Auto),
                mapping(globex.clone(), 20, MappingKind::Auto),
                mapping(ws01.clone(), 100, MappingKind::Auto),
            ]
            .into_iter(),
        )
        .await
        .unwrap();
    let listed = store.list_mappings(Some("main")).await.unwrap();
    let find = |subject: &MappingSubject| {
        listed
            .iter()
            .find(|m| &m.subject == subject)
            .map(|m| (m.target_id, m.kind))
    };
    assert_eq!(find(&acme), Some((10, MappingKind::Manual)), "manual kept");
    assert_eq!(find(&globex), Some((20, MappingKind::Auto)));
    assert_eq!(find(&ws01), Some((100, MappingKind::Auto)));

    // The next run no longer finds globex: its automatic mapping goes.
    store
        .replace_auto_mappings(
            "main",
            &mut [mapping(ws01.clone(), 100, MappingKind::Auto)].into_iter(),
        )
        .await
        .unwrap();
    let listed = store.list_mappings(Some("main")).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|m| m.subject != globex));

    // Remove map deletes either kind.
    assert!(store.remove_mapping("main", &acme).await.unwrap());
    assert!(store.remove_mapping("main", &ws01).await.unwrap());
    assert!(!store.remove_mapping("main", &ws01).await.unwrap());
    assert!(store.list_mappings(None).await.unwrap().is_empty());

    // A replacement holding a mapping that is not automatic writes nothing, not even the
    // automatic mappings before it.
    store
        .replace_auto_mappings(
            "main",
            &mut [mapping(ws01.clone(), 100, MappingKind::Auto)].into_iter(),
        )
        .await
        .unwrap();
    let refused = store
        .replace_auto_mappings(
            "main",
            &mut [
                mapping(globex, 20, MappingKind::Auto),
                mapping(acme, 1, MappingKind::Manual),
            ]
            .into_iter(),
        )
        .await;
    assert!(refused.is_err(), "a manual mapping is not an automatic one");
    let listed = store.list_mappings(None).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|m| (&m.subject, m.target_id))
            .collect::<Vec<_>>(),
        [(&ws01, 100)]
    );
}
