"""The Python SDK side of the MCP benchmark (examples/examples/mcp_bench.rs): the same
`metric_summary` tool as the Rust side, over the same telemetry bundle's metrics.csv.

    bench_server.py BUNDLE_DIR                  stdio
    bench_server.py BUNDLE_DIR --http PORT      streamable HTTP at http://127.0.0.1:PORT/mcp
"""

import csv
import sys
from collections import defaultdict

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

bundle = sys.argv[1]
# service -> metric -> [(timestamp, value)], in file order (oldest first).
series = defaultdict(lambda: defaultdict(list))
with open(f"{bundle}/metrics.csv", newline="") as f:
    for row in csv.DictReader(f):
        series[row["service"]][row["metric"]].append((row["timestamp"], float(row["value"])))

server = MCPServer("python-bench")


@server.tool()
def metric_summary(service: str, metric: str | None = None) -> dict:
    """Samples, min, max, mean and last value of each metric of a service."""
    if service not in series:
        raise ToolError(f"unknown service '{service}'")
    out = []
    for name, points in sorted(series[service].items()):
        if metric is not None and name != metric:
            continue
        values = [v for _, v in points]
        out.append({
            "metric": name,
            "samples": len(values),
            "min": min(values),
            "max": max(values),
            "mean": sum(values) / len(values),
            "last": values[-1],
        })
    return {"service": service, "metrics": out}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] == "--http":
        server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        server.run()
