//! Where the three services are and which identity enctl presents to them: flags >
//! environment > config file > defaults, each setting on its own.
//!
//! This module owns the precedence rule; [`file`] owns the config file's format. Neither reads
//! the process environment: `main` gathers it into an [`Env`] ([`Env::read`]) and passes it in,
//! so tests can state every layer explicitly.
//!
//! Settings: the URLs of `admission`, `registry` and `controller`, and the security of every
//! call — `credentials` (an identity folder as `enctl pki init` writes them: mutual TLS with
//! that identity) or `insecure` (plaintext, for services started with `--insecure`). The first
//! source that names one of the two decides; with none, commands that call a service stop
//! with an error that says what to do. A URL without a scheme gets the security's scheme
//! (`https://`, or `http://` when insecure), and so do the default URLs.

mod file;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use everynode_service::defaults::{ADMISSION_LISTEN, CONTROLLER_LISTEN, REGISTRY_LISTEN};

pub use file::{ConfigFile, Context};

/// Environment variable naming the admission URL.
pub const ENV_ADMISSION: &str = "EVERYNODE_ADMISSION";
/// Environment variable naming the registry URL.
pub const ENV_REGISTRY: &str = "EVERYNODE_REGISTRY";
/// Environment variable naming the controller URL.
pub const ENV_CONTROLLER: &str = "EVERYNODE_CONTROLLER";
/// Environment variable naming the identity folder.
pub const ENV_CREDENTIALS: &str = "EVERYNODE_CREDENTIALS";
/// Environment variable asking for plaintext calls.
pub const ENV_INSECURE: &str = "EVERYNODE_INSECURE";
/// Environment variable naming the config file.
pub const ENV_CONFIG: &str = "EVERYNODE_CONFIG";

/// One of the three everynode services enctl talks to (`--service` of `auth whoami` names
/// one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
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

    fn env(self) -> &'static str {
        match self {
            Service::Admission => ENV_ADMISSION,
            Service::Registry => ENV_REGISTRY,
            Service::Controller => ENV_CONTROLLER,
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Service::Admission => "--admission",
            Service::Registry => "--registry",
            Service::Controller => "--controller",
        }
    }

    /// The address the service listens on by default.
    fn default_address(self) -> &'static str {
        match self {
            Service::Admission => ADMISSION_LISTEN,
            Service::Registry => REGISTRY_LISTEN,
            Service::Controller => CONTROLLER_LISTEN,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How enctl secures its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// Mutual TLS with the identity of this folder (`ca.crt`, `tls.crt`, `tls.key`).
    Credentials(PathBuf),
    /// Plaintext, unauthenticated (services started with `--insecure`).
    Insecure,
}

impl Security {
    /// The URL scheme of this mode.
    pub fn scheme(&self) -> &'static str {
        match self {
            Security::Credentials(_) => "https",
            Security::Insecure => "http",
        }
    }
}

/// The settings one source gives (flags, environment or a context of the config file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    /// Admission URL.
    pub admission: Option<String>,
    /// Registry URL.
    pub registry: Option<String>,
    /// Controller URL.
    pub controller: Option<String>,
    /// Identity folder.
    pub credentials: Option<PathBuf>,
    /// Plaintext calls.
    pub insecure: bool,
}

impl Layer {
    fn url(&self, service: Service) -> Option<&str> {
        match service {
            Service::Admission => self.admission.as_deref(),
            Service::Registry => self.registry.as_deref(),
            Service::Controller => self.controller.as_deref(),
        }
        .map(str::trim)
        .filter(|s| !s.is_empty())
    }

    /// The security this layer names, if any; naming both is an error (`what` names the
    /// layer's two settings in the message).
    fn security(&self, what: &str) -> Result<Option<Security>, ConfigError> {
        let credentials = self
            .credentials
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty());
        match (credentials, self.insecure) {
            (Some(_), true) => Err(ConfigError::Invalid(format!(
                "{what}: choose credentials or insecure, not both"
            ))),
            (Some(dir), false) => Ok(Some(Security::Credentials(dir.clone()))),
            (None, true) => Ok(Some(Security::Insecure)),
            (None, false) => Ok(None),
        }
    }
}

