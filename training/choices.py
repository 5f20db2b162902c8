"""What a user can choose by name: split modes, variants of our model, baselines.

Plain data with no torch import, so that the CLI can name the choices in its help text and check
them without loading the model code (``interestgraph --help`` stays fast).
"""

from __future__ import annotations

from typing import Any

MODES = ("user-random", "temporal", "temporal-user", "item-cold", "user-cold", "published")

LEARNED_BASELINES = ("mf_bpr", "lightgcn")
STATIC_BASELINES = (
    "popularity",
    "llm_cosine",
    "content",
    "whitened_content",
    "interest_profile",
    "interests_of_items",
    "user_knn",
    "rp3beta",
    "ease",
)
BASELINES = ("popularity", "mf_bpr", "lightgcn", *STATIC_BASELINES[1:])
#: baselines that need interest nodes in the graph
INTEREST_BASELINES = ("interest_profile", "interests_of_items")

#: The variants ``train`` chooses among on validation, per target (what each changes on top of
#: the configured model). ``lightgcn`` is exactly LightGCN: ids only, propagation over the
#: target edges alone, no perturbation or contrastive loss, L2 on layer 0; so the shipped model
#: never loses to its own LightGCN-equivalent on validation.
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no_cl": {"noise": 0.0, "cl_weight": 0.0},
    "no_features": {"use_features": False, "use_ids": True, "cold_items": 0.0},
    "no_interests": {"exclude": ("user_interest", "has_interest", "related_to")},
    "lightgcn": {
        "use_features": False,
        "use_ids": True,
        "noise": 0.0,
        "cl_weight": 0.0,
        "cold_items": 0.0,
        "exclude": ("has_interest", "friend", "related_to"),
    },
}

#: the static baselines our model is mixed with, where validation chooses so, in the order the
#: mixes apply (:class:`gnn.models.BaselineMix`): the content baselines (plain, then whitened:
#: on cold items the whitened one ranks far above the plain one, and its weight is chosen on top
#: of it), user-KNN, RP3beta, then EASE (last: on MovieLens' warm users it ranks above the other
#: three and the model, and its weight is chosen on top of theirs)
MIX_PARTNERS = ("content", "whitened_content", "user_knn", "rp3beta", "ease")

#: validation users a target needs before ``train`` chooses its weight against a mix partner,
#: unless it holds :data:`MIX_MIN_PAIRS` held-out pairs: on MovieLens' 40-odd validation users
#: with tags (220-440 pairs) the choice followed noise and cost up to 8% on test, so such a
#: target keeps the model alone
MIX_MIN_USERS = 100
#: held-out validation pairs that let a target with fewer than :data:`MIX_MIN_USERS` users
#: choose all the same. Why: Recall@20 is a mean of per-user fractions, and a user with a
#: hundred held-out items measures a ranking far more finely than one with four tags; the 30-odd
#: new users of MovieLens' ``user-cold`` hold 2,800-6,000 pairs, and there the choice gained
#: 9-14% test Recall@20 over five seeds, where the model alone trailed ``user_knn``
MIX_MIN_PAIRS = 1000
