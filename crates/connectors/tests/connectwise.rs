//! The ConnectWise client against the ConnectWise simulator over loopback HTTP: every operation,
//! every error class, paging, codebase rediscovery and the promise that secrets stay out of errors
//! and logs. A few failure modes the simulator cannot produce (a bad certificate, a connection that
//! drops mid-request, a refused connection) use tiny local servers written here.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mspbridge_connectors::connectwise::{
    with_retries, Conditions, ConnectWiseClient, ConnectWiseSettings, CwError, Impact, NewNote,
    NewTicket, PatchOp, RecordRef, RetryPolicy, Severity,
};
use mspbridge_connectors::{Backoff, ErrorClass};
use mspbridge_simulators::connectwise::{
    spawn, ConnectWiseSimulator, Fault, SeedData, SimulatorConfig,
};
use serde_json::json;
use url::Url;

#[path = "connectwise/local_servers.rs"]
mod local_servers;

const PRIVATE_KEY: &str = "PRIVATE-7f3e-do-not-leak";
const CLIENT_ID: &str = "8f1a2b3c-0d4e-4f50-9a61-7b8c9d0e1f23";

fn simulator_config() -> SimulatorConfig {
    SimulatorConfig {
        company_id: "acme_msp".to_string(),
        public_key: "PUBLIC-key".to_string(),
        private_key: PRIVATE_KEY.to_string(),
        client_id: Some(CLIENT_ID.to_string()),
        codebase: "v2025_1/".to_string(),
        seed: SeedData::demo(),
        ..SimulatorConfig::default()
    }
}

async fn start_simulator() -> ConnectWiseSimulator {
    spawn(simulator_config(), loopback())
        .await
        .expect("the simulator starts")
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn settings_for(simulator: &ConnectWiseSimulator) -> ConnectWiseSettings {
    let mut settings = ConnectWiseSettings::new(
        Url::parse(&simulator.base_url()).unwrap(),
        "acme_msp",
        "PUBLIC-key",
        PRIVATE_KEY,
        CLIENT_ID,
    );
    settings.connect_timeout = Duration::from_secs(5);
    settings.request_timeout = Duration::from_secs(10);
    settings
}

fn client_for(simulator: &ConnectWiseSimulator) -> ConnectWiseClient {
    ConnectWiseClient::new(settings_for(simulator)).unwrap()
}

/// A ticket on board 1 ("Professional Services") of the demo seed, for company 250 (Acme).
fn new_ticket(summary: &str, key: &str) -> NewTicket {
    let mut ticket = NewTicket::new(summary, RecordRef::id(250));
    ticket.board = Some(RecordRef::id(1));
    ticket.status = Some(RecordRef::id(16));
    ticket.priority = Some(RecordRef::id(4));
    ticket.team = Some(RecordRef::id(25));
    ticket.severity = Some(Severity::Medium);
    ticket.impact = Some(Impact::Low);
    ticket.external_x_ref = Some(key.to_string());
    ticket
}

/// Requests the simulator saw whose path contains `fragment`.
fn requests_to(simulator: &ConnectWiseSimulator, fragment: &str) -> Vec<(String, String, u16)> {
    simulator
        .state()
        .requests()
        .into_iter()
        .filter(|record| record.path.contains(fragment))
        .map(|record| {
            let query = record.query.unwrap_or_default();
            (record.method, query, record.status)
        })
        .collect()
}

#[tokio::test]
async fn connect_discovers_the_codebase_and_system_info_answers() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    assert_eq!(client.current_codebase(), None);
    assert_eq!(client.connect().await.unwrap(), "v2025_1/");
    assert_eq!(client.current_codebase().as_deref(), Some("v2025_1/"));

    let info = client.system_info().await.unwrap();
    assert_eq!(info.version.as_deref(), Some("v2025.1.10431"));
    assert!(requests_to(&simulator, "/v2025_1/apis/3.0/system/info")
        .iter()
        .any(|(method, _, status)| method == "GET" && *status == 200));
}

#[tokio::test]
async fn concurrent_first_requests_discover_the_codebase_once() {
    let simulator = start_simulator().await;
    let client = std::sync::Arc::new(client_for(&simulator));
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = client.clone();
        requests.spawn(async move { client.system_info().await.map(|_| ()) });
    }
    while let Some(done) = requests.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(requests_to(&simulator, "/login/companyinfo/").len(), 1);
    assert_eq!(requests_to(&simulator, "/system/info").len(), 8);
}

