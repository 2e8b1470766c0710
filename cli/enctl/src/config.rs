//! Where the three services are: flags > environment > config file > defaults.
//!
//! This module owns the precedence rule and the config file format; it never reads the process
//! environment or the file system's location rules itself — `main` gathers the environment
//! into an [`Env`] and passes it in, so tests can state every layer explicitly.
//!
//! The config file (`~/.config/everynode/config`, or `--config PATH`, or `EVERYNODE_CONFIG`)
//! holds one `key = value` or `key: value` per line (so a flat YAML map works too); `#` starts a
//! comment, values may be quoted. Keys: `admission`, `registry`, `controller`. A URL without a
//! scheme gets `http://`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Default URL of the admission service (`everynode.v1.DaemonSets`).
pub const DEFAULT_ADMISSION: &str = "http://127.0.0.1:7401";
/// Default URL of the registry (`everynode.v1.Nodes`).
pub const DEFAULT_REGISTRY: &str = "http://127.0.0.1:7402";
/// Default URL of the controller (`everynode.v1.Pods`, `everynode.v1.Endpoints`).
pub const DEFAULT_CONTROLLER: &str = "http://127.0.0.1:7403";

/// Environment variable naming the admission URL.
pub const ENV_ADMISSION: &str = "EVERYNODE_ADMISSION";
/// Environment variable naming the registry URL.
pub const ENV_REGISTRY: &str = "EVERYNODE_REGISTRY";
/// Environment variable naming the controller URL.
pub const ENV_CONTROLLER: &str = "EVERYNODE_CONTROLLER";
/// Environment variable naming the config file.
pub const ENV_CONFIG: &str = "EVERYNODE_CONFIG";

/// One of the three everynode services enctl talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `everynode-admission`: DaemonSets.
    Admission,
    /// `everynode-registry`: nodes.
    Registry,
    /// `everynode-controller`: pods and endpoints.
    Controller,
}

impl Service {
    /// Every service, in port order.
    pub const ALL: [Service; 3] = [Service::Admission, Service::Registry, Service::Controller];

    /// The service's name as in flags and the config file.
    pub fn name(self) -> &'static str {
        match self {
            Service::Admission => "admission",
            Service::Registry => "registry",
            Service::Controller => "controller",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Optional URLs from one source (flags, environment or file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    /// Admission URL, if this source sets it.
    pub admission: Option<String>,
    /// Registry URL, if this source sets it.
    pub registry: Option<String>,
    /// Controller URL, if this source sets it.
    pub controller: Option<String>,
}

impl Layer {
    fn get(&self, service: Service) -> Option<&str> {
        match service {
            Service::Admission => self.admission.as_deref(),
            Service::Registry => self.registry.as_deref(),
            Service::Controller => self.controller.as_deref(),
        }
        .map(str::trim)
        .filter(|s| !s.is_empty())
    }

    fn set(&mut self, service: Service, value: String) {
        match service {
            Service::Admission => self.admission = Some(value),
            Service::Registry => self.registry = Some(value),
            Service::Controller => self.controller = Some(value),
        }
    }
}

/// What `main` read from the process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// `EVERYNODE_ADMISSION`, `EVERYNODE_REGISTRY`, `EVERYNODE_CONTROLLER`.
    pub urls: Layer,
    /// `EVERYNODE_CONFIG`.
    pub config: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
}

/// The resolved service URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Admission URL.
    pub admission: String,
    /// Registry URL.
    pub registry: String,
    /// Controller URL.
    pub controller: String,
}

impl Endpoints {
    /// The URL of `service`.
    pub fn url(&self, service: Service) -> &str {
        match service {
            Service::Admission => &self.admission,
            Service::Registry => &self.registry,
            Service::Controller => &self.controller,
        }
    }
}

