//! IT Glue auto-mapping (DESIGN §4.3–4.5) as pure decisions with reasons.
//!
//! Auto-mapping decides which IT Glue organization documents a managed client and which
//! configuration documents one of its systems. The rules are exact and easy to get subtly wrong
//! (a `null` important flag, a MAC written `3C52.82AA.BBDD`, a domain two organizations share), so
//! they live here, free of I/O: the service loads the imported directory and the current
//! mappings from the store, calls [`automap`], stores the resulting automatic mappings and turns
//! every failure into event 4018 or 4019 with the failure's text as the reason. Manual mappings are
//! inputs that auto-mapping never overrides.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

/// Normalises a MAC address written in any common form (`00:1A:2B:3C:4D:5E`, `00-1a-…`,
/// `001A2B3C4D5E`, Cisco `001a.2b3c.4d5e`) to 12 lower-case hex digits.
///
/// Returns `None` for text that is not a MAC (wrong length, non-hex characters such as the `J` IT
/// Glue's own documentation shows) and for the all-zero and broadcast addresses, which RMM tools
/// use as placeholders and would otherwise match every machine.
pub fn normalize_mac(text: &str) -> Option<String> {
    mac_value(text).map(mac_text)
}

/// A MAC's 48 bits as [`normalize_mac`] writes them.
fn mac_text(mac: u64) -> String {
    format!("{mac:012x}")
}

/// The 48 bits of a MAC address as [`normalize_mac`] reads it. Matching compares these numbers,
/// so an account's index of configuration MACs needs no string per MAC; their order is the order
/// of the normalised texts (12 lower-case hex digits each).
fn mac_value(text: &str) -> Option<u64> {
    const BROADCAST: u64 = 0xffff_ffff_ffff;
    let mut value = 0;
    let mut digits = 0;
    for c in text.trim().chars() {
        if matches!(c, ':' | '-' | '.' | ' ') {
            continue;
        }
        let digit = c.to_digit(16)?;
        if digits == 12 {
            return None;
        }
        value = value << 4 | u64::from(digit);
        digits += 1;
    }
    (digits == 12 && value != 0 && value != BROADCAST).then_some(value)
}

/// The lower-cased domain after the last `@` of an e-mail address, trimmed.
pub fn email_domain(address: &str) -> Option<String> {
    let (_, domain) = address.trim().rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// A managed client as auto-mapping sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapClient {
    /// The client's unique name.
    pub name: String,
    /// Its customer e-mail address, if configured.
    pub email: Option<String>,
}

/// An imported IT Glue organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapOrganization {
    /// IT Glue id.
    pub id: i64,
    /// Its name, used in reasons.
    pub name: String,
}

/// An imported IT Glue contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapContact {
    /// The organization the contact belongs to.
    pub organization_id: i64,
    /// Tri-state flag; only `Some(true)` counts.
    pub important: Option<bool>,
    /// Every `contact-emails[].value`.
    pub emails: Vec<String>,
}

/// An imported IT Glue configuration with every MAC text it carries (primary and interfaces).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapConfiguration {
    /// IT Glue id.
    pub id: i64,
    /// The organization it belongs to.
    pub organization_id: i64,
    /// Its name, used in reasons.
    pub name: String,
    /// MAC texts exactly as IT Glue stores them.
    pub macs: Vec<String>,
}

/// A system of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSystem {
    /// The client it belongs to.
    pub client: String,
    /// The system's name, unique within its client.
    pub name: String,
    /// MAC texts as registered (any form).
    pub macs: Vec<String>,
}

/// Mappings that exist before a run, per client and per system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExistingMappings {
    /// Client name → (organization id, manual?).
    pub clients: HashMap<String, (i64, bool)>,
    /// (client, system) → (configuration id, manual?).
    pub systems: HashMap<(String, String), (i64, bool)>,
}

/// Everything one auto-map run of one IT Glue instance looks at.
#[derive(Debug, Clone, Copy)]
pub struct AutomapInput<'a> {
    /// Clients enabled for the instance.
    pub clients: &'a [MapClient],
    /// The instance's imported organizations.
    pub organizations: &'a [MapOrganization],
    /// The instance's imported contacts.
    pub contacts: &'a [MapContact],
    /// The instance's imported configurations.
    pub configurations: &'a [MapConfiguration],
    /// Systems of the enabled clients.
    pub systems: &'a [MapSystem],
    /// Current mappings of the instance.
    pub existing: &'a ExistingMappings,
}

