"""``keyholder purge``: what has expired goes, what is alive stays."""

from datetime import timedelta

from sqlalchemy import func, select

from idp.clients.registry import register_client
from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.infrastructure.housekeeping import GRACE, purge
from idp.login.models import SsoSession, ThrottleCounter
from idp.protocol.tokens.models import (
    AuthorizationCode,
    RefreshToken,
    RevokedAccessToken,
    TokenGrant,
)
from tests.factories import PersonFactory


def rows(app, model) -> int:
    with database.new_session(app) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_purge_forgets_the_expired_and_keeps_the_living(app, db, runner):
    now = utcnow()
    person = PersonFactory()
    client = register_client(db, app, "Cloud", "web",
                             redirect_uris=["https://cloud.example/cb"]).client
    for age, ended in ((timedelta(0), None), (GRACE + timedelta(hours=1), now - GRACE * 2)):
        sso = SsoSession(secret_hash=f"s{age}", sid=f"sid{age}", person=person,
                         auth_time=now - age, amr=["pwd"], expires_at=now - age + timedelta(
                             hours=1), ended_at=ended)
        db.add(sso)
        db.add(AuthorizationCode(
            code_hash=f"c{age}", client_id=client.id, person_id=person.id,
            redirect_uri="https://cloud.example/cb", code_challenge="x" * 43,
            code_challenge_method="S256", auth_time=now, expires_at=now - age + timedelta(
                seconds=60), used_at=now))
        family = TokenGrant(id=f"g{age.days}{age.seconds}", client_id=client.id,
                            person_id=person.id, expires_at=now - age + timedelta(minutes=1))
        db.add(family)
        db.add(RefreshToken(token_hash=f"r{age}", grant_id=family.id))
        db.add(RevokedAccessToken(jti=f"j{age}", expires_at=now - age + timedelta(minutes=1)))
        db.add(ThrottleCounter(key=f"k{age}", window_start=now - age, failures=1))
    db.commit()

    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    for model in (SsoSession, AuthorizationCode, TokenGrant, RefreshToken, RevokedAccessToken,
                  ThrottleCounter):
        assert rows(app, model) == 1, model.__name__
    assert "authorization_code=1" in result.output and "token_grant=1" in result.output
    again = purge(app)
    assert set(again.values()) == {0}  # nothing left to do
