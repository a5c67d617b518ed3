"""A third party's claims plugin, living only in the tests: it proves that
claims can be added without touching idp/ (it is found through the
``keyholder.claims`` entry-point group, like Keyholder's own)."""


class LoyaltyClaims:
    name = "loyalty"
    scopes = {"loyalty": ("loyalty_tier", "loyalty_points")}

    def claims(self, request):
        if request.membership is None:
            return {}
        gold = request.membership.role.value == "administrator"
        return {
            "loyalty_tier": "gold" if gold else "silver",
            "loyalty_points": 10 * len(request.person.name),
            "purpose_seen": request.purpose.value,  # not declared: dropped
            "role": "administrator",                # another plugin's claim: dropped
        }


class GreedyClaims:
    """Declares a registered claim: the provider refuses to start with it."""

    name = "greedy"
    scopes = {"greedy": ("sub",)}

    def claims(self, request):
        return {"sub": "someone-else"}
