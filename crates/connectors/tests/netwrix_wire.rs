//! The wire model against every verbatim sample of Auditor's documentation.

use mspbridge_connectors::netwrix::{
    parse_error_list, parse_record_page, ActivityRecord, Detail, FilterField, FilterList,
    FilterOperator, WhenFilter, WireFormat,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/netwrix/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"))
}

fn exchange_record() -> ActivityRecord {
    serde_json::from_value(serde_json::json!({
        "Action": "Modified",
        "MonitoringPlan": { "ID": "{42F64379-163E-4A43-A9C5-4514C5A23798}", "Name": "Compliance" },
        "DataSource": "Exchange Online",
        "Item": { "Name": "mail@enterprise.onmicrosoft.com (Office 365 tenant)" },
        "ObjectType": "Mailbox",
        "What": "Shared Mailbox",
        "When": "2017-03-17T09:37:11Z",
        "Where": "BLUPR05MB1940",
        "Who": "admin@enterprise.onmicrosoft.com",
        "DetailList": [ { "PropertyName": "Custom_Attribute", "Before": "1", "After": "2" } ]
    }))
    .unwrap()
}

#[test]
fn output_record_json_sample_is_a_bare_array() {
    let page = parse_record_page(
        &fixture("api_output_activity_record.json"),
        WireFormat::Json,
    )
    .unwrap();
    assert_eq!(page.records, vec![exchange_record()]);
    assert_eq!(page.continuation_mark, None);
    let record = &page.records[0];
    assert_eq!(record.rid, None);
    assert_eq!(record.workstation, None);
    assert_eq!(
        record.item.as_deref(),
        Some("mail@enterprise.onmicrosoft.com (Office 365 tenant)")
    );
    assert_eq!(record.details_flattened(), "Custom_Attribute: 1 -> 2");
}

#[test]
fn output_record_xml_sample_matches_the_json_one_except_property_case() {
    let page =
        parse_record_page(&fixture("api_output_activity_record.xml"), WireFormat::Xml).unwrap();
    let mut expected = exchange_record();
    // The documentation itself spells the property differently in its XML example.
    expected.details[0].property_name = "Custom_attribute".to_owned();
    assert_eq!(page.records, vec![expected]);
    assert_eq!(
        page.records[0]
            .monitoring_plan
            .as_ref()
            .unwrap()
            .id
            .as_deref(),
        Some("{42F64379-163E-4A43-A9C5-4514C5A23798}")
    );
}

#[test]
fn enum_sample_yields_its_record_and_mark_and_skips_the_elided_records() {
    let page = parse_record_page(
        &fixture("api_enum_response_with_continuation_mark.xml"),
        WireFormat::Xml,
    )
    .unwrap();
    assert_eq!(
        page.continuation_mark.as_deref(),
        Some("PG5yPjxuIG49IntFNzA...PjwvYT48L24+PC9ucj4A")
    );
    assert_eq!(page.records.len(), 1);
    let record = &page.records[0];
    assert_eq!(
        record.rid.as_deref(),
        Some("20160215110503420B9451771F5964A9EAC0A5F35307EA155")
    );
    assert_eq!(record.who, r"ENTERPRISE\Administrator");
    assert_eq!(record.what, r"\local\enterprise\Users\Jason Smith");
    assert_eq!(record.where_, "EnterpriseDC1.enterprise.local");
    assert_eq!(
        record.workstation.as_deref(),
        Some("EnterpriseDC1.enterprise.local")
    );
    assert_eq!(record.monitoring_plan_name(), Some("AD Monitoring"));
    assert_eq!(record.item.as_deref(), Some("enterprise.local (Domain)"));
    assert!(record.details.is_empty());
    assert_eq!(record.details_flattened(), "");
}

#[test]
fn write_input_samples_parse_the_same_in_json_and_xml() {
    let json = parse_record_page(&fixture("api_write_input.json"), WireFormat::Json).unwrap();
    let xml = parse_record_page(&fixture("api_write_input.xml"), WireFormat::Xml).unwrap();
    assert_eq!(json.records, xml.records);
    assert_eq!(json.records.len(), 2);
    let first = &json.records[0];
    assert_eq!(first.object_type, "Stored Procedure");
    assert_eq!(
        first.what,
        r"Databases\ReportServer\Stored Procedures\dbo.sp_New"
    );
    assert_eq!(
        first.monitoring_plan.as_ref().unwrap().name,
        "Integrations and custom sources"
    );
    assert_eq!(first.monitoring_plan.as_ref().unwrap().id, None);
    assert_eq!(first.item, None);
    assert_eq!(
        first.when_parsed().unwrap().to_rfc3339(),
        "2017-02-19T03:43:49-11:00"
    );
    assert_eq!(
        first.when, "2017-02-19T03:43:49-11:00",
        "the original text is kept"
    );
}

