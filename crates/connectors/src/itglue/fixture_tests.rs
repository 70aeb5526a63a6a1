//! Reads IT Glue's own example documents (copied under `tests/fixtures/itglue/`) through the same
//! decoding path the client uses, so the odd parts of the real format (numeric ids in `included`,
//! ids inside `attributes`, stringly-typed `parent-id`, null `important`) stay covered.

use serde_json::Value;

use super::assets::ReportAssetType;
use super::client::{typed, typed_of_kind, Call};
use super::jsonapi::{ListDocument, SingleDocument};
use super::model::{
    Attachment, Configuration, ConfigurationInterface, Contact, FieldKind, FlexibleAsset,
    FlexibleAssetField, FlexibleAssetType, Organization,
};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/itglue/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn list(name: &str) -> ListDocument {
    serde_json::from_value(fixture(name)).unwrap()
}

fn single(name: &str) -> SingleDocument {
    serde_json::from_value(fixture(name)).unwrap()
}

#[test]
fn organizations_index() {
    let call = Call::get("/organizations");
    let document = list("organizations_index.response.json");
    let organizations: Vec<Organization> = document
        .data
        .iter()
        .map(|r| typed(&call, r).unwrap())
        .collect();
    let names: Vec<_> = organizations
        .iter()
        .map(|o| (o.id, o.name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![(2, "Happy Frog"), (6, "Kraken Techs"), (9, "Dell Support")]
    );
    assert_eq!(
        organizations[0].parent_id,
        Some(1),
        "parent-id arrives as a string"
    );
    assert!(organizations[1].primary);
    assert_eq!(
        organizations[0].organization_type_name.as_deref(),
        Some("Customer")
    );
    assert!(organizations[0].created_at.is_some());
}

#[test]
fn contacts_index_keeps_important_tri_state_and_every_email() {
    let call = Call::get("/contacts");
    let document = list("contacts_index.response.json");
    let contacts: Vec<Contact> = document
        .data
        .iter()
        .map(|r| typed(&call, r).unwrap())
        .collect();
    assert_eq!(contacts[0].important, None);
    assert!(!contacts[0].is_important());
    assert_eq!(contacts[1].important, Some(true));
    assert_eq!(contacts[1].organization_id, Some(2));
    let domains: Vec<_> = contacts[1]
        .contact_emails
        .iter()
        .filter_map(|e| e.domain())
        .collect();
    assert_eq!(domains, vec!["happyfrog.itglue.com", "home.com"]);
    assert!(contacts[1].contact_emails[0].primary);
    assert_eq!(
        contacts[1].contact_emails[1].label_name.as_deref(),
        Some("Home")
    );
}

#[test]
fn configurations_index_keeps_macs_verbatim() {
    let call = Call::get("/configurations");
    let document = list("configurations_index_include_interfaces.response.json");
    let configurations: Vec<Configuration> = document
        .data
        .iter()
        .map(|r| typed(&call, r).unwrap())
        .collect();
    assert_eq!(configurations[0].id, 455);
    assert_eq!(
        configurations[0].mac_address.as_deref(),
        Some("18-5E-0F-ED-99-9J")
    );
    assert_eq!(configurations[1].mac_address, None);
    assert!(configurations[1].archived);
    assert_eq!(
        document.data[0].related_ids("configuration_interfaces"),
        vec![68, 78]
    );
}

#[test]
fn interfaces_index_reads_ids_from_attributes() {
    let call = Call::get("/configurations/455/relationships/configuration_interfaces");
    let document = list("configuration_interfaces_index.response.json");
    let interfaces: Vec<ConfigurationInterface> = document
        .data
        .iter()
        .map(|r| typed(&call, r).unwrap())
        .collect();
    assert_eq!(interfaces.len(), 2);
    assert_eq!(interfaces[0].id, 63);
    assert!(interfaces[0].primary);
    assert_eq!(
        interfaces[1].mac_address.as_deref(),
        Some("D4:6A:91:13:2D:77")
    );
}

#[test]
fn configuration_show_skips_unrelated_included_kinds() {
    let call = Call::get("/configurations/455");
    let document = single("configuration_show_include_attachments_rmm.response.json");
    let configuration: Configuration = typed(&call, &document.data).unwrap();
    assert_eq!(
        configuration.configuration_type_kind.as_deref(),
        Some("server")
    );
    let attachments: Vec<Attachment> =
        typed_of_kind(&call, &document.included, "attachments").unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].attachment_file_size, Some(314_368));
    let interfaces: Vec<ConfigurationInterface> =
        typed_of_kind(&call, &document.included, "configuration_interfaces").unwrap();
    assert!(interfaces.is_empty());
}

#[test]
fn flexible_asset_type_show_reads_fields_with_numeric_ids() {
    let call = Call::get("/flexible_asset_types/33");
    let document = single("flexible_asset_type_show_include_fields.response.json");
    let mut asset_type: FlexibleAssetType = typed(&call, &document.data).unwrap();
    asset_type.fields =
        typed_of_kind::<FlexibleAssetField>(&call, &document.included, "flexible-asset-fields")
            .unwrap();
    assert_eq!(asset_type.id, 33);
    assert_eq!(asset_type.fields.len(), 6);
    let webmail = asset_type.field("webmail url").unwrap();
    assert_eq!(webmail.id, 406);
    assert_eq!(webmail.kind, FieldKind::Text);
    assert_eq!(webmail.name_key.as_deref(), Some("webmail-url"));
    assert_eq!(asset_type.field("Domains").unwrap().kind, FieldKind::Tag);

    let error = ReportAssetType::from_type(&asset_type)
        .unwrap_err()
        .to_string();
    for missing in [
        "Report Name",
        "Report Generation Date",
        "Report File",
        "Expiry Date",
    ] {
        assert!(error.contains(missing), "{error}");
    }
    assert!(error.contains("`Email`"), "{error}");
}

#[test]
fn flexible_asset_show_reads_traits_and_attachments() {
    let call = Call::get("/flexible_assets/401");
    let document = single("flexible_asset_show_include_attachments.response.json");
    let asset: FlexibleAsset = typed(&call, &document.data).unwrap();
    assert_eq!(asset.id, 401);
    assert_eq!(asset.flexible_asset_type_id, Some(33));
    assert_eq!(asset.name.as_deref(), Some("Exchange 2013"));
    assert_eq!(asset.traits["location"], "On-Premises");
    assert_eq!(asset.traits["email-servers"]["type"], "Configurations");
    let attachments: Vec<Attachment> =
        typed_of_kind(&call, &document.included, "attachments").unwrap();
    assert_eq!(attachments[0].id, 1279);
}

#[test]
fn a_malformed_resource_names_itself_in_the_error() {
    let call = Call::get("/organizations");
    let document: ListDocument = serde_json::from_str(
        r#"{"data":[{"id":"5","type":"organizations","attributes":{"name":42}}]}"#,
    )
    .unwrap();
    let error = typed::<Organization>(&call, &document.data[0])
        .unwrap_err()
        .to_string();
    assert!(error.contains("GET /organizations"), "{error}");
    assert!(error.contains("organizations id 5"), "{error}");
}