/// Why a client could not be mapped (event 4018).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ClientFailure {
    /// The client has no customer e-mail, or it has no domain.
    NoEmail,
    /// No organization has an important contact with the domain.
    NoOrganization {
        /// The client's e-mail domain.
        domain: String,
    },
    /// Several organizations have important contacts with the domain.
    AmbiguousDomain {
        /// The client's e-mail domain.
        domain: String,
        /// The organizations sharing it, by id.
        organizations: Vec<MapOrganization>,
    },
}

impl fmt::Display for ClientFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientFailure::NoEmail => {
                f.write_str("the client has no customer e-mail address with a domain to match")
            }
            ClientFailure::NoOrganization { domain } => write!(
                f,
                "no organization has an important contact with domain {domain}"
            ),
            ClientFailure::AmbiguousDomain {
                domain,
                organizations,
            } => {
                let names: Vec<String> = organizations
                    .iter()
                    .map(|org| format!("{} (id {})", org.name, org.id))
                    .collect();
                write!(
                    f,
                    "domain {domain} is shared by important contacts of several organizations: {}",
                    names.join(", ")
                )
            }
        }
    }
}

/// What happened to one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutcome {
    /// Mapped automatically to this organization.
    Mapped {
        /// Organization id.
        organization_id: i64,
    },
    /// A manual mapping exists and was left alone.
    Manual {
        /// Organization id.
        organization_id: i64,
    },
    /// Not mapped; the reason is event 4018's.
    Failed(ClientFailure),
}

/// Why a system could not be mapped (event 4019).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SystemFailure {
    /// The system has no valid MAC address.
    NoMac,
    /// No configuration of the client's organization carries any of the system's MACs.
    NoConfiguration {
        /// The organization searched.
        organization_id: i64,
        /// The normalised MACs looked for.
        macs: Vec<String>,
    },
    /// The MAC is on several configurations of the organization.
    SeveralConfigurations {
        /// The MAC(s) that matched.
        macs: Vec<String>,
        /// The configurations carrying them.
        configurations: Vec<(i64, String)>,
    },
    /// The one matching configuration is already mapped to another system.
    ConfigurationTaken {
        /// The configuration.
        configuration_id: i64,
        /// Its name.
        configuration_name: String,
        /// The system holding it.
        taken_by: String,
    },
}

impl fmt::Display for SystemFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SystemFailure::NoMac => f.write_str("no MAC: the system has no valid MAC address"),
            SystemFailure::NoConfiguration {
                organization_id,
                macs,
            } => write!(
                f,
                "no configuration with that MAC: no configuration of organization {organization_id} carries {}",
                macs.join(", ")
            ),
            SystemFailure::SeveralConfigurations {
                macs,
                configurations,
            } => {
                let names: Vec<String> = configurations
                    .iter()
                    .map(|(id, name)| format!("{name} (id {id})"))
                    .collect();
                write!(
                    f,
                    "MAC on several configurations: {} found on {}",
                    macs.join(", "),
                    names.join(", ")
                )
            }
            SystemFailure::ConfigurationTaken {
                configuration_id,
                configuration_name,
                taken_by,
            } => write!(
                f,
                "configuration {configuration_name} (id {configuration_id}) is already mapped to system {taken_by}"
            ),
        }
    }
}

/// What happened to one system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemOutcome {
    /// Mapped automatically to this configuration.
    Mapped {
        /// Configuration id.
        configuration_id: i64,
    },
    /// A manual mapping exists and was left alone.
    Manual {
        /// Configuration id.
        configuration_id: i64,
    },
    /// The system's client is not mapped to an organization, so there is nowhere to look
    /// (the client's own 4018 already says why); no event.
    ClientNotMapped,
    /// Not mapped; the reason is event 4019's.
    Failed(SystemFailure),
}

/// The decisions of one run, in client and system name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutomapResult {
    /// One entry per client.
    pub clients: Vec<(String, ClientOutcome)>,
    /// One entry per system: ((client, system), outcome).
    pub systems: Vec<((String, String), SystemOutcome)>,
}

