//! The systems inventory and IT Glue mapping under `/api/v1` (DESIGN §2.3): what the console's
//! mapping screen and scripts use to register systems (one by one or as CSV), test an instance's
//! connection, import, auto-map, and map or unmap by hand.
//!
//! The handlers are thin: validation and all rules live in [`crate::itglue`] and
//! `mspbridge_core::itglue_map`, so the API, the CLI and the scheduler behave the same.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mspbridge_store::inventory::{
    Mapping, MappingKind, MappingSubject, NewSystem, System, SystemOrigin,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{parse_json, JsonBody};
use super::error::{ApiError, ErrorCode};
use super::extract::{ApiPath, ApiQuery};
use super::openapi::{
    BadRequest, NotFound, PayloadTooLarge, TestOutcome, Unauthorized, Unavailable,
};
use super::state::ApiState;
use crate::itglue::{
    automap_and_raise, client_for, import_instance, instance, normalize_system_macs,
    parse_systems_csv, test_instance, AutomapSummary, ImportProgress, ImportRequest, ImportSummary,
    ItGlueSyncError, NoProgress, OrganizationFilter,
};

/// The routes of this module, merged into the protected part of the router.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(get_systems, post_system))
        .routes(routes!(post_systems_csv))
        .routes(routes!(delete_system))
        .routes(routes!(get_instances))
        .routes(routes!(post_test))
        .routes(routes!(post_import))
        .routes(routes!(post_automap))
        .routes(routes!(get_mappings, post_mapping, delete_mapping))
}

fn sync_error(error: ItGlueSyncError) -> ApiError {
    match &error {
        ItGlueSyncError::UnknownInstance { .. } => {
            ApiError::new(ErrorCode::NotFound, error.to_string())
        }
        ItGlueSyncError::OrganizationNotFound { .. } | ItGlueSyncError::NoInstances => {
            ApiError::new(ErrorCode::InvalidField, error.to_string())
        }
        ItGlueSyncError::Store(store) => ApiError::store("working on the IT Glue data", store),
        // IT Glue itself failed: the service cannot do this now.
        ItGlueSyncError::Connector { .. } => ApiError::new(ErrorCode::NotReady, error.to_string()),
    }
}

fn known_client(state: &ApiState, client: &str) -> Result<(), ApiError> {
    if state.config().clients.iter().any(|c| c.name == client) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnknownClient,
            format!("client {client:?} is not configured"),
        ))
    }
}

/// Query of `GET /systems`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SystemsQuery {
    /// Only this client.
    pub client: Option<String>,
}

/// `GET /api/v1/systems`.
#[utoipa::path(get, path = "/api/v1/systems", tag = "inventory", params(SystemsQuery),
    responses((status = 200, description = "Registered systems.", body = [System]), BadRequest, Unauthorized, Unavailable))]
pub async fn get_systems(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<SystemsQuery>,
) -> Result<Json<Vec<System>>, ApiError> {
    let systems = state
        .store()
        .list_systems(params.client.as_deref())
        .await
        .map_err(|e| ApiError::store("listing systems", &e))?;
    Ok(Json(systems))
}

/// Body of `POST /systems`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemBody {
    /// Client.
    #[schema(min_length = 1)]
    pub client: String,
    /// Name (not blank).
    #[schema(min_length = 1)]
    pub name: String,
    /// MACs in any common form.
    #[serde(default)]
    pub macs: Vec<String>,
    /// Sensor kind.
    #[serde(default)]
    pub sensor: Option<String>,
}

/// `POST /api/v1/systems`: registers or updates one system.
#[utoipa::path(post, path = "/api/v1/systems", tag = "inventory", request_body = SystemBody,
    responses((status = 201, description = "The system, registered or updated.", body = System), BadRequest, Unauthorized, PayloadTooLarge, Unavailable))]
pub async fn post_system(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<SystemBody>,
) -> Result<(StatusCode, Json<System>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(register_system(&state, body).await?),
    ))
}

/// Registers or updates one system of a configured client (the API and the console).
pub async fn register_system(state: &ApiState, body: SystemBody) -> Result<System, ApiError> {
    known_client(state, &body.client)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "name: the system name is empty",
        ));
    }
    let macs = normalize_system_macs(&body.macs)
        .map_err(|problem| ApiError::new(ErrorCode::InvalidField, format!("macs: {problem}")))?;
    let mut stored = state
        .store()
        .upsert_systems(
            vec![NewSystem {
                client: body.client,
                name: body.name.trim().to_string(),
                macs,
                sensor: body.sensor,
                origin: SystemOrigin::Api,
            }],
            state.now(),
        )
        .await
        .map_err(|e| ApiError::store("registering a system", &e))?;
    stored
        .pop()
        .ok_or_else(|| ApiError::new(ErrorCode::StoreFailed, "the store returned no system"))
}

