"""The store's schema and its forward migrations.

Each migration is a list of statements applied in one transaction; ``schema_version`` records the
highest applied. A store written by a newer version of the package is refused instead of being
opened and silently corrupted.

Design notes (why the tables look like this):
- ``metrics`` has no primary key or index: DuckDB's ART indexes slow bulk Arrow inserts by an
  order of magnitude, and zone maps make the per-run scans of a history fast enough.
- ``latest_metrics`` is kept current on every write so that run tables and search never scan the
  history.
- ``write_batches`` holds one row per applied batch id (one bound lookup and one insert per
  batch): the metrics table has no key to deduplicate on, so the batch id is what makes a
  replay a no-op.
- Every logged item carries the notebook cell it came from (``cell_id``, NULL outside notebooks).
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # version 1: tracking core
    [
        """CREATE TABLE experiments (
            experiment_id BIGINT PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            artifact_location VARCHAR NOT NULL,
            lifecycle_stage VARCHAR NOT NULL DEFAULT 'active',
            creation_time BIGINT NOT NULL,
            last_update_time BIGINT NOT NULL
        )""",
        """CREATE TABLE experiment_tags (
            experiment_id BIGINT NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR,
            PRIMARY KEY (experiment_id, key)
        )""",
        """CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            experiment_id BIGINT NOT NULL,
            run_name VARCHAR NOT NULL,
            user_id VARCHAR,
            status VARCHAR NOT NULL,
            start_time BIGINT NOT NULL,
            end_time BIGINT,
            lifecycle_stage VARCHAR NOT NULL DEFAULT 'active',
            artifact_path VARCHAR NOT NULL,
            parent_run_id VARCHAR,
            deleted_time BIGINT
        )""",
        """CREATE TABLE params (
            run_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            cell_id VARCHAR,
            PRIMARY KEY (run_id, key)
        )""",
        """CREATE TABLE tags (
            run_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            cell_id VARCHAR,
            PRIMARY KEY (run_id, key)
        )""",
        """CREATE TABLE metrics (
            run_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value DOUBLE NOT NULL,
            step BIGINT NOT NULL,
            timestamp BIGINT NOT NULL,
            cell_id VARCHAR
        )""",
        """CREATE TABLE latest_metrics (
            run_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value DOUBLE NOT NULL,
            step BIGINT NOT NULL,
            timestamp BIGINT NOT NULL,
            cell_id VARCHAR,
            PRIMARY KEY (run_id, key)
        )""",
        """CREATE TABLE artifacts (
            run_id VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            size BIGINT NOT NULL,
            media_type VARCHAR,
            cell_id VARCHAR,
            logged_time BIGINT NOT NULL,
            PRIMARY KEY (run_id, path)
        )""",
        """CREATE TABLE datasets (
            experiment_id BIGINT NOT NULL,
            name VARCHAR NOT NULL,
            digest VARCHAR NOT NULL,
            source_type VARCHAR,
            source VARCHAR,
            schema VARCHAR,
            profile VARCHAR,
            PRIMARY KEY (experiment_id, name, digest)
        )""",
        """CREATE TABLE inputs (
            run_id VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            digest VARCHAR NOT NULL,
            context VARCHAR,
            tags VARCHAR,
            cell_id VARCHAR,
            PRIMARY KEY (run_id, name, digest)
        )""",
        """CREATE TABLE cells (
            run_id VARCHAR NOT NULL,
            seq BIGINT NOT NULL,
            cell_id VARCHAR,
            execution_count BIGINT,
            source VARCHAR,
            start_time BIGINT NOT NULL,
            duration_ms DOUBLE,
            outcome VARCHAR NOT NULL,
            error_type VARCHAR,
            error_message VARCHAR,
            PRIMARY KEY (run_id, seq)
        )""",
        """INSERT INTO experiments VALUES
            (0, 'Default', '0', 'active',
             CAST(epoch_ms(now()) AS BIGINT), CAST(epoch_ms(now()) AS BIGINT))""",
    ],
]

MIGRATIONS.append(
    # version 2: logged models and the model registry, with a history of every registry change
    [
        """CREATE TABLE logged_models (
            model_id VARCHAR PRIMARY KEY,
            experiment_id BIGINT NOT NULL,
            name VARCHAR NOT NULL,
            model_type VARCHAR,
            source_run_id VARCHAR,
            status VARCHAR NOT NULL,
            artifact_path VARCHAR NOT NULL,
            creation_time BIGINT NOT NULL,
            last_update_time BIGINT NOT NULL
        )""",
        """CREATE TABLE logged_model_tags (
            model_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (model_id, key)
        )""",
        """CREATE TABLE logged_model_params (
            model_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (model_id, key)
        )""",
        """CREATE TABLE run_outputs (
            run_id VARCHAR NOT NULL,
            model_id VARCHAR NOT NULL,
            step BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, model_id)
        )""",
        """CREATE TABLE registered_models (
            name VARCHAR PRIMARY KEY,
            creation_time BIGINT NOT NULL,
            last_update_time BIGINT NOT NULL,
            description VARCHAR
        )""",
        """CREATE TABLE registered_model_tags (
            name VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (name, key)
        )""",
        """CREATE TABLE model_versions (
            name VARCHAR NOT NULL,
            version BIGINT NOT NULL,
            creation_time BIGINT NOT NULL,
            last_update_time BIGINT NOT NULL,
            description VARCHAR,
            user_id VARCHAR,
            stage VARCHAR NOT NULL DEFAULT 'None',
            source VARCHAR NOT NULL,
            run_id VARCHAR,
            run_link VARCHAR,
            model_id VARCHAR,
            status VARCHAR NOT NULL DEFAULT 'READY',
            approval VARCHAR NOT NULL DEFAULT 'NONE',
            PRIMARY KEY (name, version)
        )""",
        """CREATE TABLE model_version_tags (
            name VARCHAR NOT NULL,
            version BIGINT NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (name, version, key)
        )""",
        """CREATE TABLE model_aliases (
            name VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,
            version BIGINT NOT NULL,
            PRIMARY KEY (name, alias)
        )""",
        "CREATE SEQUENCE registry_event_seq START 1",
        """CREATE TABLE registry_events (
            seq BIGINT PRIMARY KEY DEFAULT nextval('registry_event_seq'),
            time BIGINT NOT NULL,
            user_id VARCHAR,
            name VARCHAR NOT NULL,
            version BIGINT,
            kind VARCHAR NOT NULL,
            detail VARCHAR
        )""",
    ]
)

MIGRATIONS.append(
    # version 3: the ids of applied write batches (a batch sent again is a no-op), and when an
    # experiment was deleted (restoring it restores only the runs deleted together with it)
    [
        """CREATE TABLE write_batches (
            batch_id VARCHAR PRIMARY KEY,
            applied_time BIGINT NOT NULL
        )""",
        "ALTER TABLE experiments ADD COLUMN deleted_time BIGINT",
    ]
)

SCHEMA_VERSION = len(MIGRATIONS)
