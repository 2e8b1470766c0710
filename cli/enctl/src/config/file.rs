//! The config file (`~/.config/everynode/config.yaml`, `--config PATH` or `EVERYNODE_CONFIG`):
//! YAML with named contexts, as a kubeconfig has them.
//!
//! ```yaml
//! current-context: demo
//! contexts:
//! - name: demo
//!   admission: https://127.0.0.1:7401
//!   registry: https://127.0.0.1:7402
//!   controller: https://127.0.0.1:7403
//!   credentials: pki/admin        # relative to this file's folder
//! - name: lab
//!   admission: 10.0.0.5:7401      # no scheme: https (http when insecure)
//!   insecure: true
//! ```
//!
//! `--context NAME` selects a context, else `current-context`; without either the file gives
//! nothing. A file may instead hold the settings of one context at its top level (the older
//! flat form: `admission: URL` lines). Unknown keys are errors, with their line, so a typo
//! does not silently fall back to a default. The YAML is read by the manifest codec's parser
//! (`everynode_api::manifest::yaml`).

use std::path::{Path, PathBuf};

use everynode_api::manifest::yaml::{self, Node, Scalar, Value};

use super::{ConfigError, Layer, Source};

/// The keys of a context.
const CONTEXT_KEYS: &str = "name, admission, registry, controller, credentials, insecure";

/// One context: a name and the settings it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Its name (`None` for the settings at the top of a flat file).
    pub name: Option<String>,
    /// Its settings; a relative `credentials` path is already resolved against the file's
    /// folder.
    pub layer: Layer,
}

impl Context {
    /// How messages name it: `config file PATH, context NAME`.
    pub fn describe(&self, path: &Path) -> String {
        match &self.name {
            Some(name) => format!("config file {}, context {name}", path.display()),
            None => format!("config file {}", path.display()),
        }
    }
}

/// A parsed config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    path: PathBuf,
    /// `current-context`.
    pub current_context: Option<String>,
    /// `contexts`, in file order.
    pub contexts: Vec<Context>,
    /// The settings of a flat file (no `contexts`).
    pub flat: Option<Context>,
}

struct Parse<'a> {
    path: &'a Path,
}

