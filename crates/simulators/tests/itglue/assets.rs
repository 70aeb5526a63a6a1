//! Flexible assets: F17–F23.

use super::*;

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
