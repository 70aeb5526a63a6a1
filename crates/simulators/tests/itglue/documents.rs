//! JSON:API document shape, paging, sorting, filtering and includes: F5–F10.

use super::*;

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

/// An account with `count` customer organizations named `Org 0001`, `Org 0002`, …
fn many_organizations(count: i64) -> ItGlueSeed {
    let organizations = (1..=count)
        .map(|i| serde_json::from_value(json!({"id": i, "name": format!("Org {i:04}")})).unwrap())
        .collect();
    ItGlueSeed {
        organizations,
        ..ItGlueSeed::default()
    }
}

#[tokio::test]
async fn f07_default_page_size_is_50() {
    let sim = start_with(|c| c.seed = many_organizations(120)).await;
    let doc = sim.get("/organizations").await.json();
    assert_eq!(doc["data"].as_array().unwrap().len(), 50);
    assert_eq!(doc["meta"]["total-pages"], 3);
    assert_eq!(doc["meta"]["total-count"], 120);
}

#[tokio::test]
async fn f07_page_size_over_1000_is_clamped() {
    let sim = start_with(|c| c.seed = many_organizations(1005)).await;
    let reply = sim.get("/organizations?page[size]=5000").await;
    assert_eq!(reply.status, 200);
    let doc = reply.json();
    assert_eq!(doc["data"].as_array().unwrap().len(), 1000);
    assert_eq!(doc["meta"]["total-pages"], 2);
    assert!(doc["links"]["self"]
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

    let june = sim
        .get("/organizations?filter[created_at]=2023-06-01,2023-06-30")
        .await
        .json();
    assert_eq!(names(&june), vec!["Umbrella Corp", "Umbrella Holdings"]);
    let updated_in_range = sim
        .get("/organizations?filter[updated_at]=2024-05-01T00:00:00Z,2025-01-01")
        .await
        .json();
    assert_eq!(names(&updated_in_range), vec!["Acme Corporation", "Globex"]);

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
