//! The three kinds enctl knows and how kubectl names them: the words users type (`ds`,
//! `daemonsets`, `no`, `po`, …), `daemonset.apps/x` for `-o name` and apply, `daemonset.apps
//! "x"` for delete, and `daemonsets.apps` in messages.

use std::fmt;

/// A kind of object enctl can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `apps/v1` DaemonSet (admission).
    DaemonSet,
    /// `v1` Node (registry).
    Node,
    /// `v1` Pod (controller).
    Pod,
}

impl Kind {
    /// Parses a resource word as kubectl accepts it: singular, plural, short name, and the
    /// group-qualified forms, case-insensitively.
    pub fn parse(word: &str) -> Option<Kind> {
        match word.to_ascii_lowercase().as_str() {
            "ds" | "daemonset" | "daemonsets" | "daemonset.apps" | "daemonsets.apps" => {
                Some(Kind::DaemonSet)
            }
            "no" | "node" | "nodes" => Some(Kind::Node),
            "po" | "pod" | "pods" => Some(Kind::Pod),
            _ => None,
        }
    }

    /// `daemonset.apps`, `node`, `pod`: the prefix of `-o name` output.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::DaemonSet => "daemonset.apps",
            Kind::Node => "node",
            Kind::Pod => "pod",
        }
    }

    /// `ds`, `node`, `pod`: the word to suggest in usage messages.
    pub fn short(self) -> &'static str {
        match self {
            Kind::DaemonSet => "ds",
            Kind::Node => "node",
            Kind::Pod => "pod",
        }
    }

    /// `daemonsets.apps`, `nodes`, `pods`: the resource as the API names it in messages.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::DaemonSet => "daemonsets.apps",
            Kind::Node => "nodes",
            Kind::Pod => "pods",
        }
    }

    /// True for namespaced kinds.
    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Node)
    }

    /// `daemonset.apps/x`.
    pub fn slash_name(self, name: &str) -> String {
        format!("{}/{name}", self.resource())
    }

    /// `daemonset.apps "x"`.
    pub fn quoted_name(self, name: &str) -> String {
        format!("{} {name:?}", self.resource())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.resource())
    }
}

/// The words accepted for a kind, for error messages.
pub const KIND_WORDS: &str = "ds|daemonset|daemonsets, nodes|node|no, pods|pod|po";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kubectl_spelling_parses() {
        for w in [
            "ds",
            "daemonset",
            "DaemonSets",
            "daemonset.apps",
            "daemonsets.apps",
        ] {
            assert_eq!(Kind::parse(w), Some(Kind::DaemonSet), "{w}");
        }
        for w in ["no", "node", "nodes"] {
            assert_eq!(Kind::parse(w), Some(Kind::Node), "{w}");
        }
        for w in ["po", "pod", "pods"] {
            assert_eq!(Kind::parse(w), Some(Kind::Pod), "{w}");
        }
        assert_eq!(Kind::parse("deploy"), None);
    }

    #[test]
    fn names_read_like_kubectl() {
        assert_eq!(Kind::DaemonSet.slash_name("agent"), "daemonset.apps/agent");
        assert_eq!(Kind::Node.slash_name("n1"), "node/n1");
        assert_eq!(Kind::Pod.slash_name("p"), "pod/p");
        assert_eq!(
            Kind::DaemonSet.quoted_name("agent"),
            "daemonset.apps \"agent\""
        );
        assert_eq!(Kind::Pod.plural(), "pods");
    }
}
