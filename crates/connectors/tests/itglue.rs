//! The IT Glue client against the IT Glue simulator over loopback: every operation, paging, the
//! request budget and 429s, every error body shape, and the API key never leaking.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use mspbridge_connectors::itglue::{
    describe_error_body, Filters, ItGlueBase, ItGlueClient, ItGlueError, ItGlueSettings,
    NewFlexibleAsset, RelatedItemOutcome, ReportContent, RequestBudget, ResourceKind, ResourceRef,
    RetryPolicy,
};
use mspbridge_connectors::{Backoff, ErrorClass};
use mspbridge_simulators::itglue::{
    spawn, ItGlueSeed, ItGlueSimConfig, ItGlueSimulator, Organization as SimOrganization, RateLimit,
};
use serde_json::{json, Map, Value};

const KEY: &str = "ITG.0123456789abcdef-client-test-key";
const FOREIGN_KEY: &str = "ITG.fedcba9876543210-other-region";

async fn start(config: ItGlueSimConfig) -> ItGlueSimulator {
    spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the IT Glue simulator starts")
}

async fn demo() -> ItGlueSimulator {
    start(ItGlueSimConfig::demo(KEY)).await
}

fn settings(sim: &ItGlueSimulator, key: &str) -> ItGlueSettings {
    let mut settings = ItGlueSettings::new(
        ItGlueBase::Url(sim.base_url().parse().unwrap()),
        key.to_string(),
    );
    settings.retry = RetryPolicy {
        backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(20)),
        rate_limit_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    settings
}

fn client(sim: &ItGlueSimulator) -> ItGlueClient {
    ItGlueClient::new(settings(sim, KEY)).unwrap()
}

fn client_with(sim: &ItGlueSimulator, tweak: impl FnOnce(&mut ItGlueSettings)) -> ItGlueClient {
    let mut settings = settings(sim, KEY);
    tweak(&mut settings);
    ItGlueClient::new(settings).unwrap()
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> i64) -> BTreeSet<i64> {
    items.iter().map(id).collect()
}

fn report(name: &str, html: &str) -> ReportContent {
    ReportContent {
        name: name.to_string(),
        generated_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        expires_on: Some(NaiveDate::from_ymd_opt(2027, 11, 2).unwrap()),
        file_name: "weekly-security-summary.html".to_string(),
        file: html.as_bytes().to_vec(),
    }
}

#[path = "itglue/directory.rs"]
mod directory;
#[path = "itglue/errors.rs"]
mod errors;
#[path = "itglue/limits.rs"]
mod limits;
#[path = "itglue/reports.rs"]
mod reports;
