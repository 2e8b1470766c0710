//! The manifest codec against the 40 real-world DaemonSet manifests of
//! `tests/fixtures/manifests/valid/`: every one decodes, survives decode → encode →
//! decode unchanged (as YAML and as JSON), and loses no field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use everynode_api::manifest::{self, Object, yaml};
use everynode_api::v1;

fn manifests() -> Vec<(String, String)> {
    everynode_testkit::fixtures::valid_manifests()
}

fn daemon_sets(text: &str) -> Vec<v1::DaemonSet> {
    manifest::decode(text)
        .unwrap()
        .into_iter()
        .filter_map(|d| match d.object {
            Object::DaemonSet(ds) => Some(*ds),
            _ => None,
        })
        .collect()
}

#[test]
fn every_conformance_manifest_holds_exactly_one_daemonset_that_decodes() {
    let all = manifests();
    assert_eq!(all.len(), 40, "expected the 40 conformance manifests");
    for (name, text) in &all {
        let docs = manifest::decode(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ds: Vec<_> = docs
            .iter()
            .filter(|d| matches!(d.object, Object::DaemonSet(_)))
            .collect();
        assert_eq!(ds.len(), 1, "{name}: {} DaemonSets", ds.len());
    }
}

#[test]
fn decode_encode_decode_is_the_identity_in_yaml_and_json() {
    for (name, text) in manifests() {
        for ds in daemon_sets(&text) {
            let as_yaml = manifest::to_yaml(&ds);
            let again = manifest::decode_daemon_sets(&as_yaml)
                .unwrap_or_else(|e| panic!("{name}: {e}\n{as_yaml}"));
            assert_eq!(
                again,
                vec![ds.clone()],
                "{name}: YAML round trip differs\n{as_yaml}"
            );
            let as_json = manifest::to_json(&ds);
            let again =
                manifest::decode_daemon_sets(&as_json).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(again, vec![ds], "{name}: JSON round trip differs");
        }
    }
}

/// Every non-empty value of the original document is in the encoded one, equal (quantities
/// given as YAML numbers come back as the same text).
fn assert_kept(original: &serde_json::Value, encoded: Option<&serde_json::Value>, path: &str) {
    use serde_json::Value as J;
    let empty = |v: &J| match v {
        J::Null => true,
        J::Bool(b) => !b,
        J::Number(n) => n.as_f64() == Some(0.0),
        J::String(s) => s.is_empty(),
        J::Array(a) => a.is_empty(),
        J::Object(o) => o.is_empty(),
    };
    let Some(encoded) = encoded else {
        assert!(empty(original), "{path}: lost (was {original})");
        return;
    };
    match (original, encoded) {
        (J::Object(a), J::Object(b)) => {
            for (k, v) in a {
                assert_kept(v, b.get(k), &format!("{path}.{k}"));
            }
        }
        (J::Array(a), J::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: array length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_kept(x, Some(y), &format!("{path}[{i}]"));
            }
        }
        (J::Number(n), J::String(s)) => assert_eq!(n.to_string(), *s, "{path}"),
        (a, b) => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn no_field_of_a_real_manifest_is_lost() {
    for (name, text) in manifests() {
        for node in yaml::parse_documents(&text).unwrap().into_iter().flatten() {
            if node.get("kind").and_then(|k| k.to_json().ok())
                != Some(serde_json::json!("DaemonSet"))
            {
                continue;
            }
            let original = node.to_json().unwrap();
            let ds: v1::DaemonSet = manifest::decode_one(&text_of(&node)).unwrap();
            assert_kept(&original, Some(&manifest::to_value(&ds)), &name);
        }
    }
}

fn text_of(node: &yaml::Node) -> String {
    node.to_json().unwrap().to_string()
}

#[test]
fn yaml_1_1_scalars_read_as_kubernetes_reads_them() {
    let text = std::fs::read_to_string(
        everynode_testkit::fixtures::valid_manifests_dir().join("elastic-beats-filebeat.yaml"),
    )
    .unwrap();
    let ds = daemon_sets(&text).remove(0);
    let json = manifest::to_value(&ds);
    let volumes = json["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let config = volumes.iter().find(|v| v["configMap"].is_object()).unwrap();
    assert_eq!(
        config["configMap"]["defaultMode"],
        serde_json::json!(416),
        "0640 is octal"
    );
    let container = &ds
        .spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let null_env = container
        .env
        .iter()
        .find(|e| e.value.is_empty() && e.value_from.is_none());
    assert!(null_env.is_some(), "a null env value is an absent value");
}

#[test]
fn quantities_keep_their_spelling() {
    let ds: v1::DaemonSet = manifest::decode_one(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: q}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: i\n        resources:\n          limits: {cpu: 0.5, memory: 10M}\n          requests: {cpu: 1_000m}\n",
    )
    .unwrap();
    let c = &ds.spec.unwrap().template.unwrap().spec.unwrap().containers[0];
    let r = c.resources.as_ref().unwrap();
    assert_eq!(r.limits["cpu"], "0.5");
    assert_eq!(r.limits["memory"], "10M");
    assert_eq!(r.requests["cpu"], "1_000m");
}

#[test]
fn security_contexts_and_volume_sources_are_typed() {
    let text = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: s}\nspec:\n  template:\n    spec:\n      securityContext: {runAsUser: 1000, runAsNonRoot: true, fsGroup: 2000, supplementalGroups: [5], seccompProfile: {type: RuntimeDefault}}\n      containers:\n      - name: c\n        image: i\n        securityContext:\n          runAsUser: 0\n          privileged: false\n          capabilities: {add: [NET_ADMIN], drop: [ALL]}\n          seLinuxOptions: {level: s0}\n      volumes:\n      - name: h\n        hostPath: {path: /var/log, type: Directory}\n      - name: e\n        emptyDir: {medium: Memory, sizeLimit: 1_000}\n      - name: cm\n        configMap: {name: x}\n";
    let ds: v1::DaemonSet = manifest::decode_one(text).unwrap();
    let spec = ds.spec.clone().unwrap().template.unwrap().spec.unwrap();
    let pod_sc = spec.security_context.as_ref().unwrap();
    assert_eq!(pod_sc.run_as_user, Some(1000));
    assert_eq!(pod_sc.run_as_non_root, Some(true));
    assert_eq!(pod_sc.fs_group, Some(2000));
    assert_eq!(pod_sc.supplemental_groups, vec![5]);
    assert!(
        pod_sc.extra_fields.is_some(),
        "seccompProfile stays verbatim"
    );
    let sc = spec.containers[0].security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_user, Some(0), "an explicit 0 is kept");
    assert_eq!(sc.privileged, Some(false));
    assert_eq!(sc.capabilities.as_ref().unwrap().drop, vec!["ALL"]);
    let host_path = spec.volumes[0].host_path.as_ref().unwrap();
    assert_eq!(
        (host_path.path.as_str(), host_path.r#type.as_deref()),
        ("/var/log", Some("Directory"))
    );
    let empty_dir = spec.volumes[1].empty_dir.as_ref().unwrap();
    assert_eq!(empty_dir.medium.as_deref(), Some("Memory"));
    assert_eq!(
        empty_dir.size_limit.as_deref(),
        Some("1000"),
        "a quantity's text"
    );
    assert!(spec.volumes[2].host_path.is_none() && spec.volumes[2].extra_fields.is_some());
    let json = manifest::to_value(&ds);
    let pod = &json["spec"]["template"]["spec"];
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["containers"][0]["securityContext"]["runAsUser"], 0);
    assert_eq!(
        pod["containers"][0]["securityContext"]["seLinuxOptions"]["level"],
        "s0"
    );
    assert_eq!(pod["volumes"][1]["emptyDir"]["sizeLimit"], "1000");

    let e = manifest::decode_one::<v1::DaemonSet>(&text.replace("runAsUser: 0", "runAsUser: root"))
        .unwrap_err();
    assert_eq!(
        e.errors[0].path,
        "spec.template.spec.containers[0].securityContext.runAsUser"
    );
}