/// `POST /api/v1/systems/import`: a CSV body (`name,client,macs,sensor`), all rows or none.
#[utoipa::path(post, path = "/api/v1/systems/import", tag = "inventory",
    request_body(content = String, content_type = "text/csv", description = "Rows of name,client,macs,sensor; all rows are stored or none."),
    responses((status = 200, description = "How many systems were stored.", body = CsvImported), BadRequest, Unauthorized, PayloadTooLarge, Unavailable))]
pub async fn post_systems_csv(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<CsvImported>, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(ErrorCode::InvalidField, "the CSV body is not UTF-8"))?;
    let imported = import_systems_csv(&state, text).await?;
    Ok(Json(CsvImported { imported }))
}

/// Registers every row of a systems CSV (`name,client,macs,sensor`), all rows or none; returns
/// how many were stored.
pub async fn import_systems_csv(state: &ApiState, text: &str) -> Result<usize, ApiError> {
    let clients: Vec<String> = state
        .config()
        .clients
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let systems = parse_systems_csv(text, SystemOrigin::Csv, Some(&clients))
        .map_err(|error| ApiError::new(ErrorCode::InvalidField, error.to_string()))?;
    let stored = state
        .store()
        .upsert_systems(systems, state.now())
        .await
        .map_err(|e| ApiError::store("importing systems", &e))?;
    Ok(stored.len())
}

/// `DELETE /api/v1/systems/{client}/{name}`.
#[utoipa::path(delete, path = "/api/v1/systems/{client}/{name}", tag = "inventory",
    params(("client" = String, Path, description = "client name"), ("name" = String, Path, description = "system name")),
    responses((status = 204, description = "Removed."), BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn delete_system(
    State(state): State<ApiState>,
    ApiPath((client, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let removed = state
        .store()
        .remove_system(&client, &name)
        .await
        .map_err(|e| ApiError::store("removing a system", &e))?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            ErrorCode::NotFound,
            format!("client {client:?} has no system {name:?}"),
        ))
    }
}

/// `{"imported": n}` of a CSV import.
#[derive(Debug, Serialize, ToSchema)]
pub struct CsvImported {
    /// Systems stored.
    pub imported: usize,
}

/// One configured IT Glue instance (the key is never shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    /// Name.
    pub name: String,
    /// API base URL.
    pub url: String,
    /// Enabled clients.
    pub clients: Vec<String>,
    /// Auto-map period in seconds.
    pub automap_interval_seconds: u64,
}

/// `GET /api/v1/itglue/instances`.
#[utoipa::path(get, path = "/api/v1/itglue/instances", tag = "inventory",
    responses((status = 200, description = "Configured IT Glue instances (never their keys).", body = [InstanceView]), Unauthorized))]
pub async fn get_instances(State(state): State<ApiState>) -> Json<Vec<InstanceView>> {
    Json(instance_views(state.config()))
}

/// The configured IT Glue instances, without their keys.
pub fn instance_views(config: &mspbridge_core::config::Config) -> Vec<InstanceView> {
    config
        .itglue
        .iter()
        .map(|i| InstanceView {
            name: i.name.clone(),
            url: i.base_url().to_string(),
            clients: i.clients.clone(),
            automap_interval_seconds: i.automap_interval.as_secs(),
        })
        .collect()
}

/// `POST /api/v1/itglue/instances/{name}/test`: `{ok, detail}`; a refused key explains both a
/// wrong key and a wrong region.
#[utoipa::path(post, path = "/api/v1/itglue/instances/{name}/test", tag = "inventory", params(("name" = String, Path, description = "IT Glue instance name")),
    responses((status = 200, description = "The outcome of one authenticated call.", body = TestOutcome), BadRequest, Unauthorized, NotFound))]
