//! Conversions of the scheduling messages of `pod.proto`: node affinity, node selector terms and
//! requirements, and tolerations.

use everynode_core::model;

use super::{extra_from_struct, extra_to_struct, opt, vec};
use crate::v1;

impl From<v1::Affinity> for model::Affinity {
    fn from(value: v1::Affinity) -> Self {
        let v1::Affinity {
            node_affinity,
            extra_fields,
        } = value;
        Self {
            node_affinity: opt(node_affinity),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::Affinity> for v1::Affinity {
    fn from(value: model::Affinity) -> Self {
        let model::Affinity {
            node_affinity,
            extra_fields,
        } = value;
        Self {
            node_affinity: opt(node_affinity),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::NodeAffinity> for model::NodeAffinity {
    fn from(value: v1::NodeAffinity) -> Self {
        let v1::NodeAffinity {
            required_during_scheduling_ignored_during_execution,
            extra_fields,
        } = value;
        Self {
            required_during_scheduling_ignored_during_execution: opt(
                required_during_scheduling_ignored_during_execution,
            ),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::NodeAffinity> for v1::NodeAffinity {
    fn from(value: model::NodeAffinity) -> Self {
        let model::NodeAffinity {
            required_during_scheduling_ignored_during_execution,
            extra_fields,
        } = value;
        Self {
            required_during_scheduling_ignored_during_execution: opt(
                required_during_scheduling_ignored_during_execution,
            ),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::NodeSelector> for model::NodeSelector {
    fn from(value: v1::NodeSelector) -> Self {
        let v1::NodeSelector {
            node_selector_terms,
            extra_fields,
        } = value;
        Self {
            node_selector_terms: vec(node_selector_terms),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::NodeSelector> for v1::NodeSelector {
    fn from(value: model::NodeSelector) -> Self {
        let model::NodeSelector {
            node_selector_terms,
            extra_fields,
        } = value;
        Self {
            node_selector_terms: vec(node_selector_terms),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::NodeSelectorTerm> for model::NodeSelectorTerm {
    fn from(value: v1::NodeSelectorTerm) -> Self {
        let v1::NodeSelectorTerm {
            match_expressions,
            match_fields,
            extra_fields,
        } = value;
        Self {
            match_expressions: vec(match_expressions),
            match_fields: vec(match_fields),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::NodeSelectorTerm> for v1::NodeSelectorTerm {
    fn from(value: model::NodeSelectorTerm) -> Self {
        let model::NodeSelectorTerm {
            match_expressions,
            match_fields,
            extra_fields,
        } = value;
        Self {
            match_expressions: vec(match_expressions),
            match_fields: vec(match_fields),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::NodeSelectorRequirement> for model::NodeSelectorRequirement {
    fn from(value: v1::NodeSelectorRequirement) -> Self {
        let v1::NodeSelectorRequirement {
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

impl From<model::NodeSelectorRequirement> for v1::NodeSelectorRequirement {
    fn from(value: model::NodeSelectorRequirement) -> Self {
        let model::NodeSelectorRequirement {
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

impl From<v1::Toleration> for model::Toleration {
    fn from(value: v1::Toleration) -> Self {
        let v1::Toleration {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::Toleration> for v1::Toleration {
    fn from(value: model::Toleration) -> Self {
        let model::Toleration {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}
