//! PostgreSQL implementation of [`InventoryStore`]: systems, the imported IT Glue directory and
//! mappings, with the same tables and JSON list columns as SQLite.
//!
//! Imports and auto-map results are written in one transaction each, so a reader in any process
//! sees either the old directory or the new one, never half of an import.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use sqlx::{Postgres, Transaction};

use super::{micros, PostgresStore};
use crate::error::StoreError;
use crate::inventory::*;
use crate::inventory_rows::{
    check_auto_mapping, configuration_row, contact_row, list_text, mapping_columns, mapping_row,
    organization_row, records, system_columns, system_row, SYSTEM_COLUMNS,
};

async fn insert_mapping(
    tx: &mut Transaction<'static, Postgres>,
    mapping: &Mapping,
    action: &'static str,
    keep_manual: bool,
) -> Result<(), StoreError> {
    let (subject_kind, client, system) = mapping.subject.stored();
    let conflict = if keep_manual {
        "ON CONFLICT (instance, subject_kind, client, system) DO UPDATE SET \
         target_id = excluded.target_id, kind = excluded.kind, updated_at = excluded.updated_at \
         WHERE itglue_mappings.kind <> 'manual'"
    } else {
        "ON CONFLICT (instance, subject_kind, client, system) DO UPDATE SET \
         target_id = excluded.target_id, kind = excluded.kind, updated_at = excluded.updated_at"
    };
    sqlx::query(&format!(
        "INSERT INTO itglue_mappings (instance, subject_kind, client, system, target_id, kind, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) {conflict}"
    ))
    .bind(&mapping.instance)
    .bind(subject_kind)
    .bind(client)
    .bind(system)
    .bind(mapping.target_id)
    .bind(mapping.kind.as_str())
    .bind(micros(mapping.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db(action))?;
    Ok(())
}

/// Deletes the part of `instance`'s directory an import replaces.
async fn delete_scope(
    tx: &mut Transaction<'static, Postgres>,
    instance: &str,
    scope: &ImportScope,
    action: &'static str,
) -> Result<(), StoreError> {
    match scope {
        ImportScope::All => {
            for table in [
                "itglue_organizations",
                "itglue_contacts",
                "itglue_configurations",
            ] {
                sqlx::query(&format!("DELETE FROM {table} WHERE instance = $1"))
                    .bind(instance)
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::db(action))?;
            }
        }
        ImportScope::Organizations(ids) => {
            for id in ids {
                sqlx::query("DELETE FROM itglue_organizations WHERE instance = $1 AND id = $2")
                    .bind(instance)
                    .bind(id)
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::db(action))?;
                for table in ["itglue_contacts", "itglue_configurations"] {
                    sqlx::query(&format!(
                        "DELETE FROM {table} WHERE instance = $1 AND organization_id = $2"
                    ))
                    .bind(instance)
                    .bind(id)
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::db(action))?;
                }
            }
        }
    }
    Ok(())
}

/// The action a failed read of the directory names.
const READ_DIRECTORY: &str = "reading the imported IT Glue directory";

/// The tables an import stages its pages in.
const STAGING_TABLES: [&str; 3] = [
    "itglue_staged_organizations",
    "itglue_staged_contacts",
    "itglue_staged_configurations",
];

/// Staged rows older than this belong to an import that never finished.
const ABANDONED_STAGING_MICROS: i64 = 24 * 3600 * 1_000_000;

