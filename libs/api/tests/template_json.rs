//! Core's template JSON against the manifest codec's encoder, and the template hashes of the 40
//! real-world manifests of `tests/fixtures/manifests/valid/`.
//!
//! `everynode_core::planner::template_to_json` (revision data and the template hash) and
//! `manifest::to_value` (what `enctl get -o yaml|json` prints) are two encoders of the same
//! Kubernetes JSON; these tests hold them to the same output, so neither drifts, and pin the
//! hashes, whose change would restart every pod on upgrade.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use everynode_api::manifest::{self, Object};
use everynode_api::v1;
use everynode_core::defaults::default_daemon_set;
use everynode_core::model;
use everynode_core::planner::{template_hash, template_to_json};
use everynode_core::validation::ApiVersion;

/// Every DaemonSet of the fixtures, by file name, as given and defaulted as admission stores it.
fn daemon_sets() -> Vec<(String, model::DaemonSet, model::DaemonSet)> {
    let mut out = Vec::new();
    for (name, text) in everynode_testkit::fixtures::valid_manifests() {
        for doc in manifest::decode(&text).unwrap_or_else(|e| panic!("{name}: {e}")) {
            let Object::DaemonSet(ds) = doc.object else {
                continue;
            };
            let given = model::DaemonSet::from(*ds);
            let mut defaulted = given.clone();
            default_daemon_set(&mut defaulted, ApiVersion::AppsV1);
            out.push((name.clone(), given, defaulted));
        }
    }
    out
}

fn template(ds: &model::DaemonSet) -> &model::PodTemplateSpec {
    ds.spec.as_ref().and_then(|s| s.template.as_ref()).unwrap()
}

#[test]
fn core_template_json_is_what_the_manifest_encoder_writes() {
    let all = daemon_sets();
    assert_eq!(all.len(), 40);
    for (name, given, defaulted) in all {
        for ds in [given, defaulted] {
            let core = template_to_json(template(&ds));
            let encoded = manifest::to_value(&v1::DaemonSet::from(ds));
            assert_eq!(
                core, encoded["spec"]["template"],
                "{name}: the planner's template JSON differs from the manifest encoder's"
            );
        }
    }
}

/// `(manifest, hash of its defaulted template)`, computed by earlier versions.
const PINNED: [(&str, &str); 40] = [
    ("antrea-agent.yaml", "54497dcd6"),
    ("aws-ebs-csi-driver-node-windows.yaml", "59f59bdf64"),
    ("aws-ebs-csi-driver-node.yaml", "68569d9bf5"),
    ("aws-vpc-cni-aws-node.yaml", "7f96c87676"),
    ("calico-node.yaml", "786dbbb895"),
    ("contour-envoy.yaml", "dd7fd65fc"),
    ("csi-driver-nfs-ephemeral-example.yaml", "747fb7b658"),
    ("csi-driver-nfs-node.yaml", "8bb7b8965"),
    ("datadog-agent-only.yaml", "bc9dcbf44"),
    ("elastic-beats-filebeat.yaml", "67c48d6d6b"),
    ("falcosecurity-falco.yaml", "64ff846897"),
    ("flannel-kube-flannel.yaml", "6f5dcb9c85"),
    ("fluent-bit-elasticsearch.yaml", "856bb6cd58"),
    ("gke-accelerators-image-prepull.yaml", "674f9fc66"),
    (
        "gke-accelerators-nvidia-driver-installer-cos-confidential.yaml",
        "556b488f9d",
    ),
    ("ingress-nginx-controller-exoscale.yaml", "848f5c4557"),
    ("intel-device-plugins-sgx-plugin.yaml", "b58cb588"),
    ("kube-prometheus-node-exporter.yaml", "7878768cd4"),
    ("kube-router-kubeadm-all-features.yaml", "5496b5d6f"),
    ("kubernetes-e2e-nvidia-driver-installer.yaml", "6675f66645"),
    ("kubernetes-examples-cassandra-v1beta1.yaml", "549bd6976b"),
    (
        "kubernetes-examples-sysdig-agent-v1beta1.yaml",
        "5d89485ff4",
    ),
    ("kubernetes-fluentd-es.yaml", "67499b7b7b"),
    ("kubernetes-ip-masq-agent.yaml", "6dd774677d"),
    (
        "kubernetes-kubectl-rollingupdate-bind-v1beta1.yaml",
        "5d5454fc94",
    ),
    ("kubernetes-metadata-proxy-v1beta1.yaml", "7bd9f9958f"),
    (
        "kubernetes-node-problem-detector-v1beta1.yaml",
        "765d9775bd",
    ),
    ("kubernetes-website-fluentd-elasticsearch.yaml", "bfbb78f5"),
    (
        "kubernetes-website-fluentd-rolling-update.yaml",
        "547c9f4758",
    ),
    ("kubernetes-website-nginx-ssd.yaml", "f978bd769"),
    ("kured-daemonset.yaml", "d99ff88fd"),
    ("longhorn-manager.yaml", "5688b94ff6"),
    ("metallb-speaker.yaml", "5dc96c465b"),
    ("multus-cni-thick.yaml", "75b545887c"),
    ("node-feature-discovery-worker.yaml", "676649f9c6"),
    ("nvidia-device-plugin.yaml", "67b7956bd9"),
    ("nvidia-gpu-feature-discovery.yaml", "687d85f546"),
    ("rook-ceph-csi-nvmeof-nodeplugin.yaml", "bc8f558d8"),
    ("sysdig-agent.yaml", "cd85d7b5d"),
    ("weave-net.yaml", "86594858d6"),
];

#[test]
fn template_hashes_of_the_manifests_do_not_change() {
    let all = daemon_sets();
    assert_eq!(all.len(), PINNED.len());
    for ((name, _, defaulted), (pinned_name, pinned_hash)) in all.iter().zip(PINNED) {
        assert_eq!(name, pinned_name);
        assert_eq!(
            template_hash(template(defaulted), None),
            pinned_hash,
            "{name}: the template hash changed; every pod of such a DaemonSet would restart"
        );
    }
}
