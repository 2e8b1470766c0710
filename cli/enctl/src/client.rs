//! Connections to the three services, opened lazily: a command connects only to the services
//! it needs, when it first needs them, and a failure to connect names the service and its URL.
//! Unary calls get the `--request-timeout`; watches run until they end.

use std::future::Future;
use std::time::Duration;

use everynode_api::v1::{
    daemon_sets_client::DaemonSetsClient, endpoints_client::EndpointsClient,
    nodes_client::NodesClient, pods_client::PodsClient,
};
use tokio::sync::OnceCell;
use tonic::transport::{Channel, Endpoint};
use tonic::{Response, Status};
use tonic_health::pb::health_client::HealthClient;

use crate::config::{Endpoints, Service};
use crate::error::{CliError, ConnectError};

/// Longest wait for a TCP (and HTTP/2) connection to a service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Lazily connected clients of admission, registry and controller.
#[derive(Debug)]
pub struct Clients {
    endpoints: Endpoints,
    request_timeout: Duration,
    admission: OnceCell<Channel>,
    registry: OnceCell<Channel>,
    controller: OnceCell<Channel>,
}

impl Clients {
    /// Clients of `endpoints`; `request_timeout` bounds unary calls (zero: no bound).
    pub fn new(endpoints: Endpoints, request_timeout: Duration) -> Self {
        Self {
            endpoints,
            request_timeout,
            admission: OnceCell::new(),
            registry: OnceCell::new(),
            controller: OnceCell::new(),
        }
    }

    /// The URL of `service`.
    pub fn url(&self, service: Service) -> &str {
        self.endpoints.url(service)
    }

    /// The connection to `service`, opened on first use.
    pub async fn channel(&self, service: Service) -> Result<Channel, CliError> {
        let cell = match service {
            Service::Admission => &self.admission,
            Service::Registry => &self.registry,
            Service::Controller => &self.controller,
        };
        cell.get_or_try_init(|| self.connect(service))
            .await
            .cloned()
    }

    async fn connect(&self, service: Service) -> Result<Channel, CliError> {
        let url = self.url(service).to_string();
        let unreachable = |source: ConnectError| CliError::Unreachable {
            service,
            url: url.clone(),
            source,
        };
        let connect_timeout = match self.request_timeout {
            t if t.is_zero() => CONNECT_TIMEOUT,
            t => t.min(CONNECT_TIMEOUT),
        };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| unreachable(ConnectError::Transport(e)))?
            .connect_timeout(connect_timeout);
        match tokio::time::timeout(connect_timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(e)) => Err(unreachable(ConnectError::Transport(e))),
            Err(_) => Err(unreachable(ConnectError::Timeout(connect_timeout))),
        }
    }

    /// The DaemonSets API (admission).
    pub async fn daemon_sets(&self) -> Result<DaemonSetsClient<Channel>, CliError> {
        Ok(DaemonSetsClient::new(
            self.channel(Service::Admission).await?,
        ))
    }

    /// The Nodes API (registry).
    pub async fn nodes(&self) -> Result<NodesClient<Channel>, CliError> {
        Ok(NodesClient::new(self.channel(Service::Registry).await?))
    }

    /// The Pods API (controller).
    pub async fn pods(&self) -> Result<PodsClient<Channel>, CliError> {
        Ok(PodsClient::new(self.channel(Service::Controller).await?))
    }

    /// The Endpoints API (controller).
    pub async fn endpoints(&self) -> Result<EndpointsClient<Channel>, CliError> {
        Ok(EndpointsClient::new(
            self.channel(Service::Controller).await?,
        ))
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
    use crate::config::{DEFAULT_ADMISSION, DEFAULT_CONTROLLER, DEFAULT_REGISTRY};

    #[tokio::test]
    async fn a_closed_port_is_unreachable_with_service_and_url() {
        // Bind then drop a listener: the port is free and nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let clients = Clients::new(
            Endpoints {
                admission: format!("http://127.0.0.1:{port}"),
                registry: DEFAULT_REGISTRY.into(),
                controller: DEFAULT_CONTROLLER.into(),
            },
            Duration::from_secs(5),
        );
        let err = clients.daemon_sets().await.unwrap_err();
        let text = err.render();
        assert!(
            text.starts_with(&format!(
                "error: cannot reach admission at http://127.0.0.1:{port}: "
            )),
            "{text}"
        );
        assert_ne!(DEFAULT_ADMISSION, clients.url(Service::Admission));
    }
}
