"""The HTTP API: a thin FastAPI adapter over :mod:`serving.lookups` and
:mod:`serving.new_users`, the erasure the composition root hands it (``ServingConfig.erase``),
and the interest explorer's static page at ``/``.

One Neo4j driver per worker process, opened in the lifespan and closed at shutdown; it is
created without waiting for Neo4j, so the service starts (and ``/readyz`` says 503) while Neo4j
is down, and recovers by itself when it is back. Every lookup is one read transaction with a
timeout, retried by the driver for at most that long: a stopped Neo4j is a 503 within the
request timeout, never a hung request.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Response
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import DriverError, ServiceUnavailable, SessionExpired
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphdb.connection import Neo4jTarget
from serving import problems
from serving.keys import KeyStore
from serving.lookups import NO_RUN, Lookups, Unavailable
from serving.metrics import Metrics, MetricsMiddleware
from serving.new_users import NewUserScorer
from serving.schemas import (
    MAX_ID_LENGTH,
    MAX_K,
    MAX_PATHS,
    Adopters,
    CurrentRun,
    Erasure,
    NewUserRecommendations,
    NewUserRequest,
    PairExplanation,
    Problem,
    Recommendation,
    Recommendations,
    SimilarItems,
    Target,
    UserInterests,
)

#: the interest explorer: a static page over this same API (assets built by `make explorer`)
EXPLORER = Path(__file__).with_name("explorer")


@dataclass(frozen=True)
class ServingConfig:
    """What one service instance needs; built by the composition root (``interestgraph serve``).

    ``key_file=None`` turns API keys off (only for local experiments: ``--no-auth``).
    ``checkpoint=None`` scores new users with the current run's checkpoint.
    """

    neo4j: Neo4jTarget
    key_file: Path | None
    checkpoint: Path | None = None
    text_model: str = "packaged:all-MiniLM-L6-v2"
    timeout: float = 5.0
    max_body_bytes: int = 64 * 1024
    #: recommendation answers each worker keeps while the graph does not change (0: none)
    kept_answers: int = 4096
    #: the erasure ``DELETE /v1/users/{id}`` runs (driver, database, user id, purge artefacts),
    #: given by the composition root; ``None``: the endpoint answers 503
    erase: Callable[[Driver, str | None, str, bool], dict[str, Any]] | None = None


Id = Annotated[str, PathParam(min_length=1, max_length=MAX_ID_LENGTH)]
K = Annotated[int, Query(ge=1, le=MAX_K, description=f"Results wanted (at most {MAX_K}).")]
Paths = Annotated[
    int, Query(ge=1, le=MAX_PATHS, description=f"Paths per recommendation (≤ {MAX_PATHS}).")
]


def _problems(*statuses: int) -> dict[int | str, dict]:
    return {
        status: {"model": Problem, "content": {problems.PROBLEM_TYPE: {}}} for status in statuses
    }


#: the errors every authenticated lookup may answer
LOOKUP_ERRORS = _problems(401, 404, 422, 503)


def open_serving_driver(target: Neo4jTarget, timeout: float) -> Driver:
    """A driver whose waits add up to about ``timeout`` per lookup: retries for half of it,
    each attempt's connect (pool wait included) bounded by a quarter."""
    return GraphDatabase.driver(
        target.uri,
        auth=(target.user, target.password),
        connection_timeout=timeout / 4,
        connection_acquisition_timeout=timeout / 4,
        max_transaction_retry_time=timeout / 2,
        liveness_check_timeout=30.0,
    )


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await problems.problem(
                413, f"request body over {self.limit} bytes", scope.get("path", "")
            )(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


def create_app(config: ServingConfig) -> FastAPI:
    """The API for one worker process."""
    keys = KeyStore(config.key_file) if config.key_file is not None else None
    metrics = Metrics()
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        driver = open_serving_driver(config.neo4j, config.timeout)
        outer = state.get("lookups")  # a lifespan nested in another (test clients) restores it
        state["lookups"] = Lookups(
            driver, config.neo4j.database, config.timeout, config.kept_answers
        )
        try:
            yield
        finally:
            driver.close()
            if outer is None:
                state.pop("lookups")
            else:
                state["lookups"] = outer

    app = FastAPI(
        title="interestgraph",
        version="1",
        summary="What should this user see next, which interests to open up for them, and why.",
        lifespan=lifespan,
    )
    problems.install(app)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="From serve --create-key")

    def authorised(key: Annotated[str | None, Depends(header)]) -> None:
        if keys is not None and not keys.verify(key):
            raise HTTPException(401, "send a valid key in the X-API-Key header")

    def lookups() -> Lookups:
        return state["lookups"]  # type: ignore[return-value]

    Auth = Depends(authorised)
    scorer_state: dict[str, NewUserScorer] = {}

    def scorer() -> NewUserScorer:
        if "scorer" not in scorer_state:
            checkpoint = config.checkpoint
            if checkpoint is None:
                run = lookups().current_run()
                if run is None or not run.checkpoint:
                    raise Unavailable("no current prediction run names a checkpoint")
                checkpoint = Path(run.checkpoint)
            scorer_state["scorer"] = NewUserScorer(checkpoint, config.text_model)
        return scorer_state["scorer"]

    @app.delete(
        "/v1/users/{user_id}",
        tags=["privacy"],
        responses=_problems(401, 403, 422, 503),
    )
    def forget(
        user_id: Id,
        key: Annotated[str | None, Depends(header)],
        purge_artefacts: bool = False,
    ) -> Erasure:
        """Erase a user everywhere (an admin key): node, edges, the counts they fed, other
        users' stored paths through them, cache rows; with ``purge_artefacts``, the snapshots and
        checkpoints that hold them. Idempotent: a repeat finishes an interrupted erasure."""
        if keys is None:
            raise HTTPException(403, "erasing users needs admin keys: serve without --no-auth")
        if not keys.verify(key, admin=True):
            if keys.verify(key):
                raise HTTPException(403, "this key may not erase users: use an --admin key")
            raise HTTPException(401, "send a valid admin key in the X-API-Key header")
        if config.erase is None:
            raise Unavailable("erasure is not configured for this service")
        current = lookups()
        try:
            report = config.erase(current.driver, current.database, user_id, purge_artefacts)
        except (ServiceUnavailable, SessionExpired, DriverError) as e:
            raise Unavailable(f"Neo4j is unavailable: {e}") from e
        return Erasure(**report)

    @app.get("/livez", tags=["health"])
    def livez() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses=_problems(503))
    def readyz() -> dict[str, str]:
        """Neo4j answers and a current prediction run exists."""
        run = lookups().current_run()
        if run is None:
            raise Unavailable(NO_RUN)
        return {"status": "ready", "run": run.id}

    @app.get("/metrics", tags=["health"], dependencies=[Auth], responses=_problems(401))
    def metrics_endpoint() -> Response:
        """Prometheus exposition: request counts and latency histograms per route."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/v1/runs/current", dependencies=[Auth], tags=["lookups"], responses=LOOKUP_ERRORS)
    def current_run() -> CurrentRun:
        """The prediction run lookups answer from: its model, date, headline figures and a few
        of its users."""
        return lookups().run_details()

    @app.get(
        "/v1/users/{user_id}/recommendations",
        dependencies=[Auth],
        tags=["lookups"],
        responses=LOOKUP_ERRORS,
        response_model=Recommendations,
    )
    def recommendations(
        user_id: Id,
        target: Target = "item",
        k: K = 10,
        explain: bool = False,
        paths: Paths = 3,
    ) -> Response:
        """The current run's top ``k`` items or interests for a user, ranked, optionally with
        the graph paths that explain each one."""
        answer = lookups().recommendations_json(user_id, target, k, explain, paths)
        return Response(answer, media_type="application/json")

    @app.get(
        "/v1/users/{user_id}/interests",
        dependencies=[Auth],
        tags=["lookups"],
        responses=LOOKUP_ERRORS,
    )
    def interests(user_id: Id, k: K = 20) -> UserInterests:
        """Interest expansion: what the user showed (with its source) and what the current run
        predicts they will take up."""
        return lookups().interests(user_id, k)

    @app.get("/v1/explain", dependencies=[Auth], tags=["lookups"], responses=LOOKUP_ERRORS)
    def explain(
        user: Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH)],
        item: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH)] = None,
        interest: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH)] = None,
        paths: Paths = 3,
    ) -> PairExplanation:
        """Explanation paths for any (user, item) or (user, interest) pair, predicted or not:
        give exactly one of ``item`` and ``interest``."""
        if (item is None) == (interest is None):
            raise HTTPException(422, "give exactly one of the item and interest parameters")
        if item is not None:
            return lookups().explain(user, "item", item, paths)
        return lookups().explain(user, "interest", interest or "", paths)

    @app.post(
        "/v1/recommendations",
        dependencies=[Auth],
        tags=["lookups"],
        responses=_problems(401, 413, 422, 503),
    )
    def new_user(request: NewUserRequest) -> NewUserRecommendations:
        """Recommendations for a user the graph does not know, from the items and interests
        they picked and/or a self-description, scored on the fly (nothing is written)."""
        model = scorer()
        scored = model.score(
            request.items, request.interests, request.text, request.target, request.k
        )
        explanations = (
            lookups().explain_new_user(
                request.items, request.interests, request.target, [s[0] for s in scored]
            )
            if request.explain
            else {}
        )
        return NewUserRecommendations(
            target=request.target,
            checkpoint=str(model.checkpoint_path),
            recommendations=[
                Recommendation(
                    id=node_id,
                    name=name,
                    score=score,
                    rank=rank,
                    explanations=explanations.get(node_id) if request.explain else None,
                )
                for rank, (node_id, name, score) in enumerate(scored, start=1)
            ],
        )

    @app.get(
        "/v1/items/{item_id}/similar",
        dependencies=[Auth],
        tags=["lookups"],
        responses=LOOKUP_ERRORS,
    )
    def similar(item_id: Id, k: K = 10) -> SimilarItems:
        """The items nearest to this one by text embedding (Neo4j's vector index)."""
        return lookups().similar_items(item_id, k)

    @app.get(
        "/v1/interests/{interest_id}/adopters",
        dependencies=[Auth],
        tags=["lookups"],
        responses=LOOKUP_ERRORS,
    )
    def adopters(interest_id: Id, k: K = 10) -> Adopters:
        """The users the current run most expects to take up this interest."""
        return lookups().adopters(interest_id, k)

    app.mount("/", StaticFiles(directory=EXPLORER, html=True), name="explorer")
    return app
