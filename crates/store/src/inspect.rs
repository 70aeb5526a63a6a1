//! Looking at a database without changing it, for `mspbridge check`: is it reachable, do the
//! credentials work, and is its schema current?

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::error::StoreError;

/// What [`inspect_database`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseStatus {
    /// A secret-free description of the database (path, or host:port/database).
    pub location: String,
    /// The newest schema migration applied (0: none yet, or the file does not exist yet).
    pub applied: i64,
    /// The newest schema migration this version carries.
    pub latest: i64,
}

impl DatabaseStatus {
    /// Whether `mspbridge migrate` (or starting `serve`) still has migrations to apply.
    pub fn needs_migration(&self) -> bool {
        self.applied < self.latest
    }
}

/// Connects to `database_url` once, without creating or migrating anything, and reads its schema
/// version. Errors name the database but never a password.
pub async fn inspect_database(database_url: &str) -> Result<DatabaseStatus, StoreError> {
    let url = database_url.trim();
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        let options = PgConnectOptions::from_str(url).map_err(|_| {
            StoreError::InvalidUrl(format!(
                "{} is not a valid PostgreSQL URL",
                crate::postgres::redact_url(url)
            ))
        })?;
        let location = crate::postgres::location_of(&options);
        let mut connection = options.connect().await.map_err(|source| StoreError::Open {
            location: location.clone(),
            source: crate::postgres::scrub(source),
        })?;
        let action = "reading the schema version";
        // Two statements: a query naming a table that does not exist fails to parse at all.
        let migrated: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&mut connection)
                .await
                .map_err(StoreError::db(action))?;
        let applied: i64 = if migrated {
            sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
            )
            .fetch_one(&mut connection)
            .await
            .map_err(StoreError::db(action))?
        } else {
            0
        };
        let _ = connection.close().await;
        Ok(DatabaseStatus {
            location,
            applied,
            latest: latest(&crate::postgres::MIGRATOR),
        })
    } else if lower.starts_with("sqlite:") {
        let rest = &url["sqlite:".len()..];
        let path = rest.strip_prefix("//").unwrap_or(rest);
        let path = path.split('?').next().unwrap_or(path);
        let latest = latest(&crate::sqlite::MIGRATOR);
        if path.contains(":memory:") {
            return Ok(DatabaseStatus {
                location: "in-memory".into(),
                applied: 0,
                latest,
            });
        }
        if !std::path::Path::new(path).exists() {
            return Ok(DatabaseStatus {
                location: path.to_string(),
                applied: 0,
                latest,
            });
        }
        let mut connection = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .connect()
            .await
            .map_err(|source| StoreError::Open {
                location: path.to_string(),
                source,
            })?;
        let action = "reading the schema version";
        let migrated: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = '_sqlx_migrations')",
        )
        .fetch_one(&mut connection)
        .await
        .map_err(StoreError::db(action))?;
        let applied: i64 = if migrated {
            sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success = 1",
            )
            .fetch_one(&mut connection)
            .await
            .map_err(StoreError::db(action))?
        } else {
            0
        };
        let _ = connection.close().await;
        Ok(DatabaseStatus {
            location: path.to_string(),
            applied,
            latest,
        })
    } else {
        Err(StoreError::InvalidUrl(
            "expected sqlite://path or postgres://host/database".to_string(),
        ))
    }
}

fn latest(migrator: &sqlx::migrate::Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}
