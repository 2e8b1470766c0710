//! The independent checker: what the agents' runtimes actually run, read from their data
//! directories — not from KV, not through any service.
//!
//! The fake runtime keeps one file per pod it runs (`<data-dir>/fake/pods/<uid>.pb`), created
//! when it accepts the pod and removed when the pod is stopped, and the file outlives a killed
//! agent process as a real process would. A file's content never changes node, owner or image,
//! so each is decoded once.
//!
//! A sample lists every agent's directory and groups the pods by (node, owning DaemonSet). Two
//! pods of one DaemonSet on one node is a violation only if they really overlapped: a directory
//! listing is not atomic, so a candidate is confirmed by seeing the first file, then the
//! second, then the first again — a pod's file exists over one interval only, so both existed
//! at the moment the second was seen.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use everynode_api::v1;
use prost::Message as _;

/// What the checker needs of one running pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The pod's uid.
    pub uid: String,
    /// `spec.nodeName`.
    pub node: String,
    /// The uid of its controlling owner (the DaemonSet), empty if none.
    pub owner: String,
    /// Its first container's image (the chaos suite's revision marker).
    pub image: String,
    /// The file it was read from.
    pub file: PathBuf,
}

/// One sample: the running pods by (node, owner uid).
#[derive(Debug, Default)]
pub struct Sample {
    /// Pods grouped by node and owner.
    pub by_node: BTreeMap<(String, String), Vec<Running>>,
    /// How many pods were seen.
    pub pods: usize,
}

impl Sample {
    /// The pods of owner `owner` on `node`.
    pub fn on(&self, node: &str, owner: &str) -> &[Running] {
        self.by_node
            .get(&(node.to_owned(), owner.to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}

/// Reads the running pods of a set of agent data directories.
#[derive(Debug)]
pub struct Reader {
    dirs: Vec<PathBuf>,
    /// Decoded files by path (`None`: undecodable, reported once).
    cache: HashMap<PathBuf, Option<Running>>,
}

/// The fake runtime's pod files under an agent's data directory.
pub fn pods_dir(data_dir: &Path) -> PathBuf {
    everynode_agent::runtime::fake::pods_dir(data_dir)
}

impl Reader {
    /// A reader of the agents with these data directories.
    pub fn new(data_dirs: &[PathBuf]) -> Self {
        Self {
            dirs: data_dirs.iter().map(|d| pods_dir(d)).collect(),
            cache: HashMap::new(),
        }
    }

    /// Lists every directory once.
    pub fn sample(&mut self) -> Sample {
        let mut sample = Sample::default();
        let mut present = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = fs::read_dir(dir) else {
                continue; // not made yet: no pod
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "pb") {
                    present.push(path);
                }
            }
        }
        for path in present {
            let running = match self.cache.get(&path) {
                Some(known) => known.clone(),
                None => match read(&path) {
                    Ok(found) => {
                        self.cache.insert(path.clone(), found.clone());
                        found
                    }
                    // Removed between the listing and the read: the pod stopped.
                    Err(err) if err.kind() == io::ErrorKind::NotFound => None,
                    Err(err) => {
                        eprintln!("checker: cannot read {}: {err}", path.display());
                        self.cache.insert(path.clone(), None);
                        None
                    }
                },
            };
            if let Some(running) = running {
                sample.pods += 1;
                sample
                    .by_node
                    .entry((running.node.clone(), running.owner.clone()))
                    .or_default()
                    .push(running);
            }
        }
        // Forget files that are gone (uids are never reused).
        if self.cache.len() > 4 * sample.pods + 1024 {
            self.cache.retain(|path, _| path.exists());
        }
        sample
    }
}

fn read(path: &Path) -> io::Result<Option<Running>> {
    let bytes = fs::read(path)?;
    let Ok(pod) = v1::Pod::decode(bytes.as_slice()) else {
        eprintln!("checker: {} is not a pod", path.display());
        return Ok(None);
    };
    let meta = pod.metadata.unwrap_or_default();
    let spec = pod.spec.unwrap_or_default();
    let owner = meta
        .owner_references
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone())
        .unwrap_or_default();
    Ok(Some(Running {
        uid: meta.uid,
        node: spec.node_name,
        owner,
        image: spec
            .containers
            .first()
            .map(|c| c.image.clone())
            .unwrap_or_default(),
        file: path.to_path_buf(),
    }))
}

/// Two pods of one DaemonSet that really ran on one node at the same moment.
#[derive(Debug, Clone)]
pub struct Duplicate {
    /// The node.
    pub node: String,
    /// The DaemonSet's uid.
    pub owner: String,
    /// The pods' uids and images.
    pub pods: Vec<(String, String)>,
}

/// Whether two of `pods` (of one owner on one node) overlapped: see the module docs.
pub fn confirm(pods: &[Running]) -> bool {
    for (i, first) in pods.iter().enumerate() {
        for second in &pods[i + 1..] {
            if first.file.exists() && second.file.exists() && first.file.exists() {
                return true;
            }
        }
    }
    false
}

