-- 20_knowledge.sql — Library / Measure / ValueSet store and terminology index
-- (owner: foundation).  Canonical resources are keyed by (url, version);
-- version is '' when the resource has none.

CREATE TABLE hedis.library (
    url       text NOT NULL,
    version   text NOT NULL DEFAULT '',
    name      text,
    resource  jsonb NOT NULL,
    elm       jsonb,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (url, version)
);
CREATE INDEX library_name_idx ON hedis.library (name, version);
COMMENT ON COLUMN hedis.library.elm IS
    'the decoded application/elm+json content; NULL if the Library has none';

CREATE TABLE hedis.measure (
    url       text NOT NULL,
    version   text NOT NULL DEFAULT '',
    name      text,
    resource  jsonb NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (url, version)
);
CREATE INDEX measure_name_idx ON hedis.measure (name, version);

CREATE TABLE hedis.valueset (
    url       text NOT NULL,
    version   text NOT NULL DEFAULT '',
    name      text,
    resource  jsonb NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (url, version)
);
CREATE INDEX valueset_name_idx ON hedis.valueset (name, version);

CREATE TABLE hedis.valueset_code (
    valueset_url     text NOT NULL,
    valueset_version text NOT NULL DEFAULT '',
    system           text NOT NULL,
    code             text NOT NULL,
    display          text,
    PRIMARY KEY (valueset_url, valueset_version, system, code),
    FOREIGN KEY (valueset_url, valueset_version)
        REFERENCES hedis.valueset (url, version) ON DELETE CASCADE
);
CREATE INDEX valueset_code_code_idx ON hedis.valueset_code (system, code);
COMMENT ON TABLE hedis.valueset_code IS
    'the terminology index: one row per (value set, system, code)';

-- One row.  Every load that changes a Library, Measure or ValueSet increments
-- generation; the engine drops its per-backend caches when it sees a new one.
CREATE TABLE hedis.knowledge_state (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    generation bigint NOT NULL DEFAULT 0
);
INSERT INTO hedis.knowledge_state (generation) VALUES (0);

SELECT pg_catalog.pg_extension_config_dump('hedis.library', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.measure', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.valueset', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.valueset_code', '');
-- knowledge_state is not dumped: its row is the script's, and a dumped copy
-- collided with it on restore.  A restored database starts at generation 0:
-- backends are new (no caches to drop), and a run resumed there restarts
-- from scratch, as after any change of the measure content.

GRANT SELECT ON hedis.library, hedis.measure, hedis.valueset, hedis.valueset_code,
                hedis.knowledge_state TO hedis_reader;
GRANT INSERT, UPDATE, DELETE ON hedis.library, hedis.measure, hedis.valueset,
                hedis.valueset_code, hedis.knowledge_state TO hedis_loader;

-- Is system|code a member of the value set?  valueset is the canonical url,
-- optionally 'url|version'; without a version every loaded version counts.
-- A NULL system matches the code in any system.
CREATE FUNCTION hedis.in_valueset(system text, code text, valueset text)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1 FROM hedis.valueset_code vc
         WHERE vc.code = $2
           AND ($1 IS NULL OR vc.system = $1)
           AND vc.valueset_url = split_part($3, '|', 1)
           AND (strpos($3, '|') = 0 OR vc.valueset_version = split_part($3, '|', 2)))
$$;
GRANT EXECUTE ON FUNCTION hedis.in_valueset(text, text, text) TO hedis_reader;