/// What `main` read from the process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// `EVERYNODE_ADMISSION`.
    pub admission: Option<String>,
    /// `EVERYNODE_REGISTRY`.
    pub registry: Option<String>,
    /// `EVERYNODE_CONTROLLER`.
    pub controller: Option<String>,
    /// `EVERYNODE_CREDENTIALS`.
    pub credentials: Option<PathBuf>,
    /// `EVERYNODE_INSECURE`, as set.
    pub insecure: Option<String>,
    /// `EVERYNODE_CONFIG`.
    pub config: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
}

impl Env {
    /// The variables enctl reads, through `var` (`std::env::var_os` in `main`).
    pub fn read(var: impl Fn(&str) -> Option<OsString>) -> Self {
        let text = |name: &str| var(name).map(|v| v.to_string_lossy().into_owned());
        let path = |name: &str| var(name).map(PathBuf::from);
        Self {
            admission: text(ENV_ADMISSION),
            registry: text(ENV_REGISTRY),
            controller: text(ENV_CONTROLLER),
            credentials: path(ENV_CREDENTIALS),
            insecure: text(ENV_INSECURE),
            config: path(ENV_CONFIG),
            home: path("HOME"),
        }
    }

    fn layer(&self) -> Result<Layer, ConfigError> {
        Ok(Layer {
            admission: self.admission.clone(),
            registry: self.registry.clone(),
            controller: self.controller.clone(),
            credentials: self.credentials.clone(),
            insecure: match &self.insecure {
                None => false,
                Some(value) => parse_bool(ENV_INSECURE, value)?,
            },
        })
    }
}

/// A boolean environment variable, read as clap reads one: `true`, `yes`, `on`, `1`, … or
/// `false`, `no`, `off`, `0`, empty.
pub fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "t" | "true" | "on" | "1" => Ok(true),
        "" | "n" | "no" | "f" | "false" | "off" | "0" => Ok(false),
        other => Err(ConfigError::Invalid(format!(
            "{name}={other:?}: expected true or false"
        ))),
    }
}

/// The flags that set what this module resolves (the rest of the command line is not its
/// business).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `--admission`, `--registry`, `--controller`, `--credentials`, `--insecure`.
    pub layer: Layer,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
}

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A flag (its name).
    Flag(&'static str),
    /// An environment variable (its name).
    Env(&'static str),
    /// The config file's context (`None`: a file without contexts).
    File(Option<String>),
    /// enctl's default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) | Source::Env(name) => f.write_str(name),
            Source::File(Some(context)) => write!(f, "config file, context {context}"),
            Source::File(None) => f.write_str("config file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A resolved setting and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub source: Source,
}

/// The config file enctl read (or would have read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUse {
    /// Its path.
    pub path: PathBuf,
    /// Where the path came from (`--config`, `EVERYNODE_CONFIG`, or the default).
    pub source: Source,
    /// False when the (default) file does not exist.
    pub exists: bool,
    /// The context used, and where its name came from (`--context` or `current-context`).
    pub context: Option<Setting<String>>,
}

/// Everything resolved: the URLs, the security and their sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Admission URL.
    pub admission: Setting<String>,
    /// Registry URL.
    pub registry: Setting<String>,
    /// Controller URL.
    pub controller: Setting<String>,
    /// How calls are secured; `None` when no source says (calls then fail with
    /// [`NO_SECURITY`]).
    pub security: Option<Setting<Security>>,
    /// The config file.
    pub file: Option<FileUse>,
}

impl Settings {
    /// The URL of `service` and its source.
    pub fn setting(&self, service: Service) -> &Setting<String> {
        match service {
            Service::Admission => &self.admission,
            Service::Registry => &self.registry,
            Service::Controller => &self.controller,
        }
    }

