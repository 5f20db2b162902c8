"""Link predictors over a :class:`~gnn.graph.Graph`: our heterogeneous model and the baselines.

Every model maps the graph to node embeddings (:meth:`embed`) and scores pairs or whole
candidate matrices per target relation, so one training loop, one evaluator and one batch
scorer serve them all. Non-learned baselines (popularity, LLM cosine, interests of the user's
items, user-KNN, RP3beta) expose the same ``matrix`` call.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.nn.models import LightGCN
from torch_geometric.utils import to_torch_csr_tensor

from gnn.decoders import make_decoder
from gnn.encoders import HeteroEncoder
from gnn.graph import TARGETS, Graph, rows


class LinkPredictor(nn.Module):
    """An encoder plus one decoder per target relation (``user_item``, ``user_interest``)."""

    def __init__(self, encoder: nn.Module, dim: int, decoder: str = "dot"):
        super().__init__()
        self.encoder = encoder
        self.decoders = nn.ModuleDict({t: make_decoder(decoder, dim) for t in TARGETS})

    def embed(self, graph: Graph) -> dict[str, Tensor]:
        return self.encoder(graph)

    def ego(self) -> dict[str, Tensor]:
        """Layer-0 embeddings of the last :meth:`embed` (LightGCN regularises these)."""
        return self.encoder.ego

    def pairs(self, emb: dict[str, Tensor], target: str, src: Tensor, dst: Tensor) -> Tensor:
        src_type, dst_type = TARGETS[target]
        return self.decoders[target].pairs(rows(emb[src_type], src), rows(emb[dst_type], dst))

    def matrix(self, emb: dict[str, Tensor], target: str, src: Tensor) -> Tensor:
        src_type, dst_type = TARGETS[target]
        return self.decoders[target].matrix(emb[src_type][src], emb[dst_type])

    def auxiliary_loss(
        self, emb: dict[str, Tensor], nodes: dict[str, Tensor], temperature: float
    ) -> Tensor | None:
        """InfoNCE between the final embeddings and the encoder's perturbed view (XSimGCL's
        cross-layer contrast), over the batch's nodes; ``None`` when the encoder kept no view."""
        view = getattr(self.encoder, "contrast_view", None)
        if view is None:
            return None
        return sum(
            info_nce(rows(emb[t], index), rows(view[t], index), temperature)
            for t, index in nodes.items()
        )


def info_nce(a: Tensor, b: Tensor, temperature: float) -> Tensor:
    """Each row of ``a`` should match the same row of ``b`` against every other row."""
    a = torch.nn.functional.normalize(a.float(), dim=-1)
    b = torch.nn.functional.normalize(b.float(), dim=-1)
    logits = a @ b.T / temperature
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(a), device=a.device))


class PerTargetModel(nn.Module):
    """One trained network per target relation: the same architecture trained jointly, with
    each target's weights taken from the epoch that was best for it."""

    def __init__(self, models: dict[str, nn.Module]):
        super().__init__()
        self.models = nn.ModuleDict(models)

    @property
    def targets(self) -> list[str]:
        return list(self.models)

    def embed(self, graph: Graph) -> dict[str, dict[str, Tensor]]:
        return {t: m.embed(graph) for t, m in self.models.items()}

    def matrix(self, emb: dict[str, dict[str, Tensor]], target: str, src: Tensor) -> Tensor:
        return self.models[target].matrix(emb[target], target, src)


class VariantEnsemble(nn.Module):
    """Trained variants of our model ranking together: each member's score rows standardised
    over the candidates, then averaged.

    Why: the variants see the data differently (text and contrastive loss, text alone, ids
    alone) and err differently, so their average ranks better than any one of them, and better
    than as many copies of one variant trained from other seeds (dslabs-movielens, warm users,
    seed 0, test Recall@20: ``full`` + ``no_cl`` + ``lightgcn`` 0.2566, three ``lightgcn``
    0.2453, three ``no_cl`` 0.2476, the best single variant 0.2426). Which members rank
    together is chosen on validation (:func:`training.experiment.choose_ensemble`).
    """

    def __init__(self, members: dict[str, nn.Module]):
        super().__init__()
        self.members = nn.ModuleDict(members)

    def embed(self, graph: Graph) -> dict[str, dict[str, Tensor]]:
        return {name: member.embed(graph) for name, member in self.members.items()}

    def matrix(self, emb: dict[str, dict[str, Tensor]], target: str, src: Tensor) -> Tensor:
        rows = [
            _standardised(member.matrix(emb[name], target, src).float())
            for name, member in self.members.items()
        ]
        return torch.stack(rows).mean(0)


