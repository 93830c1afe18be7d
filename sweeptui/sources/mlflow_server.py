"""An MLflow tracking server, read over its REST API: many machines, one sweep.

``sweeptui watch http://host:5000 --experiment NAME`` follows the experiment's runs
with the standard library's HTTP client (no MLflow import). Each poll costs:

- ``POST /api/2.0/mlflow/runs/search`` for the runs that may have changed: the first
  poll and every :data:`FULL_SEARCH_EVERY` th one search every run; the others only the
  runs still unfinished (``attributes.run_id IN (...)``) and the runs started since the
  newest start seen (less a margin for clocks that differ between machines);
- ``GET /api/2.0/mlflow/metrics/get-history`` only for the metrics whose latest point
  (in the search answer) moved since the last poll, and once more for every metric of a
  run that just ended; the points already read (the first ones in logging order) are skipped.

The reader polls at most every ``interval`` seconds. When the server is slow or down
it backs off (doubling the wait up to :data:`MAX_BACKOFF`), keeps everything read so
far, warns once that the server is unreachable and says so in :meth:`ServerReader.note`
(the live header) until it answers again. Credentials come from MLflow's own variables
(``MLFLOW_TRACKING_TOKEN``, or ``MLFLOW_TRACKING_USERNAME`` and ``_PASSWORD``).

The REST answers are MLflow's protobuf JSON: statuses are names, NaN is the string
``"NaN"``, and a server on an SQL store answers +/-inf as the largest double (how the
store keeps them), read back as +/-inf; the mapping to sweeptui's
runs is :mod:`sweeptui.sources.mlflow_runs`.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from sweeptui.events import Event, SourceWarning
from sweeptui.settings import Settings
from sweeptui.sources.base import Reader
from sweeptui.sources.mlflow_runs import (
    ENDS,
    NAME,
    RUN_NAME_TAG,
    RunState,
    millis,
    param_value,
    sql_metric,
    sweep_events,
)

API = "/api/2.0/mlflow"
DEFAULT_INTERVAL = 2.0
"""Seconds between polls unless ``--poll`` says otherwise."""
MAX_BACKOFF = 60.0
TIMEOUT = 10.0
"""Seconds one request may take before the server counts as unreachable."""
PAGE_RUNS = 1000
"""Runs per search page (MLflow's own default and limit for a page with data)."""
PAGE_POINTS = 25_000
"""Points per history page (the SQL store's maximum)."""
IDS_PER_SEARCH = 100
"""Run ids per ``IN (...)`` filter, to keep each search request small."""
FULL_SEARCH_EVERY = 30
"""Every so many polls, search every run (catches runs whose start time is skewed)."""
START_MARGIN_MS = 10 * 60 * 1000
"""New runs are searched from the newest start seen less this: machines' clocks differ."""


class ServerError(Exception):
    """The server could not be reached or answered with an error."""


class TrackingClient:
    """The few REST calls sweeptui needs, over :mod:`urllib.request`."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "User-Agent": "sweeptui"}
        self.headers.update(_auth_header())
        self.requests = 0
        self.calls: Counter[str] = Counter()
        """Requests made, per endpoint."""

    def call(self, method: str, endpoint: str, body: dict | None = None) -> dict:
        """One API call; the parsed JSON answer. Raises :class:`ServerError`."""
        target = f"{self.url}{API}/{endpoint}"
        data = None
        if method == "GET" and body:
            target = f"{target}?{urllib.parse.urlencode(body)}"
        elif body is not None:
            data = json.dumps(body).encode()
        request = urllib.request.Request(target, data=data, method=method, headers=self.headers)
        self.requests += 1
        self.calls[endpoint] += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise ServerError(f"HTTP {exc.code} from {endpoint}: {_error_text(exc)}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(str(reason)) from exc
        try:
            answer = json.loads(payload or b"{}")
        except ValueError as exc:
            raise ServerError(f"{endpoint} answered with something other than JSON") from exc
        if not isinstance(answer, dict):
            raise ServerError(f"{endpoint} answered with an unexpected JSON value")
        return answer

    def experiment_id(self, name: str) -> str | None:
        """The id of the experiment called ``name``; None when there is none (yet)."""
        try:
            answer = self.call("GET", "experiments/get-by-name", {"experiment_name": name})
        except ServerError as exc:
            if "HTTP 404" in str(exc) or "RESOURCE_DOES_NOT_EXIST" in str(exc):
                return None
            raise
        return str((answer.get("experiment") or {}).get("experiment_id") or "") or None

    def experiment_ids(self) -> list[str]:
        """Every active experiment's id (when no ``--experiment`` was given)."""
        ids: list[str] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"max_results": 1000}
            if token:
                body["page_token"] = token
            answer = self.call("POST", "experiments/search", body)
            ids.extend(str(e.get("experiment_id")) for e in answer.get("experiments") or [])
            token = answer.get("next_page_token")
            if not token:
                return ids

    def search_runs(self, experiment_ids: list[str], filter_text: str, deleted: bool) -> list[dict]:
        """Every run matching ``filter_text``, page by page."""
        body: dict[str, Any] = {
            "experiment_ids": experiment_ids, "filter": filter_text, "max_results": PAGE_RUNS,
            "run_view_type": "ALL" if deleted else "ACTIVE_ONLY",
        }  # fmt: skip
        return self._pages("POST", "runs/search", body, "runs")

    def metric_history(self, run_id: str, key: str) -> list[dict]:
        """Every point of one metric of one run, page by page."""
        query = {"run_id": run_id, "metric_key": key, "max_results": PAGE_POINTS}
        return self._pages("GET", "metrics/get-history", query, "metrics")

    def _pages(self, method: str, path: str, request: dict[str, Any], items: str) -> list[dict]:
        """The ``items`` of every page of one request, following ``next_page_token``."""
        found: list[dict] = []
        token: str | None = None
        while True:
            answer = self.call(method, path, {**request, "page_token": token} if token else request)
            found.extend(item for item in answer.get(items) or [] if isinstance(item, dict))
            token = answer.get("next_page_token")
            if not token:
                return found


