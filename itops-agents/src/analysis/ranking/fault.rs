//! Which kind of fault a service's evidence points to: every signal casts weighted votes.

use std::collections::BTreeMap;

use itops_core::FaultKind;

use crate::analysis::ranking::cues::{says_any, LOG_CUES};
use crate::analysis::ranking::edges;
use crate::analysis::ranking::Profile;
use crate::analysis::signal_kind::{measures_connections, SignalKind};

/// The most likely fault kind of `profile`, and the share of the votes it got (0–1).
pub(crate) fn infer(profile: &Profile<'_>) -> (FaultKind, f64) {
    let mut votes: BTreeMap<FaultKind, f64> = BTreeMap::new();
    let mut vote = |kind: FaultKind, weight: f64| {
        if weight > 0.0 && weight.is_finite() {
            *votes.entry(kind).or_default() += weight;
        }
    };

    // Each family of metrics votes once, by its strongest series, with a strength that
    // saturates: fifty shifted latency series are no more telling than one, and a huge z
    // on one metric must not drown the logs, traces and changes.
    let mut strongest: BTreeMap<(SignalKind, bool), (f64, f64)> = BTreeMap::new();
    // The strongest rise of a measure of connections (in use, or waited for).
    let mut connections_up: f64 = 0.0;
    let mut stopped = false;
    // How many times the service's own request rate and its cpu grew (1 when they did not).
    let (mut own_rate_rise, mut cpu_rise) = (1.0_f64, 1.0_f64);
    // When the service's own trouble (slower, failing, saturated) began.
    let trouble_onset = profile
        .series
        .iter()
        .filter(|s| {
            s.z > 0.0
                && matches!(
                    s.kind,
                    SignalKind::Latency | SignalKind::Errors | SignalKind::Saturation
                )
        })
        .filter_map(|s| s.onset)
        .min();
    for s in &profile.series {
        // A rate that rose against its peers' is more work arriving at this service only
        // when it rose before the service got into trouble: callers retry a slow or
        // failing service, which raises its rate after its trouble began.
        if s.kind == SignalKind::Throughput
            && s.z > 0.0
            && s.metric.ends_with(super::peers::RELATIVE_SUFFIX)
            && !matches!((s.onset, trouble_onset), (Some(rose), Some(trouble)) if rose < trouble)
        {
            continue;
        }
        let rise = s.incident_median / s.baseline_median;
        if s.z > 0.0 && s.baseline_median > 0.0 && rise.is_finite() {
            match s.kind {
                SignalKind::Throughput => own_rate_rise = own_rate_rise.max(rise),
                SignalKind::Cpu => cpu_rise = cpu_rise.max(rise),
                _ => {}
            }
        }
        let strength = s.score / (s.score + 3.0);
        let shape = f64::from(u8::from(s.trend > 0.05)) + f64::from(u8::from(s.resets > 0));
        if s.kind == SignalKind::Saturation && s.z > 0.0 && measures_connections(&s.metric) {
            connections_up = connections_up.max(strength);
        }
        let entry = strongest.entry((s.kind, s.z > 0.0)).or_insert((0.0, 0.0));
        if strength > entry.0 {
            *entry = (strength, shape);
        }
        stopped |= s.stopped;
    }
    let up = |kind: SignalKind| strongest.get(&(kind, true)).map_or(0.0, |v| v.0);
    let down = |kind: SignalKind| strongest.get(&(kind, false)).map_or(0.0, |v| v.0);
    // More work arriving: at the service alone, or at every service at once (a surge of
    // users reads as no change against the peers, since they all carry it).
    // Cpu use grows with the work done (somewhat faster under contention): a cpu that grew
    // more than four times as much as the work arriving is not explained by it (a hog, a
    // busy loop), whatever the traffic did.
    let work = profile.shared.after.max(1.0) * own_rate_rise;
    let outgrown = cpu_rise > 4.0 * work;
    // A service that went quiet for its load (fewer of its usual lines per request) is not
    // doing more of its usual work: its extra requests are answered some other way
    // (retried because the answers were wrong, served from a wrong path).
    let quiet = profile.quiet.0 / (profile.quiet.0 + 1.0);
    let throughput_up = if outgrown {
        0.0
    } else {
        up(SignalKind::Throughput).max(profile.shared.rise()) * (1.0 - quiet)
    };
    // More work arriving explains hot CPUs and full pools; without it they are the fault.
    let own = 1.0 - 0.7 * throughput_up;
    vote(FaultKind::TrafficSpike, 3.0 * throughput_up);
    vote(FaultKind::CpuContention, 2.5 * up(SignalKind::Cpu) * own);
    if let Some((strength, shape)) = strongest.get(&(SignalKind::Memory, true)) {
        vote(FaultKind::MemoryLeak, strength * (1.5 + shape));
        // Memory grown several-fold while the service's requests kept their pace (as far
        // as anything measures them): memory held short of its limit does not slow a
        // service, and the cpu beside it is its pages being touched; a cpu taken from
        // the service would have slowed its requests.
        let grew = profile
            .series
            .iter()
            .filter(|s| s.kind == SignalKind::Memory && s.z > 0.0 && s.baseline_median > 0.0)
            .map(|s| s.incident_median / s.baseline_median)
            .filter(|r| r.is_finite())
            .fold(0.0_f64, f64::max);
        if grew >= 2.0 && profile.latency_measured && up(SignalKind::Latency) == 0.0 {
            vote(FaultKind::MemoryLeak, 2.5 * strength);
        }
    }
    // Memory that climbs steadily through the incident is a leak's, wherever its level
    // stands against the baseline: a leak that the OOM killer resets saws up and down, and
    // the baseline may have caught it high.
    let climb = profile
        .series
        .iter()
        .filter(|s| s.kind == SignalKind::Memory && s.z < 0.0)
        .map(|s| s.trend)
        .fold(0.0_f64, f64::max);
    if climb > 0.05 {
        vote(FaultKind::MemoryLeak, 1.5 * climb / (climb + 0.2));
    }
    vote(FaultKind::DiskFull, 3.0 * up(SignalKind::Disk));
    vote(
        FaultKind::NetworkDelay,
        1.5 * up(SignalKind::Network).max(down(SignalKind::Network)),
    );
    vote(
        FaultKind::ConnectionPoolExhaustion,
        2.0 * connections_up * own,
    );
    vote(
        FaultKind::DependencyDown,
        1.5 * down(SignalKind::Throughput),
    );
    // Errors are what most faults end in; on their own they say little about which.
    vote(FaultKind::ExceptionBurst, 0.5 * up(SignalKind::Errors));
    vote(FaultKind::NetworkDelay, 0.8 * up(SignalKind::Latency));
    // Restarts with memory climbing are a leak's; with memory not climbing, a crash loop
    // (a process that exits, a failing probe): the service is down.
    let restarts = up(SignalKind::Restarts);
    let leaking = up(SignalKind::Memory) > 0.0 || climb > 0.05;
    let (leak, crash) = if leaking { (1.0, 0.5) } else { (0.3, 1.0) };
    vote(FaultKind::MemoryLeak, leak * restarts);
    vote(FaultKind::DependencyDown, crash * restarts);
    // Fewer replicas ready (or a target no longer up): it is down.
    if profile.series.iter().any(|s| edges::unready(s)) {
        vote(FaultKind::DependencyDown, 2.0);
    }
    if stopped {
        vote(FaultKind::DependencyDown, 1.0);
    }

    if let Some(logs) = profile.logs {
        vote(
            FaultKind::ExceptionBurst,
            0.5 * logs.score / (logs.score + 3.0),
        );
        if logs.stopped {
            vote(FaultKind::DependencyDown, 2.0);
        }
        // Doing less of its usual work per request without failing: requests take a path
        // that skips it, answering with something other than what they should.
        vote(
            FaultKind::WrongReturnValue,
            2.0 * profile.quiet.0 / (profile.quiet.0 + 1.0),
        );
        let texts: Vec<String> = logs
            .new_templates
            .iter()
            .take(10)
            .map(|t| t.sample.to_lowercase())
            .collect();
        for (words, kind, weight) in LOG_CUES {
            if texts.iter().any(|t| says_any(t, words)) {
                // A server that says it is busy or out of connections is so whatever the
                // reason: more work arriving explains it as it explains hot cpus.
                let explained = matches!(
                    kind,
                    FaultKind::CpuContention | FaultKind::ConnectionPoolExhaustion
                );
                vote(*kind, *weight * if explained { own } else { 1.0 });
            }
        }
    }

    if let Some(traces) = profile.traces {
        let sat = |x: f64| x.max(0.0) / (x.max(0.0) + 3.0);
        vote(FaultKind::ExceptionBurst, sat(traces.origin_errors));
        vote(FaultKind::NetworkDelay, 1.5 * sat(traces.self_latency));
        // Calls to it slower on the way, from its callers' side: its network.
        vote(FaultKind::NetworkDelay, 3.0 * sat(profile.transit_in));
        if traces.stopped {
            vote(FaultKind::DependencyDown, 2.0);
        }
        // It calls other things than before: its own code or configuration changed.
        vote(FaultKind::WrongReturnValue, 1.5 * sat(traces.call_mix.0));
        // Its requests stop making calls while nothing fails: a silently wrong path.
        vote(
            FaultKind::WrongReturnValue,
            1.5 * sat(traces.pattern.strength),
        );
    }

    // Its callers got its answers and could not use them (invalid, malformed, a value
    // missing): it answered, and what it answered was wrong. Its own errors, if any, are
    // those of the requests its callers then failed.
    if profile.answers_rejected > 0 {
        vote(FaultKind::WrongReturnValue, 2.0);
    }

    for change in &profile.changes {
        match change.kind.to_lowercase().as_str() {
            "deploy" | "deployment" | "release" | "rollout" => vote(FaultKind::BadDeploy, 4.5),
            "config" | "configuration" | "flag" | "feature_flag" => {
                vote(FaultKind::ConfigError, 4.5)
            }
            "scale" | "scaling" => vote(FaultKind::CpuContention, 0.5),
            _ => {}
        }
    }

    // A service starved of cpu, memory, disk or connections (not by more work arriving)
    // fails and slows down because of it: its errors and latency (time spent waiting for a
    // connection is its own time) are consequences, not the kind.
    let pressure = up(SignalKind::Cpu)
        .max(up(SignalKind::Memory))
        .max(up(SignalKind::Disk))
        .max(connections_up)
        * own;
    for kind in [FaultKind::ExceptionBurst, FaultKind::NetworkDelay] {
        if let Some(weight) = votes.get_mut(&kind) {
            *weight *= 1.0 - 0.8 * pressure;
        }
    }
    let total: f64 = votes.values().sum();
    match votes.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        Some((kind, weight)) if total > 0.5 => (kind, weight / total),
        _ => (FaultKind::Unknown, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ranking::logs::{LogAnomaly, NewTemplate};
    use crate::analysis::ranking::metrics::SeriesAnomaly;
    use crate::analysis::ranking::peers::SharedLoad;
    use crate::analysis::ranking::traces::TraceAnomaly;

    fn shifted(metric: &str, kind: SignalKind, z: f64) -> SeriesAnomaly {
        SeriesAnomaly {
            service: "checkout".into(),
            metric: metric.into(),
            kind,
            score: z.abs().ln_1p(),
            z,
            baseline_median: 1.0,
            incident_median: 2.0,
            incident_extreme: 2.0,
            onset: None,
            trend: 0.0,
            resets: 0,
            stopped: false,
        }
    }

    /// A request rate read against its peers', shifted by `z`.
    fn relative_rate(z: f64) -> SeriesAnomaly {
        let metric = format!(
            "requests_total{}",
            crate::analysis::ranking::peers::RELATIVE_SUFFIX
        );
        shifted(&metric, SignalKind::Throughput, z)
    }

    /// `s` seconds into the incident.
    fn at(s: i64) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp(1_700_000_000 + s, 0)
    }

    fn profile<'a>(series: Vec<&'a SeriesAnomaly>, logs: &'a LogAnomaly) -> Profile<'a> {
        Profile {
            series,
            logs: Some(logs),
            quiet: (0.0, 0.0),
            traces: None,
            transit_in: 0.0,
            transit_from: Vec::new(),
            changes: Vec::new(),
            shared: SharedLoad::default(),
            latency_measured: true,
            answers_rejected: 0,
        }
    }

    #[test]
    fn errors_and_latency_of_a_service_starved_of_cpu_are_consequences() {
        let cpu = shifted("cpu_usage", SignalKind::Cpu, 30.0);
        let errors = shifted("errors_total", SignalKind::Errors, 60.0);
        let latency = shifted("latency_p50", SignalKind::Latency, 25.0);
        let logs = LogAnomaly {
            score: 4.0,
            new_templates: vec![NewTemplate {
                template: "request rejected: <*>".into(),
                level: None,
                count: 120,
                sample: "Request rejected: java.util.concurrent.RejectedExecutionException".into(),
            }],
            ..LogAnomaly::default()
        };
        let (kind, _) = infer(&profile(vec![&errors, &cpu, &latency], &logs));
        assert_eq!(kind, FaultKind::CpuContention);
        // Without the cpu, the same errors are an exception burst.
        let (kind, _) = infer(&profile(vec![&errors, &latency], &logs));
        assert_eq!(kind, FaultKind::ExceptionBurst);
    }

    #[test]
    fn memory_grown_several_fold_while_requests_keep_their_pace_is_the_memory_not_the_cpu() {
        // A process holding memory burns cpu touching its pages: both rose, the memory
        // fifteenfold, and its requests kept their pace. The memory is the fault.
        let cpu = shifted("cpu_usage", SignalKind::Cpu, 98.0);
        let memory = SeriesAnomaly {
            baseline_median: 15.0,
            incident_median: 230.0,
            ..shifted("memory_usage_bytes", SignalKind::Memory, 90.0)
        };
        let logs = LogAnomaly::default();
        let (kind, _) = infer(&profile(vec![&cpu, &memory], &logs));
        assert_eq!(kind, FaultKind::MemoryLeak);
        // The same with its requests slower: a cpu taken from them.
        let latency = shifted("latency_p90", SignalKind::Latency, 30.0);
        let (kind, _) = infer(&profile(vec![&cpu, &memory, &latency], &logs));
        assert_eq!(kind, FaultKind::CpuContention);
        // With nothing that measures its requests' time, nothing says they kept their pace.
        let unmeasured = Profile {
            latency_measured: false,
            ..profile(vec![&cpu, &memory], &logs)
        };
        assert_eq!(infer(&unmeasured).0, FaultKind::CpuContention);
    }

    #[test]
    fn time_spent_waiting_for_a_pool_connection_is_the_pools_not_the_networks() {
        // Its pool is full and its own span time grew fortyfold: the requests wait for a
        // connection. The slower spans and the failures are the pool's doing.
        let pool = shifted("db_pool_connections_in_use", SignalKind::Saturation, 40.0);
        let errors = shifted("errors_total", SignalKind::Errors, 60.0);
        let latency = shifted("latency_p50", SignalKind::Latency, 60.0);
        let logs = LogAnomaly {
            score: 4.0,
            ..LogAnomaly::default()
        };
        let spans = TraceAnomaly {
            self_latency: 5.0,
            self_ms: (10.0, 400.0),
            ..TraceAnomaly::default()
        };
        let mut waiting = profile(vec![&errors, &latency, &pool], &logs);
        waiting.traces = Some(&spans);
        assert_eq!(infer(&waiting).0, FaultKind::ConnectionPoolExhaustion);
        // The same slower spans with the pool as it was are the service's own network.
        let mut slow = profile(vec![&latency], &logs);
        slow.traces = Some(&spans);
        assert_eq!(infer(&slow).0, FaultKind::NetworkDelay);
    }

    #[test]
    fn restarts_with_memory_climbing_are_a_leak_and_without_it_the_service_is_down() {
        let restarts = shifted("container_restarts", SignalKind::Restarts, 100.0);
        let cpu = shifted("cpu_usage", SignalKind::Cpu, 9.0);
        let memory_up = shifted("memory_usage", SignalKind::Memory, 12.0);
        let memory_down = shifted("memory_usage", SignalKind::Memory, -17.0);
        let unready = SeriesAnomaly {
            baseline_median: 1.0,
            incident_median: 0.0,
            ..shifted("ready_pods", SignalKind::Other, -20.0)
        };
        let logs = LogAnomaly::default();
        let leak = profile(vec![&restarts, &memory_up], &logs);
        assert_eq!(infer(&leak).0, FaultKind::MemoryLeak);
        // A crash loop: it restarts, starts up hot, holds less memory, and no pod is ready.
        let crash = profile(vec![&restarts, &cpu, &memory_down, &unready], &logs);
        assert_eq!(infer(&crash).0, FaultKind::DependencyDown);
        let crash = profile(vec![&restarts, &memory_down], &logs);
        assert_eq!(infer(&crash).0, FaultKind::DependencyDown);
    }

    #[test]
    fn more_requests_answered_without_the_usual_work_are_not_a_traffic_spike() {
        // Its requests rose against its peers' a second before it got busy; but it logs
        // well under half its usual lines per request: the extra requests are callers
        // retrying answers they could not use, not more of the usual work.
        let mut rate = relative_rate(31.0);
        let mut busy = shifted("worker_utilization", SignalKind::Saturation, 24.0);
        let mut cpu = shifted("cpu_usage", SignalKind::Cpu, 17.0);
        rate.onset = at(0);
        busy.onset = at(1);
        cpu.onset = at(1);
        let logs = LogAnomaly::default();
        let mut retried = profile(vec![&rate, &busy, &cpu], &logs);
        assert_eq!(infer(&retried).0, FaultKind::TrafficSpike);
        retried.quiet = (1.3, 190.0);
        assert_eq!(infer(&retried).0, FaultKind::WrongReturnValue);
    }

    #[test]
    fn memory_that_climbs_through_the_incident_is_a_leak_even_below_its_baseline() {
        // The OOM killer restarted it just before: its memory is below the level the
        // baseline caught, but it climbs steadily; its cpu and pool are mildly up.
        let mut memory = shifted("memory_usage_mb", SignalKind::Memory, -3.8);
        memory.trend = 1.0;
        let cpu = shifted("cpu_usage", SignalKind::Cpu, 3.5);
        let pool = shifted("db_pool_utilization", SignalKind::Saturation, 5.0);
        let logs = LogAnomaly::default();
        let leak = profile(vec![&memory, &cpu, &pool], &logs);
        assert_eq!(infer(&leak).0, FaultKind::MemoryLeak);
        // Memory that fell and stays down is no leak.
        memory.trend = 0.0;
        let fell = profile(vec![&memory, &cpu, &pool], &logs);
        assert_eq!(infer(&fell).0, FaultKind::CpuContention);
        // Restarts while memory climbs, however slowly, are the leak's, not a crash loop.
        memory.trend = 0.06;
        let restarts = shifted("container_restarts", SignalKind::Restarts, 100.0);
        let sawing = profile(vec![&memory, &restarts], &logs);
        assert_eq!(infer(&sawing).0, FaultKind::MemoryLeak);
    }

    #[test]
    fn hot_cpus_while_every_service_carries_twice_the_traffic_are_a_traffic_spike() {
        let cpu = shifted("cpu_usage", SignalKind::Cpu, 30.0);
        let latency = shifted("latency_p50", SignalKind::Latency, 25.0);
        let logs = LogAnomaly::default();
        let mut surge = profile(vec![&cpu, &latency], &logs);
        // Against its peers its rate did not move: they all carry the surge.
        surge.shared = SharedLoad {
            swing: 2.2,
            after: 2.2,
            low: 1.0,
        };
        assert_eq!(infer(&surge).0, FaultKind::TrafficSpike);
        // The same cpu with the traffic as before is contention.
        let (kind, _) = infer(&profile(vec![&cpu, &latency], &logs));
        assert_eq!(kind, FaultKind::CpuContention);
        // And a drift of a tenth more traffic is ordinary.
        surge.shared.after = 1.1;
        assert_eq!(infer(&surge).0, FaultKind::CpuContention);
    }

    #[test]
    fn more_requests_before_the_trouble_are_a_spike_and_after_it_retries() {
        let mut rate = relative_rate(90.0);
        let mut cpu = shifted("cpu_usage", SignalKind::Cpu, 30.0);
        let mut latency = shifted("latency_p99", SignalKind::Latency, 40.0);
        cpu.onset = at(30);
        latency.onset = at(30);
        let logs = LogAnomaly {
            score: 3.0,
            new_templates: vec![NewTemplate {
                template: "server busy, shedding request".into(),
                level: None,
                count: 50,
                sample: "server busy, shedding request: event loop delay 864ms".into(),
            }],
            ..LogAnomaly::default()
        };
        // Its requests rose half a minute before it slowed down: more work arrived.
        rate.onset = at(0);
        let (kind, _) = infer(&profile(vec![&rate, &cpu, &latency], &logs));
        assert_eq!(kind, FaultKind::TrafficSpike);
        // They rose after it slowed down: its callers retrying, not the cause.
        rate.onset = at(60);
        let (kind, _) = infer(&profile(vec![&rate, &cpu, &latency], &logs));
        assert_eq!(kind, FaultKind::CpuContention);
    }

    #[test]
    fn a_cpu_that_grew_far_more_than_the_traffic_is_not_explained_by_it() {
        let latency = shifted("latency_p50", SignalKind::Latency, 25.0);
        let logs = LogAnomaly::default();
        // Every service carries twice the traffic (a baseline recorded at a quieter time);
        // this one's cpu went from 12 to 988 millicores: a hog, not the traffic.
        let mut hog = shifted("cpu_usage_millicores", SignalKind::Cpu, 98.0);
        hog.baseline_median = 12.0;
        hog.incident_median = 988.0;
        let mut surge = profile(vec![&hog, &latency], &logs);
        surge.shared = SharedLoad {
            swing: 2.3,
            after: 2.2,
            low: 1.0,
        };
        assert_eq!(infer(&surge).0, FaultKind::CpuContention);
        // A cpu that grew with the traffic (2.5 times for 2.2 times the work) is the surge.
        let mut busy = shifted("cpu_usage_millicores", SignalKind::Cpu, 98.0);
        busy.baseline_median = 300.0;
        busy.incident_median = 750.0;
        let mut surge = profile(vec![&busy, &latency], &logs);
        surge.shared = SharedLoad {
            swing: 2.3,
            after: 2.2,
            low: 1.0,
        };
        assert_eq!(infer(&surge).0, FaultKind::TrafficSpike);
    }

    #[test]
    fn a_busy_thread_pool_is_not_an_exhausted_connection_pool() {
        let cpu = shifted("cpu_usage", SignalKind::Cpu, 20.0);
        let in_flight = shifted("http_server_active_requests", SignalKind::Saturation, 60.0);
        let logs = LogAnomaly {
            score: 4.0,
            new_templates: vec![NewTemplate {
                template: "request rejected: <*>".into(),
                level: None,
                count: 80,
                sample: "Request rejected: java.util.concurrent.RejectedExecutionException: \
                         Task rejected from ThreadPoolExecutor[Running, pool size = 8]"
                    .into(),
            }],
            ..LogAnomaly::default()
        };
        let (kind, _) = infer(&profile(vec![&cpu, &in_flight], &logs));
        assert_eq!(kind, FaultKind::CpuContention);
        // Connections waited for, and messages saying so, are the pool.
        let waiting = shifted("hikaricp_connections_pending", SignalKind::Saturation, 60.0);
        let pool_logs = LogAnomaly {
            score: 4.0,
            new_templates: vec![NewTemplate {
                template: "request failed: <*>".into(),
                level: None,
                count: 80,
                sample: "Failed to obtain JDBC Connection; HikariPool-1 - Connection is not \
                         available"
                    .into(),
            }],
            ..LogAnomaly::default()
        };
        let (kind, _) = infer(&profile(vec![&waiting], &pool_logs));
        assert_eq!(kind, FaultKind::ConnectionPoolExhaustion);
    }
}