pub async fn post_test(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<TestOutcome>, ApiError> {
    let (ok, detail) = test_connection(&state, &name).await?;
    Ok(Json(TestOutcome { ok, detail }))
}

/// *Test connection* of instance `name`: whether it answered, and what it said or why not.
pub async fn test_connection(state: &ApiState, name: &str) -> Result<(bool, String), ApiError> {
    let instance = instance(state.config(), name).map_err(sync_error)?;
    Ok(match test_instance(instance).await {
        Ok(detail) => (true, detail),
        Err(error) => (false, error.to_string()),
    })
}

/// Body of `POST …/import`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// Organization names or ids; empty or absent imports everything.
    #[serde(default)]
    pub organizations: Vec<String>,
}

/// `POST /api/v1/itglue/instances/{name}/import`.
#[utoipa::path(post, path = "/api/v1/itglue/instances/{name}/import", tag = "inventory", params(("name" = String, Path, description = "IT Glue instance name")),
    request_body(content = Option<ImportBody>, description = "Optional; without it (or with no organizations) everything is imported."),
    responses((status = 200, description = "What was imported.", body = ImportSummary), BadRequest, Unauthorized, NotFound, PayloadTooLarge, Unavailable))]
pub async fn post_import(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<Json<ImportSummary>, ApiError> {
    // No body, an empty one and JSON `null` all mean "everything".
    let body: ImportBody = if body.iter().all(u8::is_ascii_whitespace) {
        ImportBody::default()
    } else {
        parse_json::<Option<ImportBody>>(&body)?.unwrap_or_default()
    };
    Ok(Json(
        import(&state, &name, &body.organizations, &NoProgress).await?,
    ))
}

/// Imports instance `name`'s directory: the `organizations` named (names or ids), or all.
pub async fn import(
    state: &ApiState,
    name: &str,
    organizations: &[String],
    progress: &dyn ImportProgress,
) -> Result<ImportSummary, ApiError> {
    let instance = instance(state.config(), name).map_err(sync_error)?;
    let client = client_for(instance).map_err(sync_error)?;
    let request = ImportRequest {
        organizations: organizations
            .iter()
            .map(|o| OrganizationFilter::parse(o))
            .collect(),
    };
    import_instance(
        state.store().as_ref(),
        &client,
        &instance.name,
        &request,
        progress,
        state.now(),
    )
    .await
    .map_err(sync_error)
}

/// `POST /api/v1/itglue/instances/{name}/automap`: import, then auto-map now.
#[utoipa::path(post, path = "/api/v1/itglue/instances/{name}/automap", tag = "inventory", params(("name" = String, Path, description = "IT Glue instance name")),
    responses((status = 200, description = "Import, then auto-mapping (clients by email domain, systems by MAC).", body = AutomapSummary), BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn post_automap(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<AutomapSummary>, ApiError> {
    Ok(Json(automap_now(&state, &name).await?))
}

/// *Auto Map* now: imports instance `name`'s whole directory, then auto-maps it.
pub async fn automap_now(state: &ApiState, name: &str) -> Result<AutomapSummary, ApiError> {
    let config = state.config();
    let instance = instance(config, name).map_err(sync_error)?;
    let client = client_for(instance).map_err(sync_error)?;
    let store = state.store();
    let now = state.now();
    import_instance(
        store.as_ref(),
        &client,
        &instance.name,
        &ImportRequest::default(),
        &NoProgress,
        now,
    )
    .await
    .map_err(sync_error)?;
    automap_and_raise(store, config, instance, now)
        .await
        .map_err(sync_error)
}

/// `GET /api/v1/itglue/instances/{name}/mappings`.
#[utoipa::path(get, path = "/api/v1/itglue/instances/{name}/mappings", tag = "inventory", params(("name" = String, Path, description = "IT Glue instance name")),
    responses((status = 200, description = "Mappings of clients to organizations and systems to configurations.", body = [Mapping]), BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn get_mappings(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Vec<Mapping>>, ApiError> {
    let instance = instance(state.config(), &name).map_err(sync_error)?;
    let mappings = state
        .store()
        .list_mappings(Some(&instance.name))
        .await
        .map_err(|e| ApiError::store("listing mappings", &e))?;
    Ok(Json(mappings))
}

/// Body of `POST …/mappings`: `{client, organization}` or `{client, system, configuration}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MapBody {
    /// Client (of the system, for a system mapping).
    #[schema(min_length = 1)]
    pub client: String,
    /// Organization id, for a client mapping.
    pub organization: Option<i64>,
    /// System name, for a system mapping.
    pub system: Option<String>,
    /// Configuration id, for a system mapping.
    pub configuration: Option<i64>,
}

/// `POST /api/v1/itglue/instances/{name}/mappings`: a manual mapping, checked against the
/// imported directory.
#[utoipa::path(post, path = "/api/v1/itglue/instances/{name}/mappings", tag = "inventory", params(("name" = String, Path, description = "IT Glue instance name")), request_body = MapBody,
    responses((status = 201, description = "The manual mapping.", body = Mapping), BadRequest, Unauthorized, NotFound, PayloadTooLarge, Unavailable))]
pub async fn post_mapping(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(body): JsonBody<MapBody>,
) -> Result<(StatusCode, Json<Mapping>), ApiError> {
    Ok((StatusCode::CREATED, Json(map(&state, &name, body).await?)))
}

/// *Map*: a manual mapping in instance `name`, checked against the imported directory.
pub async fn map(state: &ApiState, name: &str, body: MapBody) -> Result<Mapping, ApiError> {
    let instance = instance(state.config(), name).map_err(sync_error)?;
    known_client(state, &body.client)?;
    if !instance.clients.contains(&body.client) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!(
                "client: {:?} is not enabled for IT Glue instance {:?}",
                body.client, instance.name
            ),
        ));
    }
    let directory = state
        .store()
        .itglue_directory(&instance.name)
        .await
        .map_err(|e| ApiError::store("reading the IT Glue directory", &e))?;
    let (subject, target_id) = match (body.organization, body.system, body.configuration) {
        (Some(organization), None, None) => {
            if !directory.organizations.iter().any(|o| o.id == organization) {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    format!("organization: {organization} is not in the imported directory; import first"),
                ));
            }
            (
                MappingSubject::Client {
                    client: body.client,
                },
                organization,
            )
        }
        (None, Some(system), Some(configuration)) => {
            let Some(found) = directory
                .configurations
                .iter()
                .find(|c| c.id == configuration)
            else {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    format!("configuration: {configuration} is not in the imported directory; import first"),
                ));
            };
            let mappings = state
                .store()
                .list_mappings(Some(&instance.name))
                .await
                .map_err(|e| ApiError::store("listing mappings", &e))?;
            if let Some(reason) =
                crate::itglue::system_mapping_refusal(&mappings, &body.client, found)
            {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    format!("configuration: {reason}"),
                ));
            }
            (
                MappingSubject::System {
                    client: body.client,
                    system,
                },
                configuration,
            )
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "give either organization, or system and configuration",
            ))
        }
    };
    let mapping = Mapping {
        instance: instance.name.clone(),
        subject,
        target_id,
        kind: MappingKind::Manual,
        updated_at: state.now(),
    };
    state
        .store()
        .set_mapping(mapping.clone())
        .await
        .map_err(|e| ApiError::store("setting a mapping", &e))?;
    Ok(mapping)
}

