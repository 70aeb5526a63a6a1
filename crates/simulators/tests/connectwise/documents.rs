//! Multipart document upload, listing and download.

use super::*;

// ---- Documents -----------------------------------------------------------------------------------

fn document_form(ticket_id: &Value, content: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("RecordType", "Ticket")
        .text("recordid", ticket_id.to_string())
        .text("Title", "Evidence")
        .text("PrivateFlag", "true")
        .text("readOnlyFlay", "true")
        .part(
            "file",
            reqwest::multipart::Part::bytes(content)
                .file_name("TestAttachment.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
}

#[tokio::test]
async fn documents_upload_as_multipart_then_list_count_and_download() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("attach").await;
    let response = cw
        .request(Method::POST, "/system/documents")
        .multipart(document_form(
            &ticket["id"],
            b"hello from the product".to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let (status, info) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{info}");
    assert_eq!(info["fileName"], "TestAttachment.txt");
    assert_eq!(info["title"], "Evidence");
    assert_eq!(info["size"], 22);
    assert_eq!(
        (info["publicFlag"].as_bool(), info["readOnlyFlag"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(info["guid"].as_str().unwrap().len(), 36);
    let query = format!("recordType=Ticket&recordId={}", ticket["id"]);
    assert_eq!(
        ids(&cw.get(&format!("/system/documents?{query}")).await.1),
        vec![info["id"].as_i64().unwrap()]
    );
    assert_eq!(
        cw.get(&format!("/system/documents/count?{query}")).await.1,
        json!({"count": 1})
    );
    assert_eq!(
        cw.get("/system/documents/count?recordType=Ticket&recordId=1")
            .await
            .1,
        json!({"count": 0})
    );
    let download = cw
        .request(
            Method::GET,
            &format!("/system/documents/{}/download", info["id"]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"TestAttachment.txt\""
    );
    assert_eq!(
        download.bytes().await.unwrap().as_ref(),
        b"hello from the product"
    );
}

#[tokio::test]
async fn documents_sent_as_json_get_415() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("x").await;
    let (status, body) = cw
        .post(
            "/system/documents",
            json!({"recordType": "Ticket", "recordId": ticket["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("multipart/form-data"));
}

#[tokio::test]
async fn documents_must_name_an_existing_ticket() {
    let (sim, cw) = spawn_sim().await;
    let response = cw
        .request(Method::POST, "/system/documents")
        .multipart(document_form(&json!(999_999), b"x".to_vec()))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_errors(&body),
        vec![("InvalidField".into(), "recordId".into())]
    );
    let missing = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("a.txt"),
    );
    let (status, body) = read(
        cw.request(Method::POST, "/system/documents")
            .multipart(missing)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_errors(&body),
        vec![
            ("MissingRequiredField".into(), "recordType".into()),
            ("MissingRequiredField".into(), "recordId".into())
        ]
    );
    assert!(sim.state().documents().is_empty());
}

#[tokio::test]
async fn documents_over_the_size_limit_get_413() {
    let sim = spawn_with(SimulatorConfig {
        max_document_bytes: 1024,
        ..SimulatorConfig::default()
    })
    .await;
    let cw = Cw::new(&sim);
    let ticket = cw.ticket("big").await;
    let send = |size: usize| {
        cw.request(Method::POST, "/system/documents")
            .multipart(document_form(&ticket["id"], vec![b'a'; size]))
            .send()
    };
    assert_eq!(send(1024).await.unwrap().status(), StatusCode::CREATED);
    let (status, body) = read(send(1025).await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["message"].as_str().unwrap().contains("1024"));
}

#[tokio::test]
async fn documents_up_to_the_configured_limit_are_accepted_beyond_framework_defaults() {
    let (sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("large evidence").await;
    let three_megabytes = vec![b'z'; 3 * 1024 * 1024];
    let response = cw
        .request(Method::POST, "/system/documents")
        .multipart(document_form(&ticket["id"], three_megabytes.clone()))
        .send()
        .await
        .unwrap();
    let (status, info) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{info}");
    assert_eq!(info["size"], 3 * 1024 * 1024);
    assert_eq!(sim.state().documents()[0].content, three_megabytes);
}