#[test]
fn int_or_string_fields_take_an_integer_or_a_string() {
    let base = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: q}\nspec:\n  updateStrategy:\n    rollingUpdate:\n      maxUnavailable: ";
    for (value, expected) in [
        ("1", serde_json::json!(1)),
        ("\"10%\"", serde_json::json!("10%")),
        ("10%", serde_json::json!("10%")),
    ] {
        let ds: v1::DaemonSet = manifest::decode_one(&format!("{base}{value}\n")).unwrap();
        assert_eq!(
            manifest::to_value(&ds)["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
            expected
        );
    }
    let e = manifest::decode_one::<v1::DaemonSet>(&format!("{base}1.5\n")).unwrap_err();
    assert_eq!(
        e.errors[0].path,
        "spec.updateStrategy.rollingUpdate.maxUnavailable"
    );
    assert!(
        e.errors[0].message.contains("an integer or a string"),
        "{e}"
    );
}

#[test]
fn type_errors_name_the_path_and_the_line() {
    let text = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: x\n  labels: {a: 1}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: 5\n        ports:\n        - containerPort: http\n";
    let e = manifest::decode(text).unwrap_err();
    let shown: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "metadata.labels.a: expected string, found number 1, line 5",
            "spec.template.spec.containers[0].image: expected string, found number 5, line 11",
            "spec.template.spec.containers[0].ports[0].containerPort: expected a 32-bit integer, found string \"http\", line 13",
        ]
    );
}