def _auth_header() -> dict[str, str]:
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return str(exc.reason)
    if isinstance(body, dict):
        return str(body.get("error_code") or "") + (f" {body.get('message')}" if body.get("message") else "")
    return str(exc.reason)


def _number(value: Any) -> float:
    """A JSON number, or protobuf JSON's ``"NaN"`` / ``"Infinity"`` strings."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class ServerReader(Reader):
    """Follows one experiment (or all) of an MLflow tracking server by polling."""

    source = NAME

    def __init__(
        self,
        url: str,
        experiment: str | None,
        settings: Settings,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        client: TrackingClient | None = None,
    ) -> None:
        super().__init__(Path("."), Path("."), settings)
        self.url = url.rstrip("/")
        self.experiment = experiment
        self.interval = interval
        self.clock = clock
        self.client = client or TrackingClient(self.url)
        self.storage = experiment or "mlflow"
        """What run ids start with: ``<experiment>/<experiment id>/<run id>``."""
        self.runs: dict[str, RunState] = {}
        self.latest: dict[tuple[str, str], tuple[float, float]] = {}
        """(run, metric) -> (step, timestamp) of the newest point read."""
        self.read_points: dict[tuple[str, str], int] = {}
        self.experiment_ids: list[str] | None = None
        self.polls = 0
        self.next_poll = 0.0
        self.failures = 0
        self.down_since: float | None = None
        self.problem: str | None = None
        self.last_ok: float | None = None
        self.newest_start = 0.0
        self.missing_experiment = False

    @property
    def key(self) -> tuple[str, str]:
        """One reader per server and experiment."""
        return (self.source, f"{self.url}#{self.experiment}")

    def owns(self, path: Path) -> bool:
        """No file is this reader's."""
        return False

    @property
    def reachable(self) -> bool:
        """False after a poll failed, until one succeeds."""
        return self.problem is None

    def note(self) -> str | None:
        """How following the server goes, for the live header."""
        where = self.url + (f" experiment {self.experiment!r}" if self.experiment else "")
        every = f"polled every {self.interval:g}s"
        if self.problem is None and self.missing_experiment:
            return f"MLflow server {self.url}: no experiment {self.experiment!r} yet ({every})"
        if self.problem is None:
            age = "" if self.last_ok is None else f", last answer {time.time() - self.last_ok:.0f}s ago"
            return f"MLflow server {where}: {every}{age}"
        wait = max(0.0, self.next_poll - self.clock())
        since = time.strftime("%H:%M:%S", time.localtime(self.down_since or time.time()))
        return (f"MLflow server {where} unreachable since {since}, next try in {wait:.0f}s; "
                f"showing the last data ({self.problem})")  # fmt: skip

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """Poll the server when a poll is due; events for what changed (``changed`` unused)."""
        now = self.clock()
        if now < self.next_poll:
            return []
        events: list[Event] = []
        try:
            self._poll()
        except ServerError as exc:
            self._failed(str(exc), now, events)
        else:
            self._recovered(events)
            self.next_poll = now + self.interval
        events.extend(sweep_events(self.runs, self.storage, self.url, self.settings.include_deleted))
        return events

    def _failed(self, message: str, now: float, events: list[Event]) -> None:
        self.failures += 1
        # the exponent is capped: a server down all weekend must not overflow the float
        self.next_poll = now + min(MAX_BACKOFF, self.interval * 2 ** min(self.failures, 20))
        if self.problem is None:
            self.down_since = time.time()
            events.append(SourceWarning(self.url, f"MLflow server unreachable ({message}); "
                                        "keeping the last data and retrying with backoff"))  # fmt: skip
        self.problem = message

    def _recovered(self, events: list[Event]) -> None:
        if self.problem is not None:
            down = time.time() - (self.down_since or time.time())
            events.append(SourceWarning(self.url, f"MLflow server reachable again after {down:.0f}s"))
        self.problem, self.failures, self.down_since = None, 0, None
        self.last_ok = time.time()

    # -- one poll ------------------------------------------------------------------------
    def _poll(self) -> None:
        ids = self._experiments()
        if not ids:
            return  # the experiment does not exist yet: the sweep has not started
        deleted = self.settings.include_deleted
        if self.polls % FULL_SEARCH_EVERY == 0:
            found = self.client.search_runs(ids, "", deleted)
        else:
            found = self._changed_runs(ids, deleted)
        self.polls += 1
        for raw in found:
            self._update(raw)

    def _experiments(self) -> list[str]:
        if self.experiment_ids:
            return self.experiment_ids
        if self.experiment is None:
            ids = self.client.experiment_ids()
        else:
            found = self.client.experiment_id(self.experiment)
            ids = [found] if found else []
            self.missing_experiment = found is None
        self.experiment_ids = ids or None
        return ids

    def _changed_runs(self, ids: list[str], deleted: bool) -> list[dict]:
        """The runs still unfinished, and the runs started since the newest start seen."""
        unfinished = [uuid for uuid, run in self.runs.items() if not run.ended]
        found: list[dict] = []
        for chunk in _chunks(unfinished, IDS_PER_SEARCH):
            quoted = ", ".join(f"'{uuid}'" for uuid in chunk)
            found.extend(self.client.search_runs(ids, f"attributes.run_id IN ({quoted})", deleted))
        since = int(max(0.0, self.newest_start - START_MARGIN_MS))
        found.extend(self.client.search_runs(ids, f"attributes.start_time >= {since}", deleted))
        return found

    def _update(self, raw: dict) -> None:
        info, data = raw.get("info") or {}, raw.get("data") or {}
        uuid = str(info.get("run_id") or info.get("run_uuid") or "")
        if not uuid:
            return
        run = self.runs.get(uuid)
        if run is None:
            run = self.runs[uuid] = RunState(uuid, str(info.get("experiment_id", "")))
        run.name = str(info.get("run_name") or run.name)
        was_over = run.status in ENDS
        run.status = str(info.get("status") or "RUNNING")
        # a point logged again at a lower step does not move MLflow's latest point: at the
        # end, every history is read once more so that none is left behind
        ending = run.status in ENDS and not was_over
        run.start, run.end = millis(info.get("start_time")), millis(info.get("end_time"))
        self.newest_start = max(self.newest_start, _number(info.get("start_time") or 0))
        run.deleted = info.get("lifecycle_stage") == "deleted"
        for pair in data.get("params") or []:
            run.params[str(pair.get("key"))] = param_value(pair.get("value"))
        for pair in data.get("tags") or []:
            run.tags[str(pair.get("key"))] = str(pair.get("value"))
        if not run.name:
            run.name = run.tags.get(RUN_NAME_TAG, "")
        for latest in data.get("metrics") or []:
            self._follow(run, latest, ending)

    def _follow(self, run: RunState, latest: dict, ending: bool) -> None:
        """Fetch a metric's history when its latest point moved (or the run just ended); add
        the points not read."""
        key = str(latest.get("key"))
        mark = (_number(latest.get("step", 0)), _number(latest.get("timestamp", 0)))
        slot = (run.uuid, key)
        if self.latest.get(slot) == mark and not ending:
            return
        history = self.client.metric_history(run.uuid, key)
        done = self.read_points.get(slot, 0)
        for point in _ordered(history)[done:]:
            # a server on an SQL store answers +/-inf as the largest double, as stored
            value = sql_metric(_number(point.get("value")), False)
            run.add_point(key, value, _number(point.get("step", 0)), _number(point.get("timestamp", 0)))
        self.read_points[slot] = max(done, len(history))
        self.latest[slot] = mark


def _ordered(points: list[dict]) -> list[dict]:
    """History points in the order they were logged: by (timestamp, step).

    The points read before are then always the first ones, whatever the steps: a run
    resumed from a checkpoint logs lower steps again, and ordered by step (as the SQL
    store answers) those new points would fall among the old ones.
    """
    return sorted(points, key=lambda p: (_number(p.get("timestamp", 0)), _number(p.get("step", 0))))


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["ServerReader", "TrackingClient"]