class LightGCNBaseline(nn.Module):
    """PyG's :class:`~torch_geometric.nn.models.LightGCN` on the user–item–interest graph of the
    target relations (ids only, no text, no catalogue edges): the collaborative baseline.
    The graph goes in as a CSR adjacency, which PyG multiplies with sparse kernels (about 5×
    faster on CPU than an ``edge_index`` scatter)."""

    def __init__(self, num_nodes: dict[str, int], dim: int = 64, layers: int = 3):
        super().__init__()
        self.num_nodes = dict(num_nodes)
        self.model = LightGCN(sum(num_nodes.values()), dim, layers)
        self.decoders = nn.ModuleDict({t: make_decoder("dot", dim) for t in TARGETS})

    def embed(self, graph: Graph) -> dict[str, Tensor]:
        total = sum(self.num_nodes.values())
        with warnings.catch_warnings():  # PyG builds it without invariant checks, on purpose
            warnings.filterwarnings("ignore", message="Sparse invariant checks")
            adjacency = to_torch_csr_tensor(_target_edges(graph), size=(total, total))
        with torch.autocast(device_type=adjacency.device.type, enabled=False):
            flat = self.model.get_embedding(adjacency)
        return self._by_type(flat)

    def ego(self) -> dict[str, Tensor]:
        """The id embeddings before propagation (what LightGCN's L2 term regularises)."""
        return self._by_type(self.model.embedding.weight)

    def _by_type(self, flat: Tensor) -> dict[str, Tensor]:
        out, start = {}, 0
        for node_type, count in self.num_nodes.items():
            out[node_type] = flat[start : start + count]
            start += count
        return out

    pairs = LinkPredictor.pairs
    matrix = LinkPredictor.matrix


def _target_edges(graph: Graph) -> Tensor:
    offsets = graph.offsets
    parts = []
    for target, (src_type, dst_type) in TARGETS.items():
        for (s, relation, d), index in graph.edge_index.items():
            if (s, d) == (src_type, dst_type) and relation == target:
                src = index[0] + offsets[s]
                dst = index[1] + offsets[d]
                parts += [torch.stack([src, dst]), torch.stack([dst, src])]
    return torch.cat(parts, dim=1)


def matrix_factorisation(num_nodes: dict[str, int], dim: int = 64) -> LinkPredictor:
    """MF-BPR: id embeddings only, no propagation, dot-product decoder."""
    encoder = HeteroEncoder(num_nodes, None, [], dim=dim, layers=0, use_ids=True)
    return LinkPredictor(encoder, dim)


