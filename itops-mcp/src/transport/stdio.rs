//! MCP over stdio: newline-delimited JSON-RPC on stdin/stdout, one session.

use rmcp::ServiceExt;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Result};
use crate::server::McpServer;

/// Serves `server` on this process's stdin and stdout until the client disconnects.
/// Nothing else may write to stdout meanwhile: send logs to stderr.
pub async fn serve_stdio(server: &McpServer) -> Result<()> {
    serve_io(server, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serves `server` on any byte stream pair (a pipe, a socket, `tokio::io::duplex` in
/// tests) until the peer disconnects.
pub async fn serve_io<R, W>(server: &McpServer, reader: R, writer: W) -> Result<()>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let running = server
        .session()
        .serve((reader, writer))
        .await
        .map_err(|e| Error::Transport {
            transport: "stdio",
            message: format!("the MCP handshake failed: {e}"),
        })?;
    running.waiting().await.map_err(|e| Error::Transport {
        transport: "stdio",
        message: format!("the session task failed: {e}"),
    })?;
    Ok(())
}