#[tokio::test]
async fn an_unknown_company_id_is_reported_with_the_site() {
    let simulator = start_simulator().await;
    let mut settings = settings_for(&simulator);
    settings.company_id = "nobody_here".to_string();
    let client = ConnectWiseClient::new(settings).unwrap();
    let error = client.system_info().await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("company id 'nobody_here' is not known at site http://127.0.0.1:"),
        "{text}"
    );
    assert_eq!(error.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn tickets_are_created_read_noted_closed_reopened_and_found() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);

    let mut ticket = new_ticket("[mspbridge] Disk full on SRV01", "mspbridge:incident-1");
    ticket.initial_description = Some("Alert details for the customer".to_string());
    ticket.initial_internal_analysis = Some("Raw activity record".to_string());
    let created = client.create_ticket(&ticket).await.unwrap();
    assert_eq!(
        created.summary.as_deref(),
        Some("[mspbridge] Disk full on SRV01")
    );
    assert_eq!(created.board.as_ref().map(|board| board.id), Some(1));
    assert_eq!(
        created.company.as_ref().map(|company| company.id),
        Some(250)
    );
    assert_eq!(created.status_id(), Some(16));
    assert_eq!(created.severity.as_deref(), Some("Medium"));
    assert!(!created.is_closed());

    let read = client.get_ticket(created.id).await.unwrap();
    assert_eq!(read.external_x_ref.as_deref(), Some("mspbridge:incident-1"));

    let notes = client.list_notes(created.id).await.unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes
        .iter()
        .any(|note| note.detail_description_flag == Some(true)
            && note.text.as_deref() == Some("Alert details for the customer")));
    assert!(notes
        .iter()
        .any(|note| note.internal_analysis_flag == Some(true)
            && note.text.as_deref() == Some("Raw activity record")));

    let note = client
        .add_note(
            created.id,
            &NewNote::discussion("3 more alerts of this type"),
        )
        .await
        .unwrap();
    assert_eq!(note.ticket_id, Some(created.id));
    assert_eq!(client.list_notes(created.id).await.unwrap().len(), 3);

    let closed = client
        .patch_ticket(created.id, &[PatchOp::replace("status", json!({"id": 19}))])
        .await
        .unwrap();
    assert_eq!(closed.status_id(), Some(19));
    assert!(closed.is_closed());

    let reopened = client
        .patch_ticket(created.id, &[PatchOp::replace("status", json!({"id": 16}))])
        .await
        .unwrap();
    assert!(!reopened.is_closed());

    let found = client
        .find_ticket_by_external_xref("mspbridge:incident-1")
        .await
        .unwrap()
        .expect("the ticket is found by its key");
    assert_eq!(found.id, created.id);
    assert!(client
        .find_ticket_by_external_xref("mspbridge:never-created")
        .await
        .unwrap()
        .is_none());

    let open_on_board = client
        .search_tickets(&Conditions::eq("board/id", 1).and(Conditions::eq("closedFlag", false)))
        .await
        .unwrap();
    assert_eq!(
        open_on_board.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![created.id]
    );
}

#[tokio::test]
async fn find_or_create_does_not_duplicate_a_ticket_created_before() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    let ticket = new_ticket("created once", "mspbridge:once");
    let (first, created) = client.find_or_create_ticket(&ticket).await.unwrap();
    assert!(created);
    let (second, created_again) = client.find_or_create_ticket(&ticket).await.unwrap();
    assert!(!created_again);
    assert_eq!(second.id, first.id);
    assert_eq!(simulator.state().tickets().len(), 1);

    let closed = client.set_ticket_status(first.id, 20).await.unwrap();
    assert!(closed.is_closed());

    let without_key = NewTicket::new("no key", RecordRef::id(250));
    let error = client
        .find_or_create_ticket(&without_key)
        .await
        .unwrap_err();
    assert!(matches!(error, CwError::InvalidRequest { .. }), "{error}");
}

#[tokio::test]
async fn long_summaries_are_cut_to_the_api_limit() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    let summary = "é".repeat(130);
    let created = client
        .create_ticket(&new_ticket(&summary, "mspbridge:long"))
        .await
        .unwrap();
    assert_eq!(created.summary.unwrap().chars().count(), 100);

    let too_long_key = "k".repeat(101);
    let error = client
        .create_ticket(&new_ticket("x", &too_long_key))
        .await
        .unwrap_err();
    assert!(matches!(error, CwError::InvalidRequest { .. }), "{error}");
}