#[test]
fn lists_and_multiple_documents_are_flattened_and_other_kinds_named() {
    let text = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: DaemonSet\n  metadata: {name: a}\n- apiVersion: extensions/v1beta1\n  kind: DaemonSet\n  metadata: {name: b}\n";
    let docs = manifest::decode(text).unwrap();
    assert_eq!(docs.len(), 3);
    assert!(
        matches!(&docs[0].object, Object::Other { kind, name, .. } if kind == "ServiceAccount" && name == "sa")
    );
    let names: Vec<_> = docs[1..]
        .iter()
        .map(|d| match &d.object {
            Object::DaemonSet(ds) => (
                ds.api_version.clone(),
                ds.metadata.as_ref().unwrap().name.clone(),
            ),
            _ => panic!("not a DaemonSet"),
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("apps/v1".into(), "a".into()),
            ("extensions/v1beta1".into(), "b".into())
        ]
    );
}

#[test]
fn unsupported_api_versions_are_refused() {
    let e = manifest::decode("apiVersion: apps/v2\nkind: DaemonSet\nmetadata: {name: a}\n")
        .unwrap_err();
    assert_eq!(e.errors[0].path, "apiVersion");
    assert!(e.errors[0].message.contains("extensions/v1beta1"), "{e}");
}

#[test]
fn proto3_json_of_a_daemonset_reads_like_the_kubernetes_json() {
    // A DaemonSet made only of typed fields: its canonical proto3 JSON (what grpcurl prints) has
    // the same shape and names as Kubernetes' JSON; the only difference proto3 JSON makes is
    // writing 64-bit integers as strings.
    let kube = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default", "labels": {"app": "agent"}, "generation": 2},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "nodeSelector": {"disk": "ssd"},
                    "hostNetwork": true,
                    "terminationGracePeriodSeconds": 30,
                    "containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 9100, "hostPort": 9100}],
                                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}],
                    "tolerations": [{"operator": "Exists"}]
                }
            },
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}}
        },
        "status": {"numberReady": 3, "desiredNumberScheduled": 3}
    });
    let ds: v1::DaemonSet = manifest::decode_one(&kube.to_string()).unwrap();
    let desc = manifest::descriptor_pool()
        .get_message_by_name("everynode.v1.DaemonSet")
        .unwrap();
    let mut dynamic = prost_reflect::DynamicMessage::new(desc);
    dynamic.transcode_from(&ds).unwrap();
    let proto3 = serde_json::to_value(&dynamic).unwrap();
    let mut expected = kube.clone();
    expected["metadata"]["generation"] = serde_json::json!("2");
    expected["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = serde_json::json!("30");
    assert_eq!(proto3, expected);
    assert_eq!(manifest::to_value(&ds), kube);
}

#[test]
fn the_examples_decode_and_round_trip() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let all = manifest::decode_daemon_sets(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for ds in all {
            assert_eq!(
                manifest::decode_daemon_sets(&manifest::to_yaml(&ds)).unwrap(),
                vec![ds]
            );
            count += 1;
        }
    }
    assert!(count >= 5, "expected the example DaemonSets, found {count}");
}