class StaticScorer(nn.Module):
    """A non-learned baseline: fixed score rows per target, computed from training data.

    ``popularity``: training degree of each candidate (same list for everyone).
    ``llm_cosine``: cosine of the user's text embedding with each candidate's.
    ``content``: the mean text embedding of the user's training items · each candidate's text
    embedding (the classic content-based recommender; ranks cold items and serves new users).
    ``whitened_content``: the same profile · ``(EᵀE + μI)⁻¹`` · each candidate's text embedding,
    ``E`` every candidate's embedding, ``μ`` the mean eigenvalue of ``EᵀE`` times
    ``shrinks[target]`` (chosen among :data:`WHITENING_SHRINKS` on validation). Why: sentence
    embeddings of texts built from one template (``title (year). Genres: …``) share a few
    dominant directions, so a plain cosine mostly measures the template; dividing by the
    candidates' second moment damps those directions and keeps what tells candidates apart. It
    is also EASE's closed form with the candidates' texts as the only rows (the item-item weight
    ``e_i · (EᵀE + μI)⁻¹ · e_j`` up to a per-candidate factor, by Woodbury), so it needs no
    interaction of a candidate and ranks cold ones.
    ``interest_profile``: for user→item, the user's interest weights (the interests of their
    training items plus their own training interests, each weighted by inverse item frequency
    so ``drama`` counts less than ``heist``) · each item's interests.
    ``interests_of_items``: for user→interest, how strongly the user's training items carry
    each interest (``A_user_item @ A_item_interest``).
    ``user_knn``: memory-based collaborative filtering, the baseline neural recommenders most
    often fail to beat (Dacrema et al., RecSys 2019): the cosine similarity of users' training
    rows (their items and interests), and each candidate scored by the summed similarity of the
    user's :data:`USER_KNN_NEIGHBOURS` nearest users that have it in training.
    ``rp3beta``: the graph-based recommender of Paudel et al. (2016), among the simple baselines
    most neural ones failed to beat in the same study: the probability that a three-step random
    walk over the training edges, user → candidate → user → candidate, ends at each candidate,
    divided by the candidate's training degree to the power ``betas[target]`` (chosen among
    :data:`RP3_BETAS` on validation by :func:`training.experiment.choose_setting`; 0, the
    plain walk P3alpha, where none is chosen).
    ``ease``: EASE (Steck, WWW 2019), the linear item-item autoencoder that the same kind of
    re-run found as strong as neural recommenders: each candidate's training column regressed
    on all the others' (no self-weight), under the L2 penalty ``penalties[target]`` (chosen
    among :data:`EASE_PENALTIES` on validation); a user's score is the sum of their training
    candidates' weights. It holds a dense candidates × candidates matrix, so a target with more
    than :data:`EASE_MAX_CANDIDATES` candidates is not scored (the evaluation skips it).
    """

    #: target each baseline cannot score (the evaluation skips it)
    UNSUPPORTED: ClassVar[dict[str, str]] = {
        "interests_of_items": "user_item",
        "interest_profile": "user_interest",
    }

    def __init__(
        self,
        kind: str,
        graph: Graph,
        betas: dict[str, float] | None = None,
        penalties: dict[str, float] | None = None,
        shrinks: dict[str, float] | None = None,
    ):
        super().__init__()
        self.kind = kind
        self.graph = graph
        #: ``user_knn``'s neighbourhood (each user's training rows per target, transposed, and
        #: the user profiles), built on first use: every batch of users reads it
        self._neighbourhood: tuple[dict[str, Tensor], Tensor] | None = None
        #: ``rp3beta``'s popularity discount per target, and its walk's steps per target,
        #: built on first use (:func:`_walk_steps`)
        self.betas: dict[str, float] = dict(betas or {})
        self._walks: dict[str, tuple[Tensor, Tensor, Tensor]] = {}
        #: ``ease``'s L2 penalty per target, and its weights per target with the penalty they
        #: were fitted at (refitted when the penalty changes), fitted on ``_ease_graph``'s
        #: training rows: this scorer's graph, or the one it was derived from (:meth:`on`)
        self.penalties: dict[str, float] = dict(penalties or {})
        self._ease: dict[str, tuple[float, Tensor]] = {}
        self._ease_graph = graph
        #: ``whitened_content``'s shrinkage per target, and per target the whitened candidates
        #: ``(EᵀE + μI)⁻¹ Eᵀ`` with the shrinkage they were computed at
        self.shrinks: dict[str, float] = dict(shrinks or {})
        self._whitened: dict[str, tuple[float, Tensor]] = {}

    def on(self, graph: Graph) -> StaticScorer:
        """This baseline, at the same settings, scoring ``graph``: the graph it was built on
        plus new users (:meth:`Graph.with_node`), whose rows the other baselines read afresh.
        ``ease``'s weights are shared with this scorer and stay fitted on its graph alone: a new
        user is folded in (their row times the weights, as EASE scores any user) instead of a
        refit per request, which costs minutes on a large catalogue and which one user would
        barely change. ``whitened_content``'s whitened candidates are shared too (they depend on
        the candidates' texts alone). A graph with other candidate counts shares nothing."""
        if graph is self.graph:
            return self
        scorer = StaticScorer(self.kind, graph, self.betas, self.penalties, self.shrinks)
        if all(graph.num_nodes.get(t) == n for t, n in self.graph.num_nodes.items() if t != "user"):
            scorer._ease, scorer._ease_graph = self._ease, self._ease_graph
            scorer._whitened = self._whitened
        return scorer

    def supports(self, target: str) -> bool:
        if self.kind == "ease":
            candidates = self.graph.num_nodes.get(TARGETS[target][1], 0)
            return 0 < candidates <= EASE_MAX_CANDIDATES
        return self.UNSUPPORTED.get(self.kind) != target

    def embed(self, graph: Graph) -> dict[str, Tensor]:
        return graph.x

    def matrix(self, emb: dict[str, Tensor], target: str, src: Tensor) -> Tensor:
        src_type, dst_type = TARGETS[target]
        if self.kind == "popularity":
            degree = _degree(self.graph, target, self.graph.num_nodes[dst_type])
            return degree.unsqueeze(0).expand(len(src), -1)
        if self.kind == "llm_cosine":
            return emb[src_type][src] @ emb[dst_type].T
        if not self.supports(target):
            raise ValueError(f"{self.kind} cannot score {target}")
        if self.kind in ("content", "whitened_content"):
            profile = _user_items(self.graph, src) @ emb["item"]
            if self.kind == "content":
                return torch.nn.functional.normalize(profile, dim=-1) @ emb[dst_type].T
            self.fit(target)
            return profile @ self._whitened[target][1]
        if self.kind == "interests_of_items":
            return _interests_of_items(self.graph, src)
        if self.kind == "interest_profile":
            return _interest_profile(self.graph, src)
        if self.kind == "user_knn":
            if self._neighbourhood is None:
                self._neighbourhood = _user_neighbourhood(self.graph, src.device)
            held_t, profiles = self._neighbourhood
            return _user_knn(profiles, held_t[target], src, USER_KNN_NEIGHBOURS)
        if self.kind == "rp3beta":
            if target not in self._walks:
                self._walks[target] = _walk_steps(self.graph, target, src.device)
            return _random_walk(*self._walks[target], src, self.betas.get(target, 0.0))
        if self.kind == "ease":
            self.fit(target)
            weights = self._ease[target][1]
            return torch.sparse.mm(_rows_of(self.graph, target, src, weights.shape[0]), weights)
        raise ValueError(f"unknown static baseline {self.kind!r}")

    def fit(self, target: str) -> None:
        """Fit ``ease``'s weights, or ``whitened_content``'s whitened candidates, for ``target``
        at its setting unless they already are (they are shared with every scorer :meth:`on`
        derived); the other baselines fit nothing they share. Called ahead of time where several
        requests could otherwise each fit the same weights at once (:func:`fit_partners`)."""
        if self.kind == "ease":
            penalty = self.penalties.get(target, EASE_PENALTIES[0])
            if self._ease.get(target, (None,))[0] != penalty:
                self._ease.pop(target, None)  # the old weights go before the new are fitted
                self._ease[target] = (penalty, _ease_weights(self._ease_graph, target, penalty))
        elif self.kind == "whitened_content":
            shrink = self.shrinks.get(target, WHITENING_SHRINKS[0])
            if self._whitened.get(target, (None,))[0] != shrink:
                candidates = self.graph.x[TARGETS[target][1]]
                self._whitened[target] = (shrink, _whitened(candidates, shrink))