impl Parse<'_> {
    fn error(&self, line: usize, reason: impl Into<String>) -> ConfigError {
        ConfigError::Syntax {
            path: self.path.display().to_string(),
            line,
            reason: reason.into(),
        }
    }

    fn map<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [(String, Node)], ConfigError> {
        match &node.value {
            Value::Map(entries) => Ok(entries),
            _ => Err(self.error(node.line, format!("{what} must be a mapping"))),
        }
    }

    /// A string value; `None` for null.
    fn string(&self, node: &Node, key: &str) -> Result<Option<String>, ConfigError> {
        match &node.value {
            Value::Scalar(Scalar::Null, _) => Ok(None),
            Value::Scalar(Scalar::Str(s), _) => Ok(Some(s.clone())),
            // A plain scalar that resolved to a number or a boolean keeps its spelling.
            Value::Scalar(_, text) => Ok(Some(text.clone())),
            _ => Err(self.error(node.line, format!("{key} must be a string"))),
        }
    }

    fn bool(&self, node: &Node, key: &str) -> Result<bool, ConfigError> {
        match &node.value {
            Value::Scalar(Scalar::Null, _) => Ok(false),
            Value::Scalar(Scalar::Bool(b), _) => Ok(*b),
            _ => Err(self.error(node.line, format!("{key} must be true or false"))),
        }
    }

    /// Sets `key` of a context; false when `key` is not a context key.
    fn setting(&self, layer: &mut Layer, key: &str, value: &Node) -> Result<bool, ConfigError> {
        match key {
            "admission" => layer.admission = self.string(value, key)?,
            "registry" => layer.registry = self.string(value, key)?,
            "controller" => layer.controller = self.string(value, key)?,
            "credentials" => {
                layer.credentials = self.string(value, key)?.map(|dir| {
                    let folder = self.path.parent().unwrap_or(Path::new(""));
                    folder.join(dir)
                });
            }
            "insecure" => layer.insecure = self.bool(value, key)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn context(&self, node: &Node) -> Result<Context, ConfigError> {
        let mut layer = Layer::default();
        let mut name = None;
        for (key, value) in self.map(node, "a context")? {
            if key == "name" {
                name = self.string(value, key)?.filter(|n| !n.is_empty());
            } else if !self.setting(&mut layer, key, value)? {
                return Err(self.error(
                    value.line,
                    format!("unknown context key {key:?} (expected {CONTEXT_KEYS})"),
                ));
            }
        }
        let name = name.ok_or_else(|| self.error(node.line, "a context needs a name"))?;
        Ok(Context {
            name: Some(name),
            layer,
        })
    }

    fn file(&self, root: &Node) -> Result<ConfigFile, ConfigError> {
        let mut file = ConfigFile {
            path: self.path.to_path_buf(),
            ..ConfigFile::default()
        };
        let mut flat = Layer::default();
        let mut flat_line = None;
        let mut has_contexts = false;
        for (key, value) in self.map(root, "the config file")? {
            match key.as_str() {
                "current-context" => {
                    has_contexts = true;
                    file.current_context = self.string(value, key)?;
                }
                "contexts" => {
                    has_contexts = true;
                    let items = match &value.value {
                        Value::Seq(items) => items.as_slice(),
                        Value::Scalar(Scalar::Null, _) => &[],
                        _ => return Err(self.error(value.line, "contexts must be a list")),
                    };
                    for item in items {
                        let context = self.context(item)?;
                        if file.contexts.iter().any(|c| c.name == context.name) {
                            return Err(self.error(
                                item.line,
                                format!(
                                    "context {:?} is defined twice",
                                    context.name.unwrap_or_default()
                                ),
                            ));
                        }
                        file.contexts.push(context);
                    }
                }
                _ if self.setting(&mut flat, key, value)? => {
                    flat_line.get_or_insert(value.line);
                }
                _ => {
                    return Err(self.error(
                        value.line,
                        format!(
                            "unknown key {key:?} (expected current-context and contexts, or the \
                             settings of one context: admission, registry, controller, \
                             credentials, insecure)"
                        ),
                    ));
                }
            }
        }
        if let Some(line) = flat_line {
            if has_contexts {
                return Err(self.error(
                    line,
                    "settings at the top level and contexts cannot be mixed: move them into a \
                     context",
                ));
            }
            file.flat = Some(Context {
                name: None,
                layer: flat,
            });
        }
        Ok(file)
    }
}

impl ConfigFile {
    /// Parses the text of the config file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let parse = Parse { path };
        let documents = yaml::parse_documents(text).map_err(|e| parse.error(e.line, e.message))?;
        let mut roots = documents.iter().flatten();
        let Some(root) = roots.next() else {
            return Ok(Self {
                path: path.to_path_buf(),
                ..Self::default()
            });
        };
        if let Some(second) = roots.next() {
            return Err(parse.error(second.line, "the config file holds one YAML document"));
        }
        if let Value::Scalar(..) = root.value {
            return Err(parse.error(
                root.line,
                "expected YAML (`current-context:` and `contexts:`), found text; write \
                 `key: value`, not `key = value`",
            ));
        }
        parse.file(root)
    }

    /// The context to use and where its name came from: `wanted` (`--context`), else
    /// `current-context`, else the settings of a flat file; `None` when the file names none.
    pub fn select(&self, wanted: Option<&str>) -> Result<Option<(&Context, Source)>, ConfigError> {
        let (name, source) = match (wanted, &self.current_context) {
            (Some(name), _) => (name, Source::Flag("--context")),
            (None, Some(name)) if !name.is_empty() => (name.as_str(), Source::File(None)),
            (None, _) => return Ok(self.flat.as_ref().map(|flat| (flat, Source::File(None)))),
        };
        self.contexts
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
            .map(|c| Some((c, source)))
            .ok_or_else(|| ConfigError::NoContext {
                name: name.to_string(),
                path: self.path.display().to_string(),
                known: self
                    .contexts
                    .iter()
                    .filter_map(|c| c.name.clone())
                    .collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(Path::new("/home/u/.config/everynode/config.yaml"), text)
    }

    const TWO: &str = "\
current-context: demo
contexts:
- name: demo
  admission: https://127.0.0.1:7401
  registry: https://127.0.0.1:7402
  controller: https://127.0.0.1:7403
  credentials: pki/admin
- name: lab
  admission: 10.0.0.5:7401
  credentials: /etc/everynode/viewer
- name: plain
  insecure: true
";

    #[test]
    fn contexts_are_read_and_the_current_one_selected() {
        let file = parse(TWO).unwrap();
        assert_eq!(file.contexts.len(), 3);
        let (demo, source) = file.select(None).unwrap().unwrap();
        assert_eq!(source, Source::File(None));
        assert_eq!(demo.name.as_deref(), Some("demo"));
        assert_eq!(
            demo.layer,
            Layer {
                admission: Some("https://127.0.0.1:7401".into()),
                registry: Some("https://127.0.0.1:7402".into()),
                controller: Some("https://127.0.0.1:7403".into()),
                credentials: Some("/home/u/.config/everynode/pki/admin".into()),
                insecure: false,
            }
        );
        let (lab, source) = file.select(Some("lab")).unwrap().unwrap();
        assert_eq!(source, Source::Flag("--context"));
        assert_eq!(lab.layer.admission.as_deref(), Some("10.0.0.5:7401"));
        assert_eq!(
            lab.layer.credentials.as_deref(),
            Some(Path::new("/etc/everynode/viewer"))
        );
        assert!(
            file.select(Some("plain"))
                .unwrap()
                .unwrap()
                .0
                .layer
                .insecure
        );
    }

    #[test]
    fn a_missing_context_names_the_known_ones() {
        let err = parse(TWO).unwrap().select(Some("prod")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "context \"prod\" not found in config file /home/u/.config/everynode/config.yaml (it has demo, lab, plain)"
        );
        let err = parse("current-context: x\n")
            .unwrap()
            .select(None)
            .unwrap_err();
        assert!(err.to_string().ends_with("(it has none)"), "{err}");
    }

    #[test]
    fn no_current_context_means_nothing_from_the_file() {
        let file = parse("contexts:\n- name: a\n  credentials: x\n").unwrap();
        assert!(file.select(None).unwrap().is_none());
        assert!(parse("").unwrap().select(None).unwrap().is_none());
        assert!(
            parse("# only a comment\n")
                .unwrap()
                .select(None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_flat_file_is_one_unnamed_context() {
        let file =
            parse("---\nadmission: http://a:7401\ncontroller: 'c:7403'\ninsecure: true\n").unwrap();
        let (flat, source) = file.select(None).unwrap().unwrap();
        assert_eq!(source, Source::File(None));
        assert_eq!(flat.name, None);
        assert_eq!(
            flat.layer,
            Layer {
                admission: Some("http://a:7401".into()),
                controller: Some("c:7403".into()),
                insecure: true,
                ..Layer::default()
            }
        );
        assert!(file.select(Some("a")).is_err());
        let err = parse("admission: a:1\ncontexts: []\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("line 1: settings at the top level"),
            "{err}"
        );
    }

    #[test]
    fn mistakes_name_the_line() {
        let err = parse("contexts:\n- name: a\n  admision: b:2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "config file /home/u/.config/everynode/config.yaml, line 3: unknown context key \"admision\" (expected name, admission, registry, controller, credentials, insecure)"
        );
        for (text, said) in [
            (
                "current-contex: a\n",
                "line 1: unknown key \"current-contex\"",
            ),
            (
                "contexts:\n- admission: a:1\n",
                "line 2: a context needs a name",
            ),
            (
                "contexts:\n- name: a\n- name: a\n",
                "line 3: context \"a\" is defined twice",
            ),
            (
                "contexts:\n- name: a\n  insecure: sometimes\n",
                "line 3: insecure must be true or false",
            ),
            (
                "contexts:\n- name: a\n  admission: [x]\n",
                "line 3: admission must be a string",
            ),
            ("contexts: {a: b}\n", "line 1: contexts must be a list"),
            ("contexts:\n- name: a\n    bad indent: x\n", "line 3: "),
            ("[a, b]\n", "line 1: the config file must be a mapping"),
            (
                "a: 1\n---\nb: 2\n",
                "line 3: the config file holds one YAML document",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(said), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_old_key_equals_value_lines_are_refused_with_the_fix() {
        let err = parse("admission = http://a:7401\nregistry = http://r:7402\n").unwrap_err();
        assert!(err.to_string().contains("line 1: expected YAML"), "{err}");
        assert!(err.to_string().contains("`key: value`"), "{err}");
    }
}
