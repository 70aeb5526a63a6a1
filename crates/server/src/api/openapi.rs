//! The OpenAPI 3 document served at `GET /api/v1/openapi.json`, written by hand.
//!
//! It describes every route the router serves; the API tests walk the document and call each
//! operation, so a route added without its description (or the reverse) fails a test.

use axum::Json;
use serde_json::{json, Value};

/// Every route: (method, path as OpenAPI spells it). Tests check the document and the running
/// router against this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/alerts"),
    ("get", "/api/v1/alerts"),
    ("post", "/api/v1/alerts/netwrix"),
    ("post", "/api/v1/alerts/alertmanager"),
    ("post", "/api/v1/alerts/reroute"),
    ("get", "/api/v1/incidents"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/queue"),
    ("post", "/api/v1/queue/{id}/retry"),
    ("get", "/api/v1/clients"),
    ("get", "/api/v1/sources"),
    ("get", "/api/v1/systems"),
    ("post", "/api/v1/systems"),
    ("post", "/api/v1/systems/import"),
    ("delete", "/api/v1/systems/{client}/{name}"),
    ("get", "/api/v1/itglue/instances"),
    ("post", "/api/v1/itglue/instances/{name}/test"),
    ("post", "/api/v1/itglue/instances/{name}/import"),
    ("post", "/api/v1/itglue/instances/{name}/automap"),
    ("get", "/api/v1/itglue/instances/{name}/mappings"),
    ("post", "/api/v1/itglue/instances/{name}/mappings"),
    ("delete", "/api/v1/itglue/instances/{name}/mappings"),
    ("get", "/api/v1/reports"),
    ("post", "/api/v1/reports/generate"),
    ("post", "/api/v1/reports/upload"),
    ("get", "/api/v1/reports/{id}"),
    ("post", "/api/v1/reports/{id}/publish"),
    ("get", "/api/v1/reports/{id}/download"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
];

/// `GET /api/v1/openapi.json`.
pub async fn openapi_json() -> Json<Value> {
    Json(document())
}

fn error_responses(codes: &[&str]) -> Value {
    let mut responses = serde_json::Map::new();
    for code in codes {
        let description = match *code {
            "400" => "Malformed JSON, a missing or invalid field (named in the message), an unknown source or client, or a bad query parameter.",
            "401" => "Missing or invalid bearer token.",
            "404" => "No such record.",
            "409" => "The record is not in a state that allows this.",
            "413" => "The body is larger than server.max_body_bytes.",
            "429" => "The intake is over its configured rate; see Retry-After.",
            "503" => "The store is unavailable.",
            _ => "Error.",
        };
        responses.insert(
            (*code).to_string(),
            json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    Value::Object(responses)
}

fn operation(summary: &str, secured: bool, ok: (&str, &str, Value), errors: &[&str]) -> Value {
    let mut responses = error_responses(errors);
    responses[ok.0] =
        json!({"description": ok.1, "content": {"application/json": {"schema": ok.2}}});
    let mut operation = json!({"summary": summary, "responses": responses});
    if !secured {
        operation["security"] = json!([]);
    }
    operation
}

fn with_body(mut operation: Value, schema: &str) -> Value {
    operation["requestBody"] = json!({
        "required": true,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    });
    operation
}

fn with_params(mut operation: Value, params: &[(&str, &str, &str, &str)]) -> Value {
    operation["parameters"] = params
        .iter()
        .map(|(name, location, kind, description)| {
            json!({"name": name, "in": location, "required": *location == "path",
                   "schema": {"type": kind}, "description": description})
        })
        .collect();
    operation
}

fn no_content(summary: &str, errors: &[&str]) -> Value {
    let mut responses = error_responses(errors);
    responses["204"] = json!({"description": "Done."});
    json!({"summary": summary, "responses": responses})
}

fn report_param() -> (&'static str, &'static str, &'static str, &'static str) {
    ("id", "path", "integer", "report id")
}

fn instance_param() -> (&'static str, &'static str, &'static str, &'static str) {
    ("name", "path", "string", "IT Glue instance name")
}

fn merge(mut base: Value, more: Value) -> Value {
    if let (Some(base), Value::Object(more)) = (base.as_object_mut(), more) {
        base.extend(more);
    }
    base
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array_of(name: &str) -> Value {
    json!({"type": "array", "items": schema_ref(name)})
}

/// The systems inventory and IT Glue routes.
fn inventory_paths() -> Value {
    let list_errors = ["400", "401", "503"];
    json!({
        "/api/v1/systems": {
            "get": with_params(operation("List registered systems.", true,
                ("200", "Systems.", array_of("System")), &list_errors),
                &[("client", "query", "string", "only this client's systems")]),
            "post": with_body(operation("Register a system (name, MAC addresses, sensor) for a client.", true,
                ("201", "The system.", schema_ref("System")), &["400", "401", "503"]), "NewSystem")
        },
        "/api/v1/systems/import": {
            "post": {
                "summary": "Import systems from CSV (client,name,macs,sensor).",
                "requestBody": {"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}},
                "responses": merge(json!({"200": {"description": "Import summary.", "content": {"application/json": {"schema": {"type": "object"}}}}}), error_responses(&["400", "401", "413", "503"]))
            }
        },
        "/api/v1/systems/{client}/{name}": {
            "delete": with_params(no_content("Remove a system.", &["401", "404", "503"]), &[
                ("client", "path", "string", "client name"),
                ("name", "path", "string", "system name"),
            ])
        },
        "/api/v1/itglue/instances": {
            "get": operation("Configured IT Glue instances (no API keys).", true,
                ("200", "Instances.", json!({"type": "array", "items": {"type": "object"}})), &["401"])
        },
        "/api/v1/itglue/instances/{name}/test": {
            "post": with_params(operation("Test the instance's connection with one authenticated call.", true,
                ("200", "Outcome.", json!({"type": "object"})), &["401", "404", "503"]), &[instance_param()])
        },
        "/api/v1/itglue/instances/{name}/import": {
            "post": with_params(operation("Import organizations and configurations (all, or the named organizations).", true,
                ("200", "Import summary.", json!({"type": "object"})), &["400", "401", "404", "503"]), &[instance_param()])
        },
        "/api/v1/itglue/instances/{name}/automap": {
            "post": with_params(operation("Run auto-mapping now (clients by email domain, systems by MAC).", true,
                ("200", "Auto-map outcome.", json!({"type": "object"})), &["401", "404", "503"]), &[instance_param()])
        },
        "/api/v1/itglue/instances/{name}/mappings": {
            "get": with_params(operation("List mappings of clients to organizations and systems to configurations.", true,
                ("200", "Mappings.", json!({"type": "array", "items": {"type": "object"}})), &["401", "404", "503"]), &[instance_param()]),
            "post": with_params(with_body(operation("Map a client to an organization, or a system to a configuration, by hand.", true,
                ("201", "The mapping.", json!({"type": "object"})), &["400", "401", "404", "503"]), "MapRequest"), &[instance_param()]),
            "delete": with_params(no_content("Remove a mapping (manual or automatic).", &["400", "401", "404", "503"]), &[
                instance_param(),
                ("client", "query", "string", "client name"),
                ("system", "query", "string", "system name, to unmap a system instead of the client"),
            ])
        }
    })
}

/// The report routes.
fn report_paths() -> Value {
    let list_errors = ["400", "401", "503"];
    json!({
        "/api/v1/reports": {
            "get": with_params(operation("List reports and their IT Glue publish state.", true,
                ("200", "Reports.", array_of("Report")), &list_errors), &[
                    ("client", "query", "string", "only this client's reports"),
                    ("state", "query", "string", "only this publish state"),
                    ("limit", "query", "integer", "at most this many"),
                ])
        },
        "/api/v1/reports/generate": {
            "post": with_body(operation("Generate a security summary report for a client now (optionally publish it).", true,
                ("201", "The generated report.", json!({"type": "object"})), &["400", "401", "503"]), "GenerateReport")
        },
        "/api/v1/reports/upload": {
            "post": with_params({
                let mut upload = operation("Upload an external HTML report for a client (optionally publish it).", true,
                    ("201", "The stored report.", json!({"type": "object"})), &["400", "401", "413", "503"]);
                upload["requestBody"] = json!({"required": true, "content": {"text/html": {"schema": {"type": "string"}}}});
                upload
            }, &[
                ("client", "query", "string", "the client the report is for"),
                ("name", "query", "string", "report name"),
                ("publish", "query", "boolean", "publish to IT Glue once stored"),
            ])
        },
        "/api/v1/reports/{id}": {
            "get": with_params(operation("One report's metadata and publish state.", true,
                ("200", "The report.", schema_ref("Report")), &["401", "404", "503"]), &[report_param()])
        },
        "/api/v1/reports/{id}/publish": {
            "post": with_params(operation("Publish (again) to IT Glue; refused for a client without an organization mapping.", true,
                ("202", "Publishing is queued.", json!({"type": "object"})), &["401", "404", "409", "503"]), &[report_param()])
        },
        "/api/v1/reports/{id}/download": {
            "get": with_params({
                let mut download = operation("The report's HTML, as an attachment in a sandbox.", true,
                    ("200", "HTML.", json!({"type": "string"})), &["401", "404", "503"]);
                download["responses"]["200"]["content"] = json!({"text/html": {"schema": {"type": "string"}}});
                download
            }, &[report_param()])
        }
    })
}

/// The document.
pub fn document() -> Value {
    let mut document = core_document();
    for more in [inventory_paths(), report_paths()] {
        if let (Some(paths), Value::Object(more)) = (document["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    document
}

fn core_document() -> Value {
    let intake_errors = ["400", "401", "413", "429", "503"];
    let list_errors = ["400", "401", "503"];
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "mspbridge API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Alert intake (Netwrix Auditor, native webhook, Alertmanager) and management of incidents, events and the job queue. Every error answers {\"error\": {\"code\", \"message\"}}."
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/alerts": {
                "post": with_body(operation("Accept a native alert; 202 only once it is stored durably.", true,
                    ("202", "Stored (or already stored: duplicate = true).", schema_ref("Accepted")), &intake_errors), "NativeAlert"),
                "get": with_params(operation("List stored alerts, e.g. state=unrouted.", true,
                    ("200", "Alerts, ascending id.", array_of("Alert")), &list_errors), &[
                        ("state", "query", "string", "queued, processed or unrouted"),
                        ("client", "query", "string", "only this client"),
                        ("source", "query", "string", "only this source"),
                        ("after", "query", "integer", "only ids greater than this"),
                        ("limit", "query", "integer", "at most this many (default 100, max 1000)"),
                    ])
            },
            "/api/v1/alerts/netwrix": {
                "post": with_body(operation("Accept a Netwrix Auditor response action (AlertID, RecordID); the record is fetched later.", true,
                    ("202", "Stored (or already stored).", schema_ref("Accepted")), &intake_errors), "NetwrixAlert")
            },
            "/api/v1/alerts/alertmanager": {
                "post": with_params(with_body(operation("Accept an Alertmanager webhook notification (version 4); one alert per entry of alerts[].", true,
                    ("202", "Every alert stored (or already stored).", schema_ref("AcceptedBatch")), &intake_errors), "AlertmanagerPayload"),
                    &[("source", "query", "string", "the alertmanager source; optional when only one is configured")])
            },
            "/api/v1/incidents": {
                "get": with_params(operation("List tracked incidents and their tickets.", true,
                    ("200", "Incidents, ascending key.", array_of("Incident")), &list_errors), &[
                        ("client", "query", "string", "only this client"),
                        ("limit", "query", "integer", "at most this many"),
                    ])
            },
            "/api/v1/events": {
                "get": with_params(operation("List integration events, newest first.", true,
                    ("200", "Events.", array_of("Event")), &list_errors), &[
                        ("code", "query", "integer", "only this event id"),
                        ("client", "query", "string", "only this client"),
                        ("since", "query", "string", "a duration back from now (24h) or an RFC 3339 time"),
                        ("limit", "query", "integer", "at most this many (default 100, max 1000)"),
                    ])
            },
            "/api/v1/queue": {
                "get": with_params(operation("Queued, running and dead-lettered jobs with their last error.", true,
                    ("200", "The queue.", schema_ref("Queue")), &list_errors),
                    &[("limit", "query", "integer", "at most this many jobs per state")])
            },
            "/api/v1/alerts/reroute": {
                "post": operation("Route every unrouted alert again under the configuration in force; those that find a client are queued.", true,
                    ("200", "How many unrouted alerts there were and how many found a client.", json!({
                        "type": "object",
                        "required": ["unrouted", "routed"],
                        "properties": {
                            "unrouted": {"type": "integer"},
                            "routed": {"type": "integer"}
                        }
                    })), &["401", "503"])
            },
            "/api/v1/queue/{id}/retry": {
                "post": with_params(operation("Queue a dead-lettered job again.", true,
                    ("200", "The job, queued.", schema_ref("Job")), &["400", "401", "404", "409", "503"]),
                    &[("id", "path", "integer", "job id")])
            },
            "/api/v1/clients": {
                "get": operation("Configured clients with their effective ConnectWise routing.", true,
                    ("200", "Clients.", array_of("Client")), &["401"])
            },
            "/api/v1/sources": {
                "get": operation("Configured alert sources (no credentials).", true,
                    ("200", "Sources.", array_of("Source")), &["401"])
            },
            "/api/v1/openapi.json": {
                "get": operation("This document.", false, ("200", "OpenAPI 3 document.", json!({"type": "object"})), &[])
            },
            "/healthz": {
                "get": operation("The process is up.", false, ("200", "Up.", json!({"type": "object"})), &[])
            },
            "/readyz": {
                "get": operation("The store answers and its migrations are applied.", false,
                    ("200", "Ready.", json!({"type": "object"})), &["503"])
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text format).",
                    "security": [],
                    "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}}
                }
            }
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "One of server.api_tokens."}},
            "schemas": schemas()
        }
    })
}

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let optional_string = json!({"type": "string", "nullable": true});
    let time = json!({"type": "string", "format": "date-time"});
    let optional_time = json!({"type": "string", "format": "date-time", "nullable": true});
    let integer = json!({"type": "integer"});
    let optional_integer = json!({"type": "integer", "nullable": true});
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": string, "message": string}}}},
        "Accepted": {"type": "object", "required": ["id", "duplicate"],
            "properties": {"id": integer, "duplicate": {"type": "boolean"}}},
        "AcceptedBatch": {"type": "object", "required": ["alerts"], "properties": {"alerts": array_of("Accepted")}},
        "NativeAlert": {"type": "object", "additionalProperties": false,
            "required": ["source", "alert_id", "alert_name", "occurred_at"],
            "properties": {
                "source": string, "alert_id": string, "alert_name": string, "client": optional_string,
                "occurred_at": time, "records": array_of("ActivityRecord"),
                "fields": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "ActivityRecord": {"type": "object", "additionalProperties": false, "properties": {
            "who": string, "action": string, "object_type": string, "what": string, "when": time,
            "where": string, "workstation": string, "data_source": string, "monitoring_plan": string,
            "item": string, "details": {"type": "array", "items": {"type": "object", "required": ["property"],
                "properties": {"property": string, "before": optional_string, "after": optional_string}}}}},
        "NetwrixAlert": {"type": "object", "additionalProperties": false, "required": ["alert_id", "record_id"],
            "properties": {"alert_id": string, "record_id": string,
                "source": {"type": "string", "description": "optional when only one netwrix-auditor source is configured"},
                "alert_name": {"type": "string", "description": "the alert's name (%AlertName%); the AlertID when absent"}}},
        "AlertmanagerPayload": {"type": "object", "required": ["version", "alerts"], "properties": {
            "version": {"type": "string", "enum": ["4"]}, "receiver": string, "status": string,
            "alerts": {"type": "array", "minItems": 1, "items": {"type": "object",
                "required": ["status", "labels", "startsAt", "fingerprint"], "properties": {
                    "status": {"type": "string", "enum": ["firing", "resolved"]},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                    "startsAt": time, "endsAt": time, "generatorURL": string, "fingerprint": string}}}}},
        "Alert": {"type": "object", "properties": {
            "id": integer, "source": string, "source_alert_id": string, "client": optional_string,
            "alert_name": string, "occurred_at": time, "received_at": time,
            "state": {"type": "string", "enum": ["queued", "processed", "unrouted"]},
            "route": string}},
        "Incident": {"type": "object", "properties": {
            "key": string, "client": optional_string, "ticket_id": optional_integer, "state": string,
            "alert_count": integer, "first_alert_at": time, "last_alert_at": time,
            "pending_alerts": integer, "flush_at": optional_time, "flood": {"type": "boolean"}}},
        "Event": {"type": "object", "properties": {
            "id": integer, "code": integer, "name": string, "at": time, "client": optional_string,
            "subject": optional_string, "message": string, "details": {"type": "object"}}},
        "Job": {"type": "object", "properties": {
            "id": integer, "kind": string, "state": {"type": "string", "enum": ["queued", "running", "done", "dead"]},
            "serial_key": optional_string, "attempts": integer, "run_at": time, "last_error": optional_string,
            "created_at": time, "finished_at": optional_time}},
        "Queue": {"type": "object", "properties": {
            "depth": {"type": "object", "properties": {"queued": integer, "running": integer, "dead": integer}},
            "jobs": array_of("Job")}},
        "Client": {"type": "object", "properties": {
            "name": string, "email": optional_string, "company_id": optional_integer, "board_id": optional_integer,
            "team_id": optional_integer, "priority_id": optional_integer, "itglue": optional_string}},
        "System": {"type": "object", "properties": {
            "client": string, "name": string, "macs": {"type": "array", "items": string},
            "sensor": optional_string}},
        "NewSystem": {"type": "object", "required": ["client", "name"], "properties": {
            "client": string, "name": string, "macs": {"type": "array", "items": string},
            "sensor": optional_string}},
        "MapRequest": {"type": "object", "required": ["client"], "properties": {
            "client": string, "organization": optional_integer, "system": optional_string,
            "configuration": optional_integer}},
        "Report": {"type": "object", "description": "A report's metadata (the HTML is downloaded separately)."},
        "GenerateReport": {"type": "object", "required": ["client"], "properties": {
            "client": string, "name": optional_string, "days": optional_integer,
            "publish": {"type": "boolean"}}},
        "Source": {"type": "object", "properties": {
            "name": string, "kind": {"type": "string", "enum": ["netwrix-auditor", "webhook", "alertmanager"]},
            "url": optional_string, "username": optional_string, "certificate_pinned": {"type": "boolean"},
            "client": optional_string}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_reference_resolves() {
        let document = document();
        for (method, path) in ROUTES {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
        let documented: usize = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(documented, ROUTES.len());
        let text = document.to_string();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                document["components"]["schemas"][name].is_object(),
                "dangling reference {name}"
            );
        }
    }
}
