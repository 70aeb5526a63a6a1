//! Fault injection, seeding and secret hygiene.

use super::*;

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

#[tokio::test]
async fn oversized_request_bodies_are_refused_with_413() {
    let sim = start_with(|c| c.max_body_bytes = 256).await;
    let reply = sim
        .post(
            "/flexible_asset_types",
            &report_type_body("Too Big For The Limit"),
        )
        .await;
    assert_eq!(reply.status, 413);
    assert!(reply.json()["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("256 bytes"));
    assert!(sim
        .sim
        .flexible_asset_types()
        .iter()
        .all(|t| t.name != "Too Big For The Limit"));
    let logged = sim.sim.requests();
    assert_eq!(logged.last().unwrap().status, 413);
}
