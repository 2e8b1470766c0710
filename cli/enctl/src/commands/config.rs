//! `enctl config view`: the settings in effect — config file, context, the three URLs and the
//! credentials — and where each came from (a flag, an environment variable, the config file's
//! context, or the default), as a SETTING / VALUE / SOURCE table.

use super::Ctx;
use crate::cli::ConfigCommand;
use crate::config::{NO_SECURITY, Security, Service, Settings, Source};
use crate::error::CliError;
use crate::print::tabwriter::TABLE;

/// Runs `enctl config …`.
pub fn run(ctx: &Ctx, command: ConfigCommand) -> Result<(), CliError> {
    match command {
        ConfigCommand::View => {
            let settings = ctx.clients.settings();
            ctx.console.print(&view(settings))?;
            if settings.security.is_none() {
                ctx.console.warn(&format!("warning: {NO_SECURITY}"));
            }
            Ok(())
        }
    }
}

/// The table of `config view`.
pub fn view(settings: &Settings) -> String {
    let mut text = String::from("SETTING\tVALUE\tSOURCE\n");
    let mut row = |setting: &str, value: &str, source: &str| {
        text.push_str(&format!("{setting}\t{value}\t{source}\n"));
    };
    match &settings.file {
        None => row("config", "<none>", "HOME is not set"),
        Some(file) => {
            let path = file.path.display().to_string();
            let value = if file.exists {
                path
            } else {
                format!("{path} (not found)")
            };
            row("config", &value, &file.source.to_string());
            match &file.context {
                None => row("context", "<none>", "-"),
                Some(context) => {
                    let source = match context.source {
                        Source::File(_) => "current-context".to_string(),
                        ref other => other.to_string(),
                    };
                    row("context", &context.value, &source);
                }
            }
        }
    }
    for service in Service::ALL {
        let setting = settings.setting(service);
        row(service.name(), &setting.value, &setting.source.to_string());
    }
    match &settings.security {
        None => row("credentials", "<none>", "-"),
        Some(setting) => match &setting.value {
            Security::Credentials(dir) => row(
                "credentials",
                &dir.display().to_string(),
                &setting.source.to_string(),
            ),
            Security::Insecure => row("insecure", "true", &setting.source.to_string()),
        },
    }
    TABLE.format(&text)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{FileUse, Layer, Setting, resolve};

    #[test]
    fn every_setting_shows_its_source() {
        let flags = Layer {
            controller: Some("https://c:3".into()),
            ..Layer::default()
        };
        let env = Layer {
            credentials: Some("/pki/admin".into()),
            ..Layer::default()
        };
        let file = (
            Layer {
                admission: Some("https://a:1".into()),
                ..Layer::default()
            },
            Source::File(Some("demo".into())),
            "config file /c.yaml, context demo".to_string(),
        );
        let mut settings = resolve(&flags, &env, Some(&file)).unwrap();
        settings.file = Some(FileUse {
            path: PathBuf::from("/c.yaml"),
            source: Source::Flag("--config"),
            exists: true,
            context: Some(Setting {
                value: "demo".into(),
                source: Source::File(None),
            }),
        });
        assert_eq!(
            view(&settings),
            "\
SETTING       VALUE                    SOURCE
config        /c.yaml                  --config
context       demo                     current-context
admission     https://a:1              config file, context demo
registry      https://127.0.0.1:7402   default
controller    https://c:3              --controller
credentials   /pki/admin               EVERYNODE_CREDENTIALS
"
        );
    }

    #[test]
    fn a_missing_file_and_insecure_show_too() {
        let flags = Layer {
            insecure: true,
            ..Layer::default()
        };
        let mut settings = resolve(&flags, &Layer::default(), None).unwrap();
        settings.file = Some(FileUse {
            path: PathBuf::from("/home/u/.config/everynode/config.yaml"),
            source: Source::Default,
            exists: false,
            context: None,
        });
        assert_eq!(
            view(&settings),
            "\
SETTING      VALUE                                               SOURCE
config       /home/u/.config/everynode/config.yaml (not found)   default
context      <none>                                              -
admission    http://127.0.0.1:7401                               default
registry     http://127.0.0.1:7402                               default
controller   http://127.0.0.1:7403                               default
insecure     true                                                --insecure
"
        );
    }
}
