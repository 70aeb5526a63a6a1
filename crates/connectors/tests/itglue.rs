//! The IT Glue client against the IT Glue simulator over loopback: every operation, paging, the
//! request budget and 429s, every error body shape, and the API key never leaking.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use mspbridge_connectors::itglue::{
    describe_error_body, Filters, ItGlueBase, ItGlueClient, ItGlueError, ItGlueSettings,
    NewFlexibleAsset, RelatedItemOutcome, ReportContent, RequestBudget, ResourceKind, ResourceRef,
    RetryPolicy,
};
use mspbridge_connectors::ErrorClass;
use mspbridge_simulators::itglue::{
    spawn, ItGlueSeed, ItGlueSimConfig, ItGlueSimulator, Organization as SimOrganization, RateLimit,
};
use serde_json::{json, Map, Value};

const KEY: &str = "ITG.0123456789abcdef-client-test-key";
const FOREIGN_KEY: &str = "ITG.fedcba9876543210-other-region";

async fn start(config: ItGlueSimConfig) -> ItGlueSimulator {
    spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the IT Glue simulator starts")
}

async fn demo() -> ItGlueSimulator {
    start(ItGlueSimConfig::demo(KEY)).await
}

fn settings(sim: &ItGlueSimulator, key: &str) -> ItGlueSettings {
    let mut settings = ItGlueSettings::new(
        ItGlueBase::Url(sim.base_url().parse().unwrap()),
        key.to_string(),
    );
    settings.retry = RetryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
        rate_limit_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    settings
}

fn client(sim: &ItGlueSimulator) -> ItGlueClient {
    ItGlueClient::new(settings(sim, KEY)).unwrap()
}

fn client_with(sim: &ItGlueSimulator, tweak: impl FnOnce(&mut ItGlueSettings)) -> ItGlueClient {
    let mut settings = settings(sim, KEY);
    tweak(&mut settings);
    ItGlueClient::new(settings).unwrap()
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> i64) -> BTreeSet<i64> {
    items.iter().map(id).collect()
}

fn report(name: &str, html: &str) -> ReportContent {
    ReportContent {
        name: name.to_string(),
        generated_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        expires_on: Some(NaiveDate::from_ymd_opt(2027, 11, 2).unwrap()),
        file_name: "weekly-security-summary.html".to_string(),
        file: html.as_bytes().to_vec(),
    }
}

