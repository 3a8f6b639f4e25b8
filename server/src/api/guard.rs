//! The guard: a tower layer in front of every service. For each request it authenticates the
//! caller (certificate, then token), looks the method up in the capability table and checks
//! the caller's roles, then hands the handler a `Principal` in the request extensions. A request
//! that fails any step never reaches a handler.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};
use tower::{Layer, Service};

use super::capabilities::{Capability, capability_for};
use super::status::auth_status;
use crate::identity::{Authenticator, Principal};

/// The layer; add it once with `Server::builder().layer(..)`.
#[derive(Clone)]
pub struct GuardLayer {
    authenticator: Arc<Authenticator>,
}

impl GuardLayer {
    pub fn new(authenticator: Arc<Authenticator>) -> Self {
        Self { authenticator }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

/// The service the layer wraps around the router.
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    authenticator: Arc<Authenticator>,
}

impl<S> Service<http::Request<Body>> for Guard<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone is not ready; keep the instance that `poll_ready` prepared.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        match admit(&self.authenticator, &request) {
            Ok(principal) => {
                if let Some(principal) = principal {
                    request.extensions_mut().insert(principal);
                }
                Box::pin(inner.call(request))
            }
            Err(status) => {
                tracing::info!(
                    method = request.uri().path(),
                    code = ?status.code(),
                    reason = status.message(),
                    "request refused"
                );
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

/// Decides whether a request may proceed; `Ok(None)` for certificate-only methods.
fn admit(
    authenticator: &Authenticator,
    request: &http::Request<Body>,
) -> Result<Option<Principal>, Status> {
    let path = request.uri().path();
    let certs = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.peer_certs());
    let peer = authenticator
        .peer(certs.as_deref().map(Vec::as_slice))
        .map_err(|error| auth_status(&error))?;

    let capability = capability_for(path)
        .ok_or_else(|| Status::new(Code::Unimplemented, format!("unknown method {path}")))?;
    if capability == Capability::Certificate {
        return Ok(None);
    }

    let authorization = match request.headers().get(http::header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            Status::unauthenticated("the authorization metadata is not valid ASCII")
        })?),
    };
    let principal = authenticator
        .principal(&peer, authorization)
        .map_err(|error| auth_status(&error))?;

    let allowed = capability.roles();
    if !allowed.iter().any(|role| principal.has_role(*role)) {
        let held: Vec<&str> = principal.roles.iter().map(|role| role.as_str()).collect();
        let needed: Vec<&str> = allowed.iter().map(|role| role.as_str()).collect();
        return Err(Status::permission_denied(format!(
            "{path} needs the '{}' capability (roles: {}); the token grants {}",
            capability.as_str(),
            needed.join(", "),
            held.join(", ")
        )));
    }
    Ok(Some(principal))
}

/// The principal the guard admitted; handlers call this first. Missing means the guard did not
/// run for this request, which must never let it through.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no authenticated principal for this call"))
}
