-- 10_store.sql — the FHIR clinical data store (owner: foundation)
-- The contract with the engine is docs/architecture.md ("The data store").

CREATE TABLE hedis.patient (
    patient_key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fhir_id     text NOT NULL UNIQUE,
    birth_date  date,
    gender      text,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hedis.patient IS
    'one row per FHIR Patient; patient_key is the compact internal key';

CREATE TABLE hedis.resource (
    resource_type text NOT NULL,
    fhir_id       text NOT NULL,
    patient_ref   text,
    patient_key   bigint REFERENCES hedis.patient ON DELETE CASCADE,
    codes         text[] NOT NULL DEFAULT '{}',
    period_start  timestamptz,
    period_end    timestamptz,
    resource      jsonb NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resource_type, fhir_id)
);
COMMENT ON TABLE hedis.resource IS
    'every clinical FHIR resource (Patient included), keyed by type and id';
COMMENT ON COLUMN hedis.resource.patient_ref IS
    'FHIR id of the patient the resource belongs to (a Patient: itself); NULL for shared resources such as Medication';
COMMENT ON COLUMN hedis.resource.patient_key IS
    'hedis.patient key; NULL while the patient named by patient_ref is not loaded';
COMMENT ON COLUMN hedis.resource.codes IS
    '''system|code'' of the primary code element(s) of the resource';

-- "all resources of patient P (of type T)"
CREATE INDEX resource_patient_idx ON hedis.resource (patient_key, resource_type, fhir_id);
-- resources waiting for their patient: attached when it arrives
CREATE INDEX resource_orphan_idx ON hedis.resource (patient_ref)
    WHERE patient_key IS NULL AND patient_ref IS NOT NULL;
-- "resources carrying code X" (terminology joins)
CREATE INDEX resource_codes_idx ON hedis.resource USING gin (codes);

-- Rejected input lines of the bulk loaders (NDJSON, value-set CSV).
CREATE TABLE hedis.load_error (
    error_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    load_id     bigint NOT NULL,
    source      text NOT NULL,
    line_number bigint NOT NULL,
    raw_text    text,
    reason      text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX load_error_load_idx ON hedis.load_error (load_id, line_number);
CREATE SEQUENCE hedis.load_id_seq;
COMMENT ON TABLE hedis.load_error IS
    'lines rejected by the bulk loaders: the load goes on, the line lands here';

-- One row per bulk load (NDJSON, value-set CSV): written when the load starts
-- and updated when it ends, in the load's own transaction.  Live progress of
-- a running load is the NOTICE sent every hedis.load_progress_rows lines.
CREATE TABLE hedis.load_log (
    load_id     bigint PRIMARY KEY,
    source      text NOT NULL,
    kind        text NOT NULL,
    loaded      bigint NOT NULL DEFAULT 0,
    rejected    bigint NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz
);

SELECT pg_catalog.pg_extension_config_dump('hedis.patient', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.resource', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.load_error', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.load_log', '');
-- and the sequences behind their keys: a restored store would otherwise
-- hand out patient_key 1 again to the next patient loaded
SELECT pg_catalog.pg_extension_config_dump('hedis.patient_patient_key_seq', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.load_error_error_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.load_id_seq', '');

GRANT SELECT ON hedis.patient, hedis.resource, hedis.load_error, hedis.load_log TO hedis_reader;
GRANT INSERT, UPDATE, DELETE ON hedis.patient, hedis.resource, hedis.load_error, hedis.load_log
    TO hedis_loader;
GRANT USAGE ON SEQUENCE hedis.load_id_seq TO hedis_loader;