/// Query of `DELETE …/mappings`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnmapQuery {
    /// Client (of the system, for a system mapping).
    #[param(min_length = 1)]
    pub client: String,
    /// System, for a system mapping.
    pub system: Option<String>,
}

/// `DELETE /api/v1/itglue/instances/{name}/mappings?client=C[&system=S]`: *Remove map*.
#[utoipa::path(delete, path = "/api/v1/itglue/instances/{name}/mappings", tag = "inventory", params(("name" = String, Path, description = "IT Glue instance name"), UnmapQuery),
    responses((status = 204, description = "Removed."), BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn delete_mapping(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<UnmapQuery>,
) -> Result<StatusCode, ApiError> {
    unmap(&state, &name, params).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// *Remove map*: removes the mapping of a client (or of one of its systems) in instance `name`.
pub async fn unmap(state: &ApiState, name: &str, params: UnmapQuery) -> Result<(), ApiError> {
    let instance = instance(state.config(), name).map_err(sync_error)?;
    let subject = match params.system {
        Some(system) => MappingSubject::System {
            client: params.client,
            system,
        },
        None => MappingSubject::Client {
            client: params.client,
        },
    };
    let described = match &subject {
        MappingSubject::Client { client } => format!("client {client:?}"),
        MappingSubject::System { client, system } => {
            format!("system {system:?} of client {client:?}")
        }
    };
    let removed = state
        .store()
        .remove_mapping(&instance.name, &subject)
        .await
        .map_err(|e| ApiError::store("removing a mapping", &e))?;
    if removed {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "{described} has no mapping in IT Glue instance {:?}",
                instance.name
            ),
        ))
    }
}