// ---------------------------------------------------------------------------------------------
// Directory: organizations, contacts, configurations
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Reports: flexible asset types, flexible assets, attachments, related items
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_report_type_is_created_once_then_found_by_name() {
    let sim = demo().await;
    let client = client(&sim);
    assert!(client
        .find_flexible_asset_type("mspbridge Reports")
        .await
        .unwrap()
        .is_none());

    let created = client
        .ensure_report_asset_type("mspbridge Reports")
        .await
        .unwrap();
    assert_eq!(created.report_name_key, "report-name");
    assert_eq!(created.generation_date_key, "report-generation-date");
    assert_eq!(created.report_file_key, "report-file");
    assert_eq!(created.expiry_date_key, "expiry-date");

    let again = client
        .ensure_report_asset_type("mspbridge Reports")
        .await
        .unwrap();
    assert_eq!(again, created);
    let creates = sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/flexible_asset_types")
        .count();
    assert_eq!(creates, 1);
    let stored = sim
        .flexible_asset_types()
        .into_iter()
        .find(|t| t.name == "mspbridge Reports")
        .unwrap();
    let kinds: Vec<(String, String)> = stored
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("Report Name".to_string(), "Text".to_string()),
            ("Report Generation Date".to_string(), "Date".to_string()),
            ("Report File".to_string(), "Upload".to_string()),
            ("Expiry Date".to_string(), "Date".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_type_of_the_same_name_without_report_fields_is_refused_clearly() {
    let sim = demo().await;
    let error = client(&sim)
        .ensure_report_asset_type("Email")
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Permanent);
    let text = error.to_string();
    assert!(text.contains("`Email`"), "{text}");
    assert!(text.contains("no field `Report File`"), "{text}");

    let email = client(&sim)
        .find_flexible_asset_type("Email")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(email.id, 900);
    assert_eq!(email.fields.len(), 2);
    assert_eq!(email.fields[1].name_key.as_deref(), Some("webmail-url"));
}

#[tokio::test]
async fn a_report_is_published_updated_attached_and_linked() {
    let sim = demo().await;
    let client = client(&sim);
    let report_type = client
        .ensure_report_asset_type("mspbridge Reports")
        .await
        .unwrap();

    let first = report(
        "Weekly Security Summary",
        "<html><body>week 44</body></html>",
    );
    let asset = client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: report_type.traits(&first),
        })
        .await
        .unwrap();
    assert_eq!(asset.organization_id, Some(10));
    assert_eq!(asset.name.as_deref(), Some("Weekly Security Summary"));
    assert_eq!(asset.traits["report-generation-date"], "2026-11-02");

    // An update resends every trait, the file included, and keeps it.
    let second = report("Weekly Security Summary (revised)", "<html>v2</html>");
    let updated = client
        .update_flexible_asset(asset.id, &report_type.traits(&second))
        .await
        .unwrap();
    assert_eq!(
        updated.name.as_deref(),
        Some("Weekly Security Summary (revised)")
    );
    let stored = sim
        .flexible_assets()
        .into_iter()
        .find(|a| a.id == asset.id)
        .unwrap();
    assert!(stored.traits.contains_key("report-file"), "{stored:?}");
    assert!(stored.traits.contains_key("expiry-date"));

    let attachment = client
        .upload_attachment(
            ResourceRef::flexible_asset(asset.id),
            "appendix.html",
            b"<html>appendix</html>",
        )
        .await
        .unwrap();
    assert_eq!(
        attachment.attachment_file_name.as_deref(),
        Some("appendix.html")
    );
    assert_eq!(attachment.attachment_file_size, Some(21));
    let saved = sim
        .attachments()
        .into_iter()
        .find(|a| a.id == attachment.id)
        .unwrap();
    assert_eq!(saved.content, b"<html>appendix</html>");

    let link = client
        .create_related_item(
            ResourceRef::flexible_asset(asset.id),
            ResourceRef::configuration(100),
            Some("covered by the weekly report"),
        )
        .await
        .unwrap();
    let RelatedItemOutcome::Created(item) = link else {
        panic!("expected a new related item, got {link:?}");
    };
    assert_eq!(item.destination_id, Some(100));

    let details = client.get_flexible_asset(asset.id).await.unwrap();
    assert_eq!(details.asset.id, asset.id);
    assert_eq!(
        ids(&details.attachments, |a| a.id),
        BTreeSet::from([attachment.id])
    );
    assert_eq!(details.related_items.len(), 1);
    assert_eq!(details.related_items[0].destination_id, Some(100));

    // Visible from the configuration's side too.
    let from_config = client
        .related_items(ResourceRef::configuration(100))
        .await
        .unwrap();
    assert!(from_config
        .iter()
        .any(|i| i.destination_id == Some(asset.id)));

    let listed = client
        .list_flexible_assets(report_type.type_id, Some(10), None)
        .await
        .unwrap();
    assert_eq!(ids(&listed, |a| a.id), BTreeSet::from([asset.id]));
    let by_name = client
        .list_flexible_assets(
            report_type.type_id,
            None,
            Some("Weekly Security Summary (revised)"),
        )
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1);
}