#[tokio::test]
async fn setup_lists_are_read() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);

    let boards = client.list_boards().await.unwrap();
    let names: Vec<_> = boards.iter().filter_map(|b| b.name.clone()).collect();
    assert_eq!(names, vec!["Professional Services", "Security Operations"]);

    let statuses = client.board_statuses(1).await.unwrap();
    let closed: Vec<i64> = statuses
        .iter()
        .filter(|status| status.is_closed())
        .map(|status| status.id)
        .collect();
    assert_eq!(closed, vec![19, 20]);

    let teams = client.board_teams(1).await.unwrap();
    assert_eq!(
        teams.iter().map(|team| team.id).collect::<Vec<_>>(),
        vec![25]
    );

    let priorities = client.list_priorities().await.unwrap();
    assert_eq!(priorities.len(), 5);
    assert!(priorities
        .iter()
        .any(|p| p.id == 4 && p.level.as_deref() == Some("Medium")));

    let companies = client.list_companies(None).await.unwrap();
    assert_eq!(companies.len(), 4);
    let acme = client
        .list_companies(Some(&Conditions::eq("identifier", "Acme")))
        .await
        .unwrap();
    assert_eq!(acme.iter().map(|c| c.id).collect::<Vec<_>>(), vec![250]);

    let error = client.board_statuses(999).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
}

#[tokio::test]
async fn documents_are_uploaded_as_multipart_and_listed() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    let ticket = client
        .create_ticket(&new_ticket("with attachment", "mspbridge:doc"))
        .await
        .unwrap();
    let content = b"<html><body>activity records</body></html>".to_vec();
    let document = client
        .upload_document(
            ticket.id,
            "records.html",
            content.clone(),
            "Activity records",
        )
        .await
        .unwrap();
    assert_eq!(document.file_name.as_deref(), Some("records.html"));
    assert_eq!(document.title.as_deref(), Some("Activity records"));
    assert_eq!(document.size, Some(content.len() as i64));

    let listed = client.list_documents(ticket.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![document.id]
    );
    let stored = simulator.state().documents();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].content, content);
    assert_eq!(stored[0].record_id, ticket.id);
    assert_eq!(stored[0].record_type, "Ticket");
}

#[tokio::test]
async fn lists_follow_next_links_across_pages() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator).with_page_size(2);
    let mut ids = Vec::new();
    for n in 0..7 {
        let ticket = client
            .create_ticket(&new_ticket(
                &format!("paged {n}"),
                &format!("mspbridge:page-{n}"),
            ))
            .await
            .unwrap();
        ids.push(ticket.id);
    }
    let all = client
        .search_tickets(&Conditions::like("externalXRef", "mspbridge:page-%"))
        .await
        .unwrap();
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), ids);

    let pages: Vec<String> = requests_to(&simulator, "/apis/3.0/service/tickets")
        .into_iter()
        .filter(|(method, query, _)| method == "GET" && query.contains("pageSize=2"))
        .map(|(_, query, _)| query)
        .collect();
    assert_eq!(pages.len(), 4, "{pages:?}");
    assert!(pages[3].contains("page=4"), "{pages:?}");
}

#[tokio::test]
async fn long_conditions_go_through_the_search_endpoint() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    let created = client
        .create_ticket(&new_ticket("searched", "mspbridge:wanted"))
        .await
        .unwrap();
    let mut keys: Vec<String> = (0..120)
        .map(|n| format!("mspbridge:other-{n:04}"))
        .collect();
    keys.push("mspbridge:wanted".to_string());
    let conditions = Conditions::is_in("externalXRef", keys.iter());
    assert!(conditions.render().len() > 1500);

    let found = client.search_tickets(&conditions).await.unwrap();
    assert_eq!(
        found.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![created.id]
    );
    assert!(requests_to(&simulator, "/apis/3.0/service/tickets/search")
        .iter()
        .any(|(method, _, status)| method == "POST" && *status == 200));
}

#[tokio::test]
async fn wrong_keys_are_a_permanent_error_naming_the_key_settings() {
    let simulator = start_simulator().await;
    let mut settings = settings_for(&simulator);
    settings.private_key = "not-the-right-key".to_string();
    let client = ConnectWiseClient::new(settings).unwrap();
    let error = client.system_info().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.class(), ErrorClass::Permanent);
    let text = error.to_string();
    assert!(
        text.starts_with("ConnectWise rejected the API keys (company id + public/private key)"),
        "{text}"
    );
    assert!(text.contains("connectwise.private_key"), "{text}");
}

