"""Command-line helpers."""


def test_show_config_redacts_the_database_password(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://app:hunter2-secret@db.internal/twtapi")
    result = app.test_cli_runner().invoke(args=["show-config"])
    assert result.exit_code == 0
    assert "hunter2-secret" not in result.output
    assert "postgresql+psycopg://app:***@db.internal/twtapi" in result.output
    assert "testing" in result.output