#[tokio::test]
async fn relating_the_same_pair_twice_is_already_linked_not_an_error() {
    let sim = demo().await;
    let client = client(&sim);
    let report_type = client.ensure_report_asset_type("Reports").await.unwrap();
    let asset = client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: report_type.traits(&report("Monthly", "<html/>")),
        })
        .await
        .unwrap();
    let source = ResourceRef::flexible_asset(asset.id);
    let destination = ResourceRef::configuration(110);

    let first = client
        .create_related_item(source, destination, None)
        .await
        .unwrap();
    assert!(matches!(first, RelatedItemOutcome::Created(_)), "{first:?}");
    let second = client
        .create_related_item(source, destination, None)
        .await
        .unwrap();
    assert_eq!(second, RelatedItemOutcome::AlreadyLinked);
    let duplicate_answer = sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/relationships/related_items"))
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(
        duplicate_answer,
        vec![201, 422],
        "the server did refuse the duplicate"
    );
    assert_eq!(sim.related_items().len(), 1);

    // A 422 for another reason stays an error.
    let error = client
        .create_related_item(source, ResourceRef::configuration(987_654), None)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(422), "{error}");
    assert_eq!(error.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn creates_accept_200_as_well_as_201() {
    let sim = start(ItGlueSimConfig {
        create_status: 200,
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    let report_type = client(&sim)
        .ensure_report_asset_type("Reports")
        .await
        .unwrap();
    assert_eq!(report_type.report_file_key, "report-file");
}

// ---------------------------------------------------------------------------------------------
// Connection test and authentication
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn test_connection_succeeds_with_a_good_key() {
    let sim = demo().await;
    let check = client(&sim).test_connection().await.unwrap();
    assert_eq!(check.organization_count, Some(7));
    assert_eq!(check.base_url, sim.base_url());
}

#[tokio::test]
async fn a_wrong_key_and_a_wrong_region_are_both_explained() {
    let sim = start(ItGlueSimConfig {
        foreign_region_keys: vec![FOREIGN_KEY.to_string()],
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    for key in ["ITG.not-a-key-of-this-account", FOREIGN_KEY] {
        let client = ItGlueClient::new(settings(&sim, key)).unwrap();
        let error = client.test_connection().await.unwrap_err();
        assert!(
            matches!(error, ItGlueError::Unauthorized { status: 403, .. }),
            "{error:?}"
        );
        assert_eq!(error.class(), ErrorClass::Permanent);
        let text = error.to_string();
        assert!(
            text.contains(sim.base_url()),
            "names where it connected: {text}"
        );
        assert!(text.contains("API key is wrong"), "{text}");
        assert!(text.contains("another region"), "{text}");
        assert!(!text.contains(key), "the key never appears: {text}");
    }
}

#[tokio::test]
async fn a_401_is_treated_as_an_authentication_problem_too() {
    let sim = start(ItGlueSimConfig {
        auth_failure_status: 401,
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    let client = ItGlueClient::new(settings(&sim, "ITG.wrong")).unwrap();
    let error = client.list_contacts(None).await.unwrap_err();
    assert!(
        matches!(error, ItGlueError::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
}

#[test]
fn the_region_is_named_when_a_region_was_configured() {
    use mspbridge_connectors::itglue::ItGlueRegion;
    let error = ItGlueError::from_status(
        403,
        "GET /organizations".to_string(),
        br#"{"errors":[{"status":403,"title":"Forbidden"}]}"#,
        None,
        &ItGlueBase::Region(ItGlueRegion::Au).describe(),
    );
    let text = error.to_string();
    assert!(
        text.contains("region AU (https://api.au.itglue.com)"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Error bodies
// ---------------------------------------------------------------------------------------------

#[test]
fn every_observed_error_body_reads_as_a_clear_message() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/itglue/errors_observed.json"
    );
    let observed: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let expected = [
        "Unprocessable Entity: Request contains invalid trait keys (at `data/attributes/traits`)",
        "Unprocessable Entity: can't be blank (at `/data/attributes/flexible-asset-traits.url`)",
        "Unprocessable Entity: must exist (at `/data/attributes/configuration-type`)",
        "Valid organization_id is required (at `data/attributes/organization_id`)",
        "Cannot index flexible assets without providing a flexible asset type ID filter",
        "bulk action not allowed for Flexible Asset using this route (at `data`)",
        "bulk action not allowed for Flexible Asset using this route (at `data`)",
        "Unauthorized: Unauthorized resource access (at `id`)",
    ];
    assert_eq!(observed.len(), expected.len());
    for (case, want) in observed.iter().zip(expected) {
        let body = serde_json::to_vec(&case["body"]).unwrap();
        assert_eq!(describe_error_body(&body), want, "{}", case["context"]);
        let status = u16::try_from(case["http_status"].as_u64().unwrap()).unwrap();
        let error = ItGlueError::from_status(
            status,
            "POST /flexible_assets".to_string(),
            &body,
            None,
            "explicit URL http://127.0.0.1",
        );
        assert_eq!(error.class(), ErrorClass::Permanent);
        assert!(error.to_string().contains(want), "{error}");
    }
}

#[tokio::test]
async fn validation_errors_from_the_server_carry_its_message() {
    let sim = demo().await;
    let client = client(&sim);
    let report_type = client.ensure_report_asset_type("Reports").await.unwrap();

    let mut unknown = report_type.traits(&report("R", "<html/>"));
    unknown.insert("no-such-field".to_string(), json!("x"));
    let error = client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: unknown,
        })
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(422));
    assert!(
        error
            .to_string()
            .contains("Request contains invalid trait keys"),
        "{error}"
    );

    let mut missing = Map::new();
    missing.insert("report-generation-date".to_string(), json!("2026-11-02"));
    let error = client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: missing,
        })
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("can't be blank"), "{text}");
    assert!(text.contains("report-name"), "{text}");
}

#[tokio::test]
async fn an_unknown_route_answers_html_and_says_so() {
    let sim = demo().await;
    let error = client(&sim)
        .related_items(ResourceRef {
            kind: ResourceKind::ChecklistTemplate,
            id: 1,
        })
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert!(error.to_string().contains("HTML page"), "{error}");
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_but_not_for_creates() {
    let sim = demo().await;
    let client = client(&sim);
    sim.faults().fail_next(503, 2);
    let organizations = client.list_organizations(&Filters::new()).await.unwrap();
    assert_eq!(organizations.len(), 7);
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 503, 200]);

    let report_type = client.ensure_report_asset_type("Reports").await.unwrap();
    sim.state().clear_requests();
    sim.faults().fail_next(502, 1);
    let error = client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: report_type.traits(&report("R", "<html/>")),
        })
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Retryable, "{error}");
    assert_eq!(
        sim.requests().len(),
        1,
        "an unknown-outcome create is left to the job runner"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut settings = ItGlueSettings::new(
        ItGlueBase::Url(format!("http://{address}").parse().unwrap()),
        KEY,
    );
    settings.retry = RetryPolicy::never();
    let error = ItGlueClient::new(settings)
        .unwrap()
        .test_connection()
        .await
        .unwrap_err();
    assert!(matches!(error, ItGlueError::Transport { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);
}

// ---------------------------------------------------------------------------------------------
// Rate limits and the request budget
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_429_is_waited_out_and_the_call_repeated() {
    let sim = demo().await;
    let client = client(&sim);
    sim.faults().rate_limit_next(1, None);
    sim.faults().rate_limit_next(1, Some(Duration::ZERO));
    let check = client.test_connection().await.unwrap();
    assert_eq!(check.organization_count, Some(7));
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 429, 200]);
}

#[tokio::test]
async fn a_429_is_retried_even_for_creates() {
    let sim = demo().await;
    let client = client(&sim);
    let report_type = client.ensure_report_asset_type("Reports").await.unwrap();
    sim.state().clear_requests();
    sim.faults().rate_limit_next(1, Some(Duration::ZERO));
    client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: report_type.traits(&report("R", "<html/>")),
        })
        .await
        .unwrap();
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 201]);
    assert_eq!(sim.flexible_assets().len(), 1);
}

