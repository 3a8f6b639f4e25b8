//! Sharing groups: hub-managed sets of organisations with an owner. An incident with
//! distribution SHARING_GROUP is visible to its origin org and to the group's members. Members
//! learn the group's id and name from the incidents they receive, never its member list.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One group, as configured in hub.toml (`[[sharing_groups]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingGroup {
    pub id: String,
    pub name: String,
    /// The org that manages the group; always a member.
    pub owner: String,
    pub members: Vec<String>,
}

impl SharingGroup {
    pub fn includes(&self, org: &str) -> bool {
        self.owner == org || self.members.iter().any(|member| member == org)
    }
}

/// All groups, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharingGroups {
    groups: BTreeMap<String, SharingGroup>,
}

impl SharingGroups {
    pub fn new(groups: impl IntoIterator<Item = SharingGroup>) -> Self {
        Self {
            groups: groups
                .into_iter()
                .map(|group| (group.id.clone(), group))
                .collect(),
        }
    }

    /// The ids of the groups `org` belongs to (as owner or member).
    pub fn groups_of(&self, org: &str) -> Vec<String> {
        self.groups
            .values()
            .filter(|group| group.includes(org))
            .map(|group| group.id.clone())
            .collect()
    }

    /// The members of group `id`, owner included, sorted (empty for an unknown group).
    pub fn members(&self, id: &str) -> Vec<String> {
        self.groups
            .get(id)
            .map(|group| {
                let mut members: Vec<String> = std::iter::once(group.owner.clone())
                    .chain(group.members.iter().cloned())
                    .collect();
                members.sort();
                members.dedup();
                members
            })
            .unwrap_or_default()
    }

    /// Every group's id and members.
    pub fn all_members(&self) -> Vec<(String, Vec<String>)> {
        self.groups
            .keys()
            .map(|id| (id.clone(), self.members(id)))
            .collect()
    }

    /// Whether `org` belongs to group `id` (false for an unknown group).
    pub fn is_member(&self, id: &str, org: &str) -> bool {
        self.groups.get(id).is_some_and(|group| group.includes(org))
    }
}
