//! The Auditor simulator over loopback HTTP, one documented behaviour per test.

use std::net::SocketAddr;

use chrono::{TimeZone, Utc};
use mspbridge_simulators::auditor::{
    demo_records, parse_seed, spawn, AuditorFault, AuditorSimConfig, AuditorSimTls,
    AuditorSimulator, SimMonitoringPlan, SimRecord, API_DATA_SOURCE,
};
use serde_json::{json, Value};

const USER: &str = r"ACME\svc-mspbridge";
const PASSWORD: &str = "s3cret-pass";
const API: &str = "/netwrix/api/v1/activity_records";

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn record(
    rid: &str,
    who: &str,
    action: &str,
    object_type: &str,
    source: &str,
    when: &str,
) -> SimRecord {
    let mut record = SimRecord::new(
        who,
        action,
        object_type,
        format!(r"\acme\Users\{rid}"),
        when,
        "DC01.acme.example",
    );
    record.rid = Some(rid.to_owned());
    record.data_source = Some(source.to_owned());
    record.monitoring_plan = Some(SimMonitoringPlan {
        name: "My Hybrid Cloud enterprise".to_owned(),
        id: None,
    });
    record.workstation = Some("WS-1".to_owned());
    record
}

/// Records chosen so that the documented search sample selects R1, R2 and R5.
fn search_sample_records() -> Vec<SimRecord> {
    vec![
        record(
            "R1",
            r"ACME\Administrator",
            "Added",
            "user",
            "Active Directory",
            "2016-06-01T00:00:00Z",
        ),
        record(
            "R2",
            r"ACME\jsmith",
            "Added",
            "user",
            "Active Directory",
            "2016-06-01T00:00:00Z",
        ),
        record(
            "R3",
            r"ACME\jsmith",
            "Added",
            "Group",
            "Active Directory",
            "2016-06-01T00:00:00Z",
        ),
        record(
            "R4",
            r"ACME\jsmith",
            "Modified",
            "user",
            "Active Directory",
            "2016-06-01T00:00:00Z",
        ),
        record(
            "R5",
            r"ACME\jsmith",
            "Removed",
            "Mailbox",
            "Exchange Online",
            "2016-12-31T23:00:00Z",
        ),
        record(
            "R6",
            r"ACME\jsmith",
            "Removed",
            "Mailbox",
            "SharePoint",
            "2016-06-01T00:00:00Z",
        ),
        record(
            "R7",
            r"ACME\jsmith",
            "Added",
            "user",
            "Active Directory",
            "2017-02-01T00:00:00Z",
        ),
    ]
}

