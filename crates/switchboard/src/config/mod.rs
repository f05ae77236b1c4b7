//! `servers.json`: the model, loading with precise errors, `${env:VAR}` expansion, paths, and
//! editing its text in place.

pub(crate) mod edit;
mod expand;
mod load;
mod model;
mod paths;

pub(crate) use edit::Document;
pub use expand::{expand, expand_refs, expand_with, expand_with_secrets, secret_refs, ExpandError};
pub use load::{check_server_name, load, parse, ConfigError, ServerNameError};
pub use model::{
    ActivitySettings, GatewaySettings, Health, Launch, OAuthSettings, Remote, RemoteTransport,
    RestartPolicy, ServerSpec, ServersFile, StartMode, Timeouts, ToolRules, TransportKind,
    DEFAULT_HOST, DEFAULT_PORT,
};
pub use paths::{create_if_missing, Dirs, DirsError, CONFIG_ENV, EXAMPLE_CONFIG};
