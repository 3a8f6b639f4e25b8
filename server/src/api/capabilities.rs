//! The one table from RPC method to what a caller must hold to call it. The guard consults it
//! for every request; a method missing from the table is refused (fail closed), and a test
//! checks that every method of every service we serve has an entry.

use crate::identity::Role;

/// What a method requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// A valid client certificate of a registered org; no token (health, reflection).
    Certificate,
    /// Create, amend or retract the caller's own org's incidents.
    WriteIncidents,
    /// Read incidents (redacted for the caller).
    ReadIncidents,
    /// Follow the change feed (partners' mirrors and peer hubs).
    Sync,
    /// Read the access log.
    Audit,
    /// Issue and supersede security advisories.
    IssueAdvisories,
    /// Administer the hub (peer status); no incident content.
    Admin,
    /// Make the public (T0) release.
    PublicRelease,
}

impl Capability {
    /// The roles that grant this capability (empty: no token needed).
    pub fn roles(self) -> &'static [Role] {
        match self {
            Capability::Certificate => &[],
            Capability::WriteIncidents => &[Role::Reporter, Role::FocalPoint],
            Capability::ReadIncidents => &[Role::Reporter, Role::Analyst, Role::FocalPoint],
            Capability::Sync => &[
                Role::Reporter,
                Role::Analyst,
                Role::FocalPoint,
                Role::PeerHub,
            ],
            Capability::Audit => &[Role::Auditor],
            Capability::IssueAdvisories => &[Role::FocalPoint],
            Capability::Admin => &[Role::Admin],
            Capability::PublicRelease => &[Role::FocalPoint],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Certificate => "certificate",
            Capability::WriteIncidents => "write incidents",
            Capability::ReadIncidents => "read incidents",
            Capability::Sync => "sync",
            Capability::Audit => "audit",
            Capability::IssueAdvisories => "issue advisories",
            Capability::Admin => "admin",
            Capability::PublicRelease => "public release",
        }
    }
}

/// The methods that answer with a stream: they hold a per-org stream slot for as long as the
/// stream is open, and have no call deadline (the connection's age bounds them instead).
const STREAMING_METHODS: &[&str] = &[
    "/slt.v1.SyncService/Pull",
    "/slt.v1.SyncService/Subscribe",
    "/slt.v1.AuditService/ExportAudit",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

pub fn is_streaming(path: &str) -> bool {
    STREAMING_METHODS.contains(&path)
}

/// Every method the hub serves, by gRPC path, and its capability.
pub const METHOD_CAPABILITIES: &[(&str, Capability)] = &[
    (
        "/slt.v1.IncidentService/SubmitIncidents",
        Capability::WriteIncidents,
    ),
    (
        "/slt.v1.IncidentService/GetIncident",
        Capability::ReadIncidents,
    ),
    (
        "/slt.v1.IncidentService/ListIncidents",
        Capability::ReadIncidents,
    ),
    (
        "/slt.v1.IncidentService/AmendIncident",
        Capability::WriteIncidents,
    ),
    (
        "/slt.v1.IncidentService/RetractIncident",
        Capability::WriteIncidents,
    ),
    ("/slt.v1.SyncService/Pull", Capability::Sync),
    ("/slt.v1.SyncService/Subscribe", Capability::Sync),
    (
        "/slt.v1.ThreatService/GetThreatPicture",
        Capability::ReadIncidents,
    ),
    (
        "/slt.v1.ThreatService/IssueAdvisory",
        Capability::IssueAdvisories,
    ),
    (
        "/slt.v1.ThreatService/ListAdvisories",
        Capability::ReadIncidents,
    ),
    (
        "/slt.v1.ThreatService/GetForecast",
        Capability::ReadIncidents,
    ),
    (
        "/slt.v1.ThreatService/GetPublicRelease",
        Capability::PublicRelease,
    ),
    ("/slt.v1.AuditService/QueryAudit", Capability::Audit),
    ("/slt.v1.AuditService/ExportAudit", Capability::Audit),
    ("/slt.v1.AuditService/GetCheckpoints", Capability::Audit),
    ("/slt.v1.AuditService/GetTreeHead", Capability::Audit),
    ("/slt.v1.AuditService/GetInclusionProof", Capability::Audit),
    (
        "/slt.v1.AuditService/GetConsistencyProof",
        Capability::Audit,
    ),
    ("/slt.v1.AdminService/ListPeers", Capability::Admin),
    ("/grpc.health.v1.Health/Check", Capability::Certificate),
    ("/grpc.health.v1.Health/Watch", Capability::Certificate),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Capability::Certificate,
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        Capability::Certificate,
    ),
];

/// The capability a method requires, or `None` for a method the hub does not know.
/// The method table's own copy of `path`, when the hub serves it (metrics label their series
/// with it, never with the caller's text).
pub fn known_method(path: &str) -> Option<&'static str> {
    METHOD_CAPABILITIES
        .iter()
        .find(|(method, _)| *method == path)
        .map(|(method, _)| *method)
}

pub fn capability_for(path: &str) -> Option<Capability> {
    METHOD_CAPABILITIES
        .iter()
        .find(|(method, _)| *method == path)
        .map(|(_, capability)| *capability)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use prost_types::FileDescriptorSet;

    /// Every RPC of every service the hub serves: ours, health and both reflection versions.
    fn served_methods() -> Vec<String> {
        let sets: [&[u8]; 4] = [
            slt_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        let mut methods = Vec::new();
        for bytes in sets {
            let set = FileDescriptorSet::decode(bytes).expect("descriptors");
            for file in &set.file {
                for service in &file.service {
                    for method in &service.method {
                        methods.push(format!(
                            "/{}.{}/{}",
                            file.package(),
                            service.name(),
                            method.name()
                        ));
                    }
                }
            }
        }
        methods
    }

    /// Every RPC of every service must be in the table (a new RPC without an entry fails
    /// here, and would be refused by the guard).
    #[test]
    fn every_rpc_of_every_service_has_a_capability() {
        let methods = served_methods();
        for path in &methods {
            assert!(
                capability_for(path).is_some(),
                "{path} has no entry in METHOD_CAPABILITIES"
            );
        }
        for expected in [
            "/slt.v1.IncidentService/SubmitIncidents",
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert!(
                methods.iter().any(|m| m == expected),
                "{expected} not found"
            );
        }
    }

    /// And the table names nothing that does not exist (a renamed RPC leaves no stale entry),
    /// once each.
    #[test]
    fn every_table_entry_is_a_served_rpc_once() {
        let methods = served_methods();
        for (index, (path, _)) in METHOD_CAPABILITIES.iter().enumerate() {
            assert!(
                methods.iter().any(|method| method == path),
                "{path} is in METHOD_CAPABILITIES but no service declares it"
            );
            assert!(
                METHOD_CAPABILITIES[..index]
                    .iter()
                    .all(|(other, _)| other != path),
                "{path} appears twice"
            );
        }
    }

    #[test]
    fn unknown_methods_have_no_capability() {
        assert_eq!(capability_for("/slt.v1.IncidentService/DropAll"), None);
        assert_eq!(capability_for(""), None);
    }
}
