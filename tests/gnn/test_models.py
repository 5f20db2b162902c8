"""Model code on a tiny graph: every encoder runs forward and backward, cold nodes get no id
embedding, decoders agree between pair and matrix scoring."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from gnn.encoders import CONVS, HeteroEncoder
from gnn.graph import Graph
from gnn.models import (
    BaselineMix,
    LightGCNBaseline,
    LinkPredictor,
    PerTargetModel,
    StaticScorer,
    VariantEnsemble,
    fit_partners,
)


def _graph() -> Graph:
    ui = torch.tensor([[0, 0, 1, 2], [0, 1, 1, 2]])
    ut = torch.tensor([[0, 1], [0, 1]])
    it = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])
    edges = {
        ("user", "user_item", "item"): ui,
        ("item", "rev_user_item", "user"): ui.flip(0),
        ("user", "user_interest", "interest"): ut,
        ("interest", "rev_user_interest", "user"): ut.flip(0),
        ("item", "has_interest", "interest"): it,
        ("interest", "rev_has_interest", "item"): it.flip(0),
    }
    num = {"user": 3, "item": 4, "interest": 2}
    x = {t: torch.nn.functional.normalize(torch.randn(n, 8), dim=-1) for t, n in num.items()}
    mask = {
        "user": torch.tensor([True, True, True]),
        "item": torch.tensor([True, True, True, False]),  # item 3 is cold
        "interest": torch.tensor([True, True]),
    }
    return Graph(num, edges, x, mask)


@pytest.mark.parametrize("conv", CONVS)
@pytest.mark.parametrize("decoder", ["dot", "mlp"])
def test_every_encoder_trains(conv: str, decoder: str) -> None:
    torch.manual_seed(0)
    graph = _graph()
    model = LinkPredictor(
        HeteroEncoder(graph.num_nodes, 8, list(graph.edge_index), dim=8, layers=2, conv=conv),
        8,
        decoder,
    )
    emb = model.embed(graph)
    assert emb["item"].shape == (4, 8)
    users, items = torch.tensor([0, 1]), torch.tensor([1, 2])
    pairs = model.pairs(emb, "user_item", users, items)
    matrix = model.matrix(emb, "user_item", users)
    assert torch.allclose(pairs, matrix[torch.arange(2), items], atol=1e-5)
    pairs.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_cold_nodes_get_no_id_embedding() -> None:
    graph = _graph()
    encoder = HeteroEncoder(graph.num_nodes, None, list(graph.edge_index), dim=8, layers=0)
    assert torch.count_nonzero(encoder.inputs(graph)["item"][3]) == 0
    assert torch.count_nonzero(encoder.inputs(graph)["item"][2]) > 0


def test_lightgcn_baseline_and_static_scorers() -> None:
    graph = _graph()
    model = LightGCNBaseline(graph.num_nodes, dim=8, layers=2)
    emb = model.embed(graph)
    assert model.matrix(emb, "user_interest", torch.tensor([0, 2])).shape == (2, 2)
    popularity = StaticScorer("popularity", graph)
    assert popularity.matrix(graph.x, "user_item", torch.tensor([0]))[0].tolist() == [1, 2, 1, 0]
    of_items = StaticScorer("interests_of_items", graph)
    # user 0 has items 0 and 1, both carry interest 0
    assert of_items.matrix(graph.x, "user_interest", torch.tensor([0]))[0].tolist() == [2, 0]


def test_user_knn_sums_the_similarity_of_other_users_that_hold_the_candidate() -> None:
    graph = _graph()
    knn = StaticScorer("user_knn", graph)
    # profiles over (items, interests): user 0 {i0, i1, t0}, user 1 {i1, t1}, user 2 {i2}; user 1
    # shares i1 with user 0 only: cosine 1 / (sqrt(3) sqrt(2))
    shared = 1 / (3**0.5 * 2**0.5)
    items = knn.matrix(graph.x, "user_item", torch.tensor([1, 2]))
    assert torch.allclose(items[0], torch.tensor([shared, shared, 0.0, 0.0]))
    assert torch.count_nonzero(items[1]) == 0  # user 2 shares nothing with anyone
    interests = knn.matrix(graph.x, "user_interest", torch.tensor([1]))
    assert torch.allclose(interests[0], torch.tensor([shared, 0.0]))  # not its own t1


def test_user_knn_scores_alike_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _graph()
    users = torch.tensor([2, 0, 1])
    whole = StaticScorer("user_knn", graph).matrix(graph.x, "user_item", users)
    monkeypatch.setattr("gnn.models.USER_KNN_BLOCK", 1)  # one user per slice
    sliced = StaticScorer("user_knn", graph).matrix(graph.x, "user_item", users)
    assert torch.equal(whole, sliced) and torch.count_nonzero(whole) > 0


def test_rp3beta_is_the_three_step_walk_over_the_training_edges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graph = _graph()
    # user 1 holds i1 only; i1 is held by users 0 and 1 (1/2 each); user 0 walks on to i0 or i1
    # (1/2 each), user 1 back to i1: i0 1/4, i1 1/2 + 1/4; user 0 lands on i0 3/8 and i1 5/8
    walk = StaticScorer("rp3beta", graph).matrix(graph.x, "user_item", torch.tensor([1, 0, 2]))
    assert torch.allclose(walk[0], torch.tensor([0.25, 0.75, 0.0, 0.0]))
    assert torch.allclose(walk[1], torch.tensor([0.375, 0.625, 0.0, 0.0]))
    assert torch.allclose(walk.sum(dim=1), torch.ones(3))  # a probability over the candidates
    monkeypatch.setattr("gnn.models.USER_KNN_BLOCK", 1)  # one user per slice, the same walk
    discounted = StaticScorer("rp3beta", graph, {"user_item": 0.5}).matrix(  # i1 by sqrt(2)
        graph.x, "user_item", torch.tensor([1])
    )
    assert torch.allclose(discounted[0], torch.tensor([0.25, 0.75 / 2**0.5, 0.0, 0.0]))


@pytest.mark.parametrize("block", [1 << 24, 1])  # the Gram matrix whole, or one user a slice
def test_ease_is_each_candidates_ridge_regression_on_the_others(
    monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr("gnn.models.USER_KNN_BLOCK", block)
    graph, penalty = _graph(), 0.5
    held = torch.zeros(3, 4, dtype=torch.float64)
    held[graph.edge_index[("user", "user_item", "item")].unbind()] = 1.0
    # the reference, column by column: candidate j regressed on every other candidate's column
    weights = torch.zeros(4, 4, dtype=torch.float64)
    for j in range(4):
        others = [i for i in range(4) if i != j]
        x = held[:, others]
        solution = torch.linalg.solve(x.T @ x + penalty * torch.eye(3), x.T @ held[:, j])
        weights[others, j] = solution
    users = torch.tensor([1, 0, 2])
    scorer = StaticScorer("ease", graph, penalties={"user_item": penalty})
    scores = scorer.matrix(graph.x, "user_item", users)
    assert torch.allclose(scores.double(), held[users] @ weights, atol=1e-5)
    assert torch.count_nonzero(scores) > 0
    scorer.penalties = {"user_item": 4 * penalty}  # a new penalty refits: more shrinkage
    assert scorer.matrix(graph.x, "user_item", users).abs().sum() < scores.abs().sum()


@pytest.mark.parametrize("target", ["user_item", "user_interest"])
def test_whitened_content_is_the_items_profile_through_the_candidates_ridge_inverse(
    target: str,
) -> None:
    graph, shrink = _graph(), 4.0
    held = torch.zeros(3, 4, dtype=torch.float64)
    held[graph.edge_index[("user", "user_item", "item")].unbind()] = 1.0
    candidates = graph.x["item" if target == "user_item" else "interest"].double()
    second = candidates.T @ candidates
    mu = shrink * second.trace() / second.shape[0]  # in units of the mean eigenvalue
    users = torch.tensor([1, 0, 2])
    expected = (
        held[users]
        @ graph.x["item"].double()
        @ torch.linalg.solve(second + mu * torch.eye(8, dtype=torch.float64), candidates.T)
    )
    scorer = StaticScorer("whitened_content", graph, shrinks={target: shrink})
    scores = scorer.matrix(graph.x, target, users)
    assert torch.allclose(scores.double(), expected, atol=1e-5)
    assert torch.count_nonzero(scores[:, 3] if target == "user_item" else scores) > 0  # cold i3
    scorer.shrinks = {target: 64 * shrink}  # a new shrinkage recomputes: more of it, smaller
    assert scorer.matrix(graph.x, target, users).abs().sum() < scores.abs().sum()


def test_ease_scores_no_target_beyond_its_candidate_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gnn.models.EASE_MAX_CANDIDATES", 3)  # 4 items, 2 interests
    scorer = StaticScorer("ease", _graph())
    assert not scorer.supports("user_item") and scorer.supports("user_interest")


def _dense_reference(graph: Graph) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` written out densely, the formula the CSR builders must match."""
    total = sum(graph.num_nodes.values())
    a = torch.zeros(total, total)
    offsets = graph.offsets
    for (src, _, dst), index in graph.edge_index.items():
        a.index_put_((index[0] + offsets[src], index[1] + offsets[dst]), torch.ones(1), True)
    inv = a.sum(1).clamp(min=1).pow(-0.5)
    return inv[:, None] * a * inv[None, :]