async fn simulator(records: Vec<SimRecord>) -> AuditorSimulator {
    spawn(
        AuditorSimConfig::new(USER, PASSWORD).with_records(records),
        loopback(),
    )
    .await
    .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(
    sim: &AuditorSimulator,
    path_and_query: &str,
    body: impl Into<String>,
) -> reqwest::Response {
    http()
        .post(format!("{}{path_and_query}", sim.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .body(body.into())
        .send()
        .await
        .unwrap()
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "unexpected status");
    response.json().await.unwrap()
}

fn rids(page: &Value) -> Vec<String> {
    page["ActivityRecordList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["RID"].as_str().unwrap().to_owned())
        .collect()
}

async fn search_json(sim: &AuditorSimulator, filter_list: Value) -> Vec<String> {
    let body = json!({ "FilterList": filter_list }).to_string();
    rids(&json_of(post(sim, &format!("{API}/search?format=json"), body).await).await)
}

#[tokio::test]
async fn enum_pages_through_every_record_with_marks_until_an_empty_page() {
    let sim = simulator(search_sample_records()).await;
    let first = http()
        .get(format!("{}{API}/enum?count=3&format=json", sim.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(first.headers()["server"], "Microsoft-HTTPAPI/2.0");
    let mut page = json_of(first).await;
    let mut seen = rids(&page);
    let mut requests = 1;
    while let Some(mark) = page["ContinuationMark"].as_str().map(str::to_owned) {
        page = json_of(
            post(
                &sim,
                &format!("{API}/enum?format=json&count=3"),
                json!(mark).to_string(),
            )
            .await,
        )
        .await;
        seen.extend(rids(&page));
        requests += 1;
    }
    assert_eq!(seen, ["R1", "R2", "R3", "R4", "R5", "R6", "R7"]);
    assert_eq!(
        requests, 4,
        "3 + 3 + 1 records, then an empty page without a mark"
    );
    assert!(rids(&page).is_empty());
}

#[tokio::test]
async fn enum_defaults_to_xml_with_the_mark_first_and_accepts_an_xml_mark() {
    let sim = simulator(search_sample_records()).await;
    let response = http()
        .get(format!("{}{API}/enum?count=2", sim.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    let body = response.text().await.unwrap();
    assert!(body.contains(
        r#"<ActivityRecordList xmlns="http://schemas.netwrix.com/api/v1/activity_records/"><ContinuationMark>"#
    ), "{body}");
    assert_eq!(body.matches("<ActivityRecord>").count(), 2);
    let mark = body
        .split("<ContinuationMark>")
        .nth(1)
        .unwrap()
        .split("</ContinuationMark>")
        .next()
        .unwrap();
    let next = post(
        &sim,
        &format!("{API}/enum?count=2"),
        format!(r#"<ContinuationMark xmlns="http://schemas.netwrix.com/api/v1/activity_records/">{mark}</ContinuationMark>"#),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        next.contains("<RID>R3</RID>") && next.contains("<RID>R4</RID>"),
        "{next}"
    );
    assert!(!next.contains("<RID>R1</RID>"));
}

#[tokio::test]
async fn invalid_count_is_the_documented_input_error_in_both_formats() {
    let sim = simulator(Vec::new()).await;
    let json_response = http()
        .get(format!(
            "{}{API}/enum?format=json&count=FIVE",
            sim.base_url()
        ))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(json_response.status(), 400);
    let body: Value = json_response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "ErrorList": [ { "Category": "InputError", "Description": "Invalid count parameter specified. Error details: 0x80040204 Cannot convert the attribute data type" } ] })
    );
    let xml_response = post(
        &sim,
        &format!("{API}/search?count=0"),
        "<ActivityRecordSearch><FilterList/></ActivityRecordSearch>",
    )
    .await;
    assert_eq!(xml_response.status(), 400);
    let body = xml_response.text().await.unwrap();
    assert!(body.starts_with(r#"<ErrorList xmlns="http://schemas.netwrix.com/api/v1/"><Error><Category>InputError</Category><Description>Invalid count parameter specified."#), "{body}");
}

#[tokio::test]
async fn status_codes_without_bodies_match_auditor() {
    let mut config = AuditorSimConfig::new(USER, PASSWORD);
    config.max_body_bytes = 64;
    let sim = spawn(config, loopback()).await.unwrap();
    let base = sim.base_url();

    let no_auth = http()
        .get(format!("{base}{API}/enum"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);
    assert_eq!(no_auth.headers()["server"], "Microsoft-HTTPAPI/2.0");
    assert!(no_auth.text().await.unwrap().is_empty());
    let wrong_password = http()
        .get(format!("{base}{API}/enum"))
        .basic_auth(USER, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_password.status(), 401);

    let unknown = http()
        .get(format!("{base}/netwrix/api/v1/alerts"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.headers()["server"], "Microsoft-HTTPAPI/2.0");
    assert!(unknown.text().await.unwrap().is_empty());

    let wrong_method = http()
        .get(format!("{base}{API}/search"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["server"], "Microsoft-HTTPAPI/2.0");
    assert!(wrong_method.text().await.unwrap().is_empty());

    let too_large = post(&sim, &format!("{API}/?format=json"), "x".repeat(65)).await;
    assert_eq!(too_large.status(), 413);

    let corrupted = post(
        &sim,
        &format!("{API}/search?format=json"),
        r#"{"FilterList": {"#,
    )
    .await;
    assert_eq!(corrupted.status(), 500);
    assert!(corrupted.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn documented_json_search_sample_applies_every_operator_rule() {
    let sim = simulator(search_sample_records()).await;
    let sample: Value = json!({
        "Who": { "NotEqualTo": "Administrator" },
        "MonitoringPlan": "My Hybrid Cloud enterprise",
        "DataSource": [ "Active Directory", { "StartsWith": "Exchange" } ],
        "Action": [ "Added", "Removed" ],
        "ObjectType": { "DoesNotContain": "Group" },
        "When": { "From": "2016-01-16T16:30:00+11:00", "To": "2017-01-01T00:00:00Z" }
    });
    // R1's Who is not "Administrator" (NotEqualTo compares the whole value), so it stays.
    assert_eq!(search_json(&sim, sample).await, ["R1", "R2", "R5"]);
}

#[tokio::test]
async fn documented_xml_search_sample_gives_the_same_answer_as_json() {
    let sim = simulator(search_sample_records()).await;
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<ActivityRecordSearch xmlns="http://schemas.netwrix.com/api/v1/activity_records/">
    <FilterList>
        <Who Operator="NotEqualTo">Administrator</Who>
        <MonitoringPlan>My Hybrid Cloud enterprise</MonitoringPlan>
        <DataSource>Active Directory</DataSource>
        <DataSource Operator="StartsWith">Exchange</DataSource>
        <Action>Removed</Action>
        <Action>Added</Action>
        <ObjectType Operator="DoesNotContain">Group</ObjectType>
        <When>
            <From>2016-01-16T16:30:00+11:00</From>
            <To>2017-01-01T00:00:00Z</To>
        </When>
    </FilterList>
</ActivityRecordSearch>"#;
    let text = post(&sim, &format!("{API}/search"), body)
        .await
        .text()
        .await
        .unwrap();
    let found: Vec<&str> = text
        .split("<RID>")
        .skip(1)
        .map(|rest| rest.split("</RID>").next().unwrap())
        .collect();
    assert_eq!(found, ["R1", "R2", "R5"]);
}

#[tokio::test]
async fn repeated_positive_operators_or_and_negative_operators_and() {
    let sim = simulator(search_sample_records()).await;
    assert_eq!(
        search_json(
            &sim,
            json!({ "RID": [ { "Equals": "R1" }, { "Equals": "R4" } ] })
        )
        .await,
        ["R1", "R4"]
    );
    assert_eq!(
        search_json(
            &sim,
            json!({ "RID": [ { "NotEqualTo": "R1" }, { "NotEqualTo": "R4" } ] })
        )
        .await,
        ["R2", "R3", "R5", "R6", "R7"]
    );
    assert_eq!(
        search_json(
            &sim,
            json!({ "What": { "EndsWith": "r7" }, "Who": { "StartsWith": "acme\\JS" } })
        )
        .await,
        ["R7"]
    );
}

#[tokio::test]
async fn default_operators_are_contains_for_text_and_equals_for_action() {
    let sim = simulator(search_sample_records()).await;
    assert_eq!(search_json(&sim, json!({ "Who": "admin" })).await, ["R1"]);
    assert!(search_json(&sim, json!({ "Action": "Modif" }))
        .await
        .is_empty());
    assert_eq!(
        search_json(&sim, json!({ "Action": "modified" })).await,
        ["R4"]
    );
}

#[tokio::test]
async fn relative_when_periods_follow_the_injected_clock() {
    let now = Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0).unwrap();
    let records = vec![
        record("TODAY", "a", "Added", "user", "AD", "2024-05-10T01:00:00Z"),
        record(
            "YESTERDAY",
            "a",
            "Added",
            "user",
            "AD",
            "2024-05-09T23:59:59Z",
        ),
        record("WEEK", "a", "Added", "user", "AD", "2024-05-04T00:00:00Z"),
        record(
            "MONTH",
            "a",
            "Added",
            "user",
            "AD",
            "2024-04-15T00:00:00+02:00",
        ),
        record("OLD", "a", "Added", "user", "AD", "2023-01-01T00:00:00Z"),
    ];
    let sim = spawn(
        AuditorSimConfig::new(USER, PASSWORD)
            .with_records(records)
            .with_now(now),
        loopback(),
    )
    .await
    .unwrap();
    assert_eq!(
        search_json(&sim, json!({ "When": { "Today": "" } })).await,
        ["TODAY"]
    );
    assert_eq!(
        search_json(&sim, json!({ "When": { "Yesterday": "" } })).await,
        ["YESTERDAY"]
    );
    assert_eq!(
        search_json(&sim, json!({ "When": { "LastSevenDays": "" } })).await,
        ["TODAY", "YESTERDAY", "WEEK"]
    );
    assert_eq!(
        search_json(&sim, json!({ "When": { "LastThirtyDays": "" } })).await,
        ["TODAY", "YESTERDAY", "WEEK", "MONTH"]
    );
    let xml = post(&sim, &format!("{API}/search"), "<ActivityRecordSearch><FilterList><When><Today/></When></FilterList></ActivityRecordSearch>")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        xml.contains("<RID>TODAY</RID>") && !xml.contains("<RID>WEEK</RID>"),
        "{xml}"
    );
}

#[tokio::test]
async fn invalid_filters_are_input_errors_that_name_the_problem() {
    let sim = simulator(search_sample_records()).await;
    for (filters, expected) in [
        (
            json!({ "Action": { "Contains": "Add" } }),
            "not supported for Action",
        ),
        (json!({ "Colour": "red" }), "Unknown filter Colour"),
        (
            json!({ "Who": { "Resembles": "x" } }),
            "Unknown operator Resembles",
        ),
        (json!({ "RID": "x".repeat(50) }), "longer than 49"),
        (
            json!({ "When": { "From": "yesterday-ish" } }),
            "not a valid dateTime",
        ),
    ] {
        let response = post(
            &sim,
            &format!("{API}/search?format=json"),
            json!({ "FilterList": filters }).to_string(),
        )
        .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["ErrorList"][0]["Category"], "InputError");
        let description = body["ErrorList"][0]["Description"].as_str().unwrap();
        assert!(
            description.contains(expected),
            "{description} should contain {expected}"
        );
    }
}

#[tokio::test]
async fn search_marks_continue_only_with_the_same_filters() {
    let sim = simulator(search_sample_records()).await;
    let filters = json!({ "Who": "jsmith" });
    let first = json_of(
        post(
            &sim,
            &format!("{API}/search?format=json&count=2"),
            json!({ "FilterList": filters }).to_string(),
        )
        .await,
    )
    .await;
    assert_eq!(rids(&first), ["R2", "R3"]);
    let mark = first["ContinuationMark"].as_str().unwrap();

    let second = json_of(
        post(
            &sim,
            &format!("{API}/search?format=json&count=2"),
            json!({ "ContinuationMark": mark, "FilterList": filters }).to_string(),
        )
        .await,
    )
    .await;
    assert_eq!(rids(&second), ["R4", "R5"]);

    for (bad_mark, other_filters) in [
        (mark, json!({ "Who": "admin" })),
        ("bm90LWEtbWFyaw==", filters.clone()),
    ] {
        let response = post(
            &sim,
            &format!("{API}/search?format=json&count=2"),
            json!({ "ContinuationMark": bad_mark, "FilterList": other_filters }).to_string(),
        )
        .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(body["ErrorList"][0]["Description"]
            .as_str()
            .unwrap()
            .contains("continuation mark"));
    }
}

#[tokio::test]
async fn write_assigns_rids_forces_the_data_source_and_is_searchable() {
    let now = Utc.with_ymd_and_hms(2024, 2, 3, 4, 5, 6).unwrap();
    let sim = spawn(
        AuditorSimConfig::new(USER, PASSWORD).with_now(now),
        loopback(),
    )
    .await
    .unwrap();
    let input = json!([
        { "Who": "Admin", "ObjectType": "Stored Procedure", "Action": "Added",
          "MonitoringPlan": {"Name": "Integrations and custom sources"},
          "What": "Databases\\ReportServer\\Stored Procedures\\dbo.sp_New", "Where": "WKSWin12SQL",
          "When": "2017-02-19T03:43:49-11:00", "DataSource": "Made up", "RID": "ignored" }
    ]);
    let response = post(&sim, &format!("{API}/?format=json"), input.to_string()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert!(response.text().await.unwrap().is_empty());

    let stored = sim.records();
    assert_eq!(stored.len(), 1);
    let rid = stored[0].rid.clone().unwrap();
    assert_eq!(rid.len(), 49);
    assert!(rid.starts_with("20240203040506000"), "{rid}");
    assert!(rid[17..]
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    assert_eq!(stored[0].data_source.as_deref(), Some(API_DATA_SOURCE));
    let plan_id = stored[0]
        .monitoring_plan
        .as_ref()
        .unwrap()
        .id
        .clone()
        .unwrap();
    assert!(
        plan_id.starts_with('{') && plan_id.ends_with('}') && plan_id.len() == 38,
        "{plan_id}"
    );

    let page = json_of(
        post(
            &sim,
            &format!("{API}/search?format=json"),
            json!({ "FilterList": { "RID": { "Equals": rid } } }).to_string(),
        )
        .await,
    )
    .await;
    assert_eq!(page["ActivityRecordList"][0]["Where"], "WKSWin12SQL");
    assert_eq!(
        page["ActivityRecordList"][0]["When"],
        "2017-02-19T03:43:49-11:00"
    );
}

#[tokio::test]
async fn write_accepts_the_documented_xml_and_rejects_json_without_format_json() {
    let sim = simulator(Vec::new()).await;
    let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<ActivityRecordList xmlns="http://schemas.netwrix.com/api/v1/activity_records/">
    <ActivityRecord>
        <Action>Modified</Action><ObjectType>Mailbox</ObjectType><What>Shared Mailbox</What>
        <When>2017-02-10T14:46:00Z</When><Where>BLUPR05MB1940</Where><Who>admin@enterprise.onmicrosoft.com</Who>
        <DetailList><Detail><PropertyName>Custom_Attribute</PropertyName><Before>1</Before><After>2</After></Detail></DetailList>
    </ActivityRecord>
</ActivityRecordList>"#;
    assert_eq!(post(&sim, &format!("{API}/"), xml).await.status(), 200);
    let stored = sim.records();
    assert_eq!(
        stored[0].details.as_ref().unwrap()[0].after.as_deref(),
        Some("2")
    );

    let json_body = post(&sim, &format!("{API}/"), r#"[{"Who":"a"}]"#).await;
    assert_eq!(json_body.status(), 400);
    assert!(json_body
        .text()
        .await
        .unwrap()
        .contains("<Category>XMLError</Category>"));

    let missing = post(&sim, &format!("{API}/?format=json"), r#"[{"Who":"a","Action":"Added","ObjectType":"user","What":"w","When":"2017-02-10T14:46:00Z"}]"#).await;
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert!(
        body["ErrorList"][0]["Description"]
            .as_str()
            .unwrap()
            .contains("Where"),
        "{body}"
    );
    assert_eq!(sim.records().len(), 1, "a rejected write stores nothing");
}

#[tokio::test]
async fn faults_set_over_http_produce_auditor_failures_in_order() {
    let sim = simulator(search_sample_records()).await;
    let set = http()
        .post(format!("{}/__simulator/faults", sim.base_url()))
        .json(
            &json!({ "next": [ { "kind": "database_unavailable" }, { "kind": "service_busy" } ] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 204);
    let url = format!("{API}/search?format=json");
    let body = json!({ "FilterList": { "RID": { "Equals": "R1" } } }).to_string();

    let first = post(&sim, &url, body.clone()).await;
    assert_eq!(first.status(), 500);
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!({ "ErrorList": [ { "Category": "ServerError", "Description": "0x80040C0A SQL Server cannot be contacted" } ] })
    );
    let second = post(&sim, &url, body.clone()).await;
    assert_eq!(second.status(), 503);
    assert_eq!(
        rids(&json_of(post(&sim, &url, body.clone()).await).await),
        ["R1"]
    );

    sim.faults().set_always(Some(AuditorFault::ServiceBusy));
    assert_eq!(post(&sim, &url, body.clone()).await.status(), 503);
    sim.faults().clear();
    assert_eq!(post(&sim, &url, body).await.status(), 200);
}

#[tokio::test]
async fn requests_are_logged_with_their_bodies_and_auth_outcome() {
    let sim = simulator(Vec::new()).await;
    post(
        &sim,
        &format!("{API}/search?format=json"),
        r#"{"FilterList":{}}"#,
    )
    .await;
    http()
        .get(format!("{}{API}/enum", sim.base_url()))
        .send()
        .await
        .unwrap();
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].path, format!("{API}/search"));
    assert_eq!(log[0].query.as_deref(), Some("format=json"));
    assert_eq!(log[0].body, r#"{"FilterList":{}}"#);
    assert!(log[0].authorized);
    assert!(!log[1].authorized);
}

#[tokio::test]
async fn https_mode_serves_a_self_signed_certificate_it_reports() {
    let sim = spawn(
        AuditorSimConfig::new(USER, PASSWORD).with_tls(AuditorSimTls::self_signed_localhost()),
        loopback(),
    )
    .await
    .unwrap();
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let fingerprint = sim.certificate_sha256_hex().unwrap();
    assert_eq!(fingerprint.len(), 64);
    let strict = reqwest::Client::new()
        .get(format!("{}{API}/enum", sim.base_url()))
        .send()
        .await;
    assert!(
        strict.is_err(),
        "a self-signed certificate must not pass WebPKI verification"
    );
    let lenient = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .get(format!("{}{API}/enum?format=json", sim.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(lenient.status(), 200);
}

#[test]
fn demo_data_covers_three_client_domains_with_workstations() {
    let records = demo_records();
    assert!(records.len() >= 12);
    for domain in ["acme.example", "globex.example", "initech.example"] {
        assert!(
            records.iter().any(|record| record.where_.ends_with(domain)),
            "{domain}"
        );
    }
    assert!(records.iter().all(|record| record.workstation.is_some()
        && record.rid.as_ref().is_some_and(|rid| rid.len() == 49)));
    assert!(records.iter().any(|record| record.action == "Failed Logon"));
    assert!(records.iter().any(|record| record
        .details
        .iter()
        .flatten()
        .any(|detail| detail.message.as_deref() == Some("Password reset"))));
}

#[test]
fn seed_loader_names_the_bad_record() {
    let error = parse_seed(r#"[{"Who":"a","Action":"Added","ObjectType":"user","What":"w","When":"not a time","Where":"x"}]"#)
        .unwrap_err();
    assert!(
        error.contains("Activity record 1") && error.contains("When"),
        "{error}"
    );
    let path = std::path::Path::new("/nonexistent/auditor-seed.json");
    let error = AuditorSimConfig::load_seed_file(path)
        .unwrap_err()
        .to_string();
    assert!(error.contains("/nonexistent/auditor-seed.json"), "{error}");
}
