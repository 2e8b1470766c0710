//! Connections to the three services, made with the one channel builder every everynode
//! client uses (`everynode_service::security::channel`): mutual TLS with the identity of the
//! credentials folder, or plaintext with `--insecure`. Credentials are loaded, and channels
//! made, only when a command first needs them; channels connect lazily, so a service that
//! cannot be reached shows in the first call's error, which names the service and its URL.
//! Unary calls get the `--request-timeout`; watches run until they end.

use std::future::Future;
use std::time::Duration;

use everynode_api::limits::Bounded;
use everynode_api::v1::{
    auth_client::AuthClient, bootstrap_client::BootstrapClient,
    daemon_sets_client::DaemonSetsClient, endpoints_client::EndpointsClient,
    nodes_client::NodesClient, pods_client::PodsClient,
};
use everynode_auth::{ClientTls, Tls};
use everynode_service::security;
use tokio::sync::OnceCell;
use tonic::transport::Channel;
use tonic::{Response, Status};
use tonic_health::pb::health_client::HealthClient;

use crate::config::{Security, Service, Settings};
use crate::error::CliError;

/// Longest wait for a TCP (and TLS, HTTP/2) connection to a service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Lazily connected clients of admission, registry and controller.
#[derive(Debug)]
pub struct Clients {
    settings: Settings,
    request_timeout: Duration,
    tls: OnceCell<ClientTls>,
    admission: OnceCell<Channel>,
    registry: OnceCell<Channel>,
    controller: OnceCell<Channel>,
}

impl Clients {
    /// Clients of the services `settings` name; `request_timeout` bounds unary calls (zero: no
    /// bound).
    pub fn new(settings: Settings, request_timeout: Duration) -> Self {
        Self {
            settings,
            request_timeout,
            tls: OnceCell::new(),
            admission: OnceCell::new(),
            registry: OnceCell::new(),
            controller: OnceCell::new(),
        }
    }

    /// The settings in effect.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The URL of `service`.
    pub fn url(&self, service: Service) -> &str {
        self.settings.url(service)
    }

    /// How channels connect: the credentials, loaded on first use.
    async fn tls(&self) -> Result<ClientTls, CliError> {
        let load = || async {
            match &self.settings.security {
                None => Err(CliError::NoSecurity),
                Some(setting) => match &setting.value {
                    Security::Insecure => Ok(ClientTls::Plain),
                    Security::Credentials(dir) => Tls::load(dir)
                        .map(ClientTls::Credentials)
                        .map_err(|source| CliError::Credentials {
                            dir: dir.display().to_string(),
                            from: setting.source.clone(),
                            source: Box::new(source),
                        }),
                },
            }
        };
        self.tls.get_or_try_init(load).await.cloned()
    }

    /// The channel to `service`, made on first use (it connects on the first call).
    pub async fn channel(&self, service: Service) -> Result<Channel, CliError> {
        let cell = match service {
            Service::Admission => &self.admission,
            Service::Registry => &self.registry,
            Service::Controller => &self.controller,
        };
        cell.get_or_try_init(|| async {
            let tls = self.tls().await?;
            let connect_timeout = match self.request_timeout {
                t if t.is_zero() => CONNECT_TIMEOUT,
                t => t.min(CONNECT_TIMEOUT),
            };
            security::channel(self.url(service), tls, connect_timeout, None)
                .map_err(|source| CliError::Endpoint { service, source })
        })
        .await
        .cloned()
    }

    /// The DaemonSets API (admission).
    pub async fn daemon_sets(&self) -> Result<DaemonSetsClient<Channel>, CliError> {
        Ok(DaemonSetsClient::new(self.channel(Service::Admission).await?).bounded())
    }

    /// The Nodes API (registry).
    pub async fn nodes(&self) -> Result<NodesClient<Channel>, CliError> {
        Ok(NodesClient::new(self.channel(Service::Registry).await?).bounded())
    }

    /// The Pods API (controller).
    pub async fn pods(&self) -> Result<PodsClient<Channel>, CliError> {
        Ok(PodsClient::new(self.channel(Service::Controller).await?).bounded())
    }

