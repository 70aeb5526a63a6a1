//! Auto-mapping rules of DESIGN §4.3–4.5, as tables of cases: domains of important contacts,
//! MAC normalisation, ambiguity, manual mappings and one system per configuration.

use mspbridge_core::itglue_map::*;

fn org(id: i64, name: &str) -> MapOrganization {
    MapOrganization {
        id,
        name: name.to_string(),
    }
}

fn contact(organization_id: i64, important: Option<bool>, emails: &[&str]) -> MapContact {
    MapContact {
        organization_id,
        important,
        emails: emails.iter().map(|e| e.to_string()).collect(),
    }
}

fn client(name: &str, email: Option<&str>) -> MapClient {
    MapClient {
        name: name.to_string(),
        email: email.map(str::to_string),
    }
}

fn configuration(id: i64, organization_id: i64, name: &str, macs: &[&str]) -> MapConfiguration {
    MapConfiguration {
        id,
        organization_id,
        name: name.to_string(),
        macs: macs.iter().map(|m| m.to_string()).collect(),
    }
}

fn system(client: &str, name: &str, macs: &[&str]) -> MapSystem {
    MapSystem {
        client: client.to_string(),
        name: name.to_string(),
        macs: macs.iter().map(|m| m.to_string()).collect(),
    }
}

struct World {
    organizations: Vec<MapOrganization>,
    contacts: Vec<MapContact>,
    configurations: Vec<MapConfiguration>,
}

fn world() -> World {
    World {
        organizations: vec![
            org(10, "Acme Corporation"),
            org(20, "Globex"),
            org(40, "Umbrella Corp"),
            org(50, "Umbrella Holdings"),
            org(60, "Initech"),
        ],
        contacts: vec![
            contact(
                10,
                Some(true),
                &["alice@home.example", "Alice@ACME.example "],
            ),
            contact(10, Some(false), &["bob@acme-partners.example"]),
            contact(10, None, &["carol@nulls.example"]),
            contact(20, Some(true), &["hank@globex.example"]),
            contact(40, Some(true), &["wesker@umbrella.example"]),
            contact(50, Some(true), &["oswell@UMBRELLA.example"]),
            contact(60, Some(true), &["peter@initech.example"]),
        ],
        configurations: vec![
            configuration(
                100,
                10,
                "ACME-DC01",
                &["00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5f"],
            ),
            configuration(110, 10, "ACME-WS01", &["001A2B3C4D60"]),
            configuration(130, 10, "ACME-LAPTOP03", &["a4:5e:60:c1:d2:e3"]),
            configuration(150, 20, "GLOBEX-SRV01", &["3c:52:82:aa:bb:cc"]),
            configuration(155, 20, "GLOBEX-PLACEHOLDER", &["00-00-00-00-00-00"]),
            configuration(160, 60, "INITECH-WS01", &["3C52.82AA.BBDD"]),
            configuration(170, 60, "INITECH-WS02", &["00:0c:29:11:22:33"]),
            configuration(175, 60, "INITECH-WS02-CLONE", &["00-0C-29-11-22-33"]),
        ],
    }
}

fn run(
    world: &World,
    clients: &[MapClient],
    systems: &[MapSystem],
    existing: &ExistingMappings,
) -> AutomapResult {
    automap(AutomapInput {
        clients,
        organizations: &world.organizations,
        contacts: &world.contacts,
        configurations: &world.configurations,
        systems,
        existing,
    })
}

fn client_outcome(result: &AutomapResult, name: &str) -> ClientOutcome {
    result
        .clients
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, o)| o.clone())
        .unwrap_or_else(|| panic!("no outcome for client {name}"))
}

fn system_outcome(result: &AutomapResult, client: &str, name: &str) -> SystemOutcome {
    result
        .systems
        .iter()
        .find(|((c, n), _)| c == client && n == name)
        .map(|(_, o)| o.clone())
        .unwrap_or_else(|| panic!("no outcome for system {client}/{name}"))
}

