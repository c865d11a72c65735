"""A small HTTP load generator: N keep-alive connections, one thread each, over http.client.

Requests are built (and, for webhooks, signed) before the clock starts; the threads only send them.
Two modes:

* closed loop (``rate=None``): every connection sends its next request as soon as the previous
  answer arrived; measures the most the server does at that concurrency.
* paced (``rate=R``): request ``i`` is due at ``start + i / R``; latency is counted from that due time,
  so a server that falls behind is charged for the queue it builds (no coordinated omission).

Every run is bounded by the number of requests given and by ``max_seconds``. Only 127.0.0.1.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    """One pre-built request."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Result:
    """What one run measured."""

    connections: int
    elapsed: float
    latencies: list[float]  # seconds, successful and failed requests alike
    statuses: Counter = field(default_factory=Counter)
    exceptions: Counter = field(default_factory=Counter)
    bad_bodies: int = 0  # 2xx answers whose body the caller's check refused
    bodies: list[bytes] = field(default_factory=list)  # kept only when asked
    began: dict[int, float] = field(default_factory=dict)  # request index -> when it was sent (paced: due)
    cpu: Any = None  # what the cell cost in CPU, when the caller measured it (bench_http.CpuUse)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        non_2xx = sum(n for status, n in self.statuses.items() if not 200 <= status < 300)
        return non_2xx + sum(self.exceptions.values()) + self.bad_bodies

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, fraction: float) -> float:
        """Return the latency at ``fraction`` (0..1) in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


def run(port: int, requests: Sequence[Request], connections: int, max_seconds: float, *,
        rate: float | None = None, keep_bodies: bool = False,
        check_body: Callable[[bytes], bool] | None = None) -> Result:
    """Send ``requests`` (each once, in order of taking) over ``connections`` connections.

    Stops when every request is sent or ``max_seconds`` have passed, whichever is first.
    """
    counter = itertools.count()  # next() on itertools.count is atomic under the GIL
    start_barrier = threading.Barrier(connections + 1)
    per_thread: list[tuple[list[float], Counter, Counter, int, list[bytes], dict[int, float]]] = []
    lock = threading.Lock()
    clock = {"start": 0.0, "deadline": 0.0}

    def worker() -> None:
        latencies: list[float] = []
        statuses: Counter = Counter()
        exceptions: Counter = Counter()
        bodies: list[bytes] = []
        began_at: dict[int, float] = {}
        bad = 0
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        start_barrier.wait()
        start, deadline = clock["start"], clock["deadline"]
        while True:
            index = next(counter)
            if index >= len(requests):
                break
            if rate is not None:
                due = start + index / rate
                delay = due - time.perf_counter()
                if due > deadline:
                    break
                if delay > 0:
                    time.sleep(delay)
                began = due
            else:
                began = time.perf_counter()
                if began > deadline:
                    break
            request = requests[index]
            began_at[index] = began
            try:
                connection.request(request.method, request.path, body=request.body, headers=request.headers)
                response = connection.getresponse()
                body = response.read()
                statuses[response.status] += 1
                if 200 <= response.status < 300 and check_body is not None and not check_body(body):
                    bad += 1
                if keep_bodies:
                    bodies.append(body)
                if response.will_close:
                    connection.close()
                    connection = http.client.HTTPConnection(HOST, port, timeout=30)
            except (OSError, http.client.HTTPException) as exc:
                exceptions[type(exc).__name__] += 1
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
            latencies.append(time.perf_counter() - began)
        connection.close()
        with lock:
            per_thread.append((latencies, statuses, exceptions, bad, bodies, began_at))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    clock["start"] = time.perf_counter()
    clock["deadline"] = clock["start"] + max_seconds
    start_barrier.wait()
    for thread in threads:
        thread.join(max_seconds + 60)  # a request has a 30 s socket timeout; never wait forever
    elapsed = time.perf_counter() - clock["start"]
    result = Result(connections, elapsed, [])
    for latencies, statuses, exceptions, bad, bodies, began_at in per_thread:
        result.latencies.extend(latencies)
        result.statuses.update(statuses)
        result.exceptions.update(exceptions)
        result.bad_bodies += bad
        result.bodies.extend(bodies)
        result.began.update(began_at)
    return result
