//! Organizations, contacts and configurations: F11–F14.

use super::*;

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