impl AutomapResult {
    /// The automatic client mappings to store: client → organization.
    pub fn auto_client_mappings(&self) -> impl Iterator<Item = (&str, i64)> {
        self.clients
            .iter()
            .filter_map(|(name, outcome)| match outcome {
                ClientOutcome::Mapped { organization_id } => {
                    Some((name.as_str(), *organization_id))
                }
                _ => None,
            })
    }

    /// The automatic system mappings to store: (client, system) → configuration.
    pub fn auto_system_mappings(&self) -> impl Iterator<Item = (&str, &str, i64)> {
        self.systems
            .iter()
            .filter_map(|((client, system), outcome)| match outcome {
                SystemOutcome::Mapped { configuration_id } => {
                    Some((client.as_str(), system.as_str(), *configuration_id))
                }
                _ => None,
            })
    }
}

/// Index of important-contact domains → organizations, built once per run.
pub fn domain_index(contacts: &[MapContact]) -> HashMap<String, BTreeSet<i64>> {
    let mut index: HashMap<String, BTreeSet<i64>> = HashMap::new();
    for contact in contacts.iter().filter(|c| c.important == Some(true)) {
        for email in &contact.emails {
            if let Some(domain) = email_domain(email) {
                index
                    .entry(domain)
                    .or_default()
                    .insert(contact.organization_id);
            }
        }
    }
    index
}

/// Decides the organization of one client (§4.3).
pub fn decide_client(
    client: &MapClient,
    domains: &HashMap<String, BTreeSet<i64>>,
    organizations: &HashMap<i64, &MapOrganization>,
) -> Result<i64, ClientFailure> {
    let Some(domain) = client.email.as_deref().and_then(email_domain) else {
        return Err(ClientFailure::NoEmail);
    };
    let found: Vec<i64> = domains
        .get(&domain)
        .map(|ids| ids.iter().copied().collect())
        .unwrap_or_default();
    match found.as_slice() {
        [] => Err(ClientFailure::NoOrganization { domain }),
        [one] => Ok(*one),
        several => Err(ClientFailure::AmbiguousDomain {
            domain,
            organizations: several
                .iter()
                .map(|id| MapOrganization {
                    id: *id,
                    name: organizations
                        .get(id)
                        .map(|org| org.name.clone())
                        .unwrap_or_else(|| format!("organization {id}")),
                })
                .collect(),
        }),
    }
}