    /// The URL of `service`.
    pub fn url(&self, service: Service) -> &str {
        &self.setting(service).value
    }
}

/// What to do when nothing says how to secure the calls.
pub const NO_SECURITY: &str = "no credentials: give --credentials DIR (an identity folder, \
e.g. PKI/admin; make a PKI with `enctl pki init PKI`), set EVERYNODE_CREDENTIALS, or set \
`credentials:` in a context of the config file (~/.config/everynode/config.yaml); use \
--insecure only with services started with --insecure";

/// A configuration problem: a config file that cannot be read or parsed, a context that does
/// not exist, contradicting settings, or a bad URL.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not what enctl reads.
    #[error("config file {path}, line {line}: {reason}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The context asked for does not exist.
    #[error("context {name:?} not found in config file {path} ({})", known_contexts(.known))]
    NoContext {
        /// The context.
        name: String,
        /// The file.
        path: String,
        /// The contexts the file has.
        known: Vec<String>,
    },
    /// Settings that contradict each other, or an unreadable value.
    #[error("{0}")]
    Invalid(String),
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

fn known_contexts(known: &[String]) -> String {
    if known.is_empty() {
        "it has none".to_string()
    } else {
        format!("it has {}", known.join(", "))
    }
}

/// The config file to read, where its path came from, and whether it must exist: `--config`
/// and `EVERYNODE_CONFIG` name a file that must exist; the default
/// `$HOME/.config/everynode/config.yaml` is optional.
pub fn config_path(flag: Option<&Path>, env: &Env) -> Option<(PathBuf, Source, bool)> {
    if let Some(path) = flag {
        return Some((path.to_path_buf(), Source::Flag("--config"), true));
    }
    if let Some(path) = env.config.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        return Some((path.clone(), Source::Env(ENV_CONFIG), true));
    }
    env.home.as_ref().map(|home| {
        (
            home.join(".config").join("everynode").join("config.yaml"),
            Source::Default,
            false,
        )
    })
}

/// Reads the config file (if any) and resolves every setting of `flags`, `env` and the file.
pub fn load(flags: &Flags, env: &Env) -> Result<Settings, ConfigError> {
    let found = config_path(flags.config.as_deref(), env);
    let parsed = match &found {
        Some((path, _, required)) => read_file(path, *required)?,
        None => None,
    };
    let selected = match (&parsed, &flags.context) {
        (Some(file), wanted) => file.select(wanted.as_deref())?,
        (None, Some(name)) => {
            return Err(ConfigError::Invalid(format!(
                "--context {name}: there is no config file ({})",
                found.map_or("HOME is not set".to_string(), |(path, ..)| {
                    path.display().to_string()
                })
            )));
        }
        (None, None) => None,
    };
    let file_layer = match (&selected, &found) {
        (Some((context, _)), Some((path, ..))) => Some((
            context.layer.clone(),
            Source::File(context.name.clone()),
            context.describe(path),
        )),
        _ => None,
    };
    let mut settings = resolve(&flags.layer, &env.layer()?, file_layer.as_ref())?;
    settings.file = found.map(|(path, source, _)| FileUse {
        path,
        source,
        exists: parsed.is_some(),
        context: selected.and_then(|(context, from)| {
            context.name.clone().map(|value| Setting {
                value,
                source: from,
            })
        }),
    });
    Ok(settings)
}