def test_hidden_links_are_cut_and_the_rest_renormalised() -> None:
    graph = _graph()
    offsets, total = graph.offsets, sum(graph.num_nodes.values())
    assert torch.allclose(graph.adjacency().to_dense(), _dense_reference(graph))
    hidden = torch.zeros(total, dtype=torch.bool)
    hidden[offsets["item"] + 1] = True  # item 1: users 0 and 1 bought it, it carries interest 0
    users = torch.zeros(total, dtype=torch.bool)
    users[: graph.num_nodes["user"]] = True
    cut = graph.adjacency(frozenset(), hidden, users).to_dense()
    ui = torch.tensor([[0, 2], [0, 2]])  # the user_item edges less item 1's
    expected = Graph(
        graph.num_nodes,
        {**graph.edge_index, ("user", "user_item", "item"): ui},
        graph.x,
        graph.id_mask,
    )
    expected.edge_index[("item", "rev_user_item", "user")] = ui.flip(0)
    assert torch.allclose(cut, _dense_reference(expected))
    assert torch.allclose(graph.adjacency().to_dense(), _dense_reference(graph))  # cache intact


def test_items_trained_as_cold_lose_their_ids_only_in_training() -> None:
    graph = _graph()
    torch.manual_seed(3)
    encoder = HeteroEncoder(
        graph.num_nodes, 8, list(graph.edge_index), dim=8, layers=2, cold_items=0.99
    )
    encoder.train()
    encoder(graph)["item"].sum().backward()
    # with 0.99 every item is drawn as cold on this seed: no id row gets a gradient
    assert encoder.ids["item"].weight.grad.abs().sum() == 0
    assert encoder.ids["user"].weight.grad.abs().sum() > 0
    encoder.zero_grad()
    encoder.eval()
    encoder(graph)["item"].sum().backward()
    assert encoder.ids["item"].weight.grad[:3].abs().sum() > 0  # item 3 is cold anyway