#[async_trait]
impl InventoryStore for PostgresStore {
    async fn upsert_systems(
        &self,
        systems: Vec<NewSystem>,
        now: DateTime<Utc>,
    ) -> Result<Vec<System>, StoreError> {
        let action = "registering systems";
        for system in &systems {
            if system.client.trim().is_empty() || system.name.trim().is_empty() {
                return Err(StoreError::InvalidArgument(format!(
                    "a system needs a client and a name (got client {:?}, name {:?})",
                    system.client, system.name
                )));
            }
        }
        let mut tx = self.write(action).await?;
        let mut stored = Vec::with_capacity(systems.len());
        for system in systems {
            let macs = (!system.macs.is_empty()).then(|| list_text(&system.macs));
            let row = sqlx::query(&format!(
                "INSERT INTO systems ({SYSTEM_COLUMNS}) VALUES ($1, $2, COALESCE($3, '[]'), $4, $5, $6, $7) \
                 ON CONFLICT (client, name) DO UPDATE SET \
                 macs = COALESCE($3, systems.macs), sensor = COALESCE($4, systems.sensor), \
                 last_seen = GREATEST(systems.last_seen, excluded.last_seen) \
                 RETURNING {SYSTEM_COLUMNS}"
            ))
            .bind(&system.client)
            .bind(&system.name)
            .bind(macs)
            .bind(&system.sensor)
            .bind(system.origin.as_str())
            .bind(micros(now))
            .bind(micros(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
            stored.push(system_row(&row)?);
        }
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(stored)
    }

    fn systems<'a>(&'a self, client: Option<&'a str>) -> BoxStream<'a, Result<System, StoreError>> {
        let query = match client {
            Some(client) => sqlx::query(concat!(
                "SELECT ",
                system_columns!(),
                " FROM systems WHERE client = $1 ORDER BY client, name"
            ))
            .bind(client),
            None => sqlx::query(concat!(
                "SELECT ",
                system_columns!(),
                " FROM systems ORDER BY client, name"
            )),
        };
        records(query.fetch(&self.pool), "listing systems", system_row)
    }

    async fn remove_system(&self, client: &str, name: &str) -> Result<bool, StoreError> {
        let action = "removing a system";
        let mut tx = self.write(action).await?;
        let removed = sqlx::query("DELETE FROM systems WHERE client = $1 AND name = $2")
            .bind(client)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?
            .rows_affected();
        sqlx::query(
            "DELETE FROM itglue_mappings WHERE subject_kind = 'system' AND client = $1 AND system = $2",
        )
        .bind(client)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(removed > 0)
    }

    async fn replace_itglue_directory(
        &self,
        instance: &str,
        directory: ItGlueDirectory,
        scope: ImportScope,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let action = "storing the imported IT Glue directory";
        let mut tx = self.write(action).await?;
        delete_scope(&mut tx, instance, &scope, action).await?;
        for org in &directory.organizations {
            sqlx::query(
                "INSERT INTO itglue_organizations (instance, id, name, short_name, imported_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instance, id) DO UPDATE SET \
                 name = excluded.name, short_name = excluded.short_name, \
                 imported_at = excluded.imported_at",
            )
            .bind(instance)
            .bind(org.id)
            .bind(&org.name)
            .bind(&org.short_name)
            .bind(micros(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        }
        for contact in &directory.contacts {
            sqlx::query(
                "INSERT INTO itglue_contacts (instance, id, organization_id, important, emails) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instance, id) DO UPDATE SET \
                 organization_id = excluded.organization_id, important = excluded.important, \
                 emails = excluded.emails",
            )
            .bind(instance)
            .bind(contact.id)
            .bind(contact.organization_id)
            .bind(contact.important)
            .bind(list_text(&contact.emails))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        }
        for configuration in &directory.configurations {
            sqlx::query(
                "INSERT INTO itglue_configurations (instance, id, organization_id, name, hostname, \
                 macs, archived) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (instance, id) DO UPDATE SET \
                 organization_id = excluded.organization_id, name = excluded.name, \
                 hostname = excluded.hostname, macs = excluded.macs, archived = excluded.archived",
            )
            .bind(instance)
            .bind(configuration.id)
            .bind(configuration.organization_id)
            .bind(&configuration.name)
            .bind(&configuration.hostname)
            .bind(list_text(&configuration.macs))
            .bind(configuration.archived)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        }
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(())
    }

    async fn stage_itglue_page(
        &self,
        import_id: &str,
        page: ItGlueDirectory,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let action = "staging a page of an IT Glue import";
        let mut tx = self.write(action).await?;
        for org in &page.organizations {
            sqlx::query(
                "INSERT INTO itglue_staged_organizations (import_id, id, name, short_name, \
                 staged_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (import_id, id) DO UPDATE SET \
                 name = excluded.name, short_name = excluded.short_name, \
                 staged_at = excluded.staged_at",
            )
            .bind(import_id)
            .bind(org.id)
            .bind(&org.name)
            .bind(&org.short_name)
            .bind(micros(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        }
        for contact in &page.contacts {
            sqlx::query(
                "INSERT INTO itglue_staged_contacts (import_id, id, organization_id, important, \
                 emails, staged_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (import_id, id) DO UPDATE SET \
                 organization_id = excluded.organization_id, important = excluded.important, \
                 emails = excluded.emails, staged_at = excluded.staged_at",
            )
            .bind(import_id)
            .bind(contact.id)
            .bind(contact.organization_id)
            .bind(contact.important)
            .bind(list_text(&contact.emails))
            .bind(micros(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        }
        for configuration in &page.configurations {
            sqlx::query(
                "INSERT INTO itglue_staged_configurations (import_id, id, organization_id, name, \
                 hostname, macs, archived, staged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (import_id, id) DO UPDATE SET \
                 organization_id = excluded.organization_id, name = excluded.name, \
                 hostname = excluded.hostname, macs = excluded.macs, archived = excluded.archived, \
                 staged_at = excluded.staged_at",
            )
            .bind(import_id)
            .bind(configuration.id)
            .bind(configuration.organization_id)
            .bind(&configuration.name)
            .bind(&configuration.hostname)
            .bind(list_text(&configuration.macs))
            .bind(configuration.archived)
            .bind(micros(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        }
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(())
    }

    async fn commit_itglue_import(
        &self,
        instance: &str,
        import_id: &str,
        scope: ImportScope,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let action = "storing the imported IT Glue directory";
        let mut tx = self.write(action).await?;
        delete_scope(&mut tx, instance, &scope, action).await?;
        sqlx::query(
            "INSERT INTO itglue_organizations (instance, id, name, short_name, imported_at) \
             SELECT $1, id, name, short_name, $2 FROM itglue_staged_organizations \
             WHERE import_id = $3 ON CONFLICT (instance, id) DO UPDATE SET \
             name = excluded.name, short_name = excluded.short_name, \
             imported_at = excluded.imported_at",
        )
        .bind(instance)
        .bind(micros(now))
        .bind(import_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        for statement in [
            "INSERT INTO itglue_contacts (instance, id, organization_id, important, emails) \
             SELECT $1, id, organization_id, important, emails FROM itglue_staged_contacts \
             WHERE import_id = $2 ON CONFLICT (instance, id) DO UPDATE SET \
             organization_id = excluded.organization_id, important = excluded.important, \
             emails = excluded.emails",
            "INSERT INTO itglue_configurations (instance, id, organization_id, name, hostname, \
             macs, archived) SELECT $1, id, organization_id, name, hostname, macs, archived \
             FROM itglue_staged_configurations WHERE import_id = $2 \
             ON CONFLICT (instance, id) DO UPDATE SET \
             organization_id = excluded.organization_id, name = excluded.name, \
             hostname = excluded.hostname, macs = excluded.macs, archived = excluded.archived",
        ] {
            sqlx::query(statement)
                .bind(instance)
                .bind(import_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(action))?;
        }
        for table in STAGING_TABLES {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE import_id = $1 OR staged_at < $2"
            ))
            .bind(import_id)
            .bind(micros(now) - ABANDONED_STAGING_MICROS)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        }
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(())
    }

    async fn discard_itglue_import(&self, import_id: &str) -> Result<(), StoreError> {
        let action = "discarding a failed IT Glue import";
        let mut tx = self.write(action).await?;
        for table in STAGING_TABLES {
            sqlx::query(&format!("DELETE FROM {table} WHERE import_id = $1"))
                .bind(import_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(action))?;
        }
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(())
    }

    fn itglue_organizations<'a>(
        &'a self,
        instance: &'a str,
    ) -> BoxStream<'a, Result<ItGlueOrganizationRecord, StoreError>> {
        let rows = sqlx::query(
            "SELECT id, name, short_name FROM itglue_organizations WHERE instance = $1 ORDER BY id",
        )
        .bind(instance)
        .fetch(&self.pool);
        records(rows, READ_DIRECTORY, organization_row)
    }

    fn itglue_contacts<'a>(
        &'a self,
        instance: &'a str,
    ) -> BoxStream<'a, Result<ItGlueContactRecord, StoreError>> {
        let rows = sqlx::query(
            "SELECT id, organization_id, important, emails FROM itglue_contacts \
             WHERE instance = $1 ORDER BY id",
        )
        .bind(instance)
        .fetch(&self.pool);
        records(rows, READ_DIRECTORY, contact_row)
    }

    fn itglue_configurations<'a>(
        &'a self,
        instance: &'a str,
    ) -> BoxStream<'a, Result<ItGlueConfigurationRecord, StoreError>> {
        let rows = sqlx::query(
            "SELECT id, organization_id, name, hostname, macs, archived FROM itglue_configurations \
             WHERE instance = $1 ORDER BY id",
        )
        .bind(instance)
        .fetch(&self.pool);
        records(rows, READ_DIRECTORY, configuration_row)
    }

    fn mappings<'a>(
        &'a self,
        instance: Option<&'a str>,
    ) -> BoxStream<'a, Result<Mapping, StoreError>> {
        let query = match instance {
            Some(instance) => sqlx::query(concat!(
                "SELECT ",
                mapping_columns!(),
                " FROM itglue_mappings WHERE instance = $1 ",
                "ORDER BY instance, subject_kind, client, system"
            ))
            .bind(instance),
            None => sqlx::query(concat!(
                "SELECT ",
                mapping_columns!(),
                " FROM itglue_mappings ORDER BY instance, subject_kind, client, system"
            )),
        };
        records(
            query.fetch(&self.pool),
            "listing IT Glue mappings",
            mapping_row,
        )
    }

    async fn set_mapping(&self, mapping: Mapping) -> Result<(), StoreError> {
        let action = "setting an IT Glue mapping";
        let mut tx = self.write(action).await?;
        insert_mapping(&mut tx, &mapping, action, false).await?;
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(())
    }

    async fn remove_mapping(
        &self,
        instance: &str,
        subject: &MappingSubject,
    ) -> Result<bool, StoreError> {
        let action = "removing an IT Glue mapping";
        let (subject_kind, client, system) = subject.stored();
        let mut tx = self.write(action).await?;
        let removed = sqlx::query(
            "DELETE FROM itglue_mappings WHERE instance = $1 AND subject_kind = $2 AND client = $3 \
             AND system = $4",
        )
        .bind(instance)
        .bind(subject_kind)
        .bind(client)
        .bind(system)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?
        .rows_affected();
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(removed > 0)
    }

    async fn replace_auto_mappings(
        &self,
        instance: &str,
        mappings: &mut (dyn Iterator<Item = Mapping> + Send),
    ) -> Result<(), StoreError> {
        let action = "storing automatic IT Glue mappings";
        let mut tx = self.write(action).await?;
        sqlx::query("DELETE FROM itglue_mappings WHERE instance = $1 AND kind = 'auto'")
            .bind(instance)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        for mapping in mappings {
            // Returning drops the transaction: a refused mapping rolls back the whole replacement.
            check_auto_mapping(instance, &mapping)?;
            insert_mapping(&mut tx, &mapping, action, true).await?;
        }
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(())
    }
}
