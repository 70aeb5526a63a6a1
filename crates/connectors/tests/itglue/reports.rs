//! Publishing reports: the report type, flexible assets, attachments and related items.

use super::*;

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

#[tokio::test]
async fn an_oversized_attachment_is_refused_with_a_clear_permanent_error() {
    let sim = start(ItGlueSimConfig {
        max_attachment_bytes: Some(16),
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    let error = client(&sim)
        .upload_attachment(ResourceRef::configuration(100), "big.html", &[b'x'; 64])
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(413), "{error}");
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert!(
        error
            .to_string()
            .contains("POST /configurations/100/relationships/attachments"),
        "{error}"
    );
    assert!(sim.attachments().is_empty());
}

#[tokio::test]
async fn publishing_twice_updates_the_same_asset_and_keeps_links() {
    let sim = demo().await;
    let client = client(&sim);
    let report_type = client
        .ensure_report_asset_type("mspbridge Reports")
        .await
        .unwrap();

    let first = client
        .publish_report(
            &report_type,
            10,
            &report("Acme weekly", "<html>one</html>"),
            &[100, 110],
        )
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.linked, vec![100, 110]);
    assert!(first.already_linked.is_empty());

    let requests_before = sim.requests().len();
    let second = client
        .publish_report(
            &report_type,
            10,
            &report("Acme weekly", "<html>two</html>"),
            &[110, 120],
        )
        .await
        .unwrap();
    // The asset's related items are read once, and only the missing link is posted: no 422.
    let republish = &sim.requests()[requests_before..];
    let link_posts: Vec<_> = republish
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/relationships/related_items"))
        .collect();
    assert_eq!(link_posts.len(), 1, "{republish:#?}");
    assert!(republish.iter().all(|r| r.status != 422), "{republish:#?}");
    let reads = republish
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.query
                    .as_deref()
                    .is_some_and(|q| q.contains("include=related_items"))
        })
        .count();
    assert_eq!(reads, 1, "{republish:#?}");
    assert!(!second.created);
    assert_eq!(second.asset.id, first.asset.id);
    assert_eq!(second.linked, vec![120]);
    assert_eq!(second.already_linked, vec![110]);
    assert_eq!(sim.flexible_assets().len(), 1);
    assert_eq!(sim.related_items().len(), 3);

    let other_org = client
        .publish_report(&report_type, 20, &report("Acme weekly", "<html/>"), &[])
        .await
        .unwrap();
    assert!(
        other_org.created,
        "the same name in another organization is another asset"
    );
    assert_ne!(other_org.asset.id, first.asset.id);
}
