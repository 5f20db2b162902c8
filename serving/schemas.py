"""Typed answers of the recommendation lookups: what the HTTP API returns (its OpenAPI schema is
generated from these) and what ``interestgraph recommend`` / ``explain`` print with ``--json``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Target = Literal["item", "interest"]
NodeLabel = Literal["User", "Item", "Interest"]

#: Longest id accepted anywhere (path, query or body); longer is rejected before any query.
MAX_ID_LENGTH = 200
#: Most results one list returns (``k``), and most paths per recommendation.
MAX_K = 100
MAX_PATHS = 5


class PathNode(BaseModel):
    id: str
    label: NodeLabel
    name: str | None = None


class PathRelationship(BaseModel):
    """A relationship as stored: its type and the ids of its start and end nodes."""

    type: str
    start: str
    end: str


class PathScore(BaseModel):
    """How the path's score was made: ``score = Π specificity × Π relation_weights`` with
    ``specificity = 1 / ln(2 + fan_out)`` per middle node."""

    fan_outs: list[int]
    specificity: list[float]
    relation_weights: list[float]
    user_edge_weight: float | None = None


class Explanation(BaseModel):
    kind: str = Field(
        description="shared_interest, held_interest, related_interest, similar_users, friend "
        "(items); via_items, related_interest, similar_users, friend (interests)"
    )
    nodes: list[PathNode]
    relationships: list[PathRelationship]
    score: float
    components: PathScore
    sentence: str


class RunInfo(BaseModel):
    id: str
    model: str | None = None
    created: str | None = None
    checkpoint: str | None = None


class CurrentRun(RunInfo):
    """The current run with what a reader needs to judge it."""

    k: int | None = None
    targets: list[str] = Field(default_factory=list)
    summary: dict[str, Any] | None = Field(
        default=None,
        description="As recorded by `predict`: dataset, split, refit, and per target the chosen "
        "variant, its validation Recall@20, its test figures and the best baseline's.",
    )
    sample_users: list[str] = Field(
        default_factory=list, description="A few users holding predictions in this run."
    )


class Recommendation(BaseModel):
    id: str
    name: str | None = None
    score: float
    rank: int
    explanations: list[Explanation] | None = Field(
        default=None, description="Present when explain=true."
    )


class Recommendations(BaseModel):
    user: str
    target: Target
    run: RunInfo
    recommendations: list[Recommendation]


class KnownInterest(BaseModel):
    id: str
    name: str | None = None
    kind: str | None = None
    source: str | None = None
    weight: float | None = None


class ExpandedInterest(BaseModel):
    id: str
    name: str | None = None
    kind: str | None = None
    score: float
    rank: int


class UserInterests(BaseModel):
    user: str
    run: RunInfo | None
    known: list[KnownInterest]
    expanded: list[ExpandedInterest]


class Prediction(BaseModel):
    score: float
    rank: int


class PairExplanation(BaseModel):
    user: str
    target: Target
    id: str
    name: str | None = None
    run: RunInfo | None
    predicted: Prediction | None = Field(
        description="The pair's place in the current run, or null when it is not predicted."
    )
    explanations: list[Explanation]


class SimilarItem(BaseModel):
    id: str
    name: str | None = None
    score: float


class SimilarItems(BaseModel):
    item: str
    similar: list[SimilarItem]


class Adopter(BaseModel):
    id: str
    name: str | None = None
    score: float
    rank: int


class Adopters(BaseModel):
    interest: str
    run: RunInfo
    adopters: list[Adopter]


class NewUserRequest(BaseModel):
    """A user the graph does not know: what they picked and/or how they describe themselves."""

    items: list[str] = Field(default_factory=list, max_length=200)
    interests: list[str] = Field(default_factory=list, max_length=200)
    text: str | None = Field(default=None, max_length=2000)
    target: Target = "item"
    k: int = Field(default=10, ge=1, le=MAX_K)
    explain: bool = False


class NewUserRecommendations(BaseModel):
    target: Target
    checkpoint: str
    recommendations: list[Recommendation]


class Erasure(BaseModel):
    """What ``DELETE /v1/users/{id}`` (and ``interestgraph forget-user``) removed."""

    user_sha256: str
    in_graph: bool = Field(description="Whether the user was still in the graph.")
    relationships_deleted: int
    user_tag_edges_deleted: int
    explanations_rewritten: int = Field(
        description="Other users' predictions whose stored paths went through the user."
    )
    related_to: dict[str, Any] | None = None
    cache_rows_deleted: dict[str, int]
    artefacts: list[dict[str, str]] = Field(
        description="Snapshots and checkpoints under the home that held the user."
    )
    artefacts_purged: bool
    files_still_mentioning: list[str] | None
    seconds: float


class Problem(BaseModel):
    """An error (RFC 9457), served as ``application/problem+json``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