/// Reads and parses a config file; a missing optional file is `None`.
pub fn read_file(path: &Path, required: bool) -> Result<Option<ConfigFile>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => ConfigFile::parse(path, &text).map(Some),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Resolves each setting: the first layer that sets it wins (flags, then environment, then
/// the file's context, given with its source and a description for messages), else the
/// default. Every URL is normalised and checked.
pub fn resolve(
    flags: &Layer,
    env: &Layer,
    file: Option<&(Layer, Source, String)>,
) -> Result<Settings, ConfigError> {
    let named = |value: Security, credentials: Source, insecure: Source| {
        let source = match value {
            Security::Credentials(_) => credentials,
            Security::Insecure => insecure,
        };
        Setting { value, source }
    };
    let mut security = flags
        .security("--credentials and --insecure")?
        .map(|s| named(s, Source::Flag("--credentials"), Source::Flag("--insecure")));
    if security.is_none() {
        security = env
            .security(&format!("{ENV_CREDENTIALS} and {ENV_INSECURE}"))?
            .map(|s| named(s, Source::Env(ENV_CREDENTIALS), Source::Env(ENV_INSECURE)));
    }
    if security.is_none()
        && let Some((layer, source, what)) = file
    {
        security = layer
            .security(what)?
            .map(|s| named(s, source.clone(), source.clone()));
    }
    let scheme = security.as_ref().map_or("https", |s| s.value.scheme());
    let pick = |service: Service| -> Result<Setting<String>, ConfigError> {
        let (raw, source) = if let Some(url) = flags.url(service) {
            (url.to_string(), Source::Flag(service.flag()))
        } else if let Some(url) = env.url(service) {
            (url.to_string(), Source::Env(service.env()))
        } else if let Some((url, source)) =
            file.and_then(|(layer, source, _)| layer.url(service).map(|u| (u, source)))
        {
            (url.to_string(), source.clone())
        } else {
            (service.default_address().to_string(), Source::Default)
        };
        Ok(Setting {
            value: normalize_url(service, &raw, scheme)?,
            source,
        })
    };
    Ok(Settings {
        admission: pick(Service::Admission)?,
        registry: pick(Service::Registry)?,
        controller: pick(Service::Controller)?,
        security,
        file: None,
    })
}

/// `host:port` becomes `<scheme>://host:port`; `http://` and `https://` URLs are kept
/// (without a trailing `/`); anything else is an error.
pub fn normalize_url(service: Service, raw: &str, scheme: &str) -> Result<String, ConfigError> {
    let raw = raw.trim();
    let error = |reason: &str| ConfigError::Url {
        service,
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let url = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("{scheme}://{raw}")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(admission: Option<&str>, registry: Option<&str>, controller: Option<&str>) -> Layer {
        Layer {
            admission: admission.map(String::from),
            registry: registry.map(String::from),
            controller: controller.map(String::from),
            ..Layer::default()
        }
    }

    fn credentials(dir: &str) -> Layer {
        Layer {
            credentials: Some(PathBuf::from(dir)),
            ..Layer::default()
        }
    }

    fn insecure() -> Layer {
        Layer {
            insecure: true,
            ..Layer::default()
        }
    }

    fn file(layer: Layer) -> (Layer, Source, String) {
        (
            layer,
            Source::File(Some("demo".into())),
            "config file cfg, context demo".into(),
        )
    }

    #[test]
    fn defaults_are_the_dev_machine_ports_over_tls() {
        let s = resolve(&Layer::default(), &Layer::default(), None).unwrap();
        assert_eq!(s.url(Service::Admission), "https://127.0.0.1:7401");
        assert_eq!(s.url(Service::Registry), "https://127.0.0.1:7402");
        assert_eq!(s.url(Service::Controller), "https://127.0.0.1:7403");
        assert_eq!(s.admission.source, Source::Default);
        assert_eq!(s.security, None);
    }

    #[test]
    fn insecure_defaults_and_bare_addresses_are_http() {
        let s = resolve(&insecure(), &urls(Some("10.0.0.1:1"), None, None), None).unwrap();
        assert_eq!(s.url(Service::Admission), "http://10.0.0.1:1");
        assert_eq!(s.url(Service::Registry), "http://127.0.0.1:7402");
        assert_eq!(
            s.security,
            Some(Setting {
                value: Security::Insecure,
                source: Source::Flag("--insecure")
            })
        );
    }

    #[test]
    fn flags_beat_env_beat_file_beat_defaults_per_setting() {
        let flags = urls(Some("https://flag:1"), None, None);
        let env = Layer {
            credentials: Some("/env/admin".into()),
            ..urls(Some("https://env:1"), Some("https://env:2"), None)
        };
        let file = file(Layer {
            credentials: Some("/file/admin".into()),
            ..urls(
                Some("https://file:1"),
                Some("https://file:2"),
                Some("https://file:3"),
            )
        });
        let s = resolve(&flags, &env, Some(&file)).unwrap();
        assert_eq!(s.url(Service::Admission), "https://flag:1");
        assert_eq!(s.admission.source, Source::Flag("--admission"));
        assert_eq!(s.url(Service::Registry), "https://env:2");
        assert_eq!(s.registry.source, Source::Env(ENV_REGISTRY));
        assert_eq!(s.url(Service::Controller), "https://file:3");
        assert_eq!(s.controller.source, Source::File(Some("demo".into())));
        assert_eq!(
            s.security,
            Some(Setting {
                value: Security::Credentials("/env/admin".into()),
                source: Source::Env(ENV_CREDENTIALS)
            })
        );
        // --insecure on the command line wins over credentials anywhere else.
        let s = resolve(&insecure(), &env, Some(&file)).unwrap();
        assert_eq!(s.security.unwrap().value, Security::Insecure);
        // Without flags or environment, the file's credentials.
        let s = resolve(&Layer::default(), &Layer::default(), Some(&file)).unwrap();
        assert_eq!(
            s.security.unwrap(),
            Setting {
                value: Security::Credentials("/file/admin".into()),
                source: Source::File(Some("demo".into()))
            }
        );
    }

    #[test]
    fn credentials_and_insecure_in_one_source_conflict() {
        let both = Layer {
            insecure: true,
            ..credentials("/pki/admin")
        };
        let err = resolve(&Layer::default(), &both, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "EVERYNODE_CREDENTIALS and EVERYNODE_INSECURE: choose credentials or insecure, not both"
        );
        let err = resolve(&Layer::default(), &Layer::default(), Some(&file(both))).unwrap_err();
        assert!(err.to_string().starts_with("config file cfg, context demo"));
        // In different sources, the higher one wins.
        let s = resolve(&credentials("/pki/admin"), &insecure(), None).unwrap();
        assert_eq!(
            s.security.unwrap(),
            Setting {
                value: Security::Credentials("/pki/admin".into()),
                source: Source::Flag("--credentials")
            }
        );
    }

    #[test]
    fn an_empty_value_does_not_hide_a_lower_layer() {
        let env = Layer {
            credentials: Some(PathBuf::new()),
            ..urls(Some(""), None, None)
        };
        let file = file(Layer {
            credentials: Some("/pki/viewer".into()),
            ..urls(Some("https://file:1"), None, None)
        });
        let s = resolve(&Layer::default(), &env, Some(&file)).unwrap();
        assert_eq!(s.url(Service::Admission), "https://file:1");
        assert_eq!(
            s.security.unwrap().value,
            Security::Credentials("/pki/viewer".into())
        );
    }

    #[test]
    fn the_environment_s_insecure_reads_like_clap_s() {
        let env = |value: &str| Env {
            insecure: Some(value.into()),
            ..Env::default()
        };
        assert!(env("true").layer().unwrap().insecure);
        assert!(env("1").layer().unwrap().insecure);
        assert!(!env("false").layer().unwrap().insecure);
        assert!(!env("").layer().unwrap().insecure);
        let err = env("maybe").layer().unwrap_err();
        assert_eq!(
            err.to_string(),
            "EVERYNODE_INSECURE=\"maybe\": expected true or false"
        );
    }

    #[test]
    fn env_read_takes_every_variable() {
        let env = Env::read(|name| match name {
            "EVERYNODE_CREDENTIALS" => Some("/pki/admin".into()),
            "EVERYNODE_INSECURE" => Some("0".into()),
            "EVERYNODE_REGISTRY" => Some("r:1".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        });
        assert_eq!(
            env,
            Env {
                registry: Some("r:1".into()),
                credentials: Some("/pki/admin".into()),
                insecure: Some("0".into()),
                home: Some("/home/u".into()),
                ..Env::default()
            }
        );
    }

    #[test]
    fn host_port_gets_the_scheme_and_trailing_slash_goes() {
        assert_eq!(
            normalize_url(Service::Registry, "10.0.0.1:7402", "https").unwrap(),
            "https://10.0.0.1:7402"
        );
        assert_eq!(
            normalize_url(Service::Registry, "10.0.0.1:7402", "http").unwrap(),
            "http://10.0.0.1:7402"
        );
        assert_eq!(
            normalize_url(Service::Registry, "https://api.example:443/", "http").unwrap(),
            "https://api.example:443"
        );
    }

    #[test]
    fn bad_urls_are_refused_with_the_service_named() {
        let err = normalize_url(Service::Controller, "nats://x:4222", "https").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid controller URL \"nats://x:4222\": the scheme must be http or https"
        );
        assert!(normalize_url(Service::Admission, "http://", "https").is_err());
        assert!(normalize_url(Service::Admission, "http://h:1/api", "https").is_err());
    }

    #[test]
    fn config_path_prefers_flag_then_env_then_home() {
        let env = Env {
            config: Some(PathBuf::from("/env/config.yaml")),
            home: Some(PathBuf::from("/home/u")),
            ..Env::default()
        };
        assert_eq!(
            config_path(Some(Path::new("/flag")), &env),
            Some((PathBuf::from("/flag"), Source::Flag("--config"), true))
        );
        assert_eq!(
            config_path(None, &env),
            Some((
                PathBuf::from("/env/config.yaml"),
                Source::Env(ENV_CONFIG),
                true
            ))
        );
        let env = Env {
            config: None,
            ..env
        };
        assert_eq!(
            config_path(None, &env),
            Some((
                PathBuf::from("/home/u/.config/everynode/config.yaml"),
                Source::Default,
                false
            ))
        );
        assert_eq!(config_path(None, &Env::default()), None);
    }

    #[test]
    fn a_missing_default_file_is_fine_a_missing_named_file_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        assert!(read_file(&missing, false).unwrap().is_none());
        let err = read_file(&missing, true).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read config file"),
            "{err}"
        );
    }

    #[test]
    fn load_selects_the_context_and_reports_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.yaml");
        std::fs::write(
            &path,
            "current-context: a\ncontexts:\n- name: a\n  admission: a:1\n  credentials: pki/admin\n- name: b\n  insecure: true\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(path.clone()),
            ..Flags::default()
        };
        let s = load(&flags, &Env::default()).unwrap();
        assert_eq!(s.url(Service::Admission), "https://a:1");
        assert_eq!(
            s.security.as_ref().unwrap().value,
            Security::Credentials(tmp.path().join("pki/admin"))
        );
        let file = s.file.unwrap();
        assert!(file.exists);
        assert_eq!(file.source, Source::Flag("--config"));
        assert_eq!(
            file.context,
            Some(Setting {
                value: "a".into(),
                source: Source::File(None)
            })
        );

        let flags = Flags {
            context: Some("b".into()),
            ..flags
        };
        let s = load(&flags, &Env::default()).unwrap();
        assert_eq!(s.url(Service::Admission), "http://127.0.0.1:7401");
        assert_eq!(
            s.security.unwrap(),
            Setting {
                value: Security::Insecure,
                source: Source::File(Some("b".into()))
            }
        );

        let flags = Flags {
            context: Some("c".into()),
            ..flags
        };
        let err = load(&flags, &Env::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "context \"c\" not found in config file {} (it has a, b)",
                path.display()
            )
        );
    }

    #[test]
    fn a_context_without_a_config_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let env = Env {
            home: Some(tmp.path().to_path_buf()),
            ..Env::default()
        };
        let s = load(&Flags::default(), &env).unwrap();
        assert!(!s.file.unwrap().exists);
        let flags = Flags {
            context: Some("demo".into()),
            ..Flags::default()
        };
        let err = load(&flags, &env).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--context demo: there is no config file ("),
            "{err}"
        );
    }
}