    /// The Endpoints API (controller).
    pub async fn endpoints(&self) -> Result<EndpointsClient<Channel>, CliError> {
        Ok(EndpointsClient::new(self.channel(Service::Controller).await?).bounded())
    }

    /// The Auth API of `service` (every service serves it).
    pub async fn auth(&self, service: Service) -> Result<AuthClient<Channel>, CliError> {
        Ok(AuthClient::new(self.channel(service).await?).bounded())
    }

    /// The Bootstrap API (registry).
    pub async fn bootstrap(&self) -> Result<BootstrapClient<Channel>, CliError> {
        Ok(BootstrapClient::new(self.channel(Service::Registry).await?).bounded())
    }

    /// The gRPC health API of `service`.
    pub async fn health(&self, service: Service) -> Result<HealthClient<Channel>, CliError> {
        Ok(HealthClient::new(self.channel(service).await?))
    }

    /// Runs a unary call to `service` within the request timeout, mapping its error.
    pub async fn call<T>(
        &self,
        service: Service,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, CliError> {
        self.call_within(service, Some(self.request_timeout), call)
            .await
    }

    /// Runs a call to `service` within `timeout` (`None` or zero: unbounded), mapping its
    /// error.
    pub async fn call_within<T>(
        &self,
        service: Service,
        timeout: Option<Duration>,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, CliError> {
        let result = match timeout.filter(|t| !t.is_zero()) {
            None => call.await,
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(result) => result,
                Err(_) => {
                    return Err(CliError::Failed(format!(
                        "{service} at {} did not answer within {} (see --request-timeout)",
                        self.url(service),
                        humantime::format_duration(limit)
                    )));
                }
            },
        };
        result
            .map(Response::into_inner)
            .map_err(|status| self.status_error(service, status))
    }

    /// A status of `service` as an error.
    pub fn status_error(&self, service: Service, status: Status) -> CliError {
        CliError::server(service, self.url(service), status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Layer, resolve};

    fn clients(flags: Layer) -> Clients {
        let settings = resolve(&flags, &Layer::default(), None).unwrap();
        Clients::new(settings, Duration::from_secs(5))
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_with_service_and_url() {
        // Bind then drop a listener: the port is free and nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let c = clients(Layer {
            admission: Some(format!("127.0.0.1:{port}")),
            insecure: true,
            ..Layer::default()
        });
        let mut api = c.health(Service::Admission).await.unwrap();
        let request = tonic_health::pb::HealthCheckRequest::default();
        let err = c
            .call(Service::Admission, api.check(request))
            .await
            .unwrap_err();
        let text = err.render();
        assert!(
            text.starts_with(&format!(
                "error: cannot reach admission at http://127.0.0.1:{port}: "
            )),
            "{text}"
        );
        assert!(err.is_unreachable(), "{err:?}");
    }

    #[tokio::test]
    async fn without_credentials_or_insecure_nothing_is_called() {
        let err = clients(Layer::default()).nodes().await.unwrap_err();
        let text = err.render();
        assert!(
            text.starts_with("error: no credentials: give --credentials DIR"),
            "{text}"
        );
        assert!(text.contains("enctl pki init"), "{text}");
    }

    #[tokio::test]
    async fn a_missing_credentials_folder_is_named_with_its_source() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nope");
        let err = clients(Layer {
            credentials: Some(dir.clone()),
            ..Layer::default()
        })
        .nodes()
        .await
        .unwrap_err();
        let text = err.render();
        assert!(
            text.starts_with(&format!(
                "error: cannot use the credentials {} (from --credentials): ",
                dir.display()
            )),
            "{text}"
        );
    }

    #[tokio::test]
    async fn an_http_url_with_credentials_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        everynode_auth::pki::init(tmp.path(), &Default::default()).unwrap();
        let err = clients(Layer {
            registry: Some("http://127.0.0.1:7402".into()),
            credentials: Some(tmp.path().join("admin")),
            ..Layer::default()
        })
        .nodes()
        .await
        .unwrap_err();
        assert_eq!(
            err.render(),
            "error: registry URL http://127.0.0.1:7402: with credentials, the URL must be https://"
        );
    }
}
