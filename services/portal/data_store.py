"""Where the portal keeps its handle on the operator's data store (in the app's
extensions), shared by its app and its views."""

DATABASE = "portal.sessionmaker"
ENGINE = "portal.engine"