#[tokio::test]
async fn wrong_keys_answered_with_404_on_cloud_still_point_at_the_keys() {
    let simulator = spawn(
        SimulatorConfig {
            cloud_mode_auth_404: true,
            ..simulator_config()
        },
        loopback(),
    )
    .await
    .unwrap();
    let mut settings = settings_for(&simulator);
    settings.private_key = "not-the-right-key".to_string();
    let client = ConnectWiseClient::new(settings).unwrap();
    let error = client.system_info().await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.class(), ErrorClass::Permanent);
    let text = error.to_string();
    assert!(text.contains("rejected API keys"), "{text}");
    assert!(text.contains("connectwise.private_key"), "{text}");
}

#[tokio::test]
async fn any_list_endpoint_can_be_read_page_by_page() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator).with_page_size(1);
    let severities: Vec<serde_json::Value> = client
        .list_all("service/severities", &[("orderBy", "id asc")])
        .await
        .unwrap();
    let names: Vec<&str> = severities
        .iter()
        .filter_map(|severity| severity["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Low", "Medium", "High"]);
}

#[tokio::test]
async fn a_missing_client_id_is_explained() {
    let simulator = start_simulator().await;
    let mut settings = settings_for(&simulator);
    settings.client_id = String::new();
    let client = ConnectWiseClient::new(settings).unwrap();
    let error = client.system_info().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Permanent);
    let text = error.to_string();
    assert!(text.contains("connectwise.client_id"), "{text}");
    assert!(text.contains("no client id is configured"), "{text}");
}

#[tokio::test]
async fn a_missing_ticket_is_not_found_and_permanent() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    let error = client.get_ticket(987_654).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(error.class(), ErrorClass::Permanent);
    let api = error.api_error().unwrap();
    assert_eq!(api.code.as_deref(), Some("NotFound"));
    assert!(api.message.contains("987654"), "{}", api.message);
}

#[tokio::test]
async fn invalid_tickets_report_the_field_errors() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    let mut ticket = new_ticket("wrong status", "mspbridge:bad");
    ticket.status = Some(RecordRef::id(31)); // a status of board 3, not board 1
    let error = client.create_ticket(&ticket).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.class(), ErrorClass::Permanent);
    let api = error.api_error().unwrap();
    assert_eq!(api.code.as_deref(), Some("InvalidObject"));
    assert!(!api.errors.is_empty(), "{api:?}");
}

#[tokio::test]
async fn rate_limits_are_honoured_by_with_retries() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    client.connect().await.unwrap();
    simulator
        .faults()
        .inject(Fault::rate_limited(1).times(1).on_path("/system/info"));

    let first = client.system_info().await.unwrap_err();
    assert_eq!(
        first.class(),
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(1))
        }
    );
    simulator
        .faults()
        .inject(Fault::rate_limited(1).times(1).on_path("/system/info"));

    let calls = Arc::new(Mutex::new(Vec::new()));
    let info = with_retries(&RetryPolicy::default(), || {
        let calls = calls.clone();
        let client = &client;
        async move {
            calls.lock().unwrap().push(Instant::now());
            client.system_info().await
        }
    })
    .await
    .unwrap();
    assert!(info.version.is_some());
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert!(calls[1] - calls[0] >= Duration::from_secs(1));

    // The simulator's own log agrees: the retry arrived at least a second after the 429.
    let log: Vec<_> = simulator
        .state()
        .requests()
        .into_iter()
        .filter(|record| record.path.ends_with("system/info"))
        .collect();
    let limited = log.iter().rposition(|record| record.status == 429).unwrap();
    let retry = &log[limited + 1];
    assert_eq!(retry.status, 200);
    assert!(
        retry.timestamp - log[limited].timestamp >= chrono::Duration::seconds(1),
        "{log:?}"
    );
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    client.connect().await.unwrap();
    simulator.faults().inject(Fault::server_error().times(1));
    let error = client.list_priorities().await.unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert!(!error.is_unknown_outcome());

    simulator.faults().inject(Fault::unavailable().times(1));
    let error = client.list_priorities().await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(error.class(), ErrorClass::Retryable);

    let policy = RetryPolicy {
        backoff: Backoff::new(Duration::from_millis(10), Duration::from_secs(10)),
        ..RetryPolicy::idempotent()
    };
    simulator.faults().inject(Fault::server_error().times(2));
    let priorities = with_retries(&policy, || client.list_priorities())
        .await
        .unwrap();
    assert_eq!(priorities.len(), 5);
}

