"""``/health`` answers 200 with a database, 503 (quickly, no detail) without."""

def test_health_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_health_without_database_is_503(make_app):
    # Nothing listens on port 1: the connection is refused at once.
    app = make_app("postgresql+psycopg://keyholder:pw@127.0.0.1:1/none?connect_timeout=2")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}
    assert b"pw" not in response.data and b"127.0.0.1" not in response.data
