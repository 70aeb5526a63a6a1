//! Attachments, related items and create status: F24–F27.

use super::*;

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

#[tokio::test]
async fn f24_multipart_uploads_larger_than_two_megabytes_are_accepted() {
    let sim = start().await;
    let big = vec![b'a'; 3 * 1024 * 1024];
    let form = reqwest::multipart::Form::new()
        .text("data[type]", "attachments")
        .part(
            "data[attributes][attachment]",
            reqwest::multipart::Part::bytes(big.clone()).file_name("big.html"),
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
    assert_eq!(sim.sim.attachments()[0].content.len(), big.len());
}
