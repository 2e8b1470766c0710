//! Conversions of `meta.proto`: object metadata, owner references and label selectors.

use everynode_core::model;

use super::{extra_from_struct, extra_to_struct, ts_in, ts_out, vec};
use crate::v1;

impl From<v1::ObjectMeta> for model::ObjectMeta {
    fn from(value: v1::ObjectMeta) -> Self {
        let v1::ObjectMeta {
            name,
            generate_name,
            namespace,
            uid,
            resource_version,
            generation,
            creation_timestamp,
            deletion_timestamp,
            deletion_grace_period_seconds,
            labels,
            annotations,
            owner_references,
            finalizers,
            extra_fields,
        } = value;
        Self {
            name,
            generate_name,
            namespace,
            uid,
            resource_version,
            generation,
            creation_timestamp: ts_in(creation_timestamp),
            deletion_timestamp: ts_in(deletion_timestamp),
            deletion_grace_period_seconds,
            labels,
            annotations,
            owner_references: vec(owner_references),
            finalizers,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::ObjectMeta> for v1::ObjectMeta {
    fn from(value: model::ObjectMeta) -> Self {
        let model::ObjectMeta {
            name,
            generate_name,
            namespace,
            uid,
            resource_version,
            generation,
            creation_timestamp,
            deletion_timestamp,
            deletion_grace_period_seconds,
            labels,
            annotations,
            owner_references,
            finalizers,
            extra_fields,
        } = value;
        Self {
            name,
            generate_name,
            namespace,
            uid,
            resource_version,
            generation,
            creation_timestamp: ts_out(creation_timestamp),
            deletion_timestamp: ts_out(deletion_timestamp),
            deletion_grace_period_seconds,
            labels,
            annotations,
            owner_references: vec(owner_references),
            finalizers,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::OwnerReference> for model::OwnerReference {
    fn from(value: v1::OwnerReference) -> Self {
        let v1::OwnerReference {
            kind,
            name,
            uid,
            api_version,
            controller,
            block_owner_deletion,
            extra_fields,
        } = value;
        Self {
            kind,
            name,
            uid,
            api_version,
            controller,
            block_owner_deletion,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::OwnerReference> for v1::OwnerReference {
    fn from(value: model::OwnerReference) -> Self {
        let model::OwnerReference {
            kind,
            name,
            uid,
            api_version,
            controller,
            block_owner_deletion,
            extra_fields,
        } = value;
        Self {
            kind,
            name,
            uid,
            api_version,
            controller,
            block_owner_deletion,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::LabelSelector> for model::LabelSelector {
    fn from(value: v1::LabelSelector) -> Self {
        let v1::LabelSelector {
            match_labels,
            match_expressions,
            extra_fields,
        } = value;
        Self {
            match_labels,
            match_expressions: vec(match_expressions),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::LabelSelector> for v1::LabelSelector {
    fn from(value: model::LabelSelector) -> Self {
        let model::LabelSelector {
            match_labels,
            match_expressions,
            extra_fields,
        } = value;
        Self {
            match_labels,
            match_expressions: vec(match_expressions),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::LabelSelectorRequirement> for model::LabelSelectorRequirement {
    fn from(value: v1::LabelSelectorRequirement) -> Self {
        let v1::LabelSelectorRequirement {
            key,
            operator,
            values,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            values,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::LabelSelectorRequirement> for v1::LabelSelectorRequirement {
    fn from(value: model::LabelSelectorRequirement) -> Self {
        let model::LabelSelectorRequirement {
            key,
            operator,
            values,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            values,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}
