"""Templates are compiled once per machine (idp.infrastructure.compiled_templates):
the first process to render a page leaves its compiled code in the cache
folder, the next one renders it without compiling, and a changed template is
compiled again. The database cannot matter: one."""

from __future__ import annotations

import jinja2
import pytest

from tests.support.databases import ONE_DATABASE

pytestmark = ONE_DATABASE


@pytest.fixture
def compilations(monkeypatch, tmp_path) -> list[str]:
    """The names of the templates Jinja compiles from source, in a cache
    folder of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    compiled = []
    original = jinja2.Environment._compile

    def counting(self, source, filename):
        compiled.append(filename)
        return original(self, source, filename)

    monkeypatch.setattr(jinja2.Environment, "_compile", counting)
    return compiled


def test_a_page_compiled_by_one_process_is_not_compiled_again(make_app, database_url,
                                                              compilations, tmp_path):
    first = make_app(database_url)
    assert first.test_client().get("/login").status_code == 200
    assert any(name.endswith("login.html") for name in compilations)
    cached = list((tmp_path / "cache" / "keyholder" / "templates").glob("idp-*.cache"))
    assert len(cached) >= len(compilations) > 0

    compilations.clear()
    second = make_app(database_url)  # another process would start the same way
    assert second.test_client().get("/login").status_code == 200
    assert compilations == []


def render(app, folder) -> str:
    app.jinja_env.loader = jinja2.FileSystemLoader(folder)
    with app.app_context():
        return app.jinja_env.get_template("page.html").render()


def test_a_changed_template_is_compiled_again(make_app, database_url, compilations,
                                              tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "page.html").write_text("before")
    assert render(make_app(database_url), folder) == "before"
    assert render(make_app(database_url), folder) == "before"
    assert [name.rsplit("/", 1)[-1] for name in compilations] == ["page.html"]

    (folder / "page.html").write_text("after")  # as after an upgrade of the package
    assert render(make_app(database_url), folder) == "after"
    assert [name.rsplit("/", 1)[-1] for name in compilations] == ["page.html"] * 2