#[tokio::test]
async fn a_slow_answer_times_out_with_an_unknown_outcome() {
    let simulator = start_simulator().await;
    let mut settings = settings_for(&simulator);
    settings.request_timeout = Duration::from_millis(300);
    let client = ConnectWiseClient::new(settings).unwrap();
    client.connect().await.unwrap();
    simulator
        .faults()
        .inject(Fault::delay(Duration::from_secs(5)).on_method("POST"));
    let error = client
        .create_ticket(&new_ticket("slow", "mspbridge:slow"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, CwError::Timeout { sent: true, .. }),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert!(error.is_unknown_outcome());
    assert!(error.to_string().contains("connectwise.request_timeout"));
}

#[tokio::test]
async fn a_codebase_change_is_rediscovered_once() {
    let simulator = start_simulator().await;
    let client = client_for(&simulator);
    assert_eq!(client.connect().await.unwrap(), "v2025_1/");
    simulator
        .faults()
        .inject(Fault::codebase_changed("v2025_2/"));

    let info = client.system_info().await.unwrap();
    assert!(info.version.is_some());
    assert_eq!(client.current_codebase().as_deref(), Some("v2025_2/"));

    let log: Vec<_> = simulator
        .state()
        .requests()
        .into_iter()
        .map(|record| (record.path, record.status))
        .collect();
    let tail = &log[log.len() - 3..];
    assert!(
        tail[0].0.contains("/v2025_1/") && tail[0].1 == 404,
        "{log:?}"
    );
    assert!(tail[1].0.contains("/login/companyinfo/"), "{log:?}");
    assert!(
        tail[2].0.contains("/v2025_2/") && tail[2].1 == 200,
        "{log:?}"
    );
}

/// A `Write` that appends to a shared buffer, for capturing log lines.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_errors_or_logs() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let simulator = start_simulator().await;
    let credentials = format!("acme_msp+PUBLIC-key:{PRIVATE_KEY}");
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&credentials)
    };

    let mut errors: Vec<CwError> = Vec::new();
    // Right keys, failing calls: a 404, a 500 and a retried 429.
    let client = client_for(&simulator);
    errors.push(client.get_ticket(424_242).await.unwrap_err());
    simulator.faults().inject(Fault::server_error().times(4));
    let policy = RetryPolicy {
        backoff: Backoff::new(Duration::from_millis(5), Duration::from_secs(10)),
        ..RetryPolicy::idempotent()
    };
    errors.push(
        with_retries(&policy, || client.list_boards())
            .await
            .unwrap_err(),
    );
    simulator.faults().clear();
    // The same secret sent to a site that does not accept it.
    let mut settings = settings_for(&simulator);
    settings.public_key = "someone-else".to_string();
    let rejected = ConnectWiseClient::new(settings).unwrap();
    errors.push(rejected.system_info().await.unwrap_err());

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("ConnectWise request"),
        "nothing was logged: {logs}"
    );
    for error in &errors {
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains(PRIVATE_KEY), "{text}");
            assert!(!text.contains(&encoded), "{text}");
        }
    }
    for text in [format!("{client:?}"), format!("{:?}", client.settings())] {
        assert!(!text.contains(PRIVATE_KEY), "{text}");
    }
    assert!(!logs.contains(PRIVATE_KEY), "{logs}");
    assert!(!logs.contains(&encoded), "{logs}");
}

#[tokio::test]
async fn a_wrong_site_is_reported_as_site_or_codebase() {
    let simulator = start_simulator().await;
    let mut settings = settings_for(&simulator);
    settings.codebase = Some("v1999_1/".to_string());
    let client = ConnectWiseClient::new(settings).unwrap();
    // The pinned codebase is not served; rediscovery finds the real one and the call succeeds.
    client.system_info().await.unwrap();
    assert_eq!(client.current_codebase().as_deref(), Some("v2025_1/"));

    let mut settings = settings_for(&simulator);
    settings.site = Url::parse(&format!("{}/not-connectwise/", simulator.base_url())).unwrap();
    let client = ConnectWiseClient::new(settings).unwrap();
    let error = client.system_info().await.unwrap_err();
    assert!(
        matches!(error, CwError::SiteOrCodebaseNotFound { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("wrong site or codebase"));
}
