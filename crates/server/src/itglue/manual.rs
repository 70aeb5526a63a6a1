//! The rule a manual mapping of a system must keep, shared by the CLI and the API.
//!
//! IT Glue's related items are two-sided: a report asset linked to a configuration shows up in
//! that configuration's organization too. A system mapped by hand to a configuration of another
//! client's organization would therefore link that client's reports into someone else's
//! documentation, so it is refused, as auto-mapping never does it (DESIGN §4.4 maps systems only
//! inside the client's organization).

use mspbridge_store::inventory::{ItGlueConfigurationRecord, Mapping, MappingSubject};

/// Why `client`'s system may not be mapped to `configuration`, or `None` when it may. `mappings`
/// are the instance's current mappings.
pub fn system_mapping_refusal(
    mappings: &[Mapping],
    client: &str,
    configuration: &ItGlueConfigurationRecord,
) -> Option<String> {
    let organization = configuration.organization_id;
    let client_organization = mappings.iter().find_map(|mapping| match &mapping.subject {
        MappingSubject::Client { client: mapped } if mapped == client => Some(mapping.target_id),
        _ => None,
    });
    match client_organization {
        Some(own) if own == organization => None,
        Some(own) => Some(format!(
            "configuration {} ({:?}) belongs to IT Glue organization {organization}, but client {client:?} is mapped to organization {own}; a system can only be mapped to a configuration of its client's organization",
            configuration.id, configuration.name
        )),
        None => {
            let others: Vec<&str> = mappings
                .iter()
                .filter_map(|mapping| match &mapping.subject {
                    MappingSubject::Client { client: other }
                        if mapping.target_id == organization =>
                    {
                        Some(other.as_str())
                    }
                    _ => None,
                })
                .collect();
            (!others.is_empty()).then(|| {
                format!(
                    "configuration {} ({:?}) belongs to IT Glue organization {organization}, the organization of {}; client {client:?} has no organization mapping, so map the client first",
                    configuration.id,
                    configuration.name,
                    others.join(", ")
                )
            })
        }
    }
}