#[test]
fn mac_normalisation_table() {
    let cases: &[(&str, Option<&str>)] = &[
        ("00:1A:2B:3C:4D:5E", Some("001a2b3c4d5e")),
        ("00-1a-2b-3c-4d-5e", Some("001a2b3c4d5e")),
        ("001A2B3C4D5E", Some("001a2b3c4d5e")),
        ("001a.2b3c.4d5e", Some("001a2b3c4d5e")),
        ("3C52.82AA.BBDD", Some("3c5282aabbdd")),
        (" 00:1a-2B.3c4D5e ", Some("001a2b3c4d5e")),
        ("00-00-00-00-00-00", None),
        ("FF:FF:FF:FF:FF:FF", None),
        ("18-5E-0F-ED-99-9J", None),
        ("00:1A:2B:3C:4D", None),
        ("00:1A:2B:3C:4D:5E:6F", None),
        ("", None),
        ("not a mac", None),
    ];
    for (text, expected) in cases {
        assert_eq!(
            normalize_mac(text).as_deref(),
            *expected,
            "normalising {text:?}"
        );
    }
}

#[test]
fn client_mapping_table() {
    let world = world();
    let cases: Vec<(MapClient, ClientOutcome)> = vec![
        // The important contact's second address, in mixed case, matches.
        (
            client("Acme", Some("it@acme.example")),
            ClientOutcome::Mapped {
                organization_id: 10,
            },
        ),
        // Several e-mails per contact: the first one matches too.
        (
            client("AcmeHome", Some("x@HOME.example")),
            ClientOutcome::Mapped {
                organization_id: 10,
            },
        ),
        (
            client("Globex", Some("ops@globex.example")),
            ClientOutcome::Mapped {
                organization_id: 20,
            },
        ),
        // important == false does not count.
        (
            client("Partners", Some("p@acme-partners.example")),
            ClientOutcome::Failed(ClientFailure::NoOrganization {
                domain: "acme-partners.example".into(),
            }),
        ),
        // important == null does not count.
        (
            client("Nulls", Some("n@nulls.example")),
            ClientOutcome::Failed(ClientFailure::NoOrganization {
                domain: "nulls.example".into(),
            }),
        ),
        // A domain shared by two organizations.
        (
            client("Umbrella", Some("security@umbrella.example")),
            ClientOutcome::Failed(ClientFailure::AmbiguousDomain {
                domain: "umbrella.example".into(),
                organizations: vec![org(40, "Umbrella Corp"), org(50, "Umbrella Holdings")],
            }),
        ),
        (
            client("NoMail", None),
            ClientOutcome::Failed(ClientFailure::NoEmail),
        ),
        (
            client("BadMail", Some("no-at-sign")),
            ClientOutcome::Failed(ClientFailure::NoEmail),
        ),
    ];
    let clients: Vec<MapClient> = cases.iter().map(|(c, _)| c.clone()).collect();
    let result = run(&world, &clients, &[], &ExistingMappings::default());
    for (client, expected) in &cases {
        assert_eq!(
            &client_outcome(&result, &client.name),
            expected,
            "client {}",
            client.name
        );
    }
    // Several clients may map to one organization.
    let to_acme = result
        .auto_client_mappings()
        .filter(|(_, org)| *org == 10)
        .count();
    assert_eq!(to_acme, 2);
}

#[test]
fn failure_reasons_name_the_problem() {
    let ambiguous = ClientFailure::AmbiguousDomain {
        domain: "umbrella.example".into(),
        organizations: vec![org(40, "Umbrella Corp"), org(50, "Umbrella Holdings")],
    };
    let text = ambiguous.to_string();
    assert!(text.contains("Umbrella Corp (id 40)") && text.contains("Umbrella Holdings (id 50)"));
    assert_eq!(
        ClientFailure::NoOrganization {
            domain: "x.example".into()
        }
        .to_string(),
        "no organization has an important contact with domain x.example"
    );
    assert!(SystemFailure::NoMac.to_string().starts_with("no MAC"));
}