def _relation(graph: Graph, name: str) -> Tensor:
    for (_, relation, _), index in graph.edge_index.items():
        if relation == name:
            return index
    raise KeyError(name)


def _degree(graph: Graph, target: str, count: int) -> Tensor:
    index = _relation(graph, target)
    return torch.zeros(count, device=index.device).index_add_(
        0, index[1], torch.ones(index.shape[1], device=index.device)
    )


def _rows_of(graph: Graph, relation: str, users: Tensor, width: int) -> Tensor:
    """The given users' rows of a user→X training relation, as a sparse 0/1 matrix."""
    index = _relation(graph, relation)
    position = torch.full((graph.num_nodes["user"],), -1, device=users.device)
    position[users] = torch.arange(len(users), device=users.device)
    keep = position[index[0]] >= 0
    return torch.sparse_coo_tensor(
        torch.stack([position[index[0][keep]], index[1][keep]]),
        torch.ones(int(keep.sum()), device=users.device),
        (len(users), width),
        check_invariants=False,
    ).coalesce()


def _user_items(graph: Graph, users: Tensor) -> Tensor:
    return _rows_of(graph, "user_item", users, graph.num_nodes["item"])


def _item_interests(graph: Graph) -> Tensor:
    index = _relation(graph, "has_interest")
    return torch.sparse_coo_tensor(
        index,
        torch.ones(index.shape[1], device=index.device),
        (graph.num_nodes["item"], graph.num_nodes["interest"]),
        check_invariants=False,
    ).coalesce()