/// A configuration problem: a config file that cannot be read or parsed, or a bad URL.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file named explicitly cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line of the config file is not `key = value` / `key: value`, or names an unknown key.
    #[error("config file {path}, line {line}: {reason}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A URL that is not `http://host:port` or `https://host:port`.
    #[error("invalid {service} URL {url:?}: {reason}")]
    Url {
        /// Which service's URL.
        service: Service,
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// The config file to read: `(path, required)`. `--config` and `EVERYNODE_CONFIG` name a file
/// that must exist; the default `$HOME/.config/everynode/config` is optional.
pub fn config_path(flag: Option<&Path>, env: &Env) -> Option<(PathBuf, bool)> {
    if let Some(path) = flag {
        return Some((path.to_path_buf(), true));
    }
    if let Some(path) = env.config.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        return Some((path.clone(), true));
    }
    env.home
        .as_ref()
        .map(|home| (home.join(".config").join("everynode").join("config"), false))
}

/// Parses the text of a config file (`path` is for messages).
pub fn parse_file(path: &str, text: &str) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for (index, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() || line == "---" {
            continue;
        }
        let syntax = |reason: String| ConfigError::Syntax {
            path: path.to_string(),
            line: index + 1,
            reason,
        };
        // The separator is the first `=` or `:`: keys never contain either, URLs contain `:`.
        let Some(at) = line.find(['=', ':']) else {
            return Err(syntax(format!(
                "expected `key = value` or `key: value`, found {line:?}"
            )));
        };
        let key = line[..at].trim();
        let value = unquote(line[at + 1..].trim());
        let service = match key {
            "admission" => Service::Admission,
            "registry" => Service::Registry,
            "controller" => Service::Controller,
            other => {
                return Err(syntax(format!(
                    "unknown key {other:?} (expected admission, registry or controller)"
                )));
            }
        };
        layer.set(service, value.to_string());
    }
    Ok(layer)
}

/// Reads the config file (if any) and resolves the URLs of `flags`, `env` and the file.
pub fn load(flags: &crate::cli::GlobalArgs, env: &Env) -> Result<Endpoints, ConfigError> {
    let file = match config_path(flags.config.as_deref(), env) {
        None => Layer::default(),
        Some((path, required)) => read_file(&path, required)?,
    };
    let flags = Layer {
        admission: flags.admission.clone(),
        registry: flags.registry.clone(),
        controller: flags.controller.clone(),
    };
    resolve(&flags, &env.urls, &file)
}

/// Reads and parses a config file; a missing optional file is an empty layer.
pub fn read_file(path: &Path, required: bool) -> Result<Layer, ConfigError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_file(&shown, &text),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Layer::default()),
        Err(source) => Err(ConfigError::Read {
            path: shown,
            source,
        }),
    }
}

/// Resolves each URL: the first layer that sets it wins (flags, then environment, then file),
/// else the default. Every URL is normalised and checked.
pub fn resolve(flags: &Layer, env: &Layer, file: &Layer) -> Result<Endpoints, ConfigError> {
    let pick = |service: Service, default: &str| {
        let raw = flags
            .get(service)
            .or_else(|| env.get(service))
            .or_else(|| file.get(service))
            .unwrap_or(default);
        normalize_url(service, raw)
    };
    Ok(Endpoints {
        admission: pick(Service::Admission, DEFAULT_ADMISSION)?,
        registry: pick(Service::Registry, DEFAULT_REGISTRY)?,
        controller: pick(Service::Controller, DEFAULT_CONTROLLER)?,
    })
}