fn mapped_clients() -> Vec<MapClient> {
    vec![
        client("Acme", Some("it@acme.example")),
        client("Globex", Some("it@globex.example")),
        client("Initech", Some("it@initech.example")),
        client("Umbrella", Some("it@umbrella.example")),
    ]
}

#[test]
fn system_mapping_table() {
    let world = world();
    let systems = vec![
        // Upper-case with colons, matching the primary interface.
        system("Acme", "dc01", &["00:1A:2B:3C:4D:5E"]),
        // An interface-only MAC (the iLO of ACME-DC01) with another system wanting it: taken.
        system("Acme", "dc01-ilo", &["00.1a.2b.3c.4d.5f"]),
        // Mixed separators.
        system("Acme", "ws01", &["00-1a-2b:3c.4d-60"]),
        system("Acme", "no-mac", &[]),
        system("Acme", "garbage-mac", &["zz:zz", "00:00:00:00:00:00"]),
        system("Acme", "unknown", &["aa:bb:cc:dd:ee:ff"]),
        // Globex's MAC exists only inside Globex: not found from Acme.
        system("Acme", "foreign", &["3c:52:82:aa:bb:cc"]),
        // Cisco-dotted configuration MAC.
        system("Initech", "ws01", &["3c-52-82-aa-bb-dd"]),
        // A MAC on two configurations.
        system("Initech", "ws02", &["00:0C:29:11:22:33"]),
        // The client is not mapped (ambiguous domain): nothing to look in.
        system("Umbrella", "umb", &["00:50:56:00:00:01"]),
    ];
    let result = run(
        &world,
        &mapped_clients(),
        &systems,
        &ExistingMappings::default(),
    );
    let cases: Vec<(&str, &str, SystemOutcome)> = vec![
        (
            "Acme",
            "dc01",
            SystemOutcome::Mapped {
                configuration_id: 100,
            },
        ),
        (
            "Acme",
            "dc01-ilo",
            SystemOutcome::Failed(SystemFailure::ConfigurationTaken {
                configuration_id: 100,
                configuration_name: "ACME-DC01".into(),
                taken_by: "Acme/dc01".into(),
            }),
        ),
        (
            "Acme",
            "ws01",
            SystemOutcome::Mapped {
                configuration_id: 110,
            },
        ),
        (
            "Acme",
            "no-mac",
            SystemOutcome::Failed(SystemFailure::NoMac),
        ),
        (
            "Acme",
            "garbage-mac",
            SystemOutcome::Failed(SystemFailure::NoMac),
        ),
        (
            "Acme",
            "unknown",
            SystemOutcome::Failed(SystemFailure::NoConfiguration {
                organization_id: 10,
                macs: vec!["aabbccddeeff".into()],
            }),
        ),
        (
            "Acme",
            "foreign",
            SystemOutcome::Failed(SystemFailure::NoConfiguration {
                organization_id: 10,
                macs: vec!["3c5282aabbcc".into()],
            }),
        ),
        (
            "Initech",
            "ws01",
            SystemOutcome::Mapped {
                configuration_id: 160,
            },
        ),
        (
            "Initech",
            "ws02",
            SystemOutcome::Failed(SystemFailure::SeveralConfigurations {
                macs: vec!["000c29112233".into()],
                configurations: vec![
                    (170, "INITECH-WS02".into()),
                    (175, "INITECH-WS02-CLONE".into()),
                ],
            }),
        ),
        ("Umbrella", "umb", SystemOutcome::ClientNotMapped),
    ];
    for (client, name, expected) in cases {
        assert_eq!(
            system_outcome(&result, client, name),
            expected,
            "system {client}/{name}"
        );
    }
    assert_eq!(result.systems.len(), systems.len());
}

#[test]
fn an_interface_only_mac_maps_when_nobody_else_wants_the_configuration() {
    let world = world();
    let systems = vec![system("Acme", "dc01-ilo", &["00-1A-2B-3C-4D-5F"])];
    let result = run(
        &world,
        &mapped_clients(),
        &systems,
        &ExistingMappings::default(),
    );
    assert_eq!(
        system_outcome(&result, "Acme", "dc01-ilo"),
        SystemOutcome::Mapped {
            configuration_id: 100
        }
    );
}

