//! Reading organizations, contacts and configurations, with paging and exact filters.

use super::*;

#[tokio::test]
async fn organizations_are_read_across_several_pages() {
    let sim = demo().await;
    let client = client_with(&sim, |s| s.page_size = 2);
    let organizations = client.list_organizations(&Filters::new()).await.unwrap();

    assert_eq!(
        ids(&organizations, |o| o.id),
        ids(&sim.organizations(), |o| o.id)
    );
    assert_eq!(organizations.len(), 7, "no duplicates across pages");
    let pages: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/organizations")
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(pages.len(), 4, "7 organizations in pages of 2: {pages:?}");
    assert!(
        pages.iter().all(|q| q.contains("page%5Bsize%5D=2")),
        "{pages:?}"
    );
    assert!(pages[3].contains("page%5Bnumber%5D=4"), "{pages:?}");

    let msp = organizations.iter().find(|o| o.primary).unwrap();
    assert_eq!(msp.name, "Northwind MSP");
    let acme = organizations.iter().find(|o| o.id == 10).unwrap();
    assert_eq!(acme.parent_id, Some(1));
    assert_eq!(acme.short_name.as_deref(), Some("acme"));
}

#[tokio::test]
async fn default_page_size_is_one_thousand() {
    let sim = demo().await;
    client(&sim)
        .list_organizations(&Filters::new())
        .await
        .unwrap();
    let requests = sim.requests();
    assert_eq!(requests.len(), 1);
    let query = requests[0].query.clone().unwrap_or_default();
    assert!(query.contains("page%5Bsize%5D=1000"), "{query}");
}

#[tokio::test]
async fn organizations_are_found_by_exact_name_even_with_commas() {
    let mut seed = ItGlueSeed::demo();
    let kub: SimOrganization =
        serde_json::from_value(json!({"id": 70, "name": "Kub, Reynolds and Gibson"})).unwrap();
    let kub_alone: SimOrganization =
        serde_json::from_value(json!({"id": 71, "name": "Kub"})).unwrap();
    seed.organizations.push(kub);
    seed.organizations.push(kub_alone);
    let sim = start(ItGlueSimConfig {
        seed,
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    let client = client(&sim);

    let found = client
        .find_organizations_by_name("Kub, Reynolds and Gibson")
        .await
        .unwrap();
    assert_eq!(ids(&found, |o| o.id), BTreeSet::from([70]));

    let acme = client
        .find_organizations_by_name("Acme Corporation")
        .await
        .unwrap();
    assert_eq!(ids(&acme, |o| o.id), BTreeSet::from([10]));
    assert!(client
        .find_organizations_by_name("Acme")
        .await
        .unwrap()
        .is_empty());

    let several = client
        .list_organizations(&Filters::new().any_of("name", ["Globex", "Initech"]))
        .await
        .unwrap();
    assert_eq!(ids(&several, |o| o.id), BTreeSet::from([20, 30]));
}

#[tokio::test]
async fn an_organization_is_read_by_id_and_a_missing_one_is_a_permanent_404() {
    let sim = demo().await;
    let client = client(&sim);
    let globex = client.get_organization(20).await.unwrap();
    assert_eq!(globex.name, "Globex");

    let error = client.get_organization(999_999).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert!(error.to_string().contains("Record not found"), "{error}");
    assert!(
        error.to_string().contains("GET /organizations/999999"),
        "{error}"
    );
}

#[tokio::test]
async fn contacts_keep_the_important_tri_state_and_their_organization() {
    let sim = demo().await;
    let client = client_with(&sim, |s| s.page_size = 3);

    let acme = client.list_contacts(Some(10)).await.unwrap();
    let flags: Vec<(i64, Option<bool>)> = acme.iter().map(|c| (c.id, c.important)).collect();
    assert_eq!(
        flags.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([(11, Some(true)), (12, Some(false)), (13, None)])
    );
    let alice = acme.iter().find(|c| c.id == 11).unwrap();
    let addresses: Vec<&str> = alice
        .contact_emails
        .iter()
        .map(|e| e.value.as_str())
        .collect();
    assert_eq!(
        addresses,
        vec!["alice.anders@acme.example", "alice@home.example"]
    );

    let everyone = client.list_contacts(None).await.unwrap();
    assert_eq!(everyone.len(), 9);
    assert!(everyone.iter().all(|c| c.organization_id.is_some()));

    let important = client.list_important_contacts(None).await.unwrap();
    assert_eq!(
        ids(&important, |c| c.id),
        BTreeSet::from([11, 21, 31, 41, 51, 61])
    );
    let initech = client.list_important_contacts(Some(30)).await.unwrap();
    assert_eq!(ids(&initech, |c| c.id), BTreeSet::from([31]));
    assert_eq!(
        initech[0].contact_emails[0].domain().as_deref(),
        Some("initech.example")
    );
}

#[tokio::test]
async fn configurations_come_with_their_interfaces() {
    let sim = demo().await;
    let client = client_with(&sim, |s| s.page_size = 2);

    let acme = client
        .list_configurations_of_organization(10)
        .await
        .unwrap();
    assert_eq!(
        ids(&acme, |c| c.id),
        BTreeSet::from([100, 110, 120, 130, 140]),
        "archived configurations are included"
    );
    let dc = acme.iter().find(|c| c.id == 100).unwrap();
    assert_eq!(dc.mac_address.as_deref(), Some("00:1A:2B:3C:4D:5E"));
    assert_eq!(ids(&dc.interfaces, |i| i.id), BTreeSet::from([101, 102]));
    assert_eq!(
        dc.mac_addresses(),
        vec!["00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5f"]
    );
    let laptop = acme.iter().find(|c| c.id == 130).unwrap();
    assert_eq!(laptop.mac_address, None);
    assert_eq!(laptop.mac_addresses(), vec!["a4:5e:60:c1:d2:e3"]);
    assert!(acme.iter().find(|c| c.id == 140).unwrap().archived);

    let all = client.list_configurations(&Filters::new()).await.unwrap();
    assert_eq!(all.len(), sim.configurations().len());
    let active = client
        .list_configurations(&Filters::new().flag("archived", false))
        .await
        .unwrap();
    assert!(active.iter().all(|c| !c.archived));

    let interfaces = client.list_configuration_interfaces(100).await.unwrap();
    assert_eq!(ids(&interfaces, |i| i.id), BTreeSet::from([101, 102]));
    assert!(interfaces.iter().any(|i| i.primary));

    let one = client.get_configuration(130).await.unwrap();
    assert_eq!(ids(&one.interfaces, |i| i.id), BTreeSet::from([131]));
}