def _interests_of_items(graph: Graph, users: Tensor) -> Tensor:
    return torch.sparse.mm(_user_items(graph, users), _item_interests(graph)).to_dense()


def _interest_profile(graph: Graph, users: Tensor) -> Tensor:
    item_interests = _item_interests(graph)
    items_per_interest = torch.sparse.sum(item_interests, 0).to_dense()
    idf = torch.log((graph.num_nodes["item"] + 1) / (items_per_interest + 1))
    profile = _interests_of_items(graph, users)
    if any(relation == "user_interest" for _, relation, _ in graph.edge_index):
        profile = (
            profile
            + _rows_of(graph, "user_interest", users, graph.num_nodes["interest"]).to_dense()
        )
    profile = torch.nn.functional.normalize(profile * idf, dim=-1)
    return torch.sparse.mm(item_interests, profile.T).T


#: neighbours ``user_knn`` sums over; fixed, not tuned (on Last.fm's validation users 50 and
#: 100 ranked interests alike and 20 lower)
USER_KNN_NEIGHBOURS = 50


def _user_neighbourhood(graph: Graph, device: torch.device) -> tuple[dict[str, Tensor], Tensor]:
    """Per target relation in the graph, every user's training row, transposed (candidate ×
    user: what the neighbours vote with); and those rows side by side, each of unit length, as
    a sparse ``[users, items + interests]`` matrix (what ``user_knn`` compares users by)."""
    everyone = torch.arange(graph.num_nodes["user"], device=device)
    held = {
        relation: _rows_of(graph, relation, everyone, graph.num_nodes[TARGETS[relation][1]])
        for relation in TARGETS
        if any(name == relation for _, name, _ in graph.edge_index)
    }
    rows = torch.cat(list(held.values()), dim=1).coalesce()
    index, values = rows.indices(), rows.values()
    norms = torch.zeros(rows.shape[0], device=values.device).index_add_(0, index[0], values**2)
    values = values / norms.sqrt().clamp_min(1e-12)[index[0]]
    profiles = torch.sparse_coo_tensor(index, values, rows.shape, check_invariants=False)
    return {t: r.t() for t, r in held.items()}, profiles.coalesce()


#: user × user similarities ``user_knn`` holds at once (64 MB of float32): a chunk of users is
#: scored in slices, so memory stays bounded however many users the graph has
USER_KNN_BLOCK = 1 << 24


