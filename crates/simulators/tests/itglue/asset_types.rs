//! Flexible asset types and fields: F15–F16.

use super::*;

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