def test_cold_items_need_propagation_with_features() -> None:
    graph = _graph()
    with pytest.raises(ValueError, match="cold_items needs"):
        HeteroEncoder(graph.num_nodes, None, list(graph.edge_index), dim=8, cold_items=0.2)
    with pytest.raises(ValueError, match="cold_items needs"):
        HeteroEncoder(
            graph.num_nodes, 8, list(graph.edge_index), dim=8, conv="sage", cold_items=0.2
        )


@pytest.mark.parametrize("partner", ["content", "whitened_content", "user_knn", "rp3beta", "ease"])
def test_a_mix_is_the_model_alone_at_weight_one_and_a_standardised_blend_below(
    partner: str,
) -> None:
    torch.manual_seed(0)
    graph = _graph()
    model = PerTargetModel(
        {"user_item": LinkPredictor(HeteroEncoder(graph.num_nodes, 8, list(graph.edge_index)), 64)}
    )
    users = torch.tensor([0, 1, 2])
    ours = model.matrix(model.embed(graph), "user_item", users)
    alone = BaselineMix(model, {"user_item": 1.0}, StaticScorer(partner, graph))
    assert torch.equal(alone.matrix(alone.embed(graph), "user_item", users), ours)

    settings = {  # rp3beta's, ease's, whitened content's
        "betas": {"user_item": 0.5},
        "penalties": {"user_item": 2.0},
        "shrinks": {"user_item": 16.0},
    }
    mixed = BaselineMix(model, {"user_item": 0.6}, StaticScorer(partner, graph, **settings))
    theirs = StaticScorer(partner, graph, **settings).matrix(graph.x, "user_item", users)

    def z(rows: torch.Tensor) -> torch.Tensor:  # a constant row (user_knn's user 2) becomes 0
        return (rows - rows.mean(1, keepdim=True)) / rows.std(1, keepdim=True).clamp_min(1e-6)

    expected = 0.6 * z(ours) + 0.4 * z(theirs)
    assert torch.allclose(mixed.matrix(mixed.embed(graph), "user_item", users), expected)
    assert mixed.targets == ["user_item"]


def test_a_mix_leaves_a_target_its_partner_cannot_score_to_the_model() -> None:
    graph = _graph()
    model = PerTargetModel(
        {"user_item": LinkPredictor(HeteroEncoder(graph.num_nodes, 8, list(graph.edge_index)), 64)}
    ).eval()
    users = torch.tensor([0, 1, 2])
    partner = StaticScorer("interests_of_items", graph)  # scores interests, never items
    mixed = BaselineMix(model, {"user_item": 0.2}, partner)
    ours = model.matrix(model.embed(graph), "user_item", users)
    assert torch.equal(mixed.matrix(mixed.embed(graph), "user_item", users), ours)