#[test]
fn manual_mappings_survive_an_automap_run_and_hold_their_configuration() {
    let world = world();
    let mut existing = ExistingMappings::default();
    // A manual client mapping that auto-mapping would resolve differently.
    existing.clients.insert("Umbrella".into(), (50, true));
    // A manual system mapping to a configuration another system matches by MAC.
    existing
        .systems
        .insert(("Acme".into(), "legacy".into()), (110, true));
    let systems = vec![
        system("Acme", "legacy", &[]),
        system("Acme", "ws01", &["00:1a:2b:3c:4d:60"]),
        system("Umbrella", "umb", &["00:50:56:00:00:01"]),
    ];
    let result = run(&world, &mapped_clients(), &systems, &existing);
    assert_eq!(
        client_outcome(&result, "Umbrella"),
        ClientOutcome::Manual {
            organization_id: 50
        }
    );
    assert_eq!(
        system_outcome(&result, "Acme", "legacy"),
        SystemOutcome::Manual {
            configuration_id: 110
        }
    );
    assert!(matches!(
        system_outcome(&result, "Acme", "ws01"),
        SystemOutcome::Failed(SystemFailure::ConfigurationTaken { configuration_id: 110, ref taken_by, .. })
            if taken_by == "Acme/legacy"
    ));
    // Systems of a manually mapped client are searched in that organization (50 has no
    // configurations here).
    assert!(matches!(
        system_outcome(&result, "Umbrella", "umb"),
        SystemOutcome::Failed(SystemFailure::NoConfiguration {
            organization_id: 50,
            ..
        })
    ));
    // Nothing manual is in the automatic set to store.
    assert!(result.auto_client_mappings().all(|(c, _)| c != "Umbrella"));
    assert!(result.auto_system_mappings().all(|(_, s, _)| s != "legacy"));
}

#[test]
fn a_removed_mapping_is_decided_again_from_scratch() {
    let world = world();
    let mut existing = ExistingMappings::default();
    existing.clients.insert("Acme".into(), (20, true));
    let with_manual = run(&world, &mapped_clients(), &[], &existing);
    assert_eq!(
        client_outcome(&with_manual, "Acme"),
        ClientOutcome::Manual {
            organization_id: 20
        }
    );
    existing.clients.remove("Acme");
    let after_removal = run(&world, &mapped_clients(), &[], &existing);
    assert_eq!(
        client_outcome(&after_removal, "Acme"),
        ClientOutcome::Mapped {
            organization_id: 10
        }
    );
}

#[test]
fn one_configuration_wanted_by_two_systems_goes_to_its_current_holder() {
    let world = world();
    let systems = vec![
        system("Globex", "a-new", &["3C:52:82:AA:BB:CC"]),
        system("Globex", "b-old", &["3c5282aabbcc"]),
    ];
    // Without history, name order decides.
    let fresh = run(
        &world,
        &mapped_clients(),
        &systems,
        &ExistingMappings::default(),
    );
    assert_eq!(
        system_outcome(&fresh, "Globex", "a-new"),
        SystemOutcome::Mapped {
            configuration_id: 150
        }
    );
    assert!(matches!(
        system_outcome(&fresh, "Globex", "b-old"),
        SystemOutcome::Failed(SystemFailure::ConfigurationTaken { .. })
    ));
    // A system already holding it automatically keeps it.
    let mut existing = ExistingMappings::default();
    existing
        .systems
        .insert(("Globex".into(), "b-old".into()), (150, false));
    let again = run(&world, &mapped_clients(), &systems, &existing);
    assert_eq!(
        system_outcome(&again, "Globex", "b-old"),
        SystemOutcome::Mapped {
            configuration_id: 150
        }
    );
    let reason = match system_outcome(&again, "Globex", "a-new") {
        SystemOutcome::Failed(failure) => failure.to_string(),
        other => panic!("a-new should fail, got {other:?}"),
    };
    assert!(
        reason.contains("already mapped to system Globex/b-old"),
        "{reason}"
    );
}
