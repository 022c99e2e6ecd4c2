//! A local fake of the Bedrock Runtime Converse endpoint (`POST /model/{id}/converse`):
//! answers queued responses in order and records every request body.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One queued answer.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    /// A successful Converse response.
    pub(crate) fn ok(body: Value) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    /// The assistant asks for tool calls.
    pub(crate) fn tool_use(thought: &str, calls: &[(&str, &str, Value)]) -> Self {
        let mut content = vec![serde_json::json!({"text": thought})];
        for (id, name, input) in calls {
            content.push(serde_json::json!({
                "toolUse": {"toolUseId": id, "name": name, "input": input}
            }));
        }
        Self::ok(serde_json::json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 120, "outputTokens": 30, "totalTokens": 150},
            "metrics": {"latencyMs": 250}
        }))
    }

    /// The assistant answers with text.
    pub(crate) fn text(text: &str) -> Self {
        Self::ok(serde_json::json!({
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 300, "outputTokens": 60, "totalTokens": 360},
            "metrics": {"latencyMs": 400}
        }))
    }

    /// An AWS JSON error (`x-amzn-ErrorType` header, message in the body).
    pub(crate) fn error(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "x-amzn-errortype".into(),
                    format!("{code}:http://internal.amazon.com/"),
                ),
            ],
            body: serde_json::json!({"message": message}).to_string(),
        }
    }

    /// A body that is not JSON at all.
    pub(crate) fn garbage() -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: "<html>upstream proxy error</html>".to_string(),
        }
    }
}

/// What the fake saw.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) body: Value,
}

/// The running fake.
pub(crate) struct FakeConverse {
    pub(crate) endpoint: String,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeConverse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeConverse {
    /// Starts on a free loopback port with these replies queued.
    pub(crate) async fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (r, s) = (Arc::clone(&replies), Arc::clone(&seen));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (r, s) = (Arc::clone(&r), Arc::clone(&s));
                tokio::spawn(async move {
                    let _ = serve(stream, r, s).await;
                });
            }
        });
        Self {
            endpoint,
            replies,
            seen,
            task,
        }
    }

    /// The request bodies received so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Replies not yet used.
    pub(crate) fn pending(&self) -> usize {
        self.replies.lock().unwrap().len()
    }
}

/// Serves HTTP/1.1 requests on one connection (keep-alive) until it closes.
async fn serve(
    stream: tokio::net::TcpStream,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await?;
        seen.lock().unwrap().push(Seen {
            path,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let reply = replies
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Reply::error(500, "InternalServerException", "no reply queued"));
        let mut response = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (name, value) in &reply.headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&reply.body);
        reader.get_mut().write_all(response.as_bytes()).await?;
    }
}