/// `host:port` becomes `http://host:port`; `http://` and `https://` URLs are kept (without a
/// trailing `/`); anything else is an error.
pub fn normalize_url(service: Service, raw: &str) -> Result<String, ConfigError> {
    let raw = raw.trim();
    let error = |reason: &str| ConfigError::Url {
        service,
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let url = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| error("the scheme must be http or https"))?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() {
        return Err(error("no host"));
    }
    if host.contains('/') {
        return Err(error("a service URL has no path"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn strip_comment(line: &str) -> &str {
    // `#` starts a comment at the start of a line or after whitespace (URLs may hold `#`
    // fragments in theory; a fragment is meaningless for gRPC anyway).
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(admission: Option<&str>, registry: Option<&str>, controller: Option<&str>) -> Layer {
        Layer {
            admission: admission.map(String::from),
            registry: registry.map(String::from),
            controller: controller.map(String::from),
        }
    }

    #[test]
    fn defaults_are_the_dev_machine_ports() {
        let e = resolve(&Layer::default(), &Layer::default(), &Layer::default()).unwrap();
        assert_eq!(e.admission, "http://127.0.0.1:7401");
        assert_eq!(e.registry, "http://127.0.0.1:7402");
        assert_eq!(e.controller, "http://127.0.0.1:7403");
    }

    #[test]
    fn flags_beat_env_beat_file_beat_defaults_per_service() {
        let flags = layer(Some("http://flag:1"), None, None);
        let env = layer(Some("http://env:1"), Some("http://env:2"), None);
        let file = layer(
            Some("http://file:1"),
            Some("http://file:2"),
            Some("http://file:3"),
        );
        let e = resolve(&flags, &env, &file).unwrap();
        assert_eq!(e.admission, "http://flag:1");
        assert_eq!(e.registry, "http://env:2");
        assert_eq!(e.controller, "http://file:3");
    }

    #[test]
    fn an_empty_value_does_not_hide_a_lower_layer() {
        let env = layer(Some(""), None, None);
        let file = layer(Some("http://file:1"), None, None);
        let e = resolve(&Layer::default(), &env, &file).unwrap();
        assert_eq!(e.admission, "http://file:1");
    }

    #[test]
    fn host_port_gets_http_and_trailing_slash_goes() {
        assert_eq!(
            normalize_url(Service::Registry, "10.0.0.1:7402").unwrap(),
            "http://10.0.0.1:7402"
        );
        assert_eq!(
            normalize_url(Service::Registry, "https://api.example:443/").unwrap(),
            "https://api.example:443"
        );
    }

    #[test]
    fn bad_urls_are_refused_with_the_service_named() {
        let err = normalize_url(Service::Controller, "nats://x:4222").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid controller URL \"nats://x:4222\": the scheme must be http or https"
        );
        assert!(normalize_url(Service::Admission, "http://").is_err());
        assert!(normalize_url(Service::Admission, "http://h:1/api").is_err());
    }

    #[test]
    fn config_file_reads_key_equals_value() {
        let text =
            "# everynode\nadmission = http://a:7401\nregistry = \"http://r:7402\"  # quoted\n\n";
        let l = parse_file("cfg", text).unwrap();
        assert_eq!(l, layer(Some("http://a:7401"), Some("http://r:7402"), None));
    }

    #[test]
    fn config_file_reads_flat_yaml() {
        let text = "---\nadmission: http://a:7401\ncontroller: 'c:7403'\n";
        let l = parse_file("cfg", text).unwrap();
        assert_eq!(l, layer(Some("http://a:7401"), None, Some("c:7403")));
    }

    #[test]
    fn config_file_unknown_key_names_the_line() {
        let err = parse_file("/x/config", "admission = a:1\nadmision = b:2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "config file /x/config, line 2: unknown key \"admision\" (expected admission, registry or controller)"
        );
        let err = parse_file("/x/config", "just words\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn a_missing_default_file_is_fine_a_missing_named_file_is_not() {
        let dir = std::env::temp_dir().join(format!("enctl-config-test-{}", std::process::id()));
        let missing = dir.join("nope");
        assert_eq!(read_file(&missing, false).unwrap(), Layer::default());
        let err = read_file(&missing, true).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read config file"),
            "{err}"
        );
    }

    #[test]
    fn config_path_prefers_flag_then_env_then_home() {
        let env = Env {
            urls: Layer::default(),
            config: Some(PathBuf::from("/env/config")),
            home: Some(PathBuf::from("/home/u")),
        };
        assert_eq!(
            config_path(Some(Path::new("/flag")), &env),
            Some((PathBuf::from("/flag"), true))
        );
        assert_eq!(
            config_path(None, &env),
            Some((PathBuf::from("/env/config"), true))
        );
        let env = Env {
            config: None,
            ..env
        };
        assert_eq!(
            config_path(None, &env),
            Some((PathBuf::from("/home/u/.config/everynode/config"), false))
        );
        assert_eq!(config_path(None, &Env::default()), None);
    }
}