#[test]
fn error_list_samples_parse_in_both_formats() {
    for name in [
        "api_error_input_invalid_count.json",
        "api_error_input_invalid_count.xml",
    ] {
        let errors = parse_error_list(&fixture(name));
        assert_eq!(errors.len(), 1, "{name}");
        assert_eq!(errors[0].category, "InputError");
        assert_eq!(
            errors[0].description,
            "Invalid count parameter specified. Error details: 0x80040204 Cannot convert the attribute data type"
        );
        assert_eq!(errors[0].location, None);
    }
}

#[test]
fn search_parameter_sample_json_has_the_shape_the_builder_writes() {
    let sample: serde_json::Value =
        serde_json::from_slice(&fixture("api_search_parameters.json")).unwrap();
    let built = FilterList::new()
        .with(
            FilterField::Who,
            FilterOperator::NotEqualTo,
            "Administrator",
        )
        .with(
            FilterField::DataSource,
            FilterOperator::Equals,
            "Active Directory",
        )
        .with(
            FilterField::DataSource,
            FilterOperator::StartsWith,
            "Exchange",
        )
        .when(WhenFilter::Range {
            from: Some(chrono::DateTime::parse_from_rfc3339("2016-01-16T16:30:00+11:00").unwrap()),
            to: Some(chrono::DateTime::parse_from_rfc3339("2017-01-01T00:00:00Z").unwrap()),
        })
        .search_body(None);
    assert_eq!(built["FilterList"]["Who"], sample["FilterList"]["Who"]);
    assert_eq!(
        built["FilterList"]["DataSource"][1],
        sample["FilterList"]["DataSource"][1]
    );
    assert_eq!(
        built["FilterList"]["When"]["From"],
        sample["FilterList"]["When"]["From"]
    );
    assert_eq!(
        built["FilterList"]["When"]["To"],
        sample["FilterList"]["When"]["To"]
    );
    let with_mark = FilterList::rid("R").search_body(Some("MARK"));
    assert_eq!(
        with_mark,
        serde_json::json!({"ContinuationMark": "MARK", "FilterList": {"RID": {"Equals": "R"}}})
    );
}

#[test]
fn json_envelope_accepts_both_list_keys_and_ignores_field_order_and_unknown_fields() {
    let body = br#"{"ContinuationMark":"M2","ActivityRecordSearch":[
        {"Where":"DC1","When":"2024-05-01T10:00:00.123+02:00","Who":"ACME\\bob","What":"x",
         "ObjectType":"user","Action":"Modified","Extra":1,"DetailList":null}]}"#;
    let page = parse_record_page(body, WireFormat::Json).unwrap();
    assert_eq!(page.continuation_mark.as_deref(), Some("M2"));
    assert_eq!(page.records[0].who, r"ACME\bob");
    assert!(page.records[0].details.is_empty());
    assert_eq!(
        page.records[0].when_parsed().unwrap().timestamp_millis(),
        1_714_550_400_123
    );
}

#[test]
fn a_record_without_a_mandatory_field_is_rejected_naming_the_field() {
    let body = br#"<ActivityRecordList><ActivityRecord><RID>R1</RID><Who>a</Who><Action>Added</Action>
        <ObjectType>user</ObjectType><What>w</What><When>2024-01-01T00:00:00Z</When></ActivityRecord>
        </ActivityRecordList>"#;
    let error = parse_record_page(body, WireFormat::Xml).unwrap_err();
    assert!(error.to_string().contains("R1 has no <Where>"), "{error}");

    let error = parse_record_page(br#"[{"Who":"a"}]"#, WireFormat::Json).unwrap_err();
    assert!(error.to_string().contains("missing field"), "{error}");
}

#[test]
fn details_flatten_one_line_per_property() {
    let mut record = exchange_record();
    record.details = vec![
        Detail {
            property_name: "Password".to_owned(),
            before: None,
            after: None,
            message: Some("Password reset".to_owned()),
        },
        Detail {
            property_name: "Member".to_owned(),
            before: None,
            after: Some(r"ACME\jdoe".to_owned()),
            message: None,
        },
        Detail {
            property_name: "Title".to_owned(),
            before: Some("Clerk".to_owned()),
            after: Some("Manager".to_owned()),
            message: None,
        },
    ];
    assert_eq!(
        record.details_flattened(),
        "Password: Password reset\nMember: (none) -> ACME\\jdoe\nTitle: Clerk -> Manager"
    );
}

#[test]
fn xml_text_with_entities_keeps_its_spaces() {
    let body = br#"<ActivityRecordList xmlns="http://schemas.netwrix.com/api/v1/activity_records/">
        <ActivityRecord><Who>R &amp; D\eve</Who><Action>Read</Action><ObjectType>File</ObjectType>
        <What>\\fs1\share\a &lt;b&gt; &#x41;.txt</What><When>2024-01-01T00:00:00Z</When><Where>fs1</Where>
        </ActivityRecord></ActivityRecordList>"#;
    let page = parse_record_page(body, WireFormat::Xml).unwrap();
    assert_eq!(page.records[0].who, r"R & D\eve");
    assert_eq!(page.records[0].what, r"\\fs1\share\a <b> A.txt");
}