/// What the background checker saw.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    /// Samples taken.
    pub samples: u64,
    /// Confirmed duplicates (the first few are kept in full).
    pub duplicates: Vec<Duplicate>,
    /// Confirmed duplicates in all.
    pub duplicate_count: u64,
}

/// Samples the agents' running pods on a thread of its own until stopped.
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    findings: Arc<Mutex<Findings>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts sampling `data_dirs` every `interval`.
    pub fn start(data_dirs: &[PathBuf], interval: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let findings = Arc::new(Mutex::new(Findings::default()));
        let mut reader = Reader::new(data_dirs);
        let thread = std::thread::spawn({
            let (stop, findings) = (Arc::clone(&stop), Arc::clone(&findings));
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let sample = reader.sample();
                    let mut found = Vec::new();
                    for ((node, owner), pods) in &sample.by_node {
                        if pods.len() > 1 && !owner.is_empty() && confirm(pods) {
                            found.push(Duplicate {
                                node: node.clone(),
                                owner: owner.clone(),
                                pods: pods
                                    .iter()
                                    .map(|p| (p.uid.clone(), p.image.clone()))
                                    .collect(),
                            });
                        }
                    }
                    {
                        let mut findings = findings.lock().unwrap_or_else(|e| e.into_inner());
                        findings.samples += 1;
                        for duplicate in found {
                            eprintln!(
                                "checker: DUPLICATE on {}: DaemonSet {} has {:?}",
                                duplicate.node, duplicate.owner, duplicate.pods
                            );
                            findings.duplicate_count += 1;
                            if findings.duplicates.len() < 20 {
                                findings.duplicates.push(duplicate);
                            }
                        }
                    }
                    std::thread::sleep(interval);
                }
            }
        });
        Self {
            stop,
            findings,
            thread: Some(thread),
        }
    }

    /// What it has seen so far.
    pub fn findings(&self) -> Findings {
        self.findings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops it; what it saw.
    pub fn finish(mut self) -> Findings {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.findings()
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn pod(uid: &str, node: &str, owner: &str, image: &str) -> v1::Pod {
        v1::Pod {
            metadata: Some(v1::ObjectMeta {
                uid: uid.into(),
                owner_references: vec![v1::OwnerReference {
                    uid: owner.into(),
                    controller: Some(true),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            spec: Some(v1::PodSpec {
                node_name: node.into(),
                containers: vec![v1::Container {
                    name: "main".into(),
                    image: image.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn write(data_dir: &Path, pod: &v1::Pod) -> PathBuf {
        let dir = pods_dir(data_dir);
        fs::create_dir_all(&dir).unwrap();
        let uid = &pod.metadata.as_ref().unwrap().uid;
        let path = dir.join(format!("{uid}.pb"));
        fs::write(&path, pod.encode_to_vec()).unwrap();
        path
    }

    #[test]
    fn pods_are_grouped_by_node_and_owner_and_overlaps_confirmed() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write(a.path(), &pod("u1", "n1", "ds", "img:1"));
        write(a.path(), &pod("u2", "n2", "ds", "img:1"));
        let late = write(b.path(), &pod("u3", "n1", "ds", "img:2"));
        write(b.path(), &pod("u4", "n1", "other", "img:1"));
        fs::write(pods_dir(b.path()).join("junk.pb"), b"\xff\xff\xff").unwrap();
        let mut reader = Reader::new(&[a.path().to_path_buf(), b.path().to_path_buf()]);
        let sample = reader.sample();
        assert_eq!(sample.pods, 4);
        assert_eq!(sample.on("n1", "ds").len(), 2);
        assert_eq!(sample.on("n2", "ds").len(), 1);
        assert_eq!(sample.on("n1", "other").len(), 1);
        assert!(confirm(sample.on("n1", "ds")));

        // The newer pod stopped before the check: not an overlap.
        fs::remove_file(late).unwrap();
        assert!(!confirm(sample.on("n1", "ds")));
        assert_eq!(reader.sample().on("n1", "ds").len(), 1);
    }

    #[test]
    fn the_watchdog_reports_a_real_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &pod("u1", "n1", "ds", "img:1"));
        let watchdog = Watchdog::start(&[dir.path().to_path_buf()], Duration::from_millis(5));
        let deadline = Instant::now() + Duration::from_secs(10);
        while watchdog.findings().samples < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(watchdog.findings().duplicate_count, 0);
        write(dir.path(), &pod("u2", "n1", "ds", "img:2"));
        while watchdog.findings().duplicate_count == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let findings = watchdog.finish();
        assert!(findings.duplicate_count > 0, "{findings:?}");
        assert_eq!(findings.duplicates[0].node, "n1");
    }
}
