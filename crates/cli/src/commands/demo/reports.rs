//! The report step of DESIGN §8.2: a weekly security summary for Acme generated from what the
//! ticket scenarios stored, published to the IT Glue simulator as a flexible asset with its file
//! and related items to the mapped configurations.

use std::sync::Arc;

use anyhow::{anyhow, Result};
use mspbridge_core::clock::{Clock, ManualClock};
use mspbridge_server::jobs::JobPolicy;
use mspbridge_server::reports::{
    generate_report, request_publish, run_due_publish_jobs, GenerateRequest, ItGlueClients,
    PublishDeps, PublishRequest, ReportPeriod,
};

use super::{Check, DemoWorld};

pub async fn play(world: &DemoWorld, clock: &ManualClock) -> Result<Vec<Check>> {
    let now = clock.now();
    let request = GenerateRequest {
        client: "Acme".to_string(),
        name: "Weekly Security Summary".to_string(),
        period: ReportPeriod::days_before(now, 7),
        expires_after: None,
    };
    let report = generate_report(world.store.as_ref(), &world.config, &request, now)
        .await
        .map_err(|err| anyhow!("generating the weekly report: {err}"))?;
    match request_publish(&world.store, &world.config, report.id, now)
        .await
        .map_err(|err| anyhow!("{err}"))?
    {
        PublishRequest::Queued { .. } => {}
        PublishRequest::Refused { reason } => {
            return Err(anyhow!(
                "publishing the weekly report was refused: {reason}"
            ))
        }
    }
    let deps = PublishDeps {
        store: world.store.clone(),
        config: world.config.clone(),
        clients: ItGlueClients::from_config(&world.config).map_err(|err| anyhow!("{err}"))?,
        clock: Arc::new(clock.clone()),
        worker_id: "demo".to_string(),
        policy: JobPolicy::from_config(&world.config.jobs),
    };
    let pass = run_due_publish_jobs(&deps)
        .await
        .map_err(|err| anyhow!("publishing the weekly report: {err}"))?;
    let assets = world.itglue.flexible_assets();
    let related = world.itglue.related_items();
    println!(
        "\nIT Glue: {} flexible asset(s), {} related item(s) after publishing",
        assets.len(),
        related.len()
    );
    Ok(vec![Check::new(
        "8.2 weekly report published",
        pass.published == 1 && assets.len() == 1 && !related.is_empty(),
        format!(
            "report {} published as a flexible asset with its file, dates and {} related configuration(s)",
            report.id,
            related.len()
        ),
    )])
}