/// Runs auto-mapping for one instance: clients first, then systems inside their client's
/// organization. Manual mappings are kept as they are and claim their configurations first; a
/// configuration wanted by several systems goes to the one already holding it, else to the first
/// by name, and the others fail with [`SystemFailure::ConfigurationTaken`].
pub fn automap(input: AutomapInput<'_>) -> AutomapResult {
    let organizations: HashMap<i64, &MapOrganization> = input
        .organizations
        .iter()
        .map(|org| (org.id, org))
        .collect();
    let domains = domain_index(input.contacts);

    let mut clients: Vec<&MapClient> = input.clients.iter().collect();
    clients.sort_by(|a, b| a.name.cmp(&b.name));
    let mut result = AutomapResult::default();
    let mut client_org: HashMap<&str, i64> = HashMap::new();
    for client in clients {
        let outcome = match input.existing.clients.get(&client.name) {
            Some((organization_id, true)) => ClientOutcome::Manual {
                organization_id: *organization_id,
            },
            _ => match decide_client(client, &domains, &organizations) {
                Ok(organization_id) => ClientOutcome::Mapped { organization_id },
                Err(failure) => ClientOutcome::Failed(failure),
            },
        };
        if let ClientOutcome::Mapped { organization_id }
        | ClientOutcome::Manual { organization_id } = outcome
        {
            client_org.insert(client.name.as_str(), organization_id);
        }
        result.clients.push((client.name.clone(), outcome));
    }

    // MAC → configurations, per organization, as one sorted list searched by binary search: no
    // allocation per entry, and a MAC carried twice by one configuration is listed once.
    let mut by_mac: Vec<(i64, u64, usize)> = input
        .configurations
        .iter()
        .enumerate()
        .flat_map(|(index, configuration)| {
            configuration
                .macs
                .iter()
                .filter_map(|mac| mac_value(mac))
                .map(move |mac| (configuration.organization_id, mac, index))
        })
        .collect();
    by_mac.sort_unstable();
    by_mac.dedup();
    let carrying = |organization_id: i64, mac: u64| {
        let start = by_mac.partition_point(|&(org, m, _)| (org, m) < (organization_id, mac));
        by_mac[start..]
            .iter()
            .take_while(move |&&(org, m, _)| (org, m) == (organization_id, mac))
            .map(|&(_, _, index)| index)
    };

    let mut systems: Vec<&MapSystem> = input.systems.iter().collect();
    systems.sort_by(|a, b| (&a.client, &a.name).cmp(&(&b.client, &b.name)));
    // A system is decided once, whatever the input repeats.
    systems.dedup_by(|a, b| (&a.client, &a.name) == (&b.client, &b.name));
    let existing_system = |system: &MapSystem| {
        input
            .existing
            .systems
            .get(&(system.client.clone(), system.name.clone()))
    };

    // Manual mappings hold their configurations before anyone else asks.
    let mut holder: HashMap<i64, String> = HashMap::new();
    for ((client, system), (configuration_id, manual)) in &input.existing.systems {
        if *manual {
            holder.insert(*configuration_id, format!("{client}/{system}"));
        }
    }

    // First pass: each system's outcome, in name order. A system with a single candidate is
    // mapped to it for now and listed in `wanted` as (configuration id, position of the
    // configuration, position of the system), so the second pass needs no copy of any name.
    result.systems.reserve_exact(systems.len());
    let mut wanted: Vec<(i64, usize, usize)> = Vec::new();
    for (position, system) in systems.iter().enumerate() {
        let outcome = match (
            existing_system(system),
            client_org.get(system.client.as_str()),
        ) {
            (Some(&(configuration_id, true)), _) => SystemOutcome::Manual { configuration_id },
            (_, None) => SystemOutcome::ClientNotMapped,
            (_, Some(&organization_id)) => {
                let macs: BTreeSet<u64> = system.macs.iter().filter_map(|m| mac_value(m)).collect();
                let mut matched: BTreeSet<usize> = BTreeSet::new();
                let mut matched_macs = Vec::new();
                for &mac in &macs {
                    let mut carriers = carrying(organization_id, mac).peekable();
                    if carriers.peek().is_some() {
                        matched.extend(carriers);
                        matched_macs.push(mac_text(mac));
                    }
                }
                match matched.len() {
                    _ if macs.is_empty() => SystemOutcome::Failed(SystemFailure::NoMac),
                    0 => SystemOutcome::Failed(SystemFailure::NoConfiguration {
                        organization_id,
                        macs: macs.into_iter().map(mac_text).collect(),
                    }),
                    1 => {
                        let index = *matched.first().expect("one match");
                        let configuration_id = input.configurations[index].id;
                        wanted.push((configuration_id, index, position));
                        SystemOutcome::Mapped { configuration_id }
                    }
                    _ => {
                        let mut configurations: Vec<(i64, String)> = matched
                            .iter()
                            .map(|&i| {
                                let c = &input.configurations[i];
                                (c.id, c.name.clone())
                            })
                            .collect();
                        configurations.sort();
                        SystemOutcome::Failed(SystemFailure::SeveralConfigurations {
                            macs: matched_macs,
                            configurations,
                        })
                    }
                }
            }
        };
        result
            .systems
            .push(((system.client.clone(), system.name.clone()), outcome));
    }

    // Second pass: one system per configuration. A manual mapping keeps it; else the system
    // that already holds it automatically; else the first claimant by name. The others fail.
    wanted.sort_unstable_by_key(|&(configuration_id, _, position)| (configuration_id, position));
    for claimants in wanted.chunk_by(|a, b| a.0 == b.0) {
        let (configuration_id, index, first) = claimants[0];
        let (winner, by) = match holder.get(&configuration_id) {
            Some(by) => (None, by.clone()),
            None => {
                let winner = claimants
                    .iter()
                    .map(|&(_, _, position)| position)
                    .find(|&position| {
                        existing_system(systems[position]) == Some(&(configuration_id, false))
                    })
                    .unwrap_or(first);
                let system = systems[winner];
                (Some(winner), format!("{}/{}", system.client, system.name))
            }
        };
        for &(_, _, position) in claimants {
            if Some(position) != winner {
                result.systems[position].1 =
                    SystemOutcome::Failed(SystemFailure::ConfigurationTaken {
                        configuration_id,
                        configuration_name: input.configurations[index].name.clone(),
                        taken_by: by.clone(),
                    });
            }
        }
    }
    result
}
