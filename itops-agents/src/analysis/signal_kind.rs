//! What a metric measures, read from its name: the words SREs and exporters use
//! (`latency`, `p99`, `cpu`, `mem`, `5xx`, `pool`, `rx_bytes`, ...), whatever the naming scheme.

use serde::Serialize;

/// The kind of quantity a metric measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// Response time, duration, delay.
    Latency,
    /// Errors, failures, exceptions, 5xx.
    Errors,
    /// CPU usage or throttling.
    Cpu,
    /// Memory, heap, RSS.
    Memory,
    /// Disk and filesystem usage or I/O.
    Disk,
    /// Network traffic, packets, retransmits.
    Network,
    /// Pools, connections, threads, queues: how full a resource is.
    Saturation,
    /// Requests, calls, operations per unit of time.
    Throughput,
    /// Restarts, crashes, OOM kills.
    Restarts,
    /// A host- or node-level measure (`node_cpu_usage`, `host_memory`): shared by every
    /// service on the machine, so it says little about which of them is at fault.
    Host,
    /// Anything else.
    Other,
}

impl SignalKind {
    /// Whether an anomaly of this kind travels to callers (latency, errors, throughput) rather
    /// than staying where it starts (resources).
    pub fn propagates(&self) -> bool {
        matches!(
            self,
            SignalKind::Latency | SignalKind::Errors | SignalKind::Throughput
        )
    }
}

/// Whether a saturation metric measures connections (a pool of them, or those waiting
/// for one), rather than requests in flight or busy workers, which pile up behind any
/// slow-down.
pub(crate) fn measures_connections(metric: &str) -> bool {
    words(metric).iter().any(|w| {
        matches!(
            w.as_str(),
            "pool" | "conn" | "conns" | "connection" | "connections"
        )
    })
}

