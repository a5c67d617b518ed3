"""The services look like the provider: they serve its one stylesheet (a
static file: on one database)."""

import requests

from idp.infrastructure.security_headers import STATIC
from tests.support.databases import ONE_DATABASE

pytestmark = ONE_DATABASE


def test_the_providers_stylesheet_is_served_by_a_service(the_cloud):
    response = requests.get(the_cloud.url + "/static/keyholder.css", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/css")
    assert response.content == (STATIC / "keyholder.css").read_bytes()