#[tokio::test]
async fn reaching_the_server_limit_reports_the_delay_it_asked_for() {
    let sim = start(ItGlueSimConfig {
        rate_limit: RateLimit {
            requests: 2,
            window: Duration::from_secs(300),
            send_retry_after: true,
        },
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    let client = client_with(&sim, |s| s.retry = RetryPolicy::never());
    client.test_connection().await.unwrap();
    client.test_connection().await.unwrap();
    let error = client.test_connection().await.unwrap_err();
    let ErrorClass::RateLimited {
        retry_after: Some(delay),
    } = error.class()
    else {
        panic!("expected a rate limit with a delay, got {error:?}");
    };
    assert!(
        delay > Duration::from_secs(200) && delay <= Duration::from_secs(300),
        "{delay:?}"
    );
    assert!(error.to_string().contains("HTTP 429"), "{error}");
    assert_eq!(
        client.budget_remaining(),
        0,
        "the whole budget is held after a 429"
    );
}

#[tokio::test]
async fn the_client_budget_keeps_requests_under_the_server_limit() {
    // The server allows 2 requests per 200 ms; the client allows itself 2 per 500 ms, so it must
    // wait twice for six calls and never see a 429 (retries are off, so one would fail the test).
    let sim = start(ItGlueSimConfig {
        rate_limit: RateLimit {
            requests: 2,
            window: Duration::from_millis(200),
            send_retry_after: false,
        },
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    let client = client_with(&sim, |s| {
        s.retry = RetryPolicy::never();
        s.budget = RequestBudget {
            max_requests: 2,
            window: Duration::from_millis(500),
        };
    });
    let clone = client.clone();
    for round in 0..3 {
        client.test_connection().await.unwrap();
        clone.test_connection().await.unwrap();
        assert_eq!(
            client.budget_used(),
            2,
            "round {round}: clones share one budget"
        );
        assert_eq!(clone.budget_remaining(), 0);
    }
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200; 6]);
    assert_eq!(client.budget().max_requests, 2);
}

// ---------------------------------------------------------------------------------------------
// The key stays secret
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_api_key_never_reaches_logs_errors_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = demo().await;
    let client = client(&sim);
    let wrong = ItGlueClient::new(settings(&sim, "ITG.wrong-key-that-must-not-leak")).unwrap();

    let mut shown = Vec::new();
    client.list_organizations(&Filters::new()).await.unwrap();
    sim.faults().rate_limit_next(1, Some(Duration::ZERO));
    sim.faults().fail_next(500, 1);
    client.list_contacts(None).await.unwrap();
    let error = wrong.test_connection().await.unwrap_err();
    shown.push(error.to_string());
    shown.push(format!("{error:?}"));
    let missing = client.get_organization(424_242).await.unwrap_err();
    shown.push(format!("{missing} {missing:?}"));
    shown.push(format!("{client:?}"));
    shown.push(format!("{:?}", settings(&sim, KEY)));
    tracing::info!("end of capture");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("end of capture"), "the capture works");
    assert!(
        logs.contains("IT Glue"),
        "client events were captured: {logs}"
    );
    for secret in [KEY, "ITG.wrong-key-that-must-not-leak"] {
        assert!(!logs.contains(secret), "key in logs:\n{logs}");
        for text in &shown {
            assert!(!text.contains(secret), "key in output: {text}");
        }
    }
}