/// Splits a metric name into lower-case words (`container_cpu_usage_seconds_total`,
/// `latencyP99`, `http.server.duration`, `CPUUtilization`, `HTTPCode_Target_5XX_Count` all
/// work): at separators, where a lower-case letter (or the digits after one) meets an
/// upper-case one, and before the last capital of an acronym that a word follows.
pub(crate) fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = without_domain(name).chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    // Whether the last letter of the current word was lower-case (digits keep it).
    let mut after_lower = false;
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            after_lower = false;
            continue;
        }
        if c.is_uppercase() && !current.is_empty() {
            let acronym_ends = i > 0
                && chars[i - 1].is_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if after_lower || acronym_ends {
                out.push(std::mem::take(&mut current));
            }
        }
        if c.is_alphabetic() {
            after_lower = c.is_lowercase();
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A metric type named under its domain (`run.googleapis.com/request_latencies`,
/// `kubernetes.io/container/uptime`) without the domain, whose words (`io`, `com`) say
/// nothing of what it measures.
fn without_domain(name: &str) -> &str {
    match name.split_once('/') {
        Some((domain, rest)) if domain.contains('.') && !rest.is_empty() => rest,
        _ => name,
    }
}

/// Words that name a time taken (`latenc` also reads `latencies`).
const LATENCY_WORDS: &[&str] = &[
    "latency", "latenc", "duration", "delay", "rt", "response", "elapsed", "lag", "age",
];

/// Whether the words name a machine's load average (`load1`, `node_load15`) rather than
/// something loaded (`loadbalancing`, `page_load_time`).
fn is_load_average(w: &[String]) -> bool {
    w.iter().any(|x| {
        matches!(
            x.as_str(),
            "load" | "load1" | "load5" | "load15" | "loadavg"
        )
    }) && !has(w, &["time", "seconds", "ms"])
}

fn has(words: &[String], any: &[&str]) -> bool {
    words.iter().any(|w| {
        any.iter()
            .any(|a| w == a || (a.len() >= 4 && w.starts_with(a)))
    })
}

/// Whether a metric's name says it counts things (`SuccessfulRequestCount`,
/// `jobs_succeeded_total`), as against a ratio or a level.
pub fn names_a_count(metric: &str) -> bool {
    has(
        &words(metric),
        &[
            "count", "total", "requests", "request", "calls", "jobs", "number", "num", "sum",
        ],
    )
}

/// Whether a metric measures success (a success or availability ratio): its fall is the
/// anomaly, so it counts as [`SignalKind::Errors`] with its sign turned.
pub fn is_success_measure(metric: &str) -> bool {
    is_success_words(&words(metric))
}

fn is_success_words(w: &[String]) -> bool {
    has(
        w,
        &[
            "success",
            "successful",
            "succeeded",
            // Abbreviated (`succ_rate`, `succee_rate`).
            "succ",
            "availability",
            "apdex",
        ],
    ) && !has(w, &["error", "errors", "fail", "failed", "failure"])
        // The time successful requests take is a latency (`SuccessfulRequestLatency`).
        && !has(w, LATENCY_WORDS)
}

/// Whether a resource metric measures what is left of the resource (free or available
/// memory, free disk space, idle cpu): its fall is the resource's use rising, so it is
/// read with its sign turned.
pub fn is_headroom_measure(metric: &str) -> bool {
    let w = own_words(metric);
    // Whole words: memory `freed` by a collector is work done, not what is left.
    const LEFT: &[&str] = &[
        "free",
        "freeable",
        "avail",
        "available",
        "idle",
        "remaining",
        "headroom",
        "unused",
    ];
    w.iter().any(|x| LEFT.contains(&x.as_str()))
        && !is_success_words(&w)
        && matches!(
            kind_of(&w),
            SignalKind::Cpu | SignalKind::Memory | SignalKind::Disk
        )
}

/// The kind of a metric, from its name.
pub fn classify(metric: &str) -> SignalKind {
    let w = words(metric);
    // A count of healthy or unhealthy hosts (a load balancer's targets) is the health of
    // the service behind it, not a measure of a machine.
    if w.iter().any(|x| is_host_word(x)) && !has(&w, &["healthy", "unhealthy"]) {
        return SignalKind::Host;
    }
    kind_of(&w)
}

/// Whether the words count instances that fail their health checks (`UnHealthyHostCount`,
/// `unhealthy_targets`): their rise is the service failing.
fn counts_unhealthy(w: &[String]) -> bool {
    has(w, &["unhealthy"]) || w.windows(2).any(|p| p[0] == "un" && p[1] == "healthy")
}

/// The kind of a metric from its name, ignoring that it is named for a node or host
/// (`host_cpu_utilization` is cpu): what it measures where the service is the machine.
pub fn classify_own(metric: &str) -> SignalKind {
    kind_of(&own_words(metric))
}

/// The words of a metric's name without those that name it for the node or host.
fn own_words(metric: &str) -> Vec<String> {
    words(metric)
        .into_iter()
        .filter(|x| !is_host_word(x))
        .collect()
}

fn is_host_word(word: &str) -> bool {
    word == "node" || word == "host"
}

/// The kind the words of a metric's name say (the host words aside).
fn kind_of(w: &[String]) -> SignalKind {
    if is_success_words(w) || counts_unhealthy(w) {
        return SignalKind::Errors;
    }
    // Healthy instances, like ready ones, measure whether the service is up: read as
    // readiness (their fall to half or less is the service going down).
    if has(w, &["healthy"]) {
        return SignalKind::Other;
    }
    let percentile = w
        .iter()
        .any(|x| x.len() >= 2 && x.starts_with('p') && x[1..].chars().all(|c| c.is_ascii_digit()));
    if has(w, &["restart", "restarts", "oom", "crash", "killed"]) {
        SignalKind::Restarts
    } else if has(
        w,
        &[
            "error",
            "errors",
            "err",
            "fail",
            "failed",
            "failure",
            "exception",
            "5xx",
            "4xx",
            "500",
            "502",
            "503",
            "504",
            "fault",
            "faults",
            "timeout",
            "timedout",
            "deadlock",
        ],
    ) || w.iter().any(|x| x.ends_with("5xx") || x.ends_with("4xx"))
        // Requests refused by a limit (`ThrottledRequests`); a cpu's throttling is cpu.
        || (has(w, &["throttl"]) && !has(w, &["cpu"]))
    {
        SignalKind::Errors
    } else if has(w, LATENCY_WORDS) || percentile {
        SignalKind::Latency
    } else if has(w, &["cpu"]) || is_load_average(w) {
        SignalKind::Cpu
    } else if has(w, &["mem", "memory", "rss", "heap", "gc", "swap"]) {
        SignalKind::Memory
    } else if has(
        w,
        &[
            "disk",
            "fs",
            "filesystem",
            "volume",
            "inode",
            "inodes",
            "storage",
            "iops",
            "io",
        ],
    ) {
        SignalKind::Disk
    } else if has(
        w,
        &[
            "net",
            "network",
            "rx",
            "tx",
            "receive",
            "transmit",
            "packet",
            "packets",
            "tcp",
            "socket",
            "retrans",
            "bandwidth",
        ],
    ) {
        SignalKind::Network
    } else if has(
        w,
        &[
            "pool",
            "conn",
            "connection",
            "connections",
            "thread",
            "threads",
            "queue",
            "saturation",
            "backlog",
            "waiting",
            "pending",
            "active",
            "utilization",
            "concurrent",
            "concurrency",
            "inflight",
            "goroutines",
            "fds",
        ],
    ) {
        SignalKind::Saturation
    } else if has(
        w,
        &[
            "qps",
            "rps",
            "tps",
            "requests",
            "request",
            "throughput",
            "calls",
            "ops",
            "rate",
            "count",
            "workload",
            "traffic",
            "hits",
            "invocations",
            "handled",
            "transaction",
        ],
    ) {
        SignalKind::Throughput
    } else if has(w, &["time", "seconds", "ms"]) {
        SignalKind::Latency
    } else {
        SignalKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_metric_names() {
        let cases = [
            ("latency_p99_ms", SignalKind::Latency),
            ("latency-90", SignalKind::Latency),
            ("http.server.duration", SignalKind::Latency),
            ("p95", SignalKind::Latency),
            ("error_rate", SignalKind::Errors),
            ("http_requests_5xx", SignalKind::Errors),
            ("container_cpu_usage_seconds_total", SignalKind::Cpu),
            ("cpu", SignalKind::Cpu),
            ("mem", SignalKind::Memory),
            ("jvm_heap_used_bytes", SignalKind::Memory),
            ("container_fs_usage_bytes", SignalKind::Disk),
            ("diskio_write_bytes", SignalKind::Disk),
            ("container_network_receive_bytes_total", SignalKind::Network),
            ("net_rx", SignalKind::Network),
            ("db_pool_active", SignalKind::Saturation),
            ("threadsBusy", SignalKind::Saturation),
            ("request_rate", SignalKind::Throughput),
            ("workload", SignalKind::Throughput),
            (
                "kube_pod_container_status_restarts_total",
                SignalKind::Restarts,
            ),
            ("temperature", SignalKind::Other),
            ("node_cpu_usage_percent", SignalKind::Host),
            ("host.memory.used", SignalKind::Host),
            ("nodejs_heap_size_used_bytes", SignalKind::Memory),
            ("request_success_rate_percent", SignalKind::Errors),
            (
                "call_from_frontend_success_rate_percent",
                SignalKind::Errors,
            ),
            ("availability", SignalKind::Errors),
            // Cloud monitoring names: acronyms run into the next word, status classes.
            ("CPUUtilization", SignalKind::Cpu),
            ("CPUCreditBalance", SignalKind::Cpu),
            ("HTTPCode_Target_5XX_Count", SignalKind::Errors),
            ("5XXError", SignalKind::Errors),
            ("4XXError", SignalKind::Errors),
            ("Invocations", SignalKind::Throughput),
            ("ConcurrentExecutions", SignalKind::Saturation),
            ("TargetResponseTime", SignalKind::Latency),
            // Abbreviated success rates, timeouts and status codes.
            ("succ_rate", SignalKind::Errors),
            ("succee_rate", SignalKind::Errors),
            ("timeout_count", SignalKind::Errors),
            ("http_status_503", SignalKind::Errors),
            ("latencyP99", SignalKind::Latency),
            ("p99Latency", SignalKind::Latency),
        ];
        for (name, kind) in cases {
            assert_eq!(classify(name), kind, "{name}");
        }
        // A success rate, however abbreviated, falls when things go wrong.
        assert!(is_success_measure("succ_rate") && !is_success_measure("timeout_count"));
    }

    #[test]
    fn cloud_monitoring_names_read_as_what_they_measure() {
        let cases = [
            // Metric types under their domain: the domain's words say nothing.
            ("run.googleapis.com/request_latencies", SignalKind::Latency),
            ("run.googleapis.com/request_count", SignalKind::Throughput),
            (
                "kubernetes.io/pod/network/received_bytes_count",
                SignalKind::Network,
            ),
            (
                "kubernetes.io/container/memory/used_bytes",
                SignalKind::Memory,
            ),
            (
                "compute.googleapis.com/instance/cpu/utilization",
                SignalKind::Cpu,
            ),
            (
                "loadbalancing.googleapis.com/https/total_latencies",
                SignalKind::Latency,
            ),
            // The time successful requests take is a latency, not a success ratio.
            ("SuccessfulRequestLatency", SignalKind::Latency),
            ("SuccessE2ELatency", SignalKind::Latency),
            // Requests refused by a limit are errors; a cpu's throttling is cpu.
            ("ThrottledRequests", SignalKind::Errors),
            ("Throttles", SignalKind::Errors),
            ("container_cpu_cfs_throttled_seconds_total", SignalKind::Cpu),
            // Status classes run into a word.
            ("Http5xx", SignalKind::Errors),
            ("Http4xx", SignalKind::Errors),
            // A load average is cpu; a load time is a latency.
            ("load1", SignalKind::Cpu),
            ("system_load15", SignalKind::Cpu),
            ("page_load_time_ms", SignalKind::Latency),
            ("IteratorAge", SignalKind::Latency),
            ("grpc_server_handled_total", SignalKind::Throughput),
            ("Transactions", SignalKind::Throughput),
            ("deadlocks", SignalKind::Errors),
            // A load balancer's targets failing health checks are the service's failures,
            // its healthy ones its readiness: neither measures a machine.
            ("UnHealthyHostCount", SignalKind::Errors),
            ("unhealthy_host_count", SignalKind::Errors),
            ("HealthyHostCount", SignalKind::Other),
            ("host_cpu_utilization", SignalKind::Host),
        ];
        for (name, kind) in cases {
            assert_eq!(classify(name), kind, "{name}");
        }
        assert!(!is_success_measure("SuccessfulRequestLatency"));
        assert_eq!(
            words("kubernetes.io/container/uptime"),
            ["container", "uptime"]
        );
    }

    #[test]
    fn what_is_left_of_a_resource_is_told_from_its_use_and_from_readiness() {
        for name in [
            "FreeableMemory",
            "FreeStorageSpace",
            "node_filesystem_avail_bytes",
            "node_memory_MemAvailable_bytes",
            "cpu_idle_percent",
        ] {
            assert!(is_headroom_measure(name), "{name}");
        }
        for name in [
            "memory_usage_bytes",
            "CPUUtilization",
            "kube_deployment_status_replicas_available",
            "availability",
            "free_slots_in_queue",
            "jvm_gc_memory_freed_bytes_total",
        ] {
            assert!(!is_headroom_measure(name), "{name}");
        }
    }

    #[test]
    fn names_split_into_words_at_case_changes_and_acronyms() {
        let cases: [(&str, &[&str]); 5] = [
            ("CPUUtilization", &["cpu", "utilization"]),
            (
                "HTTPCode_Target_5XX_Count",
                &["http", "code", "target", "5xx", "count"],
            ),
            ("latencyP99", &["latency", "p99"]),
            ("p99Latency", &["p99", "latency"]),
            ("http.server.duration", &["http", "server", "duration"]),
        ];
        for (name, expected) in cases {
            assert_eq!(words(name), expected, "{name}");
        }
    }
}