def test_a_new_user_is_folded_into_eases_weights_and_read_afresh_by_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graph = _graph()
    links = {("user", "user_item", "item"): torch.tensor([1, 3])}
    extended = graph.with_node("user", torch.randn(8), links)
    new_user = torch.tensor([graph.num_nodes["user"]])
    ease = StaticScorer("ease", graph, penalties={"user_item": 0.5})
    known = ease.matrix(graph.x, "user_item", torch.tensor([0, 1, 2]))
    weights = ease._ease["user_item"][1]

    def no_refit(*_: object) -> torch.Tensor:
        raise AssertionError("the extended graph refitted EASE")

    monkeypatch.setattr("gnn.models._ease_weights", no_refit)
    on_extended = ease.on(extended)
    assert ease.on(graph) is ease
    # the new user's score is their row times the weights fitted without them
    assert torch.allclose(
        on_extended.matrix(extended.x, "user_item", new_user), weights[[1, 3]].sum(0)
    )
    assert torch.equal(on_extended.matrix(extended.x, "user_item", torch.tensor([0, 1, 2])), known)
    # whitened content, too, scores the new user with what it computed on the loaded graph
    whitened = StaticScorer("whitened_content", graph)
    whitened.matrix(graph.x, "user_item", torch.tensor([0]))
    monkeypatch.setattr("gnn.models._whitened", no_refit)
    scores = whitened.on(extended).matrix(extended.x, "user_item", new_user)
    computed = whitened._whitened["user_item"][1]
    assert torch.allclose(scores, graph.x["item"][[1, 3]].sum(0) @ computed)
    # the walk reads the new user's own row on the extended graph
    walk = StaticScorer("rp3beta", graph).on(extended)
    assert walk.matrix(extended.x, "user_item", new_user)[0, [1, 3]].min() > 0
    # a graph with other candidates fits its own weights
    monkeypatch.undo()
    other = Graph(
        {**graph.num_nodes, "item": 5},
        graph.edge_index,
        {**graph.x, "item": torch.randn(5, 8)},
        {**graph.id_mask, "item": torch.ones(5, dtype=torch.bool)},
    )
    assert ease.on(other).matrix(other.x, "user_item", torch.tensor([0])).shape == (1, 5)


def test_fit_partners_fits_eases_weights_once_for_every_request_on_extended_graphs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graph = _graph()
    model = PerTargetModel(
        {"user_item": LinkPredictor(HeteroEncoder(graph.num_nodes, 8, list(graph.edge_index)), 64)}
    ).eval()
    unmixed = StaticScorer("ease", graph)
    fit_partners(BaselineMix(model, {"user_item": 1.0}, unmixed))
    assert unmixed._ease == {}  # a target that does not mix ease in fits nothing
    mixed = BaselineMix(model, {"user_item": 0.5}, StaticScorer("ease", graph))
    fit_partners(mixed)
    assert set(mixed.partner._ease) == {"user_item"}
    whitened = StaticScorer("whitened_content", graph)
    fit_partners(BaselineMix(model, {"user_item": 0.5}, whitened))
    assert set(whitened._whitened) == {"user_item"}  # computed at load, not by a request

    def no_refit(*_: object) -> torch.Tensor:
        raise AssertionError("a request fitted EASE again")

    monkeypatch.setattr("gnn.models._ease_weights", no_refit)

    def new_user_scores(items: list[int]) -> torch.Tensor:
        links = {("user", "user_item", "item"): torch.tensor(items)}
        extended = graph.with_node("user", torch.randn(8), links)
        with torch.no_grad():
            emb = mixed.embed(extended)
            return mixed.matrix(emb, "user_item", torch.tensor([graph.num_nodes["user"]]))

    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(new_user_scores, [[0, 1], [1, 3], [2], [0, 3]]))
    assert all(r.shape == (1, graph.num_nodes["item"]) and torch.isfinite(r).all() for r in rows)


def test_an_ensemble_averages_its_members_standardised_rows() -> None:
    torch.manual_seed(0)
    graph = _graph()
    members = {
        name: LinkPredictor(HeteroEncoder(graph.num_nodes, 8, list(graph.edge_index), dim=8), 8)
        for name in ("a", "b")
    }
    users = torch.tensor([0, 1, 2])
    rows = {n: m.matrix(m.embed(graph), "user_item", users) for n, m in members.items()}

    def z(rows: torch.Tensor) -> torch.Tensor:
        return (rows - rows.mean(1, keepdim=True)) / rows.std(1, keepdim=True)

    ensemble = VariantEnsemble(members)
    scores = ensemble.matrix(ensemble.embed(graph), "user_item", users)
    assert torch.allclose(scores, (z(rows["a"]) + z(rows["b"])) / 2, atol=1e-6)
    # one member ranks exactly as it does alone
    single = VariantEnsemble({"a": members["a"]})
    alone = single.matrix(single.embed(graph), "user_item", users)
    assert torch.equal(alone.argsort(dim=1, stable=True), rows["a"].argsort(dim=1, stable=True))
