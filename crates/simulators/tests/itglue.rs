//! Behaviour of the IT Glue simulator over real HTTP on loopback, one test per F-behaviour of the
//! IT Glue notes (F1–F27), plus seeding and fault injection.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use mspbridge_simulators::itglue::{
    self, FaultKind, FaultRule, ItGlueSeed, ItGlueSimConfig, ItGlueSimulator, ManualClock,
    RateLimit, TraitValue,
};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};

const KEY: &str = "ITG.test0123456789abcdef";
const JSONAPI: &str = "application/vnd.api+json";

struct Sim {
    sim: ItGlueSimulator,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text))
    }
}

async fn start() -> Sim {
    start_with(|_| {}).await
}

async fn start_with(adjust: impl FnOnce(&mut ItGlueSimConfig)) -> Sim {
    let mut config = ItGlueSimConfig::demo(KEY);
    adjust(&mut config);
    let sim = itglue::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    Sim {
        sim,
        http: reqwest::Client::new(),
    }
}

impl Sim {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.base_url(), path)
    }

    async fn raw(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request reaches the simulator");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        Reply {
            status,
            content_type,
            headers,
            text,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.raw(self.http.get(self.url(path)).header("x-api-key", KEY))
            .await
    }

    async fn send(&self, method: Method, path: &str, body: &Value) -> Reply {
        self.raw(
            self.http
                .request(method, self.url(path))
                .header("x-api-key", KEY)
                .header(CONTENT_TYPE, JSONAPI)
                .body(body.to_string()),
        )
        .await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, body).await
    }

    async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, body).await
    }

    /// POST /flexible_assets with the given attributes.
    async fn post_asset(&self, attrs: Value) -> Reply {
        let body = json!({"data": {"type": "flexible_assets", "attributes": attrs}});
        self.post("/flexible_assets", &body).await
    }

    /// Creates the product's report type and returns its id.
    async fn create_report_type(&self) -> i64 {
        let reply = self
            .post(
                "/flexible_asset_types",
                &report_type_body("Security Report"),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        id_of(&reply.json()["data"])
    }

    /// Creates a report asset in Acme and returns its id.
    async fn create_report(&self, type_id: i64, name: &str, file: &[u8]) -> i64 {
        let reply = self
            .post(
                "/flexible_assets",
                &json!({"data": {"type": "flexible-assets", "attributes": {
                "organization-id": 10, "flexible-asset-type-id": type_id,
                "traits": {
                    "report-name": name,
                    "report-generation-date": "2026-11-20",
                    "report-file": {"content": b64(file), "file_name": "report.html"},
                    "expiry-date": "2027-11-20"
                }}}}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        id_of(&reply.json()["data"])
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn id_of(resource: &Value) -> i64 {
    resource["id"]
        .as_str()
        .expect("id is a string")
        .parse()
        .unwrap()
}

fn names(doc: &Value) -> Vec<String> {
    doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["attributes"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn report_type_body(name: &str) -> Value {
    json!({"data": {"type": "flexible_asset_types",
    "attributes": {"name": name, "description": "Published by mspbridge", "icon": "file", "show-in-menu": true},
    "relationships": {"flexible-asset-fields": {"data": [
        {"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "Report Name", "kind": "Text", "required": true, "show-in-list": true, "use-for-title": true}},
        {"type": "flexible_asset_fields", "attributes": {"order": 2, "name": "Report Generation Date", "kind": "Date", "required": true, "show-in-list": true}},
        {"type": "flexible_asset_fields", "attributes": {"order": 3, "name": "Report File", "kind": "Upload", "required": false, "show-in-list": false}},
        {"type": "flexible_asset_fields", "attributes": {"order": 4, "name": "Expiry Date", "kind": "Date", "required": false, "show-in-list": true, "expiration": true}}
    ]}}}})
}

fn error_titles(doc: &Value) -> Vec<String> {
    doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------- transport / auth

#[tokio::test]
async fn f01_routes_have_no_prefix_and_unknown_paths_answer_html_404() {
    let sim = start().await;
    let ok = sim.get("/organizations").await;
    assert_eq!(ok.status, 200);

    for path in [
        "/api/organizations",
        "/nonsense",
        "/organizations/10/relationships/tickets_of_doom",
    ] {
        let reply = sim.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(
            reply.content_type.starts_with("text/html"),
            "{path}: {}",
            reply.content_type
        );
        assert!(reply
            .text
            .contains("The page you were looking for doesn't exist"));
    }
}

#[tokio::test]
async fn f02_missing_or_unknown_key_is_forbidden() {
    let sim = start().await;
    for request in [
        sim.http.get(sim.url("/organizations")),
        sim.http
            .get(sim.url("/organizations"))
            .header("x-api-key", "ITG.wrong"),
    ] {
        let reply = sim.raw(request).await;
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.json(),
            json!({"errors": [{"status": 403, "title": "Forbidden"}]})
        );
    }
}

#[tokio::test]
async fn f02_auth_failure_can_be_401_but_a_wrong_region_key_is_always_403() {
    let sim = start_with(|c| {
        c.auth_failure_status = 401;
        c.region = "eu".into();
        c.foreign_region_keys = vec!["ITG.us-account-key".into()];
    })
    .await;
    let unknown = sim
        .raw(
            sim.http
                .get(sim.url("/organizations"))
                .header("x-api-key", "ITG.nobody"),
        )
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["errors"][0]["title"], "Unauthorized");

    let wrong_region = sim
        .raw(
            sim.http
                .get(sim.url("/organizations"))
                .header("x-api-key", "ITG.us-account-key"),
        )
        .await;
    assert_eq!(wrong_region.status, 403);
}

#[tokio::test]
async fn f02_a_key_from_another_regions_simulator_is_forbidden() {
    let us = start().await;
    let eu = start_with(|c| {
        c.region = "eu".into();
        c.api_keys = vec!["ITG.eu-only".into()];
    })
    .await;
    let reply = eu
        .raw(
            eu.http
                .get(eu.url("/organizations"))
                .header("x-api-key", KEY),
        )
        .await;
    assert_eq!(reply.status, 403);
    let reply = us
        .raw(
            us.http
                .get(us.url("/organizations"))
                .header("x-api-key", "ITG.eu-only"),
        )
        .await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn f03_writes_need_the_jsonapi_media_type() {
    let sim = start().await;
    let body = report_type_body("Media Type Check").to_string();
    for content_type in ["application/json", "text/plain"] {
        let reply = sim
            .raw(
                sim.http
                    .post(sim.url("/flexible_asset_types"))
                    .header("x-api-key", KEY)
                    .header(CONTENT_TYPE, content_type)
                    .body(body.clone()),
            )
            .await;
        assert_eq!(reply.status, 415, "{content_type}");
        assert_eq!(reply.json()["errors"][0]["status"], 415);
    }
    let missing = sim
        .raw(
            sim.http
                .post(sim.url("/flexible_asset_types"))
                .header("x-api-key", KEY)
                .body(body.clone()),
        )
        .await;
    assert_eq!(missing.status, 415);

    let with_charset = sim
        .raw(
            sim.http
                .post(sim.url("/flexible_asset_types"))
                .header("x-api-key", KEY)
                .header(CONTENT_TYPE, "application/vnd.api+json; charset=utf-8")
                .body(body),
        )
        .await;
    assert_eq!(with_charset.status, 201, "{}", with_charset.text);
    assert_eq!(
        with_charset.content_type,
        "application/vnd.api+json; charset=utf-8"
    );

    // GET ignores Content-Type entirely.
    let get = sim
        .raw(
            sim.http
                .get(sim.url("/organizations"))
                .header("x-api-key", KEY)
                .header(CONTENT_TYPE, "text/plain"),
        )
        .await;
    assert_eq!(get.status, 200);
    assert_eq!(get.content_type, "application/vnd.api+json; charset=utf-8");
}

#[tokio::test]
async fn f04_rate_limit_is_per_key_over_a_rolling_window() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    let sim = start_with(|c| {
        c.api_keys.push("ITG.second-key".into());
        c.rate_limit = RateLimit {
            requests: 3,
            window: Duration::from_secs(60),
            send_retry_after: false,
        };
        c.clock = Arc::new(clock.clone());
    })
    .await;
    for _ in 0..2 {
        assert_eq!(sim.get("/organizations").await.status, 200);
    }
    clock.advance(Duration::from_secs(30));
    assert_eq!(sim.get("/organizations").await.status, 200);
    let throttled = sim.get("/organizations").await;
    assert_eq!(throttled.status, 429);
    assert_eq!(
        throttled.json(),
        json!({"errors": [{"status": 429, "title": "Too Many Requests"}]})
    );
    assert!(throttled.headers.get("retry-after").is_none());

    let other = sim
        .raw(
            sim.http
                .get(sim.url("/organizations"))
                .header("x-api-key", "ITG.second-key"),
        )
        .await;
    assert_eq!(other.status, 200, "another key has its own budget");

    // The first two requests leave the window 60 s after they were made; the third stays inside.
    clock.advance(Duration::from_secs(30));
    assert_eq!(sim.get("/organizations").await.status, 200);
    assert_eq!(sim.get("/organizations").await.status, 200);
    assert_eq!(sim.get("/organizations").await.status, 429);
}

#[tokio::test]
async fn f04_throttle_can_send_retry_after_and_429s_can_be_injected() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    let sim = start_with(|c| {
        c.rate_limit = RateLimit {
            requests: 1,
            window: Duration::from_secs(300),
            send_retry_after: true,
        };
        c.clock = Arc::new(clock.clone());
    })
    .await;
    assert_eq!(sim.get("/organizations").await.status, 200);
    clock.advance(Duration::from_secs(100));
    let throttled = sim.get("/organizations").await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.headers["retry-after"], "200");

    clock.advance(Duration::from_secs(200));
    sim.sim.faults().rate_limit_next(2, None);
    assert_eq!(sim.get("/organizations").await.status, 429);
    assert_eq!(sim.get("/organizations").await.status, 429);
    assert_eq!(sim.get("/organizations").await.status, 200);
}

// ---------------------------------------------------------------- document shape

#[tokio::test]
async fn f05_documents_have_string_ids_kebab_attributes_and_millisecond_timestamps() {
    let sim = start().await;
    let doc = sim.get("/configurations/110").await.json();
    let data = &doc["data"];
    assert_eq!(data["id"], "110");
    assert_eq!(data["type"], "configurations");
    let attrs = data["attributes"].as_object().unwrap();
    for key in [
        "organization-id",
        "organization-name",
        "resource-url",
        "name",
        "hostname",
        "primary-ip",
        "mac-address",
        "serial-number",
        "asset-tag",
        "notes",
        "warranty-expires-at",
        "created-at",
        "updated-at",
        "configuration-type-id",
        "configuration-type-name",
        "configuration-type-kind",
        "configuration-status-name",
        "location-id",
        "archived",
    ] {
        assert!(attrs.contains_key(key), "missing {key}");
    }
    assert!(
        attrs.keys().all(|k| !k.contains('_')),
        "snake_case key in {attrs:?}"
    );
    assert_eq!(attrs["organization-id"], 10, "foreign keys are numbers");
    assert_eq!(attrs["asset-tag"], Value::Null, "empty attributes are null");
    assert_eq!(attrs["created-at"], "2024-01-15T09:00:00.000Z");

    let dc = sim.get("/configurations/100").await.json();
    assert_eq!(
        dc["data"]["attributes"]["warranty-expires-at"],
        "2027-05-05"
    );
}

#[tokio::test]
async fn f06_requests_accept_snake_or_kebab_keys_and_either_type_spelling() {
    let sim = start().await;
    let snake = sim
        .post(
            "/configurations",
            &json!({"data": {"type": "configurations", "attributes": {
                "organization_id": "10", "configuration_type_id": 2, "name": "SNAKE-01", "mac_address": "aa:bb:cc:dd:ee:01"}}}),
        )
        .await;
    assert_eq!(snake.status, 201, "{}", snake.text);
    assert_eq!(snake.json()["data"]["attributes"]["organization-id"], 10);

    let kebab = sim
        .post(
            "/configurations",
            &json!({"data": {"type": "configurations", "attributes": {
                "organization-id": 10, "configuration-type-id": "2", "name": "KEBAB-01", "mac-address": "AA-BB-CC-DD-EE-02"}}}),
        )
        .await;
    assert_eq!(kebab.status, 201, "{}", kebab.text);
    assert_eq!(
        kebab.json()["data"]["attributes"]["mac-address"],
        "AA-BB-CC-DD-EE-02"
    );

    let type_id = sim.create_report_type().await;
    let kebab_type = sim
        .post(
            "/flexible_assets",
            &json!({"data": {"type": "flexible-assets", "attributes": {"organization-id": 10,
                "flexible-asset-type-id": type_id.to_string(),
                "traits": {"report-name": "A", "report-generation-date": "2026-01-01"}}}}),
        )
        .await;
    assert_eq!(kebab_type.status, 201, "{}", kebab_type.text);

    let mismatch = sim
        .post(
            "/configurations",
            &json!({"data": {"type": "organizations", "attributes": {
                "organization_id": 10, "configuration_type_id": 2, "name": "X"}}}),
        )
        .await;
    assert_eq!(mismatch.status, 422);
    assert_eq!(mismatch.json()["errors"][0]["status"], 422);
}

#[tokio::test]
async fn f07_lists_carry_paging_meta_and_links() {
    let sim = start().await;
    let first = sim.get("/organizations?page[size]=3").await.json();
    assert_eq!(first["data"].as_array().unwrap().len(), 3);
    let meta = &first["meta"];
    assert_eq!(meta["current-page"], 1);
    assert_eq!(meta["next-page"], 2);
    assert_eq!(meta["prev-page"], Value::Null);
    assert_eq!(meta["total-pages"], 3);
    assert_eq!(meta["total-count"], 7);
    assert_eq!(meta["filters"], json!({}));
    let next = first["links"]["next"].as_str().unwrap();
    assert!(next.starts_with(sim.sim.base_url()), "{next}");
    assert!(first["links"].get("prev").is_none());
    for key in ["self", "first", "last"] {
        assert!(first["links"][key].is_string(), "links.{key}");
    }

    // Following links.next works and reaches the last page.
    let second = sim
        .raw(sim.http.get(next).header("x-api-key", KEY))
        .await
        .json();
    assert_eq!(second["meta"]["current-page"], 2);
    assert_eq!(second["meta"]["prev-page"], 1);
    let last = sim
        .get("/organizations?page[size]=3&page[number]=3")
        .await
        .json();
    assert_eq!(last["data"].as_array().unwrap().len(), 1);
    assert_eq!(last["meta"]["next-page"], Value::Null);
    assert!(last["links"].get("next").is_none());

    let past = sim.get("/organizations?page[size]=3&page[number]=9").await;
    assert_eq!(past.status, 200);
    assert_eq!(past.json()["data"], json!([]));

    let default = sim.get("/organizations").await.json();
    assert_eq!(default["meta"]["total-pages"], 1, "default page size is 50");
}

#[tokio::test]
async fn f07_page_size_over_1000_is_clamped() {
    let sim = start().await;
    let doc = sim.get("/configurations?page[size]=5000").await;
    assert_eq!(doc.status, 200);
    assert!(doc.json()["links"]["self"]
        .as_str()
        .unwrap()
        .contains("page%5Bsize%5D=1000"));
}

#[tokio::test]
async fn f07_page_size_over_1000_is_rejected_in_strict_mode() {
    let sim = start_with(|c| c.strict_page_size = true).await;
    let reply = sim.get("/configurations?page[size]=1001").await;
    assert_eq!(reply.status, 400);
    assert!(reply.json()["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("1000"));
    assert_eq!(sim.get("/configurations?page[size]=1000").await.status, 200);
}

#[tokio::test]
async fn f08_sort_takes_allowed_keys_descending_and_lists() {
    let sim = start().await;
    let asc = sim.get("/organizations?sort=name").await.json();
    let mut sorted = names(&asc);
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names(&asc), sorted);

    let desc = sim.get("/organizations?sort=-name").await.json();
    let mut reversed = names(&asc);
    reversed.reverse();
    assert_eq!(names(&desc), reversed);

    let multi = sim
        .get("/organizations?sort=organization_type_name,-id")
        .await
        .json();
    let first = &multi["data"][0]["attributes"];
    assert_eq!(first["organization-type-name"], "Customer");
    assert_eq!(
        multi["data"][0]["id"], "50",
        "highest id among customers first"
    );

    let unknown = sim.get("/organizations?sort=mac_address").await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.json()["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("mac_address"));
}

#[tokio::test]
async fn f09_filters_are_exact_comma_lists_and_unknown_keys_are_ignored() {
    let sim = start().await;
    let exact = sim.get("/organizations?filter[name]=Globex").await.json();
    assert_eq!(names(&exact), vec!["Globex"]);
    assert_eq!(exact["meta"]["filters"], json!({"name": "Globex"}));
    let partial = sim.get("/organizations?filter[name]=Glob").await.json();
    assert_eq!(partial["data"], json!([]));
    let case = sim.get("/organizations?filter[name]=globex").await.json();
    assert_eq!(case["data"], json!([]));

    let list = sim.get("/organizations?filter[id]=10,30").await.json();
    assert_eq!(names(&list), vec!["Acme Corporation", "Initech"]);

    // A literal comma is escaped with a backslash.
    sim.patch(
        "/organizations/30",
        &json!({"data": {"type": "organizations", "attributes": {"name": "Kub, Reynolds and Gibson"}}}),
    )
    .await;
    let escaped = sim
        .get("/organizations?filter[name]=Kub%5C,%20Reynolds%20and%20Gibson")
        .await
        .json();
    assert_eq!(names(&escaped), vec!["Kub, Reynolds and Gibson"]);

    let unknown = sim.get("/organizations?filter[colour]=blue").await.json();
    assert_eq!(
        unknown["meta"]["total-count"], 7,
        "unknown filter ⇒ unfiltered"
    );

    let kebab = sim
        .get("/configurations?filter[organization-id]=20")
        .await
        .json();
    assert_eq!(kebab["meta"]["total-count"], 2);
    let snake = sim
        .get("/configurations?filter[organization_id]=20")
        .await
        .json();
    assert_eq!(snake["meta"]["total-count"], 2);

    let archived = sim.get("/configurations?filter[archived]=1").await.json();
    assert_eq!(names(&archived), vec!["ACME-SW01"]);

    let excluded = sim
        .get("/organizations?filter[exclude][id]=1,60")
        .await
        .json();
    assert_eq!(excluded["meta"]["total-count"], 5);
}

#[tokio::test]
async fn f09_filters_are_ignored_on_nested_organization_routes() {
    let sim = start().await;
    let nested = sim
        .get("/organizations/10/relationships/configurations?filter[name]=ACME-DC01")
        .await
        .json();
    assert_eq!(
        nested["meta"]["total-count"], 5,
        "all of Acme's configurations"
    );
    let contacts = sim
        .get("/organizations/10/relationships/contacts?filter[important]=true")
        .await
        .json();
    assert_eq!(contacts["meta"]["total-count"], 3);
    let top = sim
        .get("/contacts?filter[organization_id]=10&filter[important]=true")
        .await
        .json();
    assert_eq!(top["meta"]["total-count"], 1);
}

#[tokio::test]
async fn f10_include_sideloads_only_listed_values() {
    let sim = start().await;
    let doc = sim
        .get("/configurations?filter[id]=100&include=configuration_interfaces")
        .await
        .json();
    let rel = &doc["data"][0]["relationships"]["configuration-interfaces"]["data"];
    assert_eq!(
        rel,
        &json!([{"id": "101", "type": "configuration-interfaces"}, {"id": "102", "type": "configuration-interfaces"}])
    );
    let included = doc["included"].as_array().unwrap();
    assert_eq!(included.len(), 2);
    assert_eq!(
        included[1]["attributes"]["mac-address"],
        "00-1a-2b-3c-4d-5f"
    );
    assert_eq!(included[0]["type"], "configuration-interfaces");

    let unlisted = sim
        .get("/configurations?filter[id]=100&include=interfaces")
        .await
        .json();
    assert!(unlisted.get("included").is_none());
    assert!(unlisted["data"][0].get("relationships").is_none());
}

// ---------------------------------------------------------------- organizations, contacts, configurations

#[tokio::test]
async fn f11_organizations_have_documented_fields_one_primary_and_truncated_index_notes() {
    let sim = start().await;
    let index = sim.get("/organizations").await.json();
    let primary: Vec<&Value> = index["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["attributes"]["primary"] == true)
        .collect();
    assert_eq!(primary.len(), 1);
    let acme = sim.get("/organizations/10").await.json();
    let attrs = &acme["data"]["attributes"];
    assert_eq!(attrs["parent-id"], "1");
    assert_eq!(attrs["ancestor-ids"], "[1]");
    assert_eq!(attrs["organization-type-name"], "Customer");
    assert_eq!(attrs["alert"], Value::Null);

    let initech_index = index["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "30")
        .unwrap()["attributes"]["quick-notes"]
        .as_str()
        .unwrap()
        .chars()
        .count();
    assert_eq!(initech_index, 250);
    let initech_show = sim.get("/organizations/30").await.json()["data"]["attributes"]
        ["quick-notes"]
        .as_str()
        .unwrap()
        .chars()
        .count();
    assert!(initech_show > 250);
}

#[tokio::test]
async fn f11_psa_synced_organization_refuses_patches_except_notes_fields() {
    let sim = start().await;
    let refused = sim
        .patch(
            "/organizations/20",
            &json!({"data": {"type": "organizations", "attributes": {"name": "Globex 2"}}}),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.json()["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("name"));
    let allowed = sim
        .patch(
            "/organizations/20",
            &json!({"data": {"type": "organizations", "attributes": {"quick-notes": "Call first", "alert": "VIP"}}}),
        )
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
    assert_eq!(allowed.json()["data"]["attributes"]["alert"], "VIP");
    let renamed = sim
        .patch(
            "/organizations/10",
            &json!({"data": {"type": "organizations", "attributes": {"name": "Acme Corp"}}}),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(
        sim.sim
            .organizations()
            .iter()
            .find(|o| o.id == 10)
            .unwrap()
            .name,
        "Acme Corp"
    );
}

#[tokio::test]
async fn f12_contacts_have_tri_state_important_and_email_lists() {
    let sim = start().await;
    let acme = sim.get("/contacts?filter[organization_id]=10").await.json();
    let important: Vec<Value> = acme["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["attributes"]["important"].clone())
        .collect();
    assert_eq!(important, vec![json!(true), json!(false), Value::Null]);

    let flagged = sim.get("/contacts?filter[important]=true").await.json();
    assert!(flagged["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["attributes"]["important"] == true));
    let unflagged = sim.get("/contacts?filter[important]=0").await.json();
    assert_eq!(
        unflagged["meta"]["total-count"], 1,
        "null is neither true nor false"
    );
    let both = sim
        .get("/contacts?filter[important]=true,false")
        .await
        .json();
    let all = sim.get("/contacts").await.json();
    assert!(both["meta"]["total-count"].as_u64() < all["meta"]["total-count"].as_u64());

    let alice = sim.get("/contacts/11").await.json();
    let attrs = &alice["data"]["attributes"];
    assert_eq!(attrs["name"], "Alice Anders");
    assert_eq!(attrs["organization-name"], "Acme Corporation");
    assert_eq!(
        attrs["contact-emails"][0],
        json!({"value": "alice.anders@acme.example", "primary": true, "label-name": "Work"})
    );
    assert_eq!(
        attrs["contact-phones"][0]["formatted-value"],
        "(415) 555-0101"
    );

    let umbrella: Vec<String> = sim.state_domains("umbrella.example");
    assert_eq!(umbrella, vec!["Umbrella Corp", "Umbrella Holdings"]);
}

impl Sim {
    /// Organizations whose important contacts use `domain`.
    fn state_domains(&self, domain: &str) -> Vec<String> {
        let state = self.sim.state();
        let orgs = state.organizations();
        let mut out: Vec<String> = state
            .contacts()
            .iter()
            .filter(|c| c.important == Some(true))
            .filter(|c| c.contact_emails.iter().any(|e| e.value.ends_with(domain)))
            .filter_map(|c| {
                orgs.iter()
                    .find(|o| o.id == c.organization_id)
                    .map(|o| o.name.clone())
            })
            .collect();
        out.dedup();
        out
    }
}

#[tokio::test]
async fn f13_configurations_keep_macs_verbatim_and_mirror_the_primary_interface() {
    let sim = start().await;
    let all = sim.get("/configurations?page[size]=1000").await.json();
    let mac = |name: &str| {
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["attributes"]["name"] == name)
            .unwrap()["attributes"]["mac-address"]
            .clone()
    };
    assert_eq!(mac("ACME-WS01"), "001A2B3C4D60");
    assert_eq!(mac("INITECH-WS01"), "3C52.82AA.BBDD");
    assert_eq!(
        mac("ACME-DC01"),
        "00:1A:2B:3C:4D:5E",
        "mirrors the primary interface"
    );
    assert_eq!(mac("ACME-LAPTOP03"), Value::Null, "only an interface MAC");
    assert_eq!(
        all["meta"]["total-count"], 11,
        "archived configurations are included by default"
    );

    let exact = sim
        .get("/configurations?filter[mac_address]=00:1A:2B:3C:4D:5E")
        .await
        .json();
    assert_eq!(names(&exact), vec!["ACME-DC01"]);
    let other_case = sim
        .get("/configurations?filter[mac_address]=00:1a:2b:3c:4d:5e")
        .await
        .json();
    assert_eq!(
        other_case["data"],
        json!([]),
        "MAC filter is case-sensitive"
    );

    let interfaces = sim
        .get("/configurations/100/relationships/configuration_interfaces")
        .await
        .json();
    let primaries: Vec<&Value> = interfaces["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["attributes"]["primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["attributes"]["ip-address"], "10.0.0.10");

    let too_long = sim
        .post(
            "/configurations",
            &json!({"data": {"type": "configurations", "attributes": {
                "organization_id": 10, "configuration_type_id": 2, "name": "LONG", "mac_address": "00:11:22:33:44:55:66"}}}),
        )
        .await;
    assert_eq!(too_long.status, 422);
    assert_eq!(
        too_long.json()["errors"][0]["source"]["pointer"],
        "/data/attributes/mac-address"
    );

    let garbage = sim
        .post(
            "/configurations",
            &json!({"data": {"type": "configurations", "attributes": {
                "organization_id": 10, "configuration_type_id": 2, "name": "ODD", "mac_address": "18-5E-0F-ED-99-9J"}}}),
        )
        .await;
    assert_eq!(garbage.status, 201);
    assert_eq!(
        garbage.json()["data"]["attributes"]["mac-address"],
        "18-5E-0F-ED-99-9J"
    );

    let bad_type = sim
        .post(
            "/configurations",
            &json!({"data": {"type": "configurations", "attributes": {
                "organization_id": 10, "configuration_type_id": 999, "name": "X"}}}),
        )
        .await;
    assert_eq!(bad_type.status, 422);
    assert_eq!(
        bad_type.json(),
        json!({"errors":[{"status":422,"title":"Unprocessable Entity","detail":"must exist","source":{"pointer":"/data/attributes/configuration-type"}}]})
    );
}

#[tokio::test]
async fn f14_unknown_ids_are_record_not_found() {
    let sim = start().await;
    for path in [
        "/organizations/999999",
        "/contacts/999999",
        "/configurations/999999",
        "/configurations/abc",
        "/flexible_asset_types/999999",
        "/flexible_assets/999999",
        "/organizations/999999/relationships/contacts",
        "/configurations/999999/relationships/attachments",
    ] {
        let reply = sim.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(
            reply.json(),
            json!({"errors": [{"status": 404, "title": "Record not found"}]}),
            "{path}"
        );
    }
}

// ---------------------------------------------------------------- flexible asset types

#[tokio::test]
async fn f15_flexible_asset_type_create_generates_name_keys_and_forces_flags() {
    let sim = start().await;
    let reply = sim
        .post(
            "/flexible_asset_types",
            &report_type_body("Security Report"),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let doc = reply.json();
    assert_eq!(doc["data"]["type"], "flexible-asset-types");
    let keys: Vec<&str> = doc["included"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["attributes"]["name-key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        vec![
            "report-name",
            "report-generation-date",
            "report-file",
            "expiry-date"
        ]
    );

    let forced = sim
        .post(
            "/flexible_asset_types",
            &json!({"data": {"type": "flexible-asset-types", "attributes": {"name": "Forced"},
                "relationships": {"flexible_asset_fields": {"data": [
                    {"type": "flexible-asset-fields", "attributes": {"order": 1, "name": "Section", "kind": "Header", "required": true, "show-in-list": true}},
                    {"type": "flexible_asset_fields", "attributes": {"order": 2, "name": "File", "kind": "Upload", "use-for-title": true}}
                ]}}}}),
        )
        .await;
    assert_eq!(forced.status, 201, "{}", forced.text);
    let fields = forced.json()["included"].clone();
    assert_eq!(
        fields[0]["attributes"]["required"], false,
        "Header is never required"
    );
    assert_eq!(
        fields[1]["attributes"]["use-for-title"], false,
        "Upload is never a title"
    );
}

#[tokio::test]
async fn f15_flexible_asset_type_create_is_validated() {
    let sim = start().await;
    sim.create_report_type().await;
    let duplicate = sim
        .post(
            "/flexible_asset_types",
            &report_type_body("Security Report"),
        )
        .await;
    assert_eq!(duplicate.status, 422);
    assert!(duplicate.text.contains("has already been taken"));
    assert_eq!(
        duplicate.json()["errors"][0]["source"]["pointer"],
        "/data/attributes/name"
    );

    let cases = [
        (json!([]), "at least one field"),
        (
            json!([{"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "A", "kind": "Text"}}]),
            "show-in-list",
        ),
        (
            json!([
            {"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "A", "kind": "Text", "show-in-list": true}},
            {"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "B", "kind": "Text"}}]),
            "Order 1 has already been taken",
        ),
        (
            json!([
            {"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "A", "kind": "Text", "show-in-list": true}},
            {"type": "flexible_asset_fields", "attributes": {"order": 2, "name": "A", "kind": "Text"}}]),
            "has already been taken",
        ),
        (
            json!([{"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "A", "kind": "Textarea", "show-in-list": true}}]),
            "Kind",
        ),
        (
            json!([{"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "A", "kind": "Tag", "tag-type": "Servers", "show-in-list": true}}]),
            "Tag type",
        ),
        (
            json!([{"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "A", "kind": "Select", "show-in-list": true}}]),
            "Default value",
        ),
    ];
    for (i, (fields, expected)) in cases.into_iter().enumerate() {
        let body = json!({"data": {"type": "flexible_asset_types", "attributes": {"name": format!("Case {i}")},
            "relationships": {"flexible-asset-fields": {"data": fields}}}});
        let reply = sim.post("/flexible_asset_types", &body).await;
        assert_eq!(reply.status, 422, "case {i}: {}", reply.text);
        assert!(
            reply.text.contains(expected),
            "case {i}: expected {expected:?} in {}",
            reply.text
        );
    }
    let tag_ok = json!({"data": {"type": "flexible_asset_types", "attributes": {"name": "Tagged"},
        "relationships": {"flexible-asset-fields": {"data": [
            {"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "Servers", "kind": "Tag", "tag-type": "Configurations", "show-in-list": true}}]}}}});
    assert_eq!(sim.post("/flexible_asset_types", &tag_ok).await.status, 201);
}

#[tokio::test]
async fn f15_flexible_asset_type_index_filters_by_exact_name() {
    let sim = start().await;
    sim.create_report_type().await;
    let found = sim
        .get("/flexible_asset_types?filter[name]=Security%20Report")
        .await
        .json();
    assert_eq!(names(&found), vec!["Security Report"]);
    let not_found = sim
        .get("/flexible_asset_types?filter[name]=security%20report")
        .await
        .json();
    assert_eq!(not_found["data"], json!([]));
}

#[tokio::test]
async fn f16_fields_are_sideloaded_listed_and_protected() {
    let sim = start().await;
    let type_id = sim.create_report_type().await;
    let show = sim
        .get(&format!(
            "/flexible_asset_types/{type_id}?include=flexible_asset_fields"
        ))
        .await
        .json();
    let included = show["included"].as_array().unwrap();
    assert_eq!(included.len(), 4);
    assert_eq!(included[0]["type"], "flexible-asset-fields");
    assert_eq!(
        included[0]["relationships"]["flexible-asset-type"]["data"],
        json!({"id": type_id.to_string(), "type": "flexible-asset-types"})
    );
    assert_eq!(
        show["data"]["relationships"]["flexible-asset-fields"]["data"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let plain = sim
        .get(&format!("/flexible_asset_types/{type_id}"))
        .await
        .json();
    assert!(plain.get("included").is_none());

    let listed = sim
        .get(&format!(
            "/flexible_asset_types/{type_id}/relationships/flexible_asset_fields"
        ))
        .await
        .json();
    assert_eq!(listed["meta"]["total-count"], 4);

    let with_rels = sim
        .patch(
            &format!("/flexible_asset_types/{type_id}"),
            &json!({"data": {"type": "flexible_asset_types", "attributes": {"description": "x"},
                "relationships": {"flexible-asset-fields": {"data": []}}}}),
        )
        .await;
    assert_eq!(with_rels.status, 422);
    let described = sim
        .patch(
            &format!("/flexible_asset_types/{type_id}"),
            &json!({"data": {"type": "flexible_asset_types", "attributes": {"description": "Weekly"}}}),
        )
        .await;
    assert_eq!(described.status, 200);
    assert_eq!(
        described.json()["data"]["attributes"]["description"],
        "Weekly"
    );

    let name_field = id_of(&included[0]);
    let before_traits = sim
        .patch(
            &format!("/flexible_asset_fields/{name_field}"),
            &json!({"data": {"type": "flexible_asset_fields", "attributes": {"kind": "Textbox"}}}),
        )
        .await;
    assert_eq!(before_traits.status, 200, "{}", before_traits.text);
    sim.create_report(type_id, "Weekly", b"<html></html>").await;
    let after_traits = sim
        .patch(
            &format!("/flexible_asset_fields/{name_field}"),
            &json!({"data": {"type": "flexible_asset_fields", "attributes": {"kind": "Text"}}}),
        )
        .await;
    assert_eq!(after_traits.status, 422);
    assert!(after_traits.text.contains("Kind cannot be changed"));
}

// ---------------------------------------------------------------- flexible assets

#[tokio::test]
async fn f17_flexible_assets_index_needs_a_type_filter() {
    let sim = start().await;
    let reply = sim.get("/flexible_assets").await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.json(),
        json!({"errors":[{"status":422,"title":"Cannot index flexible assets without providing a flexible asset type ID filter","source":{"pointer":null}}]})
    );
    let type_id = sim.create_report_type().await;
    sim.create_report(type_id, "Weekly", b"x").await;
    let listed = sim
        .get(&format!(
            "/flexible_assets?filter[flexible_asset_type_id]={type_id}&filter[organization_id]=10"
        ))
        .await
        .json();
    assert_eq!(listed["meta"]["total-count"], 1);
    let kebab = sim
        .get(&format!(
            "/flexible_assets?filter[flexible-asset-type-id]={type_id}&filter[name]=Weekly"
        ))
        .await
        .json();
    assert_eq!(kebab["meta"]["total-count"], 1);
}

#[tokio::test]
async fn f18_flexible_asset_create_validates_ids_and_traits() {
    let sim = start().await;
    let type_id = sim.create_report_type().await;

    let invalid_key = sim
        .post_asset(
            json!({"organization_id": 10, "flexible_asset_type_id": type_id,
        "traits": {"report-name": "A", "report-generation-date": "2026-01-01", "colour": "red"}}),
        )
        .await;
    assert_eq!(invalid_key.status, 422);
    assert_eq!(
        invalid_key.json(),
        json!({"errors":[{"status":422,"title":"Unprocessable Entity","detail":"Request contains invalid trait keys","source":{"pointer":"data/attributes/traits"}}]})
    );

    let missing = sim
        .post_asset(
            json!({"organization_id": 10, "flexible_asset_type_id": type_id,
        "traits": {"report-name": "A"}}),
        )
        .await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.json(),
        json!({"errors":[{"source":{"pointer":"/data/attributes/flexible-asset-traits.report-generation-date"},"detail":["can't be blank"],"title":"Unprocessable Entity","status":422}]})
    );

    let bad_org = sim
        .post_asset(
            json!({"organization_id": 424242, "flexible_asset_type_id": type_id, "traits": {}}),
        )
        .await;
    assert_eq!(bad_org.status, 422);
    assert_eq!(
        error_titles(&bad_org.json()),
        vec!["Valid organization_id is required"]
    );
    let bad_type = sim
        .post_asset(json!({"organization_id": 10, "flexible_asset_type_id": 424242, "traits": {}}))
        .await;
    assert_eq!(bad_type.status, 422);
    let no_traits = sim
        .post_asset(json!({"organization_id": 10, "flexible_asset_type_id": type_id}))
        .await;
    assert_eq!(no_traits.status, 422);

    let one = json!({"type": "flexible_assets", "attributes": {"organization_id": 10, "flexible_asset_type_id": type_id,
        "traits": {"report-name": "Bulk", "report-generation-date": "2026-01-01"}}});
    let bulk_top = sim
        .post(
            "/flexible_assets",
            &json!({"data": [one.clone(), one.clone()]}),
        )
        .await;
    assert_eq!(bulk_top.status, 422);
    assert_eq!(
        bulk_top.json(),
        json!({"errors":[{"status":422,"title":"bulk action not allowed for Flexible Asset using this route","source":{"pointer":"data"}}]})
    );
    let bulk_nested = sim
        .post(
            "/organizations/10/relationships/flexible_assets",
            &json!({"data": [one.clone(), one]}),
        )
        .await;
    assert_eq!(bulk_nested.status, 201, "{}", bulk_nested.text);
    assert_eq!(bulk_nested.json()["data"].as_array().unwrap().len(), 2);
    assert_eq!(sim.sim.flexible_assets().len(), 2);
}

#[tokio::test]
async fn f19_traits_store_dates_uploads_and_tags() {
    let sim = start().await;
    let type_id = sim.create_report_type().await;
    let bad_date = sim
        .post(
            "/flexible_assets",
            &json!({"data": {"type": "flexible_assets", "attributes": {"organization_id": 10, "flexible_asset_type_id": type_id,
                "traits": {"report-name": "A", "report-generation-date": "20/11/2026"}}}}),
        )
        .await;
    assert_eq!(bad_date.status, 422);
    assert!(bad_date
        .text
        .contains("flexible-asset-traits.report-generation-date"));

    let bad_b64 = sim
        .post(
            "/flexible_assets",
            &json!({"data": {"type": "flexible_assets", "attributes": {"organization_id": 10, "flexible_asset_type_id": type_id,
                "traits": {"report-name": "A", "report-generation-date": "2026-11-20",
                    "report-file": {"content": "PGh0bWw+\nPC9odG1sPg==", "file_name": "r.html"}}}}}),
        )
        .await;
    assert_eq!(bad_b64.status, 422, "line breaks are not strict base64");
    let two_files = sim
        .post(
            "/flexible_assets",
            &json!({"data": {"type": "flexible_assets", "attributes": {"organization_id": 10, "flexible_asset_type_id": type_id,
                "traits": {"report-name": "A", "report-generation-date": "2026-11-20",
                    "report-file": [{"content": "eA==", "file_name": "a.html"}, {"content": "eQ==", "file_name": "b.html"}]}}}}),
        )
        .await;
    assert_eq!(two_files.status, 422);

    let html = b"<html><body>Weekly security summary</body></html>";
    let id = sim.create_report(type_id, "Weekly", html).await;
    let stored = sim
        .sim
        .flexible_assets()
        .into_iter()
        .find(|a| a.id == id)
        .unwrap();
    match &stored.traits["report-file"] {
        TraitValue::Upload(file) => {
            assert_eq!(file.content, html);
            assert_eq!(file.file_name, "report.html");
            assert_eq!(file.content_type, "text/html");
        }
        other => panic!("expected an upload, got {other:?}"),
    }
    let shown = sim.get(&format!("/flexible_assets/{id}")).await.json();
    let traits = &shown["data"]["attributes"]["traits"];
    assert_eq!(traits["report-generation-date"], "2026-11-20");
    assert_eq!(traits["report-file"]["file-size"], html.len());

    // Tags render back as {type, values[]}.
    let tagged = sim
        .post(
            "/flexible_asset_types",
            &json!({"data": {"type": "flexible_asset_types", "attributes": {"name": "Server Group"},
                "relationships": {"flexible-asset-fields": {"data": [
                    {"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "Title", "kind": "Text", "show-in-list": true, "use-for-title": true}},
                    {"type": "flexible_asset_fields", "attributes": {"order": 2, "name": "Servers", "kind": "Tag", "tag-type": "Configurations"}}]}}}}),
        )
        .await;
    let tag_type_id = id_of(&tagged.json()["data"]);
    let asset = sim
        .post(
            "/flexible_assets",
            &json!({"data": {"type": "flexible_assets", "attributes": {"organization_id": 10, "flexible_asset_type_id": tag_type_id,
                "traits": {"title": "DCs", "servers": [100, "110"]}}}}),
        )
        .await;
    assert_eq!(asset.status, 201, "{}", asset.text);
    let servers = &asset.json()["data"]["attributes"]["traits"]["servers"];
    assert_eq!(servers["type"], "Configurations");
    assert_eq!(servers["values"][0]["id"], 100);
    assert_eq!(servers["values"][0]["name"], "ACME-DC01");
    assert_eq!(
        servers["values"][1]["configuration-type-name"],
        "Managed Workstation"
    );
    let missing_tag = sim
        .post(
            "/flexible_assets",
            &json!({"data": {"type": "flexible_assets", "attributes": {"organization_id": 10, "flexible_asset_type_id": tag_type_id,
                "traits": {"title": "Ghost", "servers": 987654}}}}),
        )
        .await;
    assert_eq!(missing_tag.status, 422);
}

#[tokio::test]
async fn f20_name_joins_the_title_traits_with_a_space() {
    let sim = start().await;
    let created = sim
        .post(
            "/flexible_asset_types",
            &json!({"data": {"type": "flexible_asset_types", "attributes": {"name": "Site"},
                "relationships": {"flexible-asset-fields": {"data": [
                    {"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "City", "kind": "Text", "show-in-list": true, "use-for-title": true}},
                    {"type": "flexible_asset_fields", "attributes": {"order": 2, "name": "Building", "kind": "Text", "use-for-title": true}},
                    {"type": "flexible_asset_fields", "attributes": {"order": 3, "name": "Notes", "kind": "Textbox"}}]}}}}),
        )
        .await;
    let type_id = id_of(&created.json()["data"]);
    let asset = sim
        .post(
            "/flexible_assets",
            &json!({"data": {"type": "flexible_assets", "attributes": {"organization_id": 30, "flexible_asset_type_id": type_id,
                "traits": {"city": "Austin", "building": "B2", "notes": "<p>lobby</p>"}}}}),
        )
        .await
        .json();
    assert_eq!(asset["data"]["attributes"]["name"], "Austin B2");
    assert_eq!(asset["data"]["attributes"]["organization-name"], "Initech");
    assert_eq!(
        asset["data"]["attributes"]["flexible-asset-type-name"],
        "Site"
    );
}

#[tokio::test]
async fn f21_patch_replaces_the_whole_trait_map() {
    let sim = start().await;
    let type_id = sim.create_report_type().await;
    let id = sim
        .create_report(type_id, "Weekly", b"<html>v1</html>")
        .await;

    let partial = sim
        .patch(
            &format!("/flexible_assets/{id}"),
            &json!({"data": {"type": "flexible_assets", "attributes": {"traits": {
                "report-name": "Weekly v2", "report-generation-date": "2026-11-27", "expiry-date": null}}}}),
        )
        .await;
    assert_eq!(partial.status, 200, "{}", partial.text);
    let traits = partial.json()["data"]["attributes"]["traits"].clone();
    assert_eq!(traits["report-name"], "Weekly v2");
    assert!(
        traits.get("report-file").is_none(),
        "omitted upload is deleted"
    );
    assert!(
        traits.get("expiry-date").is_none(),
        "null deletes the value"
    );
    let stored = sim
        .sim
        .flexible_assets()
        .into_iter()
        .find(|a| a.id == id)
        .unwrap();
    assert!(!stored.traits.contains_key("report-file"));

    let missing_required = sim
        .patch(
            &format!("/flexible_assets/{id}"),
            &json!({"data": {"type": "flexible_assets", "attributes": {"traits": {"report-name": "Only name"}}}}),
        )
        .await;
    assert_eq!(missing_required.status, 422);

    let bulk = sim
        .patch(
            "/flexible_assets",
            &json!({"data": [{"type": "flexible_assets", "attributes": {"id": id, "traits": {
                "report-name": "Weekly v3", "report-generation-date": "2026-12-04",
                "report-file": {"content": b64(b"<html>v3</html>"), "file_name": "v3.html"}}}}]}),
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    assert_eq!(bulk.json()["data"][0]["attributes"]["name"], "Weekly v3");
    let stored = sim
        .sim
        .flexible_assets()
        .into_iter()
        .find(|a| a.id == id)
        .unwrap();
    assert!(
        matches!(&stored.traits["report-file"], TraitValue::Upload(f) if f.content == b"<html>v3</html>")
    );
}

#[tokio::test]
async fn f22_delete_single_is_204_and_bulk_returns_the_deleted() {
    let sim = start().await;
    let type_id = sim.create_report_type().await;
    let a = sim.create_report(type_id, "A", b"a").await;
    let b = sim.create_report(type_id, "B", b"b").await;
    let c = sim.create_report(type_id, "C", b"c").await;

    let single = sim
        .raw(
            sim.http
                .delete(sim.url(&format!("/flexible_assets/{a}")))
                .header("x-api-key", KEY),
        )
        .await;
    assert_eq!(single.status, 204);
    assert!(single.text.is_empty());
    assert_eq!(sim.get(&format!("/flexible_assets/{a}")).await.status, 404);

    let bulk = sim
        .send(
            Method::DELETE,
            "/flexible_assets",
            &json!({"data": [{"type": "flexible_assets", "attributes": {"id": b}}, {"type": "flexible_assets", "attributes": {"id": c}}]}),
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    assert_eq!(names(&bulk.json()), vec!["B", "C"]);
    assert!(sim.sim.flexible_assets().is_empty());
}

#[tokio::test]
async fn f23_show_sideloads_attachments_and_related_items() {
    let sim = start().await;
    let type_id = sim.create_report_type().await;
    let id = sim.create_report(type_id, "Weekly", b"r").await;
    let attach = sim
        .post(
            &format!("/flexible_assets/{id}/relationships/attachments"),
            &json!({"data": {"type": "attachments", "attributes": {"attachment": {"content": b64(b"csv,data"), "file_name": "events.csv"}}}}),
        )
        .await;
    assert_eq!(attach.status, 201, "{}", attach.text);
    let relate = sim
        .post(
            &format!("/flexible_assets/{id}/relationships/related_items"),
            &json!({"data": {"type": "related_items", "attributes": {"destination_id": "100", "destination_type": "Configuration", "notes": "covered"}}}),
        )
        .await;
    assert_eq!(relate.status, 201, "{}", relate.text);

    let doc = sim
        .get(&format!(
            "/flexible_assets/{id}?include=attachments,related_items"
        ))
        .await
        .json();
    let included = doc["included"].as_array().unwrap();
    let types: Vec<&str> = included
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["attachments", "related-items"]);
    assert_eq!(
        included[0]["attributes"]["attachment-file-name"],
        "events.csv"
    );
    assert_eq!(included[1]["attributes"]["destination-id"], 100);
    assert_eq!(included[1]["attributes"]["destination-name"], "ACME-DC01");
    assert_eq!(
        doc["data"]["relationships"]["related-items"]["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let plain = sim.get(&format!("/flexible_assets/{id}")).await.json();
    assert!(plain.get("included").is_none());
}

// ---------------------------------------------------------------- attachments, related items

#[tokio::test]
async fn f24_attachments_take_strict_base64_on_allowed_resource_types() {
    let sim = start_with(|c| c.max_attachment_bytes = Some(16)).await;
    let png = b"\x89PNG tiny";
    let created = sim
        .post(
            "/configurations/100/relationships/attachments",
            &json!({"data": {"type": "attachments", "attributes": {"attachment": {"content": b64(png), "file_name": "rack.png"}}}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let attrs = created.json()["data"]["attributes"].clone();
    assert_eq!(attrs["name"], "rack.png");
    assert_eq!(attrs["attachment-file-name"], "rack.png");
    assert_eq!(attrs["attachment-content-type"], "image/png");
    assert_eq!(attrs["attachment-file-size"], png.len());
    assert_eq!(attrs["ext"], "png");
    assert!(attrs["download-url"].is_string());
    assert_eq!(sim.sim.attachments()[0].content, png);

    let several = sim
        .post(
            "/contacts/11/relationships/attachments",
            &json!({"data": [
                {"type": "attachments", "attributes": {"attachment": {"content": b64(b"a"), "file_name": "a.txt"}}},
                {"type": "attachments", "attributes": {"attachment": {"content": b64(b"b"), "file_name": "b.pdf"}}}]}),
        )
        .await;
    assert_eq!(several.status, 201);
    assert_eq!(several.json()["data"].as_array().unwrap().len(), 2);

    let not_base64 = sim
        .post(
            "/configurations/100/relationships/attachments",
            &json!({"data": {"type": "attachments", "attributes": {"attachment": {"content": "***", "file_name": "x.txt"}}}}),
        )
        .await;
    assert_eq!(not_base64.status, 422);
    let no_name = sim
        .post(
            "/configurations/100/relationships/attachments",
            &json!({"data": {"type": "attachments", "attributes": {"attachment": {"content": "eA=="}}}}),
        )
        .await;
    assert_eq!(no_name.status, 422);
    let too_big = sim
        .post(
            "/configurations/100/relationships/attachments",
            &json!({"data": {"type": "attachments", "attributes": {"attachment": {"content": b64(&[0u8; 17]), "file_name": "big.bin"}}}}),
        )
        .await;
    assert_eq!(too_big.status, 413);

    let not_attachable = sim
        .post(
            "/organizations/10/relationships/attachments",
            &json!({"data": {"type": "attachments", "attributes": {"attachment": {"content": "eA==", "file_name": "x.txt"}}}}),
        )
        .await;
    assert_eq!(not_attachable.status, 404);
    assert!(not_attachable.content_type.starts_with("text/html"));
}

#[tokio::test]
async fn f24_multipart_uploads_work_for_attachments_and_upload_traits() {
    let sim = start().await;
    let form = reqwest::multipart::Form::new()
        .text("data[type]", "attachments")
        .part(
            "data[attributes][attachment]",
            reqwest::multipart::Part::bytes(b"<html>multi</html>".to_vec()).file_name("multi.html"),
        );
    let reply = sim
        .raw(
            sim.http
                .post(sim.url("/configurations/110/relationships/attachments"))
                .header("x-api-key", KEY)
                .multipart(form),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.json()["data"]["attributes"]["attachment-content-type"],
        "text/html"
    );

    let type_id = sim.create_report_type().await;
    let form = reqwest::multipart::Form::new()
        .text("data[type]", "flexible_assets")
        .text("data[attributes][organization_id]", "10")
        .text(
            "data[attributes][flexible_asset_type_id]",
            type_id.to_string(),
        )
        .text("data[attributes][traits][report-name]", "Multipart")
        .text(
            "data[attributes][traits][report-generation-date]",
            "2026-11-23",
        )
        .part(
            "data[attributes][traits][report-file]",
            reqwest::multipart::Part::bytes(b"<html>report</html>".to_vec())
                .file_name("report.html"),
        );
    let reply = sim
        .raw(
            sim.http
                .post(sim.url("/flexible_assets"))
                .header("x-api-key", KEY)
                .multipart(form),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let stored = sim.sim.flexible_assets();
    assert!(
        matches!(&stored[0].traits["report-file"], TraitValue::Upload(f) if f.content == b"<html>report</html>")
    );

    let elsewhere = sim
        .raw(
            sim.http
                .post(sim.url("/flexible_asset_types"))
                .header("x-api-key", KEY)
                .multipart(
                    reqwest::multipart::Form::new().text("data[type]", "flexible_asset_types"),
                ),
        )
        .await;
    assert_eq!(elsewhere.status, 415, "multipart only on upload routes");
}

#[tokio::test]
async fn f25_attachments_are_renamed_listed_newest_first_and_bulk_deleted() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    let sim = start_with(|c| c.clock = Arc::new(clock.clone())).await;
    let mut ids = Vec::new();
    for name in ["first.txt", "second.txt", "third.txt"] {
        let reply = sim
            .post(
                "/configurations/120/relationships/attachments",
                &json!({"data": {"type": "attachments", "attributes": {"attachment": {"content": b64(name.as_bytes()), "file_name": name}}}}),
            )
            .await;
        ids.push(id_of(&reply.json()["data"]));
        clock.advance(Duration::from_secs(60));
    }
    let listed = sim
        .get("/configurations/120/relationships/attachments")
        .await
        .json();
    assert_eq!(names(&listed), vec!["third.txt", "second.txt", "first.txt"]);

    let renamed = sim
        .patch(
            &format!("/configurations/120/relationships/attachments/{}", ids[0]),
            &json!({"data": {"type": "attachments", "attributes": {"name": "renamed.txt", "attachment-file-name": "ignored.txt"}}}),
        )
        .await;
    assert_eq!(renamed.status, 200);
    let attrs = renamed.json()["data"]["attributes"].clone();
    assert_eq!(attrs["name"], "renamed.txt");
    assert_eq!(attrs["attachment-file-name"], "first.txt");

    let deleted = sim
        .send(
            Method::DELETE,
            "/configurations/120/relationships/attachments",
            &json!({"data": [{"type": "attachments", "attributes": {"id": ids[1]}}]}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(names(&deleted.json()), vec!["second.txt"]);
    assert_eq!(sim.sim.attachments().len(), 2);
    let wrong_owner = sim
        .send(
            Method::DELETE,
            "/configurations/100/relationships/attachments",
            &json!({"data": [{"type": "attachments", "attributes": {"id": ids[0]}}]}),
        )
        .await;
    assert_eq!(wrong_owner.status, 404);
}

#[tokio::test]
async fn f26_related_items_are_validated_unique_and_two_sided() {
    let sim = start().await;
    let type_id = sim.create_report_type().await;
    let report = sim.create_report(type_id, "Weekly", b"r").await;
    let path = format!("/flexible_assets/{report}/relationships/related_items");
    let link = |dest_type: &str, dest_id: Value| json!({"data": {"type": "related_items", "attributes": {"destination_id": dest_id, "destination_type": dest_type}}});

    let bad_class = sim.post(&path, &link("Server", json!(100))).await;
    assert_eq!(bad_class.status, 422);
    let missing = sim
        .post(&path, &link("Configuration", json!("424242")))
        .await;
    assert_eq!(missing.status, 422);
    let created = sim.post(&path, &link("Configuration", json!(100))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let item = created.json()["data"].clone();
    assert_eq!(item["type"], "related-items");
    assert_eq!(item["attributes"]["destination-type"], "Configuration");

    let again = sim.post(&path, &link("Configuration", json!("100"))).await;
    assert_eq!(again.status, 422);
    assert!(again.text.contains("already related"));
    let reverse = sim
        .post(
            "/configurations/100/relationships/related_items",
            &link("Flexible Asset", json!(report)),
        )
        .await;
    assert_eq!(
        reverse.status, 422,
        "the link exists from the other end too"
    );

    let from_config = sim
        .get("/configurations/100?include=related_items")
        .await
        .json();
    let seen = &from_config["included"][0]["attributes"];
    assert_eq!(seen["destination-type"], "Flexible Asset");
    assert_eq!(seen["destination-id"], report);
    assert_eq!(seen["destination-name"], "Weekly");

    let no_get = sim.get(&path).await;
    assert_eq!(no_get.status, 404);
    assert!(no_get.content_type.starts_with("text/html"));

    let notes = sim
        .patch(
            &format!("/configurations/100/relationships/related_items/{}", id_of(&item)),
            &json!({"data": {"type": "related_items", "attributes": {"notes": "from the config side"}}}),
        )
        .await;
    assert_eq!(notes.status, 200);

    let deleted = sim
        .send(
            Method::DELETE,
            "/configurations/100/relationships/related_items",
            &json!({"data": [{"type": "related_items", "attributes": {"id": id_of(&item)}}]}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(sim.sim.related_items().is_empty());
    let from_report = sim
        .get(&format!("/flexible_assets/{report}?include=related_items"))
        .await
        .json();
    assert!(from_report.get("included").is_none(), "gone from both ends");
}

#[tokio::test]
async fn f27_create_status_is_201_by_default_and_can_be_200() {
    let default = start().await;
    assert_eq!(
        default
            .post("/flexible_asset_types", &report_type_body("R"))
            .await
            .status,
        201
    );
    let legacy = start_with(|c| c.create_status = 200).await;
    assert_eq!(
        legacy
            .post("/flexible_asset_types", &report_type_body("R"))
            .await
            .status,
        200
    );
}

// ---------------------------------------------------------------- faults, seeding, hygiene

#[tokio::test]
async fn injected_server_errors_and_delays_come_from_the_handle_and_the_control_route() {
    let sim = start().await;
    sim.sim.faults().fail_next(503, 1);
    let failed = sim.get("/organizations").await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.json()["errors"][0]["status"], 503);
    assert_eq!(sim.get("/organizations").await.status, 200);

    let rules = json!([
        {"kind": "status", "status": 502, "count": 2, "method": "POST", "path_prefix": "/flexible_assets"},
        {"kind": "delay", "millis": 1}
    ]);
    let control = sim
        .raw(sim.http.post(sim.url("/__simulator/faults")).json(&rules))
        .await;
    assert_eq!(control.status, 200, "{}", control.text);
    assert_eq!(
        sim.sim.faults().pending()[0],
        FaultRule {
            kind: FaultKind::Status { status: 502 },
            count: 2,
            method: Some("POST".into()),
            path_prefix: Some("/flexible_assets".into()),
        }
    );
    // GETs skip the POST-only rule but take the delay once.
    assert_eq!(sim.get("/organizations").await.status, 200);
    assert_eq!(sim.sim.faults().pending().len(), 1);
    let post = sim.post("/flexible_assets", &json!({})).await;
    assert_eq!(post.status, 502);

    let bad_rule = sim
        .raw(
            sim.http
                .post(sim.url("/__simulator/faults"))
                .json(&json!({"kind": "explode"})),
        )
        .await;
    assert_eq!(bad_rule.status, 400);
    let cleared = sim
        .raw(sim.http.delete(sim.url("/__simulator/faults")))
        .await;
    assert_eq!(cleared.status, 204);
    assert!(sim.sim.faults().pending().is_empty());
}

#[tokio::test]
async fn seed_file_loads_the_demo_account() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/itglue-demo.json");
    let seed = ItGlueSeed::from_file(path).expect("demo seed file loads");
    assert_eq!(seed, ItGlueSeed::demo());
    let names: Vec<&str> = seed.organizations.iter().map(|o| o.name.as_str()).collect();
    for expected in [
        "Acme Corporation",
        "Globex",
        "Initech",
        "Umbrella Corp",
        "Umbrella Holdings",
    ] {
        assert!(names.contains(&expected), "{expected} missing");
    }
    let sim = start_with(|c| c.seed = seed).await;
    let laptop = sim
        .sim
        .configurations()
        .into_iter()
        .find(|c| c.name == "ACME-LAPTOP03")
        .unwrap();
    assert_eq!(laptop.mac_address, None);
    assert_eq!(
        laptop.interfaces[0].mac_address.as_deref(),
        Some("a4:5e:60:c1:d2:e3")
    );
}

#[tokio::test]
async fn seed_with_a_dangling_reference_is_refused_with_a_clear_error() {
    let dir = tempfile_dir();
    let path = dir.join("broken.json");
    std::fs::write(
        &path,
        r#"{"organizations":[{"id":1,"name":"Only"}],"contacts":[{"id":2,"organization_id":7,"first_name":"Lost"}]}"#,
    )
    .unwrap();
    let error = ItGlueSeed::from_file(&path).unwrap_err().to_string();
    assert!(
        error.contains("contact 2 refers to organization 7"),
        "{error}"
    );
    let missing = ItGlueSeed::from_file(dir.join("absent.json"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("absent.json"), "{missing}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("itglue-seed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn api_keys_never_appear_in_debug_output_or_the_request_log() {
    let sim = start().await;
    sim.get("/organizations").await;
    let config = ItGlueSimConfig::demo(KEY);
    assert!(!format!("{config:?}").contains(KEY));
    assert!(!format!("{:?}", sim.sim).contains(KEY));
    let log = sim.sim.requests();
    assert_eq!(log.last().unwrap().path, "/organizations");
    assert_eq!(log.last().unwrap().status, 200);
    assert!(!format!("{log:?}").contains(KEY));
}
