//! The canonical proto3 JSON mapping of API messages (the JSON that grpcurl and buf curl speak):
//! lowerCamelCase or original field names and enum names accepted on input; lowerCamelCase
//! with default values omitted on output.

use prost::Message;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, SerializeOptions};
use slt_proto::v1 as pb;

use crate::ClientError;

/// The API's descriptors, decoded once per process: decoding the set costs far more than
/// converting one message, and an audit export converts every record (a clone is an `Arc`).
fn pool() -> Result<DescriptorPool, ClientError> {
    static POOL: std::sync::OnceLock<Result<DescriptorPool, String>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(slt_proto::FILE_DESCRIPTOR_SET).map_err(|error| error.to_string())
    })
    .clone()
    .map_err(|error| ClientError::Json(format!("descriptor set: {error}")))
}

/// Parses one Incident or a JSON array of them.
pub fn incidents_from_json(text: &str) -> Result<Vec<pb::Incident>, ClientError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|error| ClientError::Json(error.to_string()))?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        single => vec![single],
    };
    let pool = pool()?;
    let descriptor = pool
        .get_message_by_name("slt.v1.Incident")
        .ok_or_else(|| ClientError::Json("slt.v1.Incident is not in the descriptor set".into()))?;
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let dynamic = DynamicMessage::deserialize_with_options(
                descriptor.clone(),
                item,
                &DeserializeOptions::new(),
            )
            .map_err(|error| ClientError::Json(format!("incident [{index}]: {error}")))?;
            dynamic
                .transcode_to::<pb::Incident>()
                .map_err(|error| ClientError::Json(format!("incident [{index}]: {error}")))
        })
        .collect()
}

/// Parses one API message of type `full_name` (e.g. `slt.v1.Advisory`) from canonical JSON.
pub fn message_from_json<M: Message + Default>(
    text: &str,
    full_name: &str,
) -> Result<M, ClientError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|error| ClientError::Json(error.to_string()))?;
    let pool = pool()?;
    let descriptor = pool
        .get_message_by_name(full_name)
        .ok_or_else(|| ClientError::Json(format!("{full_name} is not in the descriptor set")))?;
    DynamicMessage::deserialize_with_options(descriptor, value, &DeserializeOptions::new())
        .map_err(|error| ClientError::Json(error.to_string()))?
        .transcode_to::<M>()
        .map_err(|error| ClientError::Json(error.to_string()))
}

/// Canonical JSON of any API message, by its full protobuf name (e.g. `slt.v1.Incident`).
pub fn to_json<M: Message>(message: &M, full_name: &str) -> Result<serde_json::Value, ClientError> {
    let pool = pool()?;
    let descriptor = pool
        .get_message_by_name(full_name)
        .ok_or_else(|| ClientError::Json(format!("{full_name} is not in the descriptor set")))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|error| ClientError::Json(error.to_string()))?;
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .map_err(|error| ClientError::Json(error.to_string()))
}

/// Reads an audit export (JSON lines of `{"record": ...}` and `{"checkpoint": ...}`).
pub fn audit_export_from_json_lines(
    text: &str,
) -> Result<(Vec<pb::AuditRecord>, Vec<pb::Checkpoint>), ClientError> {
    let pool = pool()?;
    let record_descriptor = pool
        .get_message_by_name("slt.v1.AuditRecord")
        .ok_or_else(|| {
            ClientError::Json("slt.v1.AuditRecord is not in the descriptor set".into())
        })?;
    let checkpoint_descriptor = pool
        .get_message_by_name("slt.v1.Checkpoint")
        .ok_or_else(|| {
            ClientError::Json("slt.v1.Checkpoint is not in the descriptor set".into())
        })?;
    let mut records = Vec::new();
    let mut checkpoints = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
    {
        let bad = |error: String| ClientError::Json(format!("line {}: {error}", index + 1));
        let mut value: serde_json::Value =
            serde_json::from_str(line).map_err(|error| bad(error.to_string()))?;
        if let Some(record) = value.get_mut("record").map(serde_json::Value::take) {
            let dynamic = DynamicMessage::deserialize_with_options(
                record_descriptor.clone(),
                record,
                &DeserializeOptions::new(),
            )
            .map_err(|error| bad(error.to_string()))?;
            records.push(
                dynamic
                    .transcode_to()
                    .map_err(|error| bad(error.to_string()))?,
            );
        } else if let Some(checkpoint) = value.get_mut("checkpoint").map(serde_json::Value::take) {
            let dynamic = DynamicMessage::deserialize_with_options(
                checkpoint_descriptor.clone(),
                checkpoint,
                &DeserializeOptions::new(),
            )
            .map_err(|error| bad(error.to_string()))?;
            checkpoints.push(
                dynamic
                    .transcode_to()
                    .map_err(|error| bad(error.to_string()))?,
            );
        } else {
            return Err(bad("neither a record nor a checkpoint".into()));
        }
    }
    Ok((records, checkpoints))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_with_either_field_name_style() {
        let camel = r#"{"id":"0192f5d2-0000-7000-8000-000000000001","occurredOn":{"year":2021,"month":3,"day":4},
            "country":"AFG","threatCategory":"THREAT_CATEGORY_CRIME","incidentTypes":["INCIDENT_TYPE_ROBBERY"]}"#;
        let snake = r#"[{"id":"0192f5d2-0000-7000-8000-000000000001","occurred_on":{"year":2021,"month":3,"day":4},
            "country":"AFG","threat_category":"THREAT_CATEGORY_CRIME","incident_types":["INCIDENT_TYPE_ROBBERY"]}]"#;
        let from_camel = incidents_from_json(camel).expect("camel");
        let from_snake = incidents_from_json(snake).expect("snake");
        assert_eq!(from_camel, from_snake);
        assert_eq!(
            from_camel[0].threat_category,
            pb::ThreatCategory::Crime as i32
        );
        let json = to_json(&from_camel[0], "slt.v1.Incident").expect("to json");
        assert_eq!(json["threatCategory"], "THREAT_CATEGORY_CRIME");
        assert_eq!(json["occurredOn"]["year"], 2021);
    }

    #[test]
    fn unknown_enum_names_are_errors() {
        let bad = r#"{"threatCategory":"THREAT_CATEGORY_VOLCANO"}"#;
        assert!(incidents_from_json(bad).is_err());
    }
}