def _user_knn(profiles: Tensor, held_t: Tensor, users: Tensor, neighbours: int) -> Tensor:
    """``users`` × candidates: the summed similarity of each user's nearest other users that
    hold the candidate in training (the user's own row never counts, so a user's training
    edges cannot vote for themselves)."""
    step = max(1, USER_KNN_BLOCK // profiles.shape[0])
    return torch.cat(
        [
            _neighbour_votes(profiles, held_t, users[i : i + step], neighbours)
            for i in range(0, len(users), step)
        ]
    )


def _neighbour_votes(profiles: Tensor, held_t: Tensor, users: Tensor, neighbours: int) -> Tensor:
    similarity = torch.sparse.mm(profiles, profiles.index_select(0, users).to_dense().T).T
    similarity[torch.arange(len(users), device=users.device), users] = float("-inf")
    nearest = similarity.topk(min(neighbours, similarity.shape[1] - 1), dim=1)
    weights = torch.zeros_like(similarity).scatter_(1, nearest.indices, nearest.values.clamp_min(0))
    return torch.sparse.mm(held_t, weights.T).T


#: how far ``rp3beta`` may discount a candidate by its popularity (Paudel et al.'s beta): the
#: values ``train`` chooses among per target on validation. Why a choice and not one value:
#: on MovieLens 0.5 ranks warm users best and 0 new users (their held-out films are head items)
RP3_BETAS = (0.0, 0.25, 0.5, 0.75)


def _walk_steps(graph: Graph, target: str, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """The random walk's transitions over ``target``'s training edges, each uniform over the
    node's edges: candidate → user as a sparse ``[users, candidates]`` matrix, user → candidate
    as a sparse ``[candidates, users]`` one, and each candidate's training degree."""
    users = torch.arange(graph.num_nodes["user"], device=device)
    held = _rows_of(graph, target, users, graph.num_nodes[TARGETS[target][1]])
    index, ones = held.indices(), held.values()
    user_degree = torch.zeros(held.shape[0], device=device).index_add_(0, index[0], ones)
    degree = torch.zeros(held.shape[1], device=device).index_add_(0, index[1], ones)
    to_users = torch.sparse_coo_tensor(
        index, 1.0 / degree[index[1]], held.shape, check_invariants=False
    )
    to_candidates = torch.sparse_coo_tensor(
        index.flip(0),
        1.0 / user_degree[index[0]],
        (held.shape[1], held.shape[0]),
        check_invariants=False,
    )
    return to_users.coalesce(), to_candidates.coalesce(), degree


def _random_walk(
    to_users: Tensor, to_candidates: Tensor, degree: Tensor, users: Tensor, beta: float
) -> Tensor:
    """``users`` × candidates: the probability of user → candidate → user → candidate
    (:func:`_walk_steps`), over the candidate's degree to the power ``beta``. Computed as two
    sparse products through the users (never the candidate × candidate matrix, which outgrows
    memory on large catalogues), in slices of users whose dense rows through the users and
    through the candidates each stay within :data:`USER_KNN_BLOCK` values."""
    step = max(1, USER_KNN_BLOCK // max(to_users.shape))
    rows = []
    for i in range(0, len(users), step):
        start = to_candidates.index_select(1, users[i : i + step]).to_dense()
        back = torch.sparse.mm(to_users, start)
        rows.append(torch.sparse.mm(to_candidates, back).T)
    return torch.cat(rows) / degree.clamp_min(1.0).pow(beta)


#: the shrinkages ``whitened_content`` chooses among per target on validation, in units of the
#: mean eigenvalue of the candidates' ``EᵀE`` (so one grid serves any catalogue size). On the
#: cold items of movielens-small and Last.fm (``item-cold``, seed 0) validation ranked best at
#: about 4 and 22: the grid spans both, four times apart
WHITENING_SHRINKS = (1.0, 4.0, 16.0, 64.0, 256.0)


def _whitened(candidates: Tensor, shrink: float) -> Tensor:
    """``(EᵀE + μI)⁻¹ Eᵀ`` for the candidates' embeddings ``E``, ``μ`` = ``shrink`` × the mean
    eigenvalue of ``EᵀE``: features × candidates, so a user's scores are their profile times it.
    Computed in float64 through a Cholesky factor and rounded to float32, as ``ease``'s weights
    are, so the last bits do not depend on the thread count."""
    e = candidates.double()
    second = e.T @ e
    second.diagonal().add_(shrink * float(second.diagonal().mean()))
    inverse = torch.cholesky_inverse(torch.linalg.cholesky(second))
    return (inverse @ e.T).float()


#: the L2 penalties ``ease`` chooses among per target on validation. Steck reports 200-1000 on
#: MovieLens-20M, Netflix and the Million Song Data; on the warm users of movielens-small and
#: Last.fm 100 ranked best and on movielens-small's new users 6,400, hence a wide grid, four
#: times apart (each value is one fit: 40 s for 9,700 items on one thread, 2.7 min for 17,600)
EASE_PENALTIES = (25.0, 100.0, 400.0, 1600.0, 6400.0)
#: the most candidates ``ease`` fits for: its weights are a dense candidates × candidates
#: matrix (20,000: 1.6 GB of float32, about three times that while inverting)
EASE_MAX_CANDIDATES = 20_000


def _ease_weights(graph: Graph, target: str, penalty: float) -> Tensor:
    """EASE's closed form: with ``P = (XᵀX + penalty·I)⁻¹`` over the training rows ``X``, the
    weight of candidate i for candidate j is ``-P[i, j] / P[j, j]``, and 0 for i = j. The Gram
    matrix is summed over slices of users (sparse × dense), so no dense users × candidates
    matrix is ever held."""
    width = graph.num_nodes[TARGETS[target][1]]
    users = torch.arange(graph.num_nodes["user"], device=_relation(graph, target).device)
    gram = torch.zeros(width, width, device=users.device)
    step = max(1, USER_KNN_BLOCK // width)
    for i in range(0, len(users), step):
        rows = _rows_of(graph, target, users[i : i + step], width)
        gram.add_(torch.sparse.mm(rows.t().coalesce(), rows.to_dense()))
    gram.diagonal().add_(penalty)
    # the penalised Gram matrix is symmetric positive definite, so it is inverted through its
    # Cholesky factor, in float64 and then rounded to float32: a factorisation's last bits
    # depend on the thread count, and rounding drops them, so sharded scoring (one thread a
    # worker) ranks exactly as one process does. At 5,000 candidates on one thread this takes
    # 4.4 s, as long as a general float32 inverse (4.6 s)
    factor = torch.linalg.cholesky(gram.double())
    del gram
    inverse = torch.cholesky_inverse(factor)
    del factor
    inverse.div_(inverse.diagonal().neg())  # neg() copies: each column j over -P[j, j]
    weights = inverse.float()
    del inverse
    return weights.fill_diagonal_(0.0)


class BaselineMix(nn.Module):
    """Our model's scores mixed, per target, with one static baseline's (``partner``).

    Why: the partners err differently from the model. ``content`` (the user's items' mean text ·
    the candidate's text): where ids carry little (a cold item, a new user, an artist known
    only by its name), direct text similarity can rank better than the model's projection of
    text into the collaborative space. ``user_knn``: the neighbourhood votes of similar users,
    a memory of exact co-occurrence that low-rank embeddings smooth away. ``rp3beta``: the
    random walk through the items' other users, discounted by popularity, which on Last.fm's
    warm users ranks level with LightGCN while erring differently. ``ease``: the item-item
    regression, the strongest baseline on MovieLens' warm users. Each row of the model's scores
    and the partner's is standardised over the candidates (the scales are unrelated), then
    ``weight × model + (1 − weight) × partner``; a weight of 1, or a target the partner cannot
    score, is the model alone, bit for bit.
    The weights are chosen on validation (:func:`training.experiment.choose_mixes`), the
    partner's own setting too (:func:`training.experiment.choose_setting`). The partner is
    built once on the graph the model was loaded with and reads the graph handed to
    :meth:`embed` through :meth:`StaticScorer.on`, so a graph extended with a new user scores
    that user's profile too, without refitting what the partner fitted.
    """

    def __init__(self, model: nn.Module, weights: dict[str, float], partner: StaticScorer):
        super().__init__()
        self.model = model
        self.weights = dict(weights)
        self.partner = partner

    @property
    def targets(self) -> list[str]:
        return list(self.model.targets)

    def embed(self, graph: Graph) -> dict[str, object]:
        return {
            "model": self.model.embed(graph),
            "graph": graph,
            "partner": self.partner.on(graph),
        }

    def mixes_in(self, target: str, partner: StaticScorer) -> bool:
        """Whether ``target`` ranks with ``partner`` (this mix's, on the graph being scored) at
        all: a weight below 1 and a target the partner can score; otherwise the model alone."""
        return self.weights.get(target, 1.0) < 1.0 and partner.supports(target)

    def matrix(self, emb: dict[str, object], target: str, src: Tensor) -> Tensor:
        ours = self.model.matrix(emb["model"], target, src)
        weight = self.weights.get(target, 1.0)
        partner = emb["partner"]
        assert isinstance(partner, StaticScorer)
        if not self.mixes_in(target, partner):
            return ours
        graph = emb["graph"]
        assert isinstance(graph, Graph)
        theirs = partner.matrix(graph.x, target, src)
        return weight * _standardised(ours.float()) + (1.0 - weight) * _standardised(theirs)


def fit_partners(model: nn.Module) -> None:
    """Fit now what the mix partners inside ``model`` share with graphs extended by new users
    (``ease``'s weights and ``whitened_content``'s whitened candidates, for each target that
    mixes them in), so a server's first concurrent new-user requests find them fitted instead
    of each fitting its own copy."""
    for module in model.modules():
        if isinstance(module, BaselineMix):
            for target in module.weights:
                if module.mixes_in(target, module.partner):
                    module.partner.fit(target)


def _standardised(rows: Tensor) -> Tensor:
    """Each row minus its mean over the candidates, over its standard deviation (a constant
    row, such as a user with no training items under ``content``, becomes zeros)."""
    centred = rows - rows.mean(dim=1, keepdim=True)
    return centred / rows.std(dim=1, keepdim=True).clamp_min(1e-6)
